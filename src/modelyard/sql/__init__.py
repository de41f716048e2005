"""Loads modelyard's SQL files: the schema, the numbered migrations and the named queries.

Queries live in ``queries/<group>.sql`` as blocks that start with a ``-- name: <name>`` line and are
loaded once, keyed ``"<group>.<name>"``. Python code never builds SQL text; it picks a query by
name and passes parameters. Dynamic identifiers (the schema name) go through ``psycopg.sql``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from typing import LiteralString

# Every SECURITY DEFINER function in schema.sql, by name: the catalog test compares this with
# pg_proc, so one added without being listed here (and reviewed: it runs as the owner) fails.
SECURITY_DEFINER_FUNCTIONS: frozenset[str] = frozenset(
    {"audit_partitions_ensure_v1", "artifact_locator_shared_v1"}
)

_NAME_LINE = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)
_MIGRATION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


def _read(*parts: str) -> str:
    return resources.files(__package__).joinpath(*parts).read_text(encoding="utf-8")


def schema_sql() -> LiteralString:
    """The whole schema, the source of truth for a fresh database."""
    return _read("schema.sql")


def parse_queries(group: str, text: str) -> dict[str, LiteralString]:
    """Split one queries file into ``{"group.name": sql}``; text before a first name is ignored."""
    found: dict[str, LiteralString] = {}
    matches = list(_NAME_LINE.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = text[match.end() : end].strip()
        key = f"{group}.{match.group(1)}"
        if key in found:
            raise ValueError(f"query {key} is defined twice")
        if not body:
            raise ValueError(f"query {key} is empty")
        found[key] = body
    return found


@functools.cache
def queries() -> dict[str, LiteralString]:
    """Every named query of every file in ``queries/``, loaded once."""
    found: dict[str, LiteralString] = {}
    folder = resources.files(__package__).joinpath("queries")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            found.update(parse_queries(entry.name[: -len(".sql")], entry.read_text("utf-8")))
    return found


def query(name: str) -> LiteralString:
    """The SQL of the query ``group.name``; a typo fails loudly at the first call."""
    try:
        return queries()[name]
    except KeyError:
        raise KeyError(f"no SQL query named {name!r}") from None


@dataclass(frozen=True)
class Migration:
    """One numbered migration file."""

    version: int
    name: str
    sql: LiteralString


@functools.cache
def migrations() -> tuple[Migration, ...]:
    """All migrations in version order; numbers must run 1, 2, 3... with no gap."""
    folder = resources.files(__package__).joinpath("migrations")
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match:
            text = entry.read_text("utf-8")
            found.append(Migration(int(match.group(1)), match.group(2), text))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise ValueError(
                f"migration numbers must be 1..n without gaps, found {migration.version}"
            )
    return tuple(found)
