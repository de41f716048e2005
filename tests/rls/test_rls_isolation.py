"""Row-level security on real PostgreSQL, as the runtime role the server connects as: no scope
shows no row and writes nothing; a row cannot be written into, or moved to, another workspace;
and a pooled connection handed from one workspace's transaction to another's carries nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import psycopg.errors
import pytest
from psycopg import sql

from modelyard.auth import caller
from modelyard.db.conninfo import DEFAULT_SCHEMA, with_schema
from modelyard.store import Store

pytestmark = pytest.mark.anyio

IDENTITY_TABLES = {"workspace", "app_user", "workspace_member", "api_token"}


def scoped(conn: psycopg.Connection[Any], workspace: int | None) -> None:
    """Enter a transaction's scope as the store does (scope.sql): local to the transaction."""
    conn.execute(
        "SELECT set_config('modelyard.workspace', %s, true)",
        ["" if workspace is None else str(workspace)],
    )


@pytest.fixture
def other(database_url: str) -> int:
    """The id of a second workspace, made by the owner."""
    with psycopg.connect(with_schema(database_url, DEFAULT_SCHEMA)) as owner:
        row = owner.execute(
            "INSERT INTO workspace (name) VALUES ('other') RETURNING workspace_id"
        ).fetchone()
    assert row is not None
    return int(row[0])


async def seed(store: Store) -> str:
    """A little of everything in the default workspace, through the store; the run's id."""
    experiment = await store.experiments.create("seeded")
    run = await store.runs.create(experiment.experiment_id, name="r")
    await store.runs.log_batch(run.run_id, params={"p": "1"}, tags={"t": "x"})
    await store.metrics.log(run.run_id, [("loss", 0.5, 0, 0)])
    await store.registry.create_model("m")
    return run.run_id


def tenant_tables(url: str) -> list[str]:
    with psycopg.connect(with_schema(url, DEFAULT_SCHEMA)) as conn:
        found = conn.execute(
            "SELECT DISTINCT c.relname::text FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'workspace_id' "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
            "ORDER BY 1",
            [DEFAULT_SCHEMA],
        ).fetchall()
    return [name for (name,) in found if name not in IDENTITY_TABLES]


async def test_no_scope_shows_no_row_of_any_tenant_table(
    store: Store, runtime_url: str, database_url: str
) -> None:
    await seed(store)
    tables = tenant_tables(database_url)
    with psycopg.connect(with_schema(runtime_url, DEFAULT_SCHEMA)) as conn:
        counts = {}
        for table in tables:
            query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            scoped(conn, None)
            (no_scope,) = conn.execute(query).fetchone() or (None,)
            scoped(conn, 1)
            (in_default,) = conn.execute(query).fetchone() or (None,)
            conn.rollback()
            counts[table] = (no_scope, in_default)
    assert {t: n for t, (n, _) in counts.items() if n != 0} == {}
    # The same reads in the default workspace's scope see what was seeded: the zeros above are
    # the policy's doing, not empty tables.
    for table in ("experiment", "run", "run_param", "run_tag", "metric_chunk", "audit_event"):
        assert counts[table][1] > 0, table


async def test_no_scope_writes_nothing(store: Store, runtime_url: str) -> None:
    run_id = await seed(store)
    with psycopg.connect(with_schema(runtime_url, DEFAULT_SCHEMA)) as conn:
        scoped(conn, None)
        # The default is NULL and the policy refuses the row before NOT NULL would.
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute("INSERT INTO experiment (name) VALUES ('unscoped')")
        conn.rollback()
        scoped(conn, None)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute("INSERT INTO experiment (workspace_id, name) VALUES (1, 'named')")
        conn.rollback()
        scoped(conn, None)
        changed = conn.execute("UPDATE experiment SET description = 'changed'").rowcount
        removed = conn.execute("DELETE FROM run_param").rowcount
        conn.commit()
    assert (changed, removed) == (0, 0)
    run = await store.runs.get(run_id)
    assert run.params == {"p": "1"}
    assert (await store.experiments.get(run.experiment_id)).description is None


async def test_a_row_cannot_be_written_into_or_moved_to_another_workspace(
    store: Store, runtime_url: str, other: int
) -> None:
    await seed(store)
    with psycopg.connect(with_schema(runtime_url, DEFAULT_SCHEMA)) as conn:
        scoped(conn, 1)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute(
                "INSERT INTO experiment (workspace_id, name) VALUES (%s, 'planted')", [other]
            )
        conn.rollback()
        scoped(conn, 1)
        conn.execute("INSERT INTO experiment (name) VALUES ('mover')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute("UPDATE experiment SET workspace_id = %s WHERE name = 'mover'", [other])
        conn.rollback()
        # In the other workspace's scope, default's rows cannot even be named.
        scoped(conn, other)
        moved = conn.execute("UPDATE experiment SET workspace_id = %s", [other]).rowcount
        conn.commit()
    assert moved == 0
    assert [e.name for e in (await store.experiments.list()).items] == ["Default", "seeded"]


async def test_a_pool_of_one_alternating_two_workspaces_never_mixes_them(
    runtime_url: str, other: int
) -> None:
    store = await Store.open(runtime_url, DEFAULT_SCHEMA, min_size=1, max_size=1)
    spaces = {1: "default", other: "other"}

    async def as_workspace(workspace_id: int, work: Any) -> Any:
        who = caller.Caller(workspace_id=workspace_id, workspace=spaces[workspace_id])
        token = caller.enter(who)
        try:
            return await work()
        finally:
            caller.leave(token)

    try:
        for workspace_id, name in spaces.items():
            for i in range(3):
                await as_workspace(
                    workspace_id, lambda n=f"{name}-{i}": store.experiments.create(n)
                )

        async def names(workspace_id: int) -> tuple[int, set[str]]:
            page = await as_workspace(workspace_id, lambda: store.experiments.list())
            return workspace_id, {e.name for e in page.items}

        # Forty reads interleaved over the one connection, each task in its own workspace.
        seen = await asyncio.gather(*(names(w) for _ in range(20) for w in spaces))
    finally:
        await store.close()
    assert len(seen) == 40
    for workspace_id, got in seen:
        prefix = spaces[workspace_id]
        assert got - {"Default"} == {f"{prefix}-{i}" for i in range(3)}, workspace_id


def test_a_pooled_connection_carries_no_scope_into_its_next_transaction(
    runtime_url: str, other: int
) -> None:
    with psycopg.connect(with_schema(runtime_url, DEFAULT_SCHEMA)) as conn:
        scoped(conn, other)
        conn.execute("INSERT INTO experiment (name) VALUES ('theirs')")
        conn.commit()
        # The next transaction on the same session, before any scope is entered:
        row = conn.execute(
            "SELECT current_setting('modelyard.workspace', true), count(*) FROM experiment"
        ).fetchone()
        conn.rollback()
    assert row is not None
    assert (row[0] or "", row[1]) == ("", 0)
