"""Helpers of the backup tests: populating a schema, reading it back, damaging archives."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import psycopg
from psycopg import sql

from modelyard.backup.archive import MANIFEST_MEMBER, Manifest, parse_manifest, seal

SCHEMA = "ml_model_schema"
POPULATE_SQL = (Path(__file__).parent / "populate.sql").read_text(encoding="utf-8")

_TABLES = """
SELECT c.relname::text
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY 1
"""


def populate(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(SCHEMA)))
        conn.execute(POPULATE_SQL.encode())


def contents(dsn: str) -> dict[str, list[str]]:
    """Every row of every table of the schema as Python reprs, in a collation-free order.

    Independent of the checksum code: rows come back as Python values over the binary-agnostic
    psycopg protocol, and repr() keeps NaN, -0.0 and microseconds distinguishable.
    """
    found: dict[str, list[str]] = {}
    with psycopg.connect(dsn) as conn:
        for (table,) in conn.execute(_TABLES, [SCHEMA]).fetchall():
            query = sql.SQL("SELECT * FROM {}").format(sql.Identifier(SCHEMA, table))
            # Sorted in Python, not by SQL: every table counts, with a primary key or without
            # (logged_model_metric has a unique key with nullable columns), and databases of
            # different collations order text differently; the contents are what must match.
            found[table] = sorted(repr(row) for row in conn.execute(query).fetchall())
    return found


def schema_exists(dsn: str) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", [SCHEMA])
        return bool(row.fetchone()[0])  # type: ignore[index]


def flip_dump_byte(archive: Path) -> None:
    """Flip one byte in the middle of the dump member, leaving the tar structure intact."""
    with tarfile.open(archive) as tar:
        member = tar.getmember("database.dump")
        offset = member.offset_data + member.size // 2
    with archive.open("r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ 0x01]))


def truncate(archive: Path, keep: float = 0.6) -> None:
    with archive.open("r+b") as f:
        f.truncate(int(archive.stat().st_size * keep))


def rewrite(
    archive: Path,
    *,
    manifest: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    reseal: bool = False,
    add: dict[str, bytes] | None = None,
    drop: tuple[str, ...] = (),
) -> None:
    """Rewrite the archive with a changed manifest, extra members or members removed."""
    with tarfile.open(archive) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    if manifest is not None:
        body = manifest(msgspec.json.decode(members[MANIFEST_MEMBER]))
        if reseal:
            body = msgspec.to_builtins(seal(msgspec.convert(body, Manifest)))
        members[MANIFEST_MEMBER] = msgspec.json.encode(body)
    members.update(add or {})
    for name in drop:
        members.pop(name)
    with tarfile.open(archive, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def read_manifest(archive: Path) -> Manifest:
    with tarfile.open(archive) as tar:
        return parse_manifest(tar.extractfile(MANIFEST_MEMBER).read())  # type: ignore[union-attr]
