"""The bootstrap spec: founding defaults, overrides from a mapping, and what it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard.bootstrap.spec import (
    DEFAULT_SPEC,
    Access,
    Requirement,
    SpecError,
    spec_from_mapping,
)


def test_defaults_follow_the_founding_document() -> None:
    db = DEFAULT_SPEC.database
    assert (db.name, db.owner, db.encoding, db.template) == (
        "ml_models",
        "db_admin",
        "UTF8",
        "template0",
    )
    assert db.connection_limit > 0
    assert DEFAULT_SPEC.schema.name == "ml_model_schema"
    assert DEFAULT_SPEC.owner.name == "db_admin"
    assert [(r.name, r.access) for r in DEFAULT_SPEC.roles] == [
        ("db_admin", Access.OWNER),
        ("modelyard_app", Access.READ_WRITE),
        ("modelyard_readonly", Access.READ_ONLY),
    ]
    assert all(r.login and r.connection_limit > 0 for r in DEFAULT_SPEC.roles)
    assert [(e.name, e.requirement) for e in DEFAULT_SPEC.extensions] == [
        ("pg_trgm", Requirement.REQUIRED),
        ("btree_gin", Requirement.REQUIRED),
        ("pg_stat_statements", Requirement.OPTIONAL),
    ]


def test_app_role_cannot_truncate_or_create() -> None:
    app = DEFAULT_SPEC.role("app").privileges
    everything = {*app.database, *app.schema, *app.tables, *app.sequences, *app.functions}
    assert not everything & {"TRUNCATE", "CREATE", "REFERENCES", "TRIGGER"}


def test_app_role_may_create_temp_tables_for_metric_staging() -> None:
    # The metric store stages each batch in a session-local temp table.
    assert DEFAULT_SPEC.role("app").privileges.database == ("CONNECT", "TEMPORARY")
    assert "TEMPORARY" not in DEFAULT_SPEC.role("readonly").privileges.database


def test_readonly_role_only_selects() -> None:
    ro = DEFAULT_SPEC.role("readonly").privileges
    assert (ro.database, ro.schema, ro.tables, ro.sequences, ro.functions) == (
        ("CONNECT",),
        ("USAGE",),
        ("SELECT",),
        (),
        (),
    )


def test_camel_and_snake_case_overrides() -> None:
    spec = spec_from_mapping(
        {
            "database": {"connectionLimit": 7, "name": "reg"},
            "schema": {"name": "models"},
            "roles": {"app": {"connection_limit": 3, "name": "svc"}},
            "extensions": {"pg_stat_statements": "off", "citext": "required"},
        }
    )
    assert (spec.database.name, spec.database.connection_limit) == ("reg", 7)
    assert spec.schema.name == "models"
    assert (spec.role("app").name, spec.role("app").connection_limit) == ("svc", 3)
    assert [e.name for e in spec.extensions] == ["pg_trgm", "btree_gin", "citext"]
    assert DEFAULT_SPEC.database.name == "ml_models"  # the base is not mutated


@pytest.mark.parametrize(
    "overrides",
    [{"database": {"owner": "boss"}}, {"roles": {"admin": {"name": "boss"}}}],
)
def test_renaming_the_owner_in_either_place_renames_both(overrides: dict[str, Any]) -> None:
    spec = spec_from_mapping(overrides)
    assert spec.database.owner == spec.owner.name == "boss"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"databse": {}}, "unknown key spec.databse"),
        ({"database": {"connectionLimit": "10"}}, "must be int"),
        ({"database": {"connectionLimit": True}}, "must be int"),
        ({"database": {"connectionLimit": -2}}, "connection limit"),
        ({"roles": {"app": {"access": "owner"}}}, "unknown key roles.app.access"),
        ({"roles": {"superuser": {}}}, "unknown key roles.superuser"),
        ({"roles": {"readonly": {"name": "modelyard_app"}}}, "duplicate role name"),
        ({"schema": {"name": "x" * 64}}, "identifier"),
        ({"extensions": {"pg_trgm": "maybe"}}, "extensions.pg_trgm"),
        (
            {"database": {"owner": "a"}, "roles": {"admin": {"name": "b"}}},
            "contradicts",
        ),
    ],
)
def test_bad_overrides_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        spec_from_mapping(overrides)
