"""The component against an existing server: what it creates, who may do what, what is secret."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.runtime import rpc
from pulumi_mocks import Deployment, deploy

PG = "postgresql:index/"
GRANT = PG + "grant:Grant"
DEFAULTS = PG + "defaultPrivileges:DefaultPrivileges"
SERVER_SECRETS = {"serverPassword": "admin-secret"}

# Privileges that would let a role change the schema or bypass row-by-row deletes. TEMPORARY is
# not among them: a temp table lives in the session's own pg_temp schema (the app role needs it
# for the metric store's staging table), so it changes nothing other sessions see.
DDL_LIKE = {"CREATE", "TRUNCATE", "REFERENCES", "TRIGGER", "ALL"}


def is_secret_input(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def privileges(d: Deployment, role: str, typ: str = GRANT) -> dict[str, set[str]]:
    return {
        r.inputs["objectType"]: set(r.inputs["privileges"])
        for r in d.of_type(typ)
        if r.inputs["role"] == role
    }


@pytest.fixture
def default() -> Deployment:
    return deploy(secrets=SERVER_SECRETS)


def test_database_has_the_founding_defaults(default: Deployment) -> None:
    db = default.named("modelyard-database").inputs
    assert db == {
        "name": "ml_models",
        "owner": "db_admin",
        "encoding": "UTF8",
        "template": "template0",
        "connectionLimit": 250,
    }


def test_schema_is_owned_by_db_admin(default: Deployment) -> None:
    schema = default.named("modelyard-schema").inputs
    assert schema == {"name": "ml_model_schema", "database": "ml_models", "owner": "db_admin"}


def test_roles_log_in_with_their_own_connection_limits(default: Deployment) -> None:
    roles = {r.inputs["name"]: r.inputs for r in default.of_type(PG + "role:Role")}
    assert {name: (r["login"], r["connectionLimit"]) for name, r in roles.items()} == {
        "db_admin": (True, 10),
        "modelyard_app": (True, 200),
        "modelyard_readonly": (True, 20),
    }
    for role in roles.values():
        assert role["searchPaths"] == ["ml_model_schema", "public"]
        assert not role.get("superuser") and not role.get("createRole")


def test_only_the_owner_bypasses_rls_and_the_app_role_owns_nothing(default: Deployment) -> None:
    roles = {r.inputs["name"]: r.inputs for r in default.of_type(PG + "role:Role")}
    assert {name: r["bypassRowLevelSecurity"] for name, r in roles.items()} == {
        "db_admin": True,
        "modelyard_app": False,
        "modelyard_readonly": False,
    }
    # Everything the program creates with an owner is owned by db_admin.
    owners = {
        r.inputs.get("owner")
        for r in default.resources
        if r.typ in (PG + "database:Database", PG + "schema:Schema")
    }
    assert owners == {"db_admin"}


def test_without_a_superuser_no_role_bypasses_rls() -> None:
    d = deploy({"server": {"username": "cloudadmin", "superuser": False}}, SERVER_SECRETS)
    roles = d.of_type(PG + "role:Role")
    assert [r.inputs["bypassRowLevelSecurity"] for r in roles] == [False] * 3


def test_app_role_reads_and_writes_rows_but_cannot_change_the_schema(default: Deployment) -> None:
    expected = {
        "database": {"CONNECT", "TEMPORARY"},
        "schema": {"USAGE"},
        "table": {"SELECT", "INSERT", "UPDATE", "DELETE"},
        "sequence": {"USAGE", "SELECT", "UPDATE"},
        "function": {"EXECUTE"},
    }
    granted = privileges(default, "modelyard_app")
    assert granted == expected
    assert not set().union(*granted.values()) & DDL_LIKE


def test_readonly_role_only_selects(default: Deployment) -> None:
    # Empty lists are grants too: the provider revokes anything granted by hand on those objects.
    assert privileges(default, "modelyard_readonly") == {
        "database": {"CONNECT"},
        "schema": {"USAGE"},
        "table": {"SELECT"},
        "sequence": set(),
        "function": set(),
    }
    assert privileges(default, "modelyard_readonly", DEFAULTS) == {
        "table": {"SELECT"},
        "sequence": set(),
        "function": set(),
    }


def test_owner_gets_no_grants_it_already_has_by_owning(default: Deployment) -> None:
    assert privileges(default, "db_admin") == {}


def test_default_privileges_cover_objects_migrations_create_later(default: Deployment) -> None:
    defaults = default.of_type(DEFAULTS)
    assert {r.inputs["owner"] for r in defaults} == {"db_admin"}
    assert {r.inputs["schema"] for r in defaults} == {"ml_model_schema"}
    assert privileges(default, "modelyard_app", DEFAULTS) == {
        "table": {"SELECT", "INSERT", "UPDATE", "DELETE"},
        "sequence": {"USAGE", "SELECT", "UPDATE"},
        "function": {"EXECUTE"},
    }


def test_public_loses_database_access_after_everything_else(default: Deployment) -> None:
    revoke = default.named("modelyard-revoke-public")
    assert revoke.inputs == {
        "database": "ml_models",
        "role": "public",
        "objectType": "database",
        "privileges": [],
    }
    # depends_on makes the engine register it only after the grants it waits for.
    assert [r for r in default.resources if r.typ.startswith(PG)][-1] == revoke


def test_required_extensions_only_by_default_on_an_existing_server(default: Deployment) -> None:
    extensions = default.of_type(PG + "extension:Extension")
    assert {r.inputs["name"] for r in extensions} == {"pg_trgm", "btree_gin"}
    assert {r.inputs["schema"] for r in extensions} == {"public"}


def test_optional_extension_when_config_says_the_server_has_it() -> None:
    d = deploy({"optionalExtensions": ["pg_stat_statements"]}, SERVER_SECRETS)
    names = {r.inputs["name"] for r in d.of_type(PG + "extension:Extension")}
    assert names == {"pg_trgm", "btree_gin", "pg_stat_statements"}


def test_every_postgresql_resource_uses_the_explicit_provider(default: Deployment) -> None:
    provider = default.named("modelyard-postgresql")
    assert provider.typ == "pulumi:providers:postgresql"
    assert provider.inputs["host"] == "localhost"
    assert provider.inputs["superuser"] == "true"
    assert is_secret_input(provider.inputs["password"])
    for r in default.resources:
        if r.typ.startswith(PG):
            assert r.provider is not None
            assert "pulumi:providers:postgresql::modelyard-postgresql::" in r.provider


def test_passwords_are_generated_and_secret(default: Deployment) -> None:
    generated = {r.name for r in default.of_type("random:index/randomPassword:RandomPassword")}
    assert generated == {f"modelyard-password-{key}" for key in ("admin", "app", "readonly")}
    for role in default.of_type(PG + "role:Role"):
        assert is_secret_input(role.inputs["password"])
    for key in ("admin", "app", "readonly"):
        value, secret = default.outputs[f"password.{key}"]
        assert secret and value


def test_uris_are_secret_and_connect_each_role_to_the_database(default: Deployment) -> None:
    password = default.outputs["password.app"][0]
    assert default.outputs["uri.app"] == (
        f"postgresql://modelyard_app:{password}@localhost:5432/ml_models?sslmode=require",
        True,
    )
    assert {k for k in default.outputs if k.startswith("uri.")} == {
        "uri.admin",
        "uri.app",
        "uri.readonly",
    }
    assert all(default.outputs[k][1] for k in default.outputs if k.startswith("uri."))
    assert default.outputs["host"] == ("localhost", False)
    assert default.outputs["port"] == (5432, False)
    assert default.outputs["database"] == ("ml_models", False)


def test_given_passwords_are_used_and_stay_secret() -> None:
    d = deploy(secrets={**SERVER_SECRETS, "appPassword": "p@ss/word"})
    generated = {r.name for r in d.of_type("random:index/randomPassword:RandomPassword")}
    assert "modelyard-password-app" not in generated
    assert d.outputs["password.app"] == ("p@ss/word", True)
    uri, secret = d.outputs["uri.app"]
    assert secret and "modelyard_app:p%40ss%2Fword@" in uri


def test_config_overrides_names_and_limits() -> None:
    d = deploy(
        {
            "server": {
                "kind": "existing",
                "host": "db.internal",
                "port": 6432,
                "sslmode": "verify-full",
            },
            "database": {"name": "registry", "connectionLimit": 40, "owner": "registry_owner"},
            "schema": {"name": "models"},
            "roles": {"app": {"name": "registry_app", "connectionLimit": 25}},
        },
        SERVER_SECRETS,
    )
    db = d.named("modelyard-database").inputs
    assert (db["name"], db["owner"], db["connectionLimit"]) == ("registry", "registry_owner", 40)
    assert d.named("modelyard-schema").inputs["name"] == "models"
    assert d.named("modelyard-role-admin").inputs["name"] == "registry_owner"
    assert d.named("modelyard-role-app").inputs["connectionLimit"] == 25
    assert {r.inputs["schema"] for r in d.of_type(DEFAULTS)} == {"models"}
    assert {r.inputs["owner"] for r in d.of_type(DEFAULTS)} == {"registry_owner"}
    assert privileges(d, "registry_app")["table"] == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    uri, _ = d.outputs["uri.app"]
    assert uri.startswith("postgresql://registry_app:")
    assert uri.endswith("@db.internal:6432/registry?sslmode=verify-full")


def test_existing_server_needs_an_admin_password() -> None:
    with pytest.raises(ValueError, match="serverPassword"):
        deploy()


def test_non_superuser_admin_is_granted_connect_before_public_loses_it() -> None:
    d = deploy({"server": {"username": "cloudadmin", "superuser": False}}, SERVER_SECRETS)
    connect = d.named("modelyard-admin-connect").inputs
    assert (connect["role"], connect["privileges"]) == ("cloudadmin", ["CONNECT"])
    assert d.named("modelyard-postgresql").inputs["superuser"] == "false"
