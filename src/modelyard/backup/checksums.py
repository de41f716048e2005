"""Per-table row counts and content checksums, streamed so a table of any size fits in memory.

A table's checksum is the sha256 of ``COPY (SELECT * ... ORDER BY <primary key>) TO STDOUT``: the
server sorts by the key and streams rows in PostgreSQL's text format, and Python hashes the
stream chunk by chunk, so memory stays flat for millions of rows. Text keys sort with the "C"
collation and every output-shaping setting is fixed (``backup.stable_output``), so the same rows
give the same checksum on another server, locale or major version. Backup computes them in the
dump's snapshot; restore recomputes them inside its transaction and compares before committing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import psycopg
from psycopg import sql

from modelyard.backup.archive import TableDigest
from modelyard.errors import BackupError
from modelyard.progress import Progress
from modelyard.sql import query

Connection = psycopg.Connection[tuple[object, ...]]
_REPORT_EVERY = 10_000


@dataclass(frozen=True)
class Table:
    """A table of the schema and the columns that order its rows (its primary key)."""

    schema: str
    name: str
    key: tuple[tuple[str, bool], ...]  # (column, collatable); empty without a primary key

    @property
    def identifier(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    def order_by(self) -> sql.Composable:
        if not self.key:
            # No key: order by the whole row's text, which is total and deterministic.
            return sql.SQL('t::text COLLATE "C"')
        items = [
            sql.SQL('{} COLLATE "C"').format(sql.Identifier(column))
            if collatable
            else sql.Identifier(column)
            for column, collatable in self.key
        ]
        return sql.SQL(", ").join(items)


def list_tables(conn: Connection, schema: str) -> list[Table]:
    """The schema's tables in name order (partitions are read through their parent)."""
    rows = conn.execute(query("backup.tables"), [schema]).fetchall()
    tables = []
    for name, columns, collatable in rows:
        assert isinstance(name, str) and isinstance(columns, list)
        assert isinstance(collatable, list)
        tables.append(Table(schema, name, tuple(zip(columns, collatable, strict=True))))
    return tables


def stable_output(conn: Connection) -> None:
    """Fix the settings that shape text output, for the rest of the current transaction."""
    conn.execute(query("backup.stable_output"))


def count_rows(conn: Connection, tables: list[Table]) -> dict[str, int]:
    counts = {}
    for table in tables:
        row = conn.execute(sql.SQL(query("backup.count_rows")).format(table=table.identifier))
        found = row.fetchone()
        assert found is not None
        counts[table.name] = int(found[0])  # type: ignore[call-overload]
    return counts


def table_digests(conn: Connection, tables: list[Table], progress: Progress) -> list[TableDigest]:
    """Count and hash every table, in the current transaction's snapshot.

    The rows streamed are counted too and must equal ``count(*)``: a disagreement means the
    snapshot moved under us, which would make the manifest wrong.
    """
    stable_output(conn)
    counts = count_rows(conn, tables)
    digests = []
    with progress.phase("checksums", sum(counts.values())) as advance:
        for table in tables:
            digest = hashlib.sha256()
            rows = 0
            statement = sql.SQL(query("backup.copy_rows")).format(
                table=table.identifier, order=table.order_by()
            )
            unreported = 0
            with conn.cursor().copy(statement) as copy:
                for chunk in copy:
                    digest.update(chunk)
                    # In COPY text format a newline inside a value is escaped: one per row.
                    lines = bytes(chunk).count(b"\n")
                    rows += lines
                    unreported += lines
                    if unreported >= _REPORT_EVERY:  # a bar update per row would cost more
                        advance(unreported)
                        unreported = 0
            advance(unreported)
            if rows != counts[table.name]:
                raise BackupError(
                    f"table {table.name}: counted {counts[table.name]} rows but read {rows}; "
                    "is the transaction's snapshot stable?"
                )
            digests.append(TableDigest(table.name, rows, digest.hexdigest()))
    return digests


def compare(expected: tuple[TableDigest, ...], actual: list[TableDigest]) -> str | None:
    """The first difference between two sets of digests, described in one line, or None."""
    by_name = {d.name: d for d in actual}
    for want in expected:
        got = by_name.pop(want.name, None)
        if got is None:
            return f"table {want.name} is missing after the restore"
        if got.rows != want.rows:
            return f"table {want.name} has {got.rows} rows, the archive recorded {want.rows}"
        if got.sha256 != want.sha256:
            return f"table {want.name} differs from the archive (content checksum mismatch)"
    if by_name:
        return f"table {sorted(by_name)[0]} is not in the archive's manifest"
    return None
