"""A chain's head is written a fixed number of times per transaction, however many rows it audits,
and the chain stays whole when triggers fire early (IMMEDIATE) or a savepoint rolls back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from modelyard import audit
from modelyard.auth import admin
from modelyard.db.conninfo import DEFAULT_SCHEMA, with_schema

# Counts the versions a transaction gives the head rows: one NOTICE per row update.
COUNT_HEAD_WRITES = """
CREATE FUNCTION test_count_head_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'head write %', NEW.workspace_id;
    RETURN NEW;
END $$;
CREATE TRIGGER test_count_head_write BEFORE UPDATE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION test_count_head_write();
"""


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """A connection as the owner, scoped to the default workspace for its whole session."""
    with psycopg.connect(with_schema(database_url, DEFAULT_SCHEMA), row_factory=dict_row) as c:
        c.execute("SELECT set_config('modelyard.workspace', '1', false)")
        c.commit()
        yield c


def verified(database_url: str) -> dict[int, audit.ChainReport]:
    with admin.connect(database_url, DEFAULT_SCHEMA, snapshot=True) as c:
        return {r.workspace_id: r for r in audit.verify(c)}


def head_writes_for(conn: psycopg.Connection[dict[str, Any]], names: list[str]) -> int:
    """Insert ``names`` as experiments in one transaction (COPY); the head updates it made."""
    notices: list[str] = []
    conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    with conn.cursor().copy("COPY experiment (name) FROM STDIN") as copy:
        for name in names:
            copy.write_row((name,))
    conn.commit()  # the audit triggers, and the head writes, happen here
    return sum(n.startswith("head write") for n in notices)


def test_the_head_is_written_as_often_for_300_rows_as_for_3(
    database_url: str, conn: psycopg.Connection[dict[str, Any]]
) -> None:
    conn.execute(COUNT_HEAD_WRITES)  # type: ignore[arg-type]
    conn.commit()
    few = head_writes_for(conn, [f"few{i}" for i in range(3)])
    many = head_writes_for(conn, [f"many{i}" for i in range(300)])
    # Once per row (the old triggers) would be 3 and 300.
    assert few == many <= 2
    chain = verified(database_url)[1]
    assert chain.broken is None and chain.rows == chain.last_seq == 303


def test_two_chains_in_one_transaction_each_end_at_their_last_row(
    database_url: str, conn: psycopg.Connection[dict[str, Any]]
) -> None:
    for i in range(3):
        conn.execute("INSERT INTO experiment (name) VALUES (%s)", [f"e{i}"])
        admin.create_user(conn, f"u{i}", admin=False, service=False)  # type: ignore[arg-type]
    conn.commit()
    chains = verified(database_url)
    assert chains[1].broken is None and chains[1].rows == chains[1].last_seq == 3
    assert chains[0].broken is None and chains[0].rows == chains[0].last_seq == 3


def test_immediate_triggers_and_a_rolled_back_savepoint_keep_the_chain_whole(
    database_url: str, conn: psycopg.Connection[dict[str, Any]]
) -> None:
    def insert(name: str) -> None:
        conn.execute("INSERT INTO experiment (name) VALUES (%s)", [name])

    insert("deferred-1")
    conn.execute("SET CONSTRAINTS ALL IMMEDIATE")  # fires deferred-1's trigger now
    insert("immediate-2")
    insert("immediate-3")
    conn.execute("SAVEPOINT s")
    insert("rolled-back")
    conn.execute("ROLLBACK TO SAVEPOINT s")
    conn.execute("SET CONSTRAINTS ALL DEFERRED")
    insert("deferred-4")
    insert("deferred-5")
    conn.commit()
    insert("next-6")
    conn.commit()
    logged = conn.execute(
        "SELECT seq, after ->> 'name' AS name FROM audit_event WHERE workspace_id = 1 ORDER BY seq"
    ).fetchall()
    assert [(r["seq"], r["name"]) for r in logged] == [
        (1, "deferred-1"),
        (2, "immediate-2"),
        (3, "immediate-3"),
        (4, "deferred-4"),
        (5, "deferred-5"),
        (6, "next-6"),
    ]
    chain = verified(database_url)[1]
    assert chain.broken is None and chain.rows == chain.last_seq == 6


def test_a_head_set_for_the_session_is_not_trusted(
    database_url: str, conn: psycopg.Connection[dict[str, Any]]
) -> None:
    conn.execute("INSERT INTO experiment (name) VALUES ('first')")
    conn.commit()
    # As a stray SET on a pooled connection would leave it: not this transaction's heads.
    forged = '{"xact": "1", "1": [100, "' + "ab" * 32 + '"]}'
    conn.execute("SELECT set_config('modelyard.audit_heads', %s, false)", [forged])
    conn.execute("INSERT INTO experiment (name) VALUES ('second')")
    conn.commit()
    chain = verified(database_url)[1]
    assert chain.broken is None and chain.rows == chain.last_seq == 2
