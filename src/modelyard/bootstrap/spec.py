"""The declarative description of modelyard's PostgreSQL footprint, shared by Pulumi and the CLI."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

__all__ = [
    "DEFAULT_SPEC",
    "PRIVILEGES",
    "Access",
    "DatabaseSpec",
    "ExtensionSpec",
    "Privileges",
    "Requirement",
    "RoleSpec",
    "SchemaSpec",
    "Spec",
    "SpecError",
    "spec_from_mapping",
]

# PostgreSQL truncates identifiers at NAMEDATALEN - 1 bytes; refusing longer names up front avoids
# two spec entries silently meaning the same role.
_MAX_IDENTIFIER_BYTES = 63
_CAMEL_HUMP = re.compile(r"(?<!^)(?=[A-Z])")


class SpecError(ValueError):
    """A spec or an override mapping is invalid."""


class Access(StrEnum):
    """What a role may do with the model schema."""

    OWNER = "owner"
    READ_WRITE = "read_write"
    READ_ONLY = "read_only"


class Requirement(StrEnum):
    """Whether bootstrapping must fail when an extension cannot be created."""

    REQUIRED = "required"
    OPTIONAL = "optional"


@dataclass(frozen=True)
class Privileges:
    """PostgreSQL privilege keywords one access kind receives, per object class."""

    database: tuple[str, ...] = ()
    schema: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    sequences: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()


# The owner needs no grants: ownership of the database and schema (and of every object that
# migrations create, since they run as the owner) already carries every privilege.
PRIVILEGES: Mapping[Access, Privileges] = {
    Access.OWNER: Privileges(),
    Access.READ_WRITE: Privileges(
        # TEMPORARY: the metric store COPYs each batch into a per-session temp table
        # (pg_temp.metric_staging_v2) before one set-based insert. A temp table lives in the
        # session's own pg_temp schema, so this lets the role create no object other sessions
        # can see.
        database=("CONNECT", "TEMPORARY"),
        schema=("USAGE",),
        tables=("SELECT", "INSERT", "UPDATE", "DELETE"),
        sequences=("USAGE", "SELECT", "UPDATE"),
        functions=("EXECUTE",),
    ),
    Access.READ_ONLY: Privileges(
        database=("CONNECT",),
        schema=("USAGE",),
        tables=("SELECT",),
    ),
}


@dataclass(frozen=True)
class DatabaseSpec:
    """The database that holds modelyard's data."""

    name: str = "ml_models"
    owner: str = "db_admin"
    encoding: str = "UTF8"
    template: str = "template0"
    # The sum of the role limits below, with room for maintenance sessions.
    connection_limit: int = 250


@dataclass(frozen=True)
class SchemaSpec:
    """The schema for the model data; it is owned by the database owner."""

    name: str = "ml_model_schema"


@dataclass(frozen=True)
class RoleSpec:
    """A role modelyard creates; `key` is the stable handle used by overrides and secrets."""

    key: str
    name: str
    access: Access
    connection_limit: int
    login: bool = True

    @property
    def privileges(self) -> Privileges:
        return PRIVILEGES[self.access]

    @property
    def bypass_rls(self) -> bool:
        """Whether the role gets BYPASSRLS: the owner only. Migrations, backups (pg_dump refuses
        to dump a table whose policies would hide rows from it) and garbage collection work
        across workspaces, and FORCE ROW LEVEL SECURITY binds even the tables' owner. Every
        other role, the server's above all, must stay bound by the policies."""
        return self.access is Access.OWNER


@dataclass(frozen=True)
class ExtensionSpec:
    """An extension to create in the database."""

    name: str
    requirement: Requirement = Requirement.REQUIRED

    @property
    def required(self) -> bool:
        return self.requirement is Requirement.REQUIRED


# Limits sized for a modest deployment: a few server instances, each with several workers
# whose pools hold up to 10 connections (e.g. 4 instances x 4 workers x 10 = 160 for the app).
# They are ceilings: the server's max_connections must also allow them.
DEFAULT_ROLES: tuple[RoleSpec, ...] = (
    RoleSpec(key="admin", name="db_admin", access=Access.OWNER, connection_limit=10),
    RoleSpec(key="app", name="modelyard_app", access=Access.READ_WRITE, connection_limit=200),
    RoleSpec(
        key="readonly", name="modelyard_readonly", access=Access.READ_ONLY, connection_limit=20
    ),
)

DEFAULT_EXTENSIONS: tuple[ExtensionSpec, ...] = (
    ExtensionSpec("pg_trgm"),
    ExtensionSpec("btree_gin"),
    ExtensionSpec("pg_stat_statements", Requirement.OPTIONAL),
)


@dataclass(frozen=True)
class Spec:
    """Everything modelyard needs from a PostgreSQL server, independent of how it is applied."""

    database: DatabaseSpec = field(default_factory=DatabaseSpec)
    schema: SchemaSpec = field(default_factory=SchemaSpec)
    roles: tuple[RoleSpec, ...] = DEFAULT_ROLES
    extensions: tuple[ExtensionSpec, ...] = DEFAULT_EXTENSIONS

    def __post_init__(self) -> None:
        names = [self.database.name, self.database.template, self.schema.name]
        names += [role.name for role in self.roles] + [ext.name for ext in self.extensions]
        for name in names:
            _check_identifier(name)
        for limit in [self.database.connection_limit, *(r.connection_limit for r in self.roles)]:
            if limit < -1:
                raise SpecError(f"connection limit must be -1 (unlimited) or more, got {limit}")
        _check_unique("role key", [role.key for role in self.roles])
        _check_unique("role name", [role.name for role in self.roles])
        _check_unique("extension", [ext.name for ext in self.extensions])
        owners = [role for role in self.roles if role.access is Access.OWNER]
        if len(owners) != 1 or owners[0].name != self.database.owner:
            raise SpecError(
                f"exactly one role with access 'owner' must exist and be named like the "
                f"database owner {self.database.owner!r}"
            )

    @property
    def owner(self) -> RoleSpec:
        """The role that owns the database and schema and runs migrations."""
        return next(role for role in self.roles if role.access is Access.OWNER)

    def role(self, key: str) -> RoleSpec:
        for role in self.roles:
            if role.key == key:
                return role
        raise KeyError(key)

    @property
    def grantees(self) -> tuple[RoleSpec, ...]:
        """Roles that need explicit grants, i.e. every role but the owner."""
        return tuple(role for role in self.roles if role.access is not Access.OWNER)


# The spec parts an override mapping may replace fields of.
_Part = TypeVar("_Part", DatabaseSpec, SchemaSpec, RoleSpec)


def spec_from_mapping(overrides: Mapping[str, Any], base: Spec | None = None) -> Spec:
    """Return `base` with `overrides` applied.

    The mapping has the shape of Pulumi structured config, and keys may be camelCase or
    snake_case so that YAML stack config and CLI flags can share it::

        {"database": {"name": "ml_models", "connectionLimit": 50},
         "schema": {"name": "models"},
         "roles": {"app": {"name": "svc", "connectionLimit": 20, "login": True}},
         "extensions": {"pg_stat_statements": "off", "citext": "required"}}

    Unknown keys are errors, so a typo in stack config fails the preview instead of being ignored.
    """
    base = base or DEFAULT_SPEC
    top = _normalise(overrides, "spec", {"database", "schema", "roles", "extensions"})
    database = _replace(base.database, top.get("database", {}), "database")
    schema = _replace(base.schema, top.get("schema", {}), "schema")
    roles = _override_roles(base, database, top.get("roles", {}))
    owner = next(role for role in roles if role.access is Access.OWNER)
    database = dataclasses.replace(database, owner=owner.name)
    extensions = _override_extensions(base.extensions, top.get("extensions", {}))
    return Spec(database=database, schema=schema, roles=roles, extensions=extensions)


def _override_roles(base: Spec, database: DatabaseSpec, raw: Any) -> tuple[RoleSpec, ...]:
    by_key = _normalise(raw, "roles", {role.key for role in base.roles})
    roles = [
        _replace(role, by_key.get(role.key, {}), f"roles.{role.key}", {"key", "access"})
        for role in base.roles
    ]
    # The owner's name is written in two places (database.owner and the owner role); overriding
    # either one renames both, and only contradicting overrides are an error.
    owner_index = next(i for i, role in enumerate(roles) if role.access is Access.OWNER)
    owner_role = roles[owner_index]
    owner_renamed = owner_role.name != base.owner.name
    database_renamed = database.owner != base.database.owner
    if owner_renamed and database_renamed and owner_role.name != database.owner:
        raise SpecError(
            f"database.owner {database.owner!r} contradicts roles.{owner_role.key}.name "
            f"{owner_role.name!r}"
        )
    if database_renamed:
        roles[owner_index] = dataclasses.replace(owner_role, name=database.owner)
    return tuple(roles)


def _override_extensions(base: tuple[ExtensionSpec, ...], raw: Any) -> tuple[ExtensionSpec, ...]:
    if not isinstance(raw, Mapping):
        raise SpecError(f"extensions must be a mapping of name to requirement, got {raw!r}")
    current = {ext.name: ext for ext in base}
    for name, value in raw.items():
        if value in ("off", None, False):
            current.pop(name, None)
            continue
        try:
            current[name] = ExtensionSpec(name, Requirement(value))
        except ValueError:
            raise SpecError(
                f"extensions.{name} must be 'required', 'optional' or 'off', got {value!r}"
            ) from None
    return tuple(current.values())


def _replace(
    instance: _Part, raw: Any, where: str, frozen_fields: frozenset[str] | set[str] = frozenset()
) -> _Part:
    allowed = {f.name for f in dataclasses.fields(instance)} - set(frozen_fields)
    changes = _normalise(raw, where, allowed)
    for name, value in changes.items():
        expected = type(getattr(instance, name))
        # bool is a subclass of int, so a YAML `true` must not pass as a connection limit.
        if type(value) is not expected:
            raise SpecError(f"{where}.{name} must be {expected.__name__}, got {value!r}")
    return dataclasses.replace(instance, **changes)


def _normalise(raw: Any, where: str, allowed: set[str] | frozenset[str]) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise SpecError(f"{where} must be a mapping, got {raw!r}")
    result: dict[str, Any] = {}
    for key, value in raw.items():
        name = _CAMEL_HUMP.sub("_", str(key)).lower() if key not in allowed else key
        if name not in allowed:
            raise SpecError(f"unknown key {where}.{key}; expected one of {sorted(allowed)}")
        result[name] = value
    return result


def _check_identifier(name: str) -> None:
    if not name or len(name.encode()) > _MAX_IDENTIFIER_BYTES or "\x00" in name:
        raise SpecError(f"{name!r} is not a usable PostgreSQL identifier")


def _check_unique(what: str, values: list[str]) -> None:
    duplicates = sorted({v for v in values if values.count(v) > 1})
    if duplicates:
        raise SpecError(f"duplicate {what}: {', '.join(duplicates)}")


DEFAULT_SPEC = Spec()
