"""The audit log on real PostgreSQL: one row per change, atomic with it, hash-chained, and a
chain that `audit verify` finds broken when the owner deletes or edits a row."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from psycopg.rows import dict_row

from modelyard import audit
from modelyard.auth import admin, caller
from modelyard.cli import cli
from modelyard.db.conninfo import DEFAULT_SCHEMA, with_schema
from modelyard.store import Store


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """An autocommit connection as the owner: each statement is its own transaction."""
    with psycopg.connect(
        with_schema(database_url, DEFAULT_SCHEMA), autocommit=True, row_factory=dict_row
    ) as conn:
        # Rows written here go to the default workspace (the column defaults read the scope).
        conn.execute("SELECT set_config('modelyard.workspace', '1', false)")
        yield conn


def rows(db: psycopg.Connection[dict[str, Any]], entity: str | None = None) -> list[dict[str, Any]]:
    return db.execute(
        "SELECT workspace_id, seq, actor, token_id, client_addr, request_id, action, entity,"
        " object_key, before, after FROM audit_event"
        " WHERE %(entity)s::text IS NULL OR entity = %(entity)s ORDER BY workspace_id, seq",
        {"entity": entity},
    ).fetchall()


def verified(database_url: str) -> list[audit.ChainReport]:
    with admin.connect(database_url, DEFAULT_SCHEMA, snapshot=True) as conn:
        return audit.verify(conn)


def test_insert_update_delete_each_write_one_row(db: psycopg.Connection[dict[str, Any]]) -> None:
    eid = db.execute(
        "INSERT INTO experiment (name) VALUES ('e') RETURNING experiment_id"
    ).fetchone()
    assert eid is not None
    key = {"experiment_id": eid["experiment_id"]}
    db.execute(
        "UPDATE experiment SET description = 'd' WHERE experiment_id = %s", [key["experiment_id"]]
    )
    db.execute(
        "UPDATE experiment SET description = 'd' WHERE experiment_id = %s", [key["experiment_id"]]
    )
    db.execute("DELETE FROM experiment WHERE experiment_id = %s", [key["experiment_id"]])
    found = rows(db, "experiment")
    assert [r["action"] for r in found] == ["insert", "update", "delete"]  # no row for a no-op
    assert all(r["object_key"] == key for r in found)
    inserted, updated, deleted = found
    assert inserted["before"] is None and inserted["after"]["name"] == "e"
    assert updated["before"]["description"] is None and updated["after"]["description"] == "d"
    assert deleted["before"]["description"] == "d" and deleted["after"] is None
    assert [r["seq"] for r in found] == [1, 2, 3]
    assert inserted["actor"].startswith("db:")  # made on the database, not through a request


def test_a_rolled_back_change_leaves_no_row(
    database_url: str, db: psycopg.Connection[dict[str, Any]]
) -> None:
    with psycopg.connect(with_schema(database_url, DEFAULT_SCHEMA)) as conn:
        conn.execute("SELECT set_config('modelyard.workspace', '1', true)")
        conn.execute("INSERT INTO experiment (name) VALUES ('gone')")
        conn.rollback()
    assert rows(db) == []
    assert db.execute("SELECT count(*) AS n FROM audit_chain WHERE last_seq > 0").fetchone() == {
        "n": 0
    }


def test_a_cascade_is_one_row_and_secrets_stay_out(db: psycopg.Connection[dict[str, Any]]) -> None:
    run = db.execute(
        "INSERT INTO run (experiment_id, name) VALUES (0, 'r') RETURNING run_id"
    ).fetchone()
    assert run is not None
    with db.transaction():
        for k in ("a", "b", "c"):
            db.execute("INSERT INTO run_param VALUES (%s, %s, '1')", [run["run_id"], k])
    db.execute("DELETE FROM run WHERE run_id = %s", [run["run_id"]])
    # Without a scope (raw SQL) a row with no workspace_id of its own goes to chain 0.
    assert sorted((r["entity"], r["action"]) for r in rows(db)) == [
        ("run", "delete"),
        ("run", "insert"),
        *[("run_param", "insert")] * 3,
    ]
    with db.transaction():
        admin.create_user(db, "u", admin=False, service=False)  # type: ignore[arg-type]
        admin.create_token(db, "u", workspace=None, expires_in=None)  # type: ignore[arg-type]
    (token,) = rows(db, "api_token")
    assert token["workspace_id"] == 0 and "secret_sha256" not in token["after"]


@pytest.mark.anyio
async def test_a_request_scope_is_recorded(
    store: Store, db: psycopg.Connection[dict[str, Any]]
) -> None:
    who = caller.Caller(
        workspace_id=1,
        workspace="default",
        user="ed",
        token_id="0123456789ab",
        request_id="req-1",
        client_addr="10.1.2.3",
        is_admin=True,
    )
    entered = caller.enter(who)
    try:
        await store.experiments.create("scoped", tags={"t": "v"})
    finally:
        caller.leave(entered)
    found = rows(db)
    assert {(r["entity"], r["action"]) for r in found} == {
        ("experiment", "insert"),
        ("experiment_tag", "insert"),
    }
    assert {(r["actor"], r["token_id"], r["client_addr"], r["request_id"]) for r in found} == {
        ("ed", "0123456789ab", "10.1.2.3", "req-1")
    }


@pytest.mark.anyio
async def test_concurrent_writers_of_one_workspace_keep_one_unbroken_chain(
    store: Store, database_url: str
) -> None:
    experiment = await store.experiments.create("busy")

    async def writer(n: int) -> None:
        run = await store.runs.create(experiment.experiment_id, name=f"r{n}")
        await store.runs.log_params(run.run_id, {"p": str(n), "q": "x"})

    await asyncio.gather(*(writer(n) for n in range(20)))
    (chain,) = [r for r in verified(database_url) if r.workspace_id == 1]
    assert chain.broken is None
    assert chain.rows == chain.last_seq == 1 + 20 * 3


def owner_edit(database_url: str, statement: str) -> None:
    with psycopg.connect(with_schema(database_url, DEFAULT_SCHEMA), autocommit=True) as conn:
        conn.execute(statement)  # type: ignore[arg-type]


def seed(db: psycopg.Connection[dict[str, Any]], n: int, prefix: str = "e") -> None:
    for i in range(n):
        db.execute("INSERT INTO experiment (name) VALUES (%s)", [f"{prefix}{i}"])


@pytest.mark.parametrize(
    ("statement", "seq", "problem"),
    [
        ("DELETE FROM audit_event WHERE seq = 3", 3, "missing"),
        ("UPDATE audit_event SET actor = 'someone' WHERE seq = 3", 3, "edited"),
        # An edit that recomputes its own hash still breaks the next row's link.
        ("UPDATE audit_event SET actor = 'x', row_hash = NULL WHERE seq = 3", 4, "previous hash"),
        ("DELETE FROM audit_event WHERE seq = 5", 5, "missing"),
    ],
    ids=["deleted", "edited", "edited-and-rehashed", "last-deleted"],
)
def test_verify_finds_the_first_broken_link(
    database_url: str,
    db: psycopg.Connection[dict[str, Any]],
    statement: str,
    seq: int,
    problem: str,
) -> None:
    seed(db, 5)
    assert all(r.broken is None for r in verified(database_url))
    if "row_hash = NULL" in statement:
        statement = (
            "UPDATE audit_event a SET actor = 'x' WHERE seq = 3;"
            " UPDATE audit_event a SET row_hash = audit_row_hash_v1(a) WHERE seq = 3"
        )
    owner_edit(database_url, statement)
    (chain,) = verified(database_url)
    assert chain.broken is not None
    assert chain.broken.seq == seq and problem in chain.broken.problem
    result = CliRunner().invoke(
        cli, ["audit", "verify", "--database-url", database_url, "--json"], prog_name="modelyard"
    )
    assert result.exit_code == 1, result.output
    assert json.loads(result.output)["ok"] is False


def test_cli_verify_and_list(database_url: str, db: psycopg.Connection[dict[str, Any]]) -> None:
    seed(db, 3)
    db.execute("UPDATE experiment SET description = 'x' WHERE name = 'e1'")
    runner = CliRunner()
    ok = runner.invoke(
        cli, ["audit", "verify", "--database-url", database_url], prog_name="modelyard"
    )
    assert ok.exit_code == 0, ok.output
    assert "workspace 1: 4 row(s), ok" in ok.output
    listed = runner.invoke(
        cli,
        [
            "audit",
            "list",
            "--database-url",
            database_url,
            "--action",
            "update",
            "--workspace",
            "default",
            "--entity",
            "experiment",
            "--since",
            "2000-01-01",
            "--json",
        ],
        prog_name="modelyard",
    )
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.output)
    assert row["before"]["description"] is None and row["after"]["description"] == "x"
    limited = runner.invoke(
        cli,
        ["audit", "list", "--database-url", database_url, "--limit", "2", "--json"],
        prog_name="modelyard",
    )
    assert [r["seq"] for r in json.loads(limited.output)] == [4, 3]


def test_prune_drops_months_and_the_rest_still_verifies(
    database_url: str, db: psycopg.Connection[dict[str, Any]]
) -> None:
    seed(db, 3)
    today = dt.datetime.now(dt.UTC)
    first = dt.datetime(today.year, today.month, 1, tzinfo=dt.UTC)
    later = (first + dt.timedelta(days=32)).replace(day=1)
    with admin.connect(database_url, DEFAULT_SCHEMA) as conn:
        with pytest.raises(Exception, match="later than the current month"):
            audit.prune(conn, later)
    with admin.connect(database_url, DEFAULT_SCHEMA) as conn:
        dropped = audit.prune(conn, later, now=later)
    assert dropped == [f"audit_event_{first:%Y_%m}"]
    assert rows(db) == []
    seed(db, 1, "again")  # its month's partition is made again on the way
    (chain,) = verified(database_url)
    assert chain.broken is None and chain.rows == 1 and chain.last_seq == 4
