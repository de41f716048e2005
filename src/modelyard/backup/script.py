"""Applies pg_restore's SQL output through a psycopg connection, inside the caller's transaction.

pg_restore writes the dump as a psql script: SQL statements, ``COPY ... FROM stdin;`` followed by
data lines and ``\\.``, and (since 15.14/16.10/17.6/18) a ``\\restrict``/``\\unrestrict`` pair.
Running it ourselves instead of through ``pg_restore --dbname`` lets dropping the old schema,
loading the new one and checking its checksums happen in ONE transaction: a failure anywhere
rolls back to the database as it was.

SQL between COPY blocks is sent as one multi-statement string; COPY data goes through
``cursor.copy`` in batches. Any other backslash line is passed to the server, which rejects it,
so an unexpected psql command fails the restore instead of being skipped silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import psycopg

from modelyard.errors import BackupCorrupted
from modelyard.progress import Advance

_COPY_START = re.compile(rb"^COPY \S.* FROM stdin;\r?\n$")
_RESTRICT = re.compile(rb"^\\(un)?restrict [A-Za-z0-9]+\r?\n$")
_END_OF_DATA = (b"\\.\n", b"\\.\r\n")
_BATCH_BYTES = 1024 * 1024


def _has_sql(lines: list[bytes]) -> bool:
    return any(line.strip() and not line.lstrip().startswith(b"--") for line in lines)


def apply_script(
    conn: psycopg.Connection[tuple[object, ...]], lines: Iterable[bytes], advance: Advance
) -> None:
    """Execute the script's statements and load its COPY data; ``advance`` counts data rows."""
    pending: list[bytes] = []
    stream = iter(lines)
    for line in stream:
        if _COPY_START.match(line):
            if _has_sql(pending):
                conn.execute(b"".join(pending))
            pending = []
            _copy_block(conn, line.rstrip().rstrip(b";"), stream, advance)
        elif _RESTRICT.match(line):
            continue
        else:
            pending.append(line)
    if _has_sql(pending):
        conn.execute(b"".join(pending))


def _copy_block(
    conn: psycopg.Connection[tuple[object, ...]],
    statement: bytes,
    stream: Iterator[bytes],
    advance: Advance,
) -> None:
    batch: list[bytes] = []
    size = 0
    with conn.cursor().copy(statement) as copy:
        for line in stream:
            if line in _END_OF_DATA:
                break
            batch.append(line)
            size += len(line)
            if size >= _BATCH_BYTES:
                copy.write(b"".join(batch))
                advance(len(batch))
                batch, size = [], 0
        else:
            raise BackupCorrupted("the dump ended inside a table's data")
        if batch:
            copy.write(b"".join(batch))
            advance(len(batch))
