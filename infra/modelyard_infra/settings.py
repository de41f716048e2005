"""Typed settings for the Pulumi program, read from stack config under the `modelyard` namespace."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pulumi

from modelyard.bootstrap.spec import DEFAULT_SPEC, Spec, SpecError, spec_from_mapping

__all__ = [
    "CONFIG_NAMESPACE",
    "ExistingServer",
    "RdsServer",
    "Secrets",
    "Settings",
    "load_settings",
    "settings_from_mapping",
]

CONFIG_NAMESPACE = "modelyard"
SPEC_KEYS = ("database", "schema", "roles", "extensions")
_CAMEL_HUMP = re.compile(r"(?<!^)(?=[A-Z])")


@dataclass(frozen=True)
class ExistingServer:
    """A PostgreSQL server someone else runs; we connect to it as an administrator."""

    host: str = "localhost"
    port: int = 5432
    username: str = "postgres"
    sslmode: str = "require"
    # The database the provider connects to before ml_models exists.
    database: str = "postgres"
    # False for managed services whose admin is not a real superuser (Cloud SQL, Azure, RDS).
    superuser: bool = True
    connect_timeout: int = 15


@dataclass(frozen=True)
class RdsServer:
    """An AWS RDS for PostgreSQL instance created by this program."""

    identifier: str | None = None
    engine_version: str = "16"
    parameter_group_family: str = "postgres16"
    instance_class: str = "db.t4g.medium"
    allocated_storage: int = 20
    max_allocated_storage: int = 100
    storage_type: str = "gp3"
    kms_key_id: str | None = None
    multi_az: bool = False
    master_username: str = "modelyard_master"
    backup_retention_days: int = 7
    backup_window: str = "03:00-04:00"
    maintenance_window: str = "sun:04:30-sun:05:30"
    deletion_protection: bool = True
    final_snapshot_identifier: str = "modelyard-final"
    performance_insights: bool = False
    performance_insights_retention_days: int = 7
    log_min_duration_statement_ms: int = 500
    subnet_ids: tuple[str, ...] = ()
    subnet_group_name: str | None = None
    vpc_security_group_ids: tuple[str, ...] = ()
    publicly_accessible: bool = False
    # rds.force_ssl is on in the parameter group, so clients must use TLS.
    sslmode: str = "require"


@dataclass(frozen=True)
class Settings:
    """Everything the component needs except secrets."""

    spec: Spec = DEFAULT_SPEC
    server: ExistingServer | RdsServer = field(default_factory=ExistingServer)
    # Names of the spec's optional extensions to create. Pulumi cannot ask the server what it
    # offers at plan time, so "where available" is decided by config (see the README).
    optional_extensions: tuple[str, ...] = ()

    @property
    def extensions(self) -> tuple[str, ...]:
        """Extension names to create, in spec order."""
        return tuple(
            ext.name
            for ext in self.spec.extensions
            if ext.required or ext.name in self.optional_extensions
        )


@dataclass(frozen=True)
class Secrets:
    """Passwords from stack config; a missing one is generated with RandomPassword."""

    server_password: pulumi.Input[str] | None = None
    role_passwords: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


def settings_from_mapping(values: Mapping[str, Any]) -> Settings:
    """Build settings from config values keyed like the stack config (without namespace)."""
    spec = spec_from_mapping({key: values[key] for key in SPEC_KEYS if values.get(key)})
    raw_server = dict(values.get("server") or {})
    kind = raw_server.pop("kind", "existing")
    server: ExistingServer | RdsServer
    if kind == "existing":
        server = _dataclass_from(ExistingServer, raw_server, "server")
    elif kind == "aws-rds":
        server = _dataclass_from(RdsServer, raw_server, "server")
    else:
        raise SpecError(f"server.kind must be 'existing' or 'aws-rds', got {kind!r}")
    optional = values.get("optionalExtensions")
    if optional is None:
        # On RDS we control shared_preload_libraries, so every optional extension is available.
        optional = (
            [e.name for e in spec.extensions if not e.required]
            if isinstance(server, RdsServer)
            else []
        )
    unknown = set(optional) - {e.name for e in spec.extensions if not e.required}
    if unknown:
        raise SpecError(f"optionalExtensions names no optional extension: {sorted(unknown)}")
    return Settings(spec=spec, server=server, optional_extensions=tuple(optional))


def load_settings(config: pulumi.Config | None = None) -> tuple[Settings, Secrets]:
    """Read settings and secrets from the current stack's config."""
    config = config or pulumi.Config(CONFIG_NAMESPACE)
    keys = (*SPEC_KEYS, "server")
    values: dict[str, Any] = {key: config.get_object(key) for key in keys}
    values["optionalExtensions"] = config.get_object("optionalExtensions")
    settings = settings_from_mapping(values)
    passwords = {
        role.key: password
        for role in settings.spec.roles
        if (password := config.get_secret(f"{role.key}Password")) is not None
    }
    secrets = Secrets(server_password=config.get_secret("serverPassword"), role_passwords=passwords)
    return settings, secrets


_D = TypeVar("_D", ExistingServer, RdsServer)


def _dataclass_from(cls: type[_D], raw: Mapping[str, Any], where: str) -> _D:
    hints = typing.get_type_hints(cls)
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        name = _CAMEL_HUMP.sub("_", key).lower()
        if name not in hints:
            raise SpecError(f"unknown key {where}.{key}; expected one of {sorted(hints)}")
        changes[name] = _coerce(value, hints[name], f"{where}.{key}")
    return dataclasses.replace(cls(), **changes)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    if isinstance(hint, types.UnionType) and value is None and type(None) in hint.__args__:
        return None
    if isinstance(hint, types.UnionType):
        hint = next(arg for arg in hint.__args__ if arg is not type(None))
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise SpecError(f"{where} must be a list of strings, got {value!r}")
        return tuple(value)
    # bool is a subclass of int: `port: true` in YAML must not pass as a port.
    if type(value) is not hint:
        raise SpecError(f"{where} must be {hint.__name__}, got {value!r}")
    return value
