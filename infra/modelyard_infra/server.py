"""The PostgreSQL server the database lives on: an existing one, or one created on AWS RDS."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_postgresql as postgresql
import pulumi_random as random

from modelyard_infra import rds
from modelyard_infra.settings import ExistingServer, RdsServer, Secrets, Settings

__all__ = ["Server", "check_secrets", "provision_server"]

_MISSING_PASSWORD = "server.kind 'existing' needs the secret config key serverPassword"


@dataclass(frozen=True)
class Server:
    """How the postgresql resources reach the server, and how clients should."""

    provider: postgresql.Provider
    host: pulumi.Output[str]
    port: pulumi.Output[int]
    sslmode: str
    admin_username: str
    # Whether the provider's login is a real superuser; if not it needs CONNECT granted explicitly.
    superuser: bool


def check_secrets(settings: Settings, secrets: Secrets) -> None:
    """Fail before anything is registered when a secret the server needs is missing."""
    if isinstance(settings.server, ExistingServer) and secrets.server_password is None:
        raise ValueError(_MISSING_PASSWORD)


def provision_server(
    name: str,
    server: ExistingServer | RdsServer,
    secrets: Secrets,
    parent: pulumi.Resource,
) -> Server:
    """Return a provider bound to the chosen server, creating the server first if asked to."""
    if isinstance(server, RdsServer):
        return _rds_server(name, server, secrets, parent)
    if secrets.server_password is None:
        raise ValueError(_MISSING_PASSWORD)
    return _existing_server(name, server, secrets.server_password, parent)


def _existing_server(
    name: str, server: ExistingServer, password: pulumi.Input[str], parent: pulumi.Resource
) -> Server:
    provider = postgresql.Provider(
        f"{name}-postgresql",
        host=server.host,
        port=server.port,
        username=server.username,
        password=pulumi.Output.secret(password),
        sslmode=server.sslmode,
        database=server.database,
        superuser=server.superuser,
        connect_timeout=server.connect_timeout,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return Server(
        provider=provider,
        host=pulumi.Output.from_input(server.host),
        port=pulumi.Output.from_input(server.port),
        sslmode=server.sslmode,
        admin_username=server.username,
        superuser=server.superuser,
    )


def _rds_server(name: str, server: RdsServer, secrets: Secrets, parent: pulumi.Resource) -> Server:
    password: pulumi.Input[str]
    if secrets.server_password is not None:
        password = pulumi.Output.secret(secrets.server_password)
    else:
        # RDS rejects '/', '@', '"' and spaces in master passwords; letters and digits are safe.
        generated = random.RandomPassword(
            f"{name}-master-password",
            length=32,
            special=False,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        password = generated.result
    instance = rds.create_instance(name, server, password, parent)
    provider = postgresql.Provider(
        f"{name}-postgresql",
        host=instance.address,
        port=instance.port,
        username=instance.username,
        password=password,
        sslmode=server.sslmode,
        database="postgres",
        # The RDS master user has rds_superuser, not SUPERUSER; the provider then grants itself
        # role memberships where PostgreSQL requires them.
        superuser=False,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[instance]),
    )
    return Server(
        provider=provider,
        host=instance.address,
        port=instance.port,
        sslmode=server.sslmode,
        admin_username=server.master_username,
        superuser=False,
    )
