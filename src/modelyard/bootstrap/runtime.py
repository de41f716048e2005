"""The server's runtime role: a login that owns nothing, cannot bypass row-level security, and
holds exactly the read-write grants of ``modelyard db bootstrap``'s app role.

Row-level security binds a role only when it neither owns the table (without FORCE) nor has
BYPASSRLS nor is a superuser, so the embedded launcher and the test fixtures connect the server
through a role made here, from the same spec and the same grant code as ``db bootstrap``: one list
of privileges, never a second one. ``check_serving_role`` is the other half, for databases
modelyard did not set up: it says what about the role the server connects as defeats RLS.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from modelyard.bootstrap._grants import grant_role
from modelyard.bootstrap._roles import Conn, read_roles, reconcile_role
from modelyard.bootstrap.report import Change
from modelyard.bootstrap.spec import Access, RoleSpec
from modelyard.sql import query

__all__ = ["RUNTIME_ROLE", "RoleRisk", "check_serving_role", "ensure_runtime_role"]

# The embedded server's runtime role. No connection limit of its own: the cluster's
# max_connections (database.EMBEDDED_SETTINGS) is the ceiling on one machine.
RUNTIME_ROLE = RoleSpec(
    key="runtime", name="modelyard_runtime", access=Access.READ_WRITE, connection_limit=-1
)


def ensure_runtime_role(
    conn: Conn, role: RoleSpec, password: str, *, database: str, schema: str, owner: str
) -> list[Change]:
    """Create ``role`` or bring it in line (attributes, password, search_path), then reconcile
    its grants on ``schema``, whose objects ``owner`` owns and creates (migrations run as it).

    Idempotent; run it after every upgrade, so objects of new migrations are granted even where
    the owner's default privileges were not set (an older data directory). ``conn`` is an
    administrator's connection to ``database`` (the owner or a superuser), outside a transaction.
    """
    with conn.transaction():
        # Serialises two processes making the role at once (CREATE ROLE has no IF NOT EXISTS).
        conn.execute(query("bootstrap.runtime_lock"))
        me = conn.execute(query("bootstrap.whoami")).fetchone()
        superuser = bool(me and me[1])
        state = read_roles(conn, [role.name]).get(role.name)
        changes = [reconcile_role(conn, role, state, password, schema, superuser)]
        changes.append(
            grant_role(
                conn, role.name, role.privileges, database=database, schema=schema, owner=owner
            )
        )
    return changes


@dataclass(frozen=True)
class RoleRisk:
    """What about the role a server connects as lets it past row-level security."""

    role: str
    superuser: bool
    bypassrls: bool
    # Relations, functions and types of the schema the role owns (or inherits ownership of).
    owned: int

    @property
    def safe(self) -> bool:
        return not (self.superuser or self.bypassrls or self.owned)

    def describe(self) -> str:
        reasons = []
        if self.superuser:
            reasons.append("is a superuser")
        if self.bypassrls:
            reasons.append("has BYPASSRLS")
        if self.owned:
            reasons.append(f"owns {self.owned} object(s) of the schema")
        return f"role {self.role} " + ", ".join(reasons)


def check_serving_role(conninfo: str, schema: str) -> RoleRisk:
    """Connect as the server would and read what its role may do to ``schema``."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(query("bootstrap.serving_role"), {"schema": schema}).fetchone()
    assert row is not None  # current_user always has a pg_roles row
    return RoleRisk(str(row[0]), bool(row[1]), bool(row[2]), int(str(row[3])))
