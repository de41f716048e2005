"""``python -m modelyard`` runs the command line."""

from modelyard.cli import main

main()
