"""`ModelyardDatabase`: server, database, schema, roles, extensions and grants as one resource."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_postgresql as postgresql
import pulumi_random as random

# One URI format for both ways of applying the spec (Pulumi outputs, `db bootstrap` credentials).
from modelyard.bootstrap.credentials import connection_uri
from modelyard.bootstrap.spec import RoleSpec
from modelyard_infra.grants import grant_role
from modelyard_infra.server import Server, check_secrets, provision_server
from modelyard_infra.settings import Secrets, Settings

__all__ = ["ModelyardDatabase", "connection_uri"]


class ModelyardDatabase(pulumi.ComponentResource):
    """modelyard's PostgreSQL backend, built from a `Spec` and the chosen server."""

    host: pulumi.Output[str]
    port: pulumi.Output[int]
    database: pulumi.Output[str]
    schema: pulumi.Output[str]
    passwords: dict[str, pulumi.Output[str]]
    uris: dict[str, pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        settings: Settings,
        secrets: Secrets | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        secrets = secrets or Secrets()
        check_secrets(settings, secrets)
        super().__init__("modelyard:infra:Database", name, None, opts)
        spec = settings.spec
        server = provision_server(name, settings.server, secrets, parent=self)
        on_server = pulumi.ResourceOptions(parent=self, provider=server.provider)

        self.passwords = {role.key: self._password(name, role, secrets) for role in spec.roles}
        roles = {
            role.key: postgresql.Role(
                f"{name}-role-{role.key}",
                name=role.name,
                login=role.login,
                connection_limit=role.connection_limit,
                password=self.passwords[role.key],
                search_paths=[spec.schema.name, "public"],
                # Explicit either way: the owner (migrations, backups, gc) passes FORCE ROW LEVEL
                # SECURITY; the server's role and the read-only one are bound by the policies.
                # Only a real superuser can give it (see docs/security.md for managed services).
                bypass_row_level_security=role.bypass_rls and server.superuser,
                opts=on_server,
            )
            for role in spec.roles
        }
        owner = roles[spec.owner.key]
        database = postgresql.Database(
            f"{name}-database",
            name=spec.database.name,
            owner=owner.name,
            encoding=spec.database.encoding,
            template=spec.database.template,
            connection_limit=spec.database.connection_limit,
            opts=on_server,
        )
        in_database = self._admin_connect(name, server, database, on_server)
        schema = postgresql.Schema(
            f"{name}-schema",
            name=spec.schema.name,
            database=database.name,
            owner=owner.name,
            opts=in_database,
        )
        extensions = [
            postgresql.Extension(
                f"{name}-extension-{extension}",
                name=extension,
                database=database.name,
                # Named, not left to the admin's search_path: every role's path ends in public,
                # so operators (pg_trgm's gin_trgm_ops) resolve for all of them.
                schema="public",
                opts=in_database,
            )
            for extension in settings.extensions
        ]
        granted: list[pulumi.Resource] = [schema, *extensions]
        for role in spec.grantees:
            granted += grant_role(
                f"{name}-grant-{role.key}",
                role=roles[role.key].name,
                privileges=role.privileges,
                database=database.name,
                schema=schema.name,
                owner=owner.name,
                opts=in_database,
            )
        # PUBLIC may CONNECT and create TEMP tables in every new database; take that away last,
        # so only the spec's roles (and the administrator) get in.
        postgresql.Grant(
            f"{name}-revoke-public",
            database=database.name,
            role="public",
            object_type="database",
            privileges=[],
            opts=pulumi.ResourceOptions.merge(
                on_server, pulumi.ResourceOptions(depends_on=granted)
            ),
        )

        self.host = server.host
        self.port = server.port
        self.database = database.name
        self.schema = schema.name
        self.uris = {
            role.key: self._uri(role, server, spec.database.name)
            for role in spec.roles
            if role.login
        }
        self.register_outputs(
            {
                "host": self.host,
                "port": self.port,
                "database": self.database,
                "schema": self.schema,
                "uris": self.uris,
            }
        )

    def _uri(self, role: RoleSpec, server: Server, database: str) -> pulumi.Output[str]:
        def build(args: list[Any]) -> str:
            host, port, password = args
            return connection_uri(role.name, password, host, port, database, server.sslmode)

        parts = pulumi.Output.all(server.host, server.port, self.passwords[role.key])
        return pulumi.Output.secret(parts.apply(build))

    def _password(self, name: str, role: RoleSpec, secrets: Secrets) -> pulumi.Output[str]:
        given = secrets.role_passwords.get(role.key)
        if given is not None:
            return pulumi.Output.secret(given)
        # Letters and digits only: the password goes into URIs and env vars unescaped by others.
        generated = random.RandomPassword(
            f"{name}-password-{role.key}",
            length=32,
            special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return pulumi.Output.secret(generated.result)

    def _admin_connect(
        self,
        name: str,
        server: Server,
        database: postgresql.Database,
        on_server: pulumi.ResourceOptions,
    ) -> pulumi.ResourceOptions:
        """Options for resources inside the database, which the provider must connect to."""
        if server.superuser:
            return on_server
        # A non-superuser administrator (RDS master) loses CONNECT once PUBLIC's is revoked.
        connect = postgresql.Grant(
            f"{name}-admin-connect",
            database=database.name,
            role=server.admin_username,
            object_type="database",
            privileges=["CONNECT"],
            opts=on_server,
        )
        return pulumi.ResourceOptions.merge(on_server, pulumi.ResourceOptions(depends_on=[connect]))
