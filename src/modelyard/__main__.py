"""``python -m modelyard``: the same command line as the ``modelyard`` script."""

from __future__ import annotations

from modelyard.cli import main

if __name__ == "__main__":
    main()
