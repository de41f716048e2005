"""docs/cli.md is what scripts/gen_cli_docs.py renders, and what it renders is the real --help."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

from modelyard.cli import cli

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "cli.md"


def _load_generator() -> ModuleType:
    script = ROOT / "scripts" / "gen_cli_docs.py"
    spec = importlib.util.spec_from_file_location("gen_cli_docs", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


gen = _load_generator()
PATHS = list(gen.command_paths())


def test_cli_md_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == gen.render(), (
        "docs/cli.md is out of date: run `python scripts/gen_cli_docs.py` and commit the result"
    )


def test_the_walk_reaches_every_command() -> None:
    # Guards the walker itself: leaves of nested groups (models alias set) must be found.
    names = {" ".join(path) for path in PATHS}
    assert {"", "db status", "server", "runs search", "models alias set"} <= names
    assert len(names) == len(PATHS)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(("modelyard", *p)))
def test_embedded_help_is_what_click_prints(path: tuple[str, ...]) -> None:
    # CliRunner formats at 80 columns, as the generator does; this goes through real parsing.
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="modelyard")
    assert result.exit_code == 0, result.output
    printed = result.output.rstrip("\n")
    assert printed == gen.help_text(path)
    assert f"```text\n{printed}\n```" in DOC.read_text(encoding="utf-8")


def test_every_top_level_command_has_an_intro_with_an_example() -> None:
    missing = [p[0] for p in PATHS if len(p) == 1 and p[0] not in gen.INTROS]
    assert not missing, f"add an intro with an example to INTROS in gen_cli_docs.py: {missing}"
    for name, intro in gen.INTROS.items():
        assert "```sh\n" in intro, f"the intro of {name} has no example"
