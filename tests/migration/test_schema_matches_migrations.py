"""schema.sql and the numbered migrations must build the same database, object for object."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from modelyard.db import migrate
from modelyard.errors import MigrationError
from modelyard.sql import migrations

SCHEMA = "ml_model_schema"

# Each query lists one kind of object of the schema in a stable order, with the definition that
# matters (types, defaults, constraint and index definitions, function bodies).
CATALOG_QUERIES = {
    "columns": """
        SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default,
               is_identity, identity_generation, ordinal_position
        FROM information_schema.columns WHERE table_schema = %(s)s
        ORDER BY table_name, ordinal_position""",
    "constraints": """
        SELECT cl.relname, co.conname, pg_get_constraintdef(co.oid)
        FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid
        JOIN pg_namespace n ON n.oid = cl.relnamespace
        WHERE n.nspname = %(s)s ORDER BY cl.relname, co.conname""",
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname = %(s)s ORDER BY tablename, indexname""",
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = %(s)s ORDER BY 1, 2""",
    "triggers": """
        SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid)
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(s)s AND NOT t.tgisinternal ORDER BY 1, 2""",
    "relations": """
        SELECT c.relname, c.relkind, c.relpersistence, c.relrowsecurity, c.relforcerowsecurity,
               coalesce(c.reloptions::text, '')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(s)s ORDER BY 1""",
    "policies": """
        SELECT tablename, policyname, cmd, roles::text, qual, with_check FROM pg_policies
        WHERE schemaname = %(s)s ORDER BY 1, 2""",
    "views": """
        SELECT viewname, definition FROM pg_views WHERE schemaname = %(s)s ORDER BY 1""",
    "versions": "SELECT version, name, checksum FROM ml_model_schema.schema_version ORDER BY 1",
}


def catalog(conninfo: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(conninfo) as conn:
        return {
            kind: conn.execute(q, {"s": SCHEMA}).fetchall()  # type: ignore[arg-type]
            for kind, q in CATALOG_QUERIES.items()
        }


def test_schema_and_migrations_build_identical_databases(
    fresh_database: str, database_url: str
) -> None:
    migrate.apply_migrations_only(fresh_database, SCHEMA)
    from_migrations = catalog(fresh_database)
    from_schema = catalog(database_url)  # the template was built from schema.sql
    assert from_schema["columns"], "the schema built no tables"
    for kind in CATALOG_QUERIES:
        assert from_migrations[kind] == from_schema[kind], f"{kind} differ"


def test_upgrade_is_idempotent_and_status_is_current(database_url: str) -> None:
    assert migrate.upgrade(database_url, SCHEMA) == []
    status = migrate.status(database_url, SCHEMA)
    assert status.up_to_date
    assert status.current == migrations()[-1].version
    assert status.pending == ()


def test_status_of_an_empty_database_lists_every_migration_as_pending(fresh_database: str) -> None:
    status = migrate.status(fresh_database, SCHEMA)
    assert status.current == 0
    assert not status.up_to_date
    assert [v for v, _ in status.pending] == [m.version for m in migrations()]


def test_upgrade_refuses_a_schema_with_foreign_tables(fresh_database: str) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA ml_model_schema")
        conn.execute("CREATE TABLE ml_model_schema.somebody_elses (id int)")
    with pytest.raises(MigrationError, match="no modelyard version record"):
        migrate.upgrade(fresh_database, SCHEMA)


def test_concurrent_upgrades_apply_the_schema_once(fresh_database: str) -> None:
    import threading

    results: list[object] = []

    def run() -> None:
        try:
            results.append(len(migrate.upgrade(fresh_database, SCHEMA)))
        except Exception as exc:  # collected and asserted below
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Exactly one upgrade did the work; the others waited on the lock and found nothing to do.
    assert sorted(results, key=str) == sorted([0, 0, 0, len(migrations())], key=str)
    assert migrate.status(fresh_database, SCHEMA).up_to_date
