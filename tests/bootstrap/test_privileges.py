"""What each bootstrapped role may do, proved by doing it: the app writes rows, never the schema;
the read-only role reads; tables added later are covered; strangers cannot connect."""

from __future__ import annotations

import time
from typing import Any

import httpx
import psycopg
import pytest
from bootstrap_support import Cluster
from psycopg import errors, sql

from modelyard.db.migrate import status, upgrade
from modelyard.errors import PermissionDenied
from modelyard.server import create_app
from modelyard.settings import Settings
from modelyard.store import Store

# Every database holds MLflow's experiment 0 ("Default", made by the schema); the tests look at
# the rows they made themselves.
OURS = "WHERE experiment_id <> 0"


def execute(c: Cluster, key: str, statement: Any, *params: object) -> list[tuple[Any, ...]]:
    """Run one statement as role ``key`` in the spec's database (committed) and fetch any rows,
    in the default workspace's scope as the server sets it (per transaction, scope.sql)."""
    with psycopg.connect(c.dsn(key)) as conn:
        conn.execute("SELECT set_config('modelyard.workspace', '1', true)")
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


def tables(c: Cluster) -> list[str]:
    found = execute(
        c, "admin", "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", c.schema
    )
    return [row[0] for row in found]


def test_app_role_selects_inserts_updates_and_deletes_rows(provisioned: Cluster) -> None:
    c = provisioned
    (eid,) = execute(c, "app", "INSERT INTO experiment (name) VALUES ('e') RETURNING experiment_id")
    execute(c, "app", "UPDATE experiment SET description = 'd' WHERE experiment_id = %s", eid[0])
    assert execute(c, "app", f"SELECT name, description FROM experiment {OURS}") == [("e", "d")]
    execute(c, "app", "DELETE FROM experiment WHERE experiment_id = %s", eid[0])
    assert execute(c, "app", f"SELECT count(*) FROM experiment {OURS}") == [(0,)]


DDL = [
    "DROP TABLE run",
    "ALTER TABLE run ADD COLUMN evil int",
    "CREATE TABLE ml_model_schema.evil (id int)",
    "CREATE TABLE public.evil (id int)",
    "CREATE INDEX evil_idx ON run (name)",
    "TRUNCATE experiment CASCADE",
    "CREATE SCHEMA evil",
    "DROP SCHEMA ml_model_schema CASCADE",
    "CREATE FUNCTION evil() RETURNS int LANGUAGE sql AS 'SELECT 1'",
]


@pytest.mark.parametrize("statement", DDL)
def test_app_role_cannot_change_the_schema(provisioned: Cluster, statement: str) -> None:
    before = tables(provisioned)
    with pytest.raises(errors.InsufficientPrivilege):
        execute(provisioned, "app", statement)
    assert tables(provisioned) == before


def test_app_role_cannot_run_migrations(cluster: Cluster) -> None:
    from modelyard.bootstrap.apply import bootstrap

    bootstrap(cluster.server, cluster.spec, cluster.passwords)
    with pytest.raises(PermissionDenied) as refused:
        upgrade(cluster.dsn("app"), cluster.schema)
    assert isinstance(refused.value.__cause__, errors.InsufficientPrivilege)
    assert tables(cluster) == []


def test_app_role_may_create_temporary_tables(provisioned: Cluster) -> None:
    # What the metric store's per-session staging table needs (TEMPORARY on the database).
    with psycopg.connect(provisioned.dsn("app")) as conn:
        conn.execute("CREATE TEMP TABLE staging (LIKE run_param)")
        conn.execute("INSERT INTO pg_temp.staging VALUES (gen_random_uuid(), 'k', 'v', 1)")
        assert conn.execute("SELECT count(*) FROM pg_temp.staging").fetchone() == (1,)


@pytest.mark.anyio
async def test_the_store_works_as_the_app_role(provisioned: Cluster) -> None:
    store = await Store.open(provisioned.dsn("app"), provisioned.schema, max_size=2)
    try:
        experiment = await store.experiments.create("bootstrapped")
        run = await store.runs.create(experiment.experiment_id, name="r1")
        await store.runs.log_params(run.run_id, {"lr": "0.01"})
        await store.runs.set_tags(run.run_id, {"team": "ml"})
        await store.experiments.set_tag(experiment.experiment_id, "k", "v")
        await store.runs.update(run.run_id, status="FINISHED", end_time=int(time.time() * 1000))
        got = await store.runs.get(run.run_id)
        assert (got.params, got.tags["team"], got.status) == ({"lr": "0.01"}, "ml", "FINISHED")
        await store.runs.delete(run.run_id)
        await store.runs.restore(run.run_id)
        await store.experiments.delete_tag(experiment.experiment_id, "k")
    finally:
        await store.close()


@pytest.mark.anyio
async def test_metrics_are_logged_as_the_app_role(provisioned: Cluster) -> None:
    store = await Store.open(provisioned.dsn("app"), provisioned.schema, max_size=2)
    try:
        experiment = await store.experiments.create("metrics")
        run = await store.runs.create(experiment.experiment_id)
        now = int(time.time() * 1000)
        points = [("loss", 1.0 / (step + 1), step, now + step) for step in range(100)]
        # Twice on one pooled connection: the batch goes through the session's TEMP staging
        # table (TEMPORARY on the database), created once and reused.
        assert await store.metrics.log(run.run_id, points[:50]) == 50
        assert await store.metrics.log(run.run_id, points[50:]) == 50
        latest = await store.metrics.latest(run.run_id)
        assert (latest["loss"].step, latest["loss"].value) == (99, 0.01)
        history = await store.metrics.history(run.run_id, "loss")
        assert len(history.steps) == 100
    finally:
        await store.close()


@pytest.mark.anyio
async def test_the_server_serves_as_the_app_role(provisioned: Cluster) -> None:
    dsn = provisioned.dsn("app")
    app = create_app(Settings(database_url=dsn, schema=provisioned.schema), dsn)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://m/api/v1") as client:
            ready = await client.get("http://m/ready")
            assert ready.status_code == 200, ready.text
            created = await client.post("/experiments", json={"name": "over-http"})
            assert created.status_code == 201, created.text
            eid = created.json()["experiment_id"]
            run = await client.post("/runs", json={"experiment_id": eid})
            assert run.status_code == 201, run.text
            rid = run.json()["run_id"]
            body = {"keys": ["acc", "acc"], "values": [0.5, 0.75], "steps": [0, 1]}
            logged = await client.post(f"/runs/{rid}/metrics", json=body)
            assert logged.status_code == 200, logged.text
            assert logged.json() == {"accepted": 2}
            latest = await client.get(f"/runs/{rid}/metrics")
    assert [(m["key"], m["step"], m["value"]) for m in latest.json()["items"]] == [("acc", 1, 0.75)]


def test_readonly_role_selects_every_table(provisioned: Cluster) -> None:
    execute(provisioned, "app", "INSERT INTO experiment (name) VALUES ('seen')")
    names = tables(provisioned)
    assert "experiment" in names and "schema_version" in names
    for table in names:
        execute(provisioned, "readonly", sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)))
    assert execute(provisioned, "readonly", f"SELECT name FROM experiment {OURS}") == [("seen",)]
    assert status(provisioned.dsn("readonly"), provisioned.schema).up_to_date


READONLY_FORBIDDEN = [
    "INSERT INTO experiment (name) VALUES ('x')",
    "UPDATE experiment SET name = 'x'",
    "DELETE FROM experiment",
    "TRUNCATE experiment CASCADE",
    "CREATE TABLE ml_model_schema.evil (id int)",
    "CREATE TEMP TABLE evil (id int)",
    "CREATE SCHEMA evil",
    "SELECT nextval(pg_get_serial_sequence('experiment', 'experiment_id'))",
]


@pytest.mark.parametrize("statement", READONLY_FORBIDDEN)
def test_readonly_role_can_do_nothing_but_select(provisioned: Cluster, statement: str) -> None:
    execute(provisioned, "app", "INSERT INTO experiment (name) VALUES ('kept')")
    with pytest.raises(errors.InsufficientPrivilege):
        execute(provisioned, "readonly", statement)
    assert execute(provisioned, "admin", f"SELECT name FROM experiment {OURS}") == [
        ("kept",)
    ]


def test_tables_a_later_migration_adds_are_covered_without_new_grants(
    provisioned: Cluster,
) -> None:
    c = provisioned
    # A later migration, run as the owner like `modelyard db upgrade` after bootstrap.
    execute(
        c,
        "admin",
        "CREATE TABLE later (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)",
    )
    execute(c, "admin", "CREATE SEQUENCE later_seq")
    execute(c, "admin", "CREATE FUNCTION later_fn() RETURNS int LANGUAGE sql AS 'SELECT 7'")
    execute(c, "app", "INSERT INTO later (v) VALUES ('a'), ('b')")
    execute(c, "app", "UPDATE later SET v = 'c' WHERE v = 'b'")
    execute(c, "app", "DELETE FROM later WHERE v = 'a'")
    assert execute(c, "app", "SELECT nextval('later_seq'), later_fn()") == [(1, 7)]
    assert execute(c, "readonly", "SELECT v FROM later") == [("c",)]
    with pytest.raises(errors.InsufficientPrivilege):
        execute(c, "readonly", "INSERT INTO later (v) VALUES ('x')")
    with pytest.raises(errors.InsufficientPrivilege):
        execute(c, "app", "DROP TABLE later")


def test_tables_created_by_another_role_are_not_covered(provisioned: Cluster) -> None:
    # Why migrations must run as the owner: the default privileges are the owner's.
    with psycopg.connect(provisioned.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE ml_model_schema.by_superuser (id int)")
    with pytest.raises(errors.InsufficientPrivilege):
        execute(provisioned, "app", "SELECT * FROM by_superuser")


def test_public_cannot_connect_to_the_database(provisioned: Cluster) -> None:
    stranger = provisioned.new_role("stranger", sql.SQL("LOGIN"))
    dsn = psycopg.conninfo.make_conninfo(stranger, dbname=provisioned.spec.database.name)
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(dsn).close()
    # The same role can connect where PUBLIC keeps CONNECT: the refusal is the grant's doing.
    psycopg.connect(stranger).close()



AUDIT_CHANGES = [
    "UPDATE audit_event SET actor = 'me'",
    "DELETE FROM audit_event",
    "TRUNCATE audit_event",
    "UPDATE {partition} SET actor = 'me'",
    "DELETE FROM {partition}",
    "TRUNCATE {partition}",
    "DELETE FROM audit_chain",
    "TRUNCATE audit_chain",
]


@pytest.mark.parametrize("statement", AUDIT_CHANGES)
@pytest.mark.parametrize("then", ["migrated", "bootstrapped-again", "granted-by-hand"])
def test_app_role_adds_and_reads_audit_rows_but_cannot_change_them(
    provisioned: Cluster, statement: str, then: str
) -> None:
    from modelyard.bootstrap.apply import bootstrap

    c = provisioned
    execute(c, "app", "INSERT INTO experiment (name) VALUES ('audited')")
    assert execute(c, "app", "SELECT action, entity FROM audit_event") == [
        ("insert", "experiment")
    ]
    (partition,) = execute(c, "admin", "SELECT audit_partition_name_v1(now())")[0]
    if then == "bootstrapped-again":  # its grants of every table are taken back on the log
        bootstrap(c.server, c.spec, c.passwords)
    elif then == "granted-by-hand":  # as a deployment tool granting every table might: the
        # triggers still refuse
        execute(
            c,
            "admin",
            sql.SQL("GRANT UPDATE, DELETE, TRUNCATE ON audit_event, audit_chain, {} TO {}").format(
                sql.Identifier(partition), sql.Identifier(c.role_name("app"))
            ),
        )
    target = statement.format(partition=partition)
    if then == "granted-by-hand" and target.split()[0] in ("UPDATE", "DELETE") and (
        "audit_chain" not in target
    ):
        # With the privilege granted, row-level security still gives no policy under which a
        # log row can be updated or deleted: the statement reaches no row (checked below).
        execute(c, "app", target)
    else:
        with pytest.raises(errors.InsufficientPrivilege):
            execute(c, "app", target)
    assert execute(c, "admin", "SELECT count(*), min(actor) FROM audit_event") == [
        (1, f"db:{c.role_name('app')}")
    ]
