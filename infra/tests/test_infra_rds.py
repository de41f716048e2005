"""The component with server.kind aws-rds: the instance's settings and the provider bound to it."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_mocks import RDS_ADDRESS, Deployment, deploy
from test_infra_component import is_secret_input

INSTANCE = "aws:rds/instance:Instance"
RDS = {
    "server": {
        "kind": "aws-rds",
        "subnetIds": ["subnet-a", "subnet-b"],
        "vpcSecurityGroupIds": ["sg-db"],
    }
}


@pytest.fixture
def rds() -> Deployment:
    return deploy(RDS)


def instance(d: Deployment) -> dict[str, Any]:
    (found,) = d.of_type(INSTANCE)
    return found.inputs


def test_instance_is_encrypted_backed_up_and_protected(rds: Deployment) -> None:
    inputs = instance(rds)
    assert inputs["engine"] == "postgres"
    assert inputs["storageEncrypted"] is True
    assert inputs["backupRetentionPeriod"] == 7
    assert inputs["backupWindow"] == "03:00-04:00"
    assert inputs["deletionProtection"] is True
    assert inputs["skipFinalSnapshot"] is False
    assert inputs["finalSnapshotIdentifier"] == "modelyard-final"
    assert inputs["publiclyAccessible"] is False
    assert (inputs["allocatedStorage"], inputs["maxAllocatedStorage"]) == (20, 100)
    assert inputs["instanceClass"] == "db.t4g.medium"
    assert inputs["performanceInsightsEnabled"] is False
    assert "performanceInsightsRetentionPeriod" not in inputs


def test_master_password_is_generated_and_secret(rds: Deployment) -> None:
    assert rds.named("modelyard-master-password").inputs["special"] is False
    assert is_secret_input(instance(rds)["password"])
    assert is_secret_input(rds.named("modelyard-postgresql").inputs["password"])


def test_parameter_group_preloads_pg_stat_statements_and_forces_tls(rds: Deployment) -> None:
    (group,) = rds.of_type("aws:rds/parameterGroup:ParameterGroup")
    params = {p["name"]: p for p in group.inputs["parameters"]}
    assert group.inputs["family"] == "postgres16"
    assert params["shared_preload_libraries"]["value"] == "pg_stat_statements"
    assert params["shared_preload_libraries"]["applyMethod"] == "pending-reboot"
    assert params["rds.force_ssl"]["value"] == "1"
    assert params["log_min_duration_statement"]["value"] == "500"
    assert instance(rds)["parameterGroupName"] == group.name == "modelyard-params"


def test_subnet_and_security_groups_come_from_config(rds: Deployment) -> None:
    (subnets,) = rds.of_type("aws:rds/subnetGroup:SubnetGroup")
    assert subnets.inputs["subnetIds"] == ["subnet-a", "subnet-b"]
    assert instance(rds)["dbSubnetGroupName"] == subnets.name == "modelyard-subnets"
    assert instance(rds)["vpcSecurityGroupIds"] == ["sg-db"]


def test_an_existing_subnet_group_is_used_as_is() -> None:
    d = deploy({"server": {"kind": "aws-rds", "subnetGroupName": "shared-db"}})
    assert d.of_type("aws:rds/subnetGroup:SubnetGroup") == []
    assert instance(d)["dbSubnetGroupName"] == "shared-db"


def test_postgresql_resources_wait_for_the_instance(rds: Deployment) -> None:
    provider = rds.named("modelyard-postgresql")
    assert provider.inputs["host"] == RDS_ADDRESS
    assert provider.inputs["port"] == "5432"
    assert provider.inputs["username"] == "modelyard_master"
    assert provider.inputs["superuser"] == "false"
    assert provider.inputs["sslmode"] == "require"
    # The provider's inputs are the instance's outputs, so it can only register afterwards.
    order = [r.name for r in rds.resources]
    assert order.index("modelyard-instance") < order.index("modelyard-postgresql")
    for r in rds.resources:
        if r.typ.startswith("postgresql:"):
            assert r.provider is not None
            assert "pulumi:providers:postgresql::modelyard-postgresql::" in r.provider


def test_master_user_keeps_connect_once_public_loses_it(rds: Deployment) -> None:
    connect = rds.named("modelyard-admin-connect").inputs
    assert (connect["role"], connect["privileges"]) == ("modelyard_master", ["CONNECT"])


def test_optional_extensions_are_created_because_the_parameter_group_preloads_them(
    rds: Deployment,
) -> None:
    names = {r.inputs["name"] for r in rds.of_type("postgresql:index/extension:Extension")}
    assert names == {"pg_trgm", "btree_gin", "pg_stat_statements"}


def test_uris_point_at_the_instance(rds: Deployment) -> None:
    uri, secret = rds.outputs["uri.app"]
    assert secret
    assert uri.endswith(f"@{RDS_ADDRESS}:5432/ml_models?sslmode=require")
    assert rds.outputs["host"] == (RDS_ADDRESS, False)


def test_rds_settings_are_overridable() -> None:
    d = deploy(
        {
            "server": {
                "kind": "aws-rds",
                "instanceClass": "db.r6g.large",
                "backupRetentionDays": 30,
                "deletionProtection": False,
                "performanceInsights": True,
                "multiAz": True,
                "masterUsername": "root_admin",
            }
        },
        {"serverPassword": "given-master"},
    )
    inputs = instance(d)
    assert inputs["instanceClass"] == "db.r6g.large"
    assert inputs["backupRetentionPeriod"] == 30
    assert inputs["deletionProtection"] is False
    assert inputs["multiAz"] is True
    assert inputs["performanceInsightsRetentionPeriod"] == 7
    assert d.of_type("random:index/randomPassword:RandomPassword") != []
    assert "modelyard-master-password" not in {r.name for r in d.resources}
    assert d.named("modelyard-postgresql").inputs["username"] == "root_admin"
