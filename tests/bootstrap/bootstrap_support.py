"""What the bootstrap tests share: `Cluster`, one test's spec on the session's server."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
import psycopg.conninfo
from psycopg import sql

from modelyard.bootstrap.spec import Spec

ROLE_KEYS = ("admin", "app", "readonly")


@dataclass
class Cluster:
    """One test's spec on the session's server, with the passwords of its roles."""

    server: str  # the superuser DSN of the session's server
    spec: Spec
    suffix: str
    passwords: dict[str, str]
    # Further roles a test creates; dropped at teardown like the spec's own.
    extra_roles: list[str] = field(default_factory=list)

    @property
    def schema(self) -> str:
        return self.spec.schema.name

    def dsn(self, key: str | None = None, *, database: str | None = None) -> str:
        """DSN of role ``key`` (None: the superuser) to the spec's database."""
        params: dict[str, str] = {"dbname": database or self.spec.database.name}
        if key is not None:
            params |= {"user": self.spec.role(key).name, "password": self.passwords[key]}
        return psycopg.conninfo.make_conninfo(self.server, **params)

    def role_name(self, key: str) -> str:
        return self.spec.role(key).name

    def new_role(self, label: str, attributes: sql.Composable) -> str:
        """Create a further role (tracked for teardown) with a password; returns its DSN."""
        name = f"my_{label}_{self.suffix}"
        password = f"{label}-{self.suffix}"
        self.extra_roles.append(name)
        with psycopg.connect(self.server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} WITH {} PASSWORD {}").format(
                    sql.Identifier(name), attributes, sql.Literal(password)
                )
            )
        return psycopg.conninfo.make_conninfo(self.server, user=name, password=password)
