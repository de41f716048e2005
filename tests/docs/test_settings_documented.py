"""Every MODELYARD_* environment variable modelyard reads is documented in README.md or docs/.

The generated docs/cli.md does not count: it only repeats --help, so a variable must also be
explained by hand (what it is for, its default) somewhere a reader looks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click

from modelyard.cli import cli

ROOT = Path(__file__).resolve().parents[2]
VARIABLE = re.compile(r"\bMODELYARD_[A-Z][A-Z0-9_]*\b")


def _commands(command: click.Command, ctx: click.Context) -> Iterator[click.Command]:
    yield command
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None:
                yield from _commands(sub, click.Context(sub, parent=ctx, info_name=name))


def _click_options() -> Iterator[tuple[str, click.Option]]:
    root = click.Context(cli, info_name="modelyard")
    for command in _commands(cli, root):
        for param in command.params:
            if isinstance(param, click.Option):
                yield command.name or "modelyard", param


def _envvars(option: click.Option) -> list[str]:
    if option.envvar is None:
        return []
    return [option.envvar] if isinstance(option.envvar, str) else list(option.envvar)


def cli_variables() -> set[str]:
    return {name for _, option in _click_options() for name in _envvars(option)}


def source_variables() -> set[str]:
    """Names read outside click too (MODELYARD_DEBUG, the embedded launcher's variables)."""
    found: set[str] = set()
    for path in (ROOT / "src" / "modelyard").rglob("*.py"):
        found |= set(VARIABLE.findall(path.read_text(encoding="utf-8")))
    return found


def documented_text() -> str:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(p.read_text(encoding="utf-8") for p in pages if p.name != "cli.md")


def test_the_cli_has_environment_variables() -> None:
    # Guards the walk: if it found nothing, the tests below would pass vacuously.
    assert {"MODELYARD_DATABASE_URL", "MODELYARD_POOL_SIZE", "MODELYARD_URL"} <= cli_variables()


def test_the_rls_bypass_override_is_documented_where_it_matters() -> None:
    """The escape hatch from the server's role check is named where operators look: the
    deployment guide (how to run) and the security page (what it gives up)."""
    assert "MODELYARD_ALLOW_RLS_BYPASS" in cli_variables()
    for page in ("deployment.md", "security.md"):
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        assert "--allow-rls-bypass" in text and "MODELYARD_ALLOW_RLS_BYPASS" in text, page


def test_every_cli_variable_is_documented() -> None:
    text = documented_text()
    missing = sorted(v for v in cli_variables() if not re.search(rf"\b{v}\b", text))
    assert not missing, f"document these in README.md or docs/*.md: {missing}"


def test_every_variable_named_in_the_source_is_documented() -> None:
    text = documented_text()
    missing = sorted(v for v in source_variables() if not re.search(rf"\b{v}\b", text))
    assert not missing, f"document these in README.md or docs/*.md: {missing}"


def test_help_shows_every_variable() -> None:
    hidden = sorted(
        f"{command} {option.opts[0]}"
        for command, option in _click_options()
        if _envvars(option) and not option.show_envvar
    )
    assert not hidden, f"set show_envvar=True so --help names the variable: {hidden}"
