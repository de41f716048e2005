"""The catalog says what isolation rests on: row-level security enabled and forced with a policy
for every command on every tenant table, views that read as their caller, no SECURITY DEFINER
function outside the reviewed allowlist, every unique key scoped by workspace, and a runtime role
that nothing of this can be waived for.

Tenant tables are found, not listed: every table of the schema with a ``workspace_id`` column but
the identity tables, so a table added later is held to the same rules without editing this file.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest

from modelyard.db.conninfo import DEFAULT_SCHEMA, with_schema
from modelyard.sql import SECURITY_DEFINER_FUNCTIONS

# Read before a workspace is known (a token names its workspace); the guard decides who may
# touch them, and their changes are audited in chain 0.
IDENTITY_TABLES = {"workspace", "app_user", "workspace_member", "api_token"}
COMMANDS = {"SELECT", "INSERT", "UPDATE", "DELETE"}

TABLES = """
SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity, c.relispartition
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(s)s AND c.relkind IN ('r', 'p')
  AND EXISTS (SELECT 1 FROM pg_attribute a
              WHERE a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped)
ORDER BY 1
"""
POLICIES = """
SELECT tablename::text, cmd, qual, with_check FROM pg_policies WHERE schemaname = %(s)s
"""
# Every unique index (primary keys and unique constraints included) with its column names.
UNIQUE_KEYS = """
SELECT t.relname::text, i.relname::text,
       array(SELECT a.attname::text FROM unnest(x.indkey) k
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = %(s)s AND x.indisunique
"""
VIEWS = """
SELECT c.relname::text, coalesce(c.reloptions, '{}')::text[]
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(s)s AND c.relkind IN ('v', 'm')
"""
DEFINERS = """
SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prosecdef AND n.nspname = %(s)s
"""
ROLE = """
SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user
"""
OWNED = """
SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(s)s AND pg_has_role(current_user, c.relowner, 'USAGE')
UNION ALL
SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = %(s)s AND pg_has_role(current_user, p.proowner, 'USAGE')
UNION ALL
SELECT nspname::text FROM pg_namespace
WHERE nspname = %(s)s AND pg_has_role(current_user, nspowner, 'USAGE')
"""


def rows(url: str, statement: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(with_schema(url, DEFAULT_SCHEMA)) as conn:
        return conn.execute(statement, {"s": DEFAULT_SCHEMA}).fetchall()  # type: ignore[arg-type]


@pytest.fixture
def tenant_tables(database_url: str) -> dict[str, tuple[bool, bool, bool]]:
    # The log's partitions are made ahead of time, as the server does at start; each must come
    # with row-level security on (audit_partitions_ensure_v1).
    with psycopg.connect(with_schema(database_url, DEFAULT_SCHEMA)) as conn:
        conn.execute("SELECT audit_partitions_ensure_v1(now())")
    found = {name: (rls, force, part) for name, rls, force, part in rows(database_url, TABLES)}
    tenants = {name: flags for name, flags in found.items() if name not in IDENTITY_TABLES}
    # The catalog query finds what the schema says it has (a typo in it would find nothing).
    assert {"experiment", "run", "metric_chunk", "artifact_chunk", "audit_event"} <= set(tenants)
    assert len(tenants) >= 34
    return tenants


def test_every_tenant_table_has_rls_enabled_and_forced(
    tenant_tables: dict[str, tuple[bool, bool, bool]],
) -> None:
    lax = [name for name, (rls, force, _) in tenant_tables.items() if not (rls and force)]
    assert lax == []


def test_every_tenant_table_has_a_policy_for_every_command(
    database_url: str, tenant_tables: dict[str, tuple[bool, bool, bool]]
) -> None:
    covered: dict[str, set[str]] = {}
    for table, cmd, _qual, _check in rows(database_url, POLICIES):
        covered.setdefault(table, set()).update(COMMANDS if cmd == "ALL" else {cmd})
    parents = {name for name, (_, _, part) in tenant_tables.items() if not part}
    missing = {t: sorted(COMMANDS - covered.get(t, set())) for t in parents}
    assert {t: m for t, m in missing.items() if m} == {}
    # A partition read directly has no policy at all: no rows for a role held by RLS.
    partitions = {name for name, (_, _, part) in tenant_tables.items() if part}
    assert partitions, "the audit log has this month's partition"
    assert partitions.isdisjoint(covered)


# The scope as a scalar subquery: an InitPlan, evaluated once per statement. A bare call of
# workspace_scope_v1() is evaluated for every row a scan reads (docs/design.md, "Row-level
# security"), and a policy written that way would make every query pay for it.
SCOPE_ONCE = re.compile(r"\(\s*SELECT workspace_scope_v1\(\) AS workspace_scope_v1\)")


def test_every_policy_tests_the_workspace_scope(database_url: str) -> None:
    """A policy is the request's workspace (or chain 0 of the log), read once per statement,
    or refuses everything."""
    for table, cmd, qual, check in rows(database_url, POLICIES):
        for expression in (qual, check):
            if expression is None:
                continue
            if expression == "false":
                continue
            assert SCOPE_ONCE.search(expression), (table, cmd, expression)
            assert "workspace_scope_v1()" not in SCOPE_ONCE.sub("", expression), (table, cmd)


def test_every_unique_key_of_a_tenant_table_includes_workspace_id(
    database_url: str, tenant_tables: dict[str, tuple[bool, bool, bool]]
) -> None:
    keys = [(t, i, cols) for t, i, cols in rows(database_url, UNIQUE_KEYS) if t in tenant_tables]
    assert len(keys) >= len(tenant_tables)  # every tenant table has at least its primary key
    assert [(t, i) for t, i, cols in keys if "workspace_id" not in cols] == []


def test_every_view_reads_as_its_caller(database_url: str) -> None:
    views = rows(database_url, VIEWS)
    assert {"experiment_record", "model_version_record"} <= {name for name, _ in views}
    assert [name for name, options in views if "security_invoker=true" not in options] == []


def test_security_definer_functions_are_exactly_the_allowlist(database_url: str) -> None:
    assert {name for (name,) in rows(database_url, DEFINERS)} == SECURITY_DEFINER_FUNCTIONS


def test_the_runtime_role_is_held_by_rls(runtime_url: str) -> None:
    assert rows(runtime_url, ROLE) == [(False, False)]
    assert rows(runtime_url, OWNED) == []
