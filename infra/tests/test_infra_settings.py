"""Stack config to typed settings: server kinds, defaults, and the mistakes it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard.bootstrap.spec import SpecError
from modelyard_infra.settings import ExistingServer, RdsServer, settings_from_mapping


def test_existing_server_is_the_default() -> None:
    settings = settings_from_mapping({})
    assert settings.server == ExistingServer()
    assert settings.extensions == ("pg_trgm", "btree_gin")


def test_rds_settings_parse_camel_case_and_lists() -> None:
    settings = settings_from_mapping(
        {"server": {"kind": "aws-rds", "subnetIds": ["a", "b"], "kmsKeyId": None}}
    )
    assert isinstance(settings.server, RdsServer)
    assert settings.server.subnet_ids == ("a", "b")
    assert settings.server.kms_key_id is None
    assert settings.extensions == ("pg_trgm", "btree_gin", "pg_stat_statements")


def test_spec_overrides_pass_through() -> None:
    settings = settings_from_mapping({"schema": {"name": "models"}})
    assert settings.spec.schema.name == "models"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"server": {"kind": "gcp"}}, "server.kind"),
        ({"server": {"hostname": "x"}}, "unknown key server.hostname"),
        ({"server": {"port": "5432"}}, "server.port must be int"),
        ({"server": {"superuser": 1}}, "server.superuser must be bool"),
        ({"server": {"kind": "aws-rds", "subnetIds": "subnet-a"}}, "list of strings"),
        ({"optionalExtensions": ["pg_trgm"]}, "optionalExtensions"),
    ],
)
def test_bad_config_is_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        settings_from_mapping(values)
