"""Bootstrap fixtures: a spec with unique database and role names, dropped again after the test.

Roles belong to the whole cluster, so each test derives its own names from a uuid; tests then
never collide with each other, with a rerun, or with the other server kind's session.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from bootstrap_support import ROLE_KEYS, Cluster
from psycopg import sql

from modelyard.bootstrap.apply import bootstrap
from modelyard.bootstrap.spec import spec_from_mapping
from modelyard.db.migrate import upgrade


def _drop(server: str, database: str, roles: list[str]) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )
        for role in roles:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
                conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
                conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.fixture
def cluster(pg_server: str) -> Iterator[Cluster]:
    suffix = uuid.uuid4().hex[:10]
    spec = spec_from_mapping(
        {
            "database": {"name": f"my_boot_{suffix}"},
            "roles": {key: {"name": f"my_{key}_{suffix}"} for key in ROLE_KEYS},
        }
    )
    passwords = {key: f"{key}-{uuid.uuid4().hex}" for key in ROLE_KEYS}
    found = Cluster(pg_server, spec, suffix, passwords)
    yield found
    # The spec's roles first: roles a test made (an administrator) may have granted to them.
    _drop(pg_server, spec.database.name, [r.name for r in spec.roles] + found.extra_roles)


@pytest.fixture
def provisioned(cluster: Cluster) -> Cluster:
    """The spec bootstrapped and the schema migrated as the owner role, as in production."""
    bootstrap(cluster.server, cluster.spec, cluster.passwords)
    upgrade(cluster.dsn("admin"), cluster.schema)
    return cluster
