"""The AWS RDS for PostgreSQL instance, its parameter group and its subnet group."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from modelyard_infra.settings import RdsServer

__all__ = ["create_instance", "parameters"]


def parameters(server: RdsServer) -> list[tuple[str, str, str]]:
    """Parameter group entries as (name, value, apply method)."""
    return [
        # pg_stat_statements only records queries when preloaded; static, so it waits for a reboot.
        ("shared_preload_libraries", "pg_stat_statements", "pending-reboot"),
        ("pg_stat_statements.track", "top", "immediate"),
        ("log_min_duration_statement", str(server.log_min_duration_statement_ms), "immediate"),
        ("log_lock_waits", "1", "immediate"),
        ("rds.force_ssl", "1", "immediate"),
    ]


def create_instance(
    name: str, server: RdsServer, password: pulumi.Input[str], parent: pulumi.Resource
) -> aws.rds.Instance:
    opts = pulumi.ResourceOptions(parent=parent)
    parameter_group = aws.rds.ParameterGroup(
        f"{name}-params",
        family=server.parameter_group_family,
        description="modelyard PostgreSQL settings",
        parameters=[
            aws.rds.ParameterGroupParameterArgs(name=key, value=value, apply_method=method)
            for key, value, method in parameters(server)
        ],
        opts=opts,
    )
    subnet_group_name: pulumi.Input[str] | None = server.subnet_group_name
    if subnet_group_name is None and server.subnet_ids:
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=list(server.subnet_ids),
            description="modelyard PostgreSQL subnets",
            opts=opts,
        )
        subnet_group_name = subnet_group.name
    insights = server.performance_insights
    return aws.rds.Instance(
        f"{name}-instance",
        identifier=server.identifier,
        engine="postgres",
        engine_version=server.engine_version,
        instance_class=server.instance_class,
        allocated_storage=server.allocated_storage,
        max_allocated_storage=server.max_allocated_storage,
        storage_type=server.storage_type,
        storage_encrypted=True,
        kms_key_id=server.kms_key_id,
        multi_az=server.multi_az,
        username=server.master_username,
        password=password,
        parameter_group_name=parameter_group.name,
        db_subnet_group_name=subnet_group_name,
        vpc_security_group_ids=list(server.vpc_security_group_ids) or None,
        publicly_accessible=server.publicly_accessible,
        backup_retention_period=server.backup_retention_days,
        backup_window=server.backup_window,
        maintenance_window=server.maintenance_window,
        copy_tags_to_snapshot=True,
        deletion_protection=server.deletion_protection,
        skip_final_snapshot=False,
        final_snapshot_identifier=server.final_snapshot_identifier,
        performance_insights_enabled=insights,
        performance_insights_retention_period=(
            server.performance_insights_retention_days if insights else None
        ),
        auto_minor_version_upgrade=True,
        # Changes wait for the maintenance window unless someone applies them on purpose.
        apply_immediately=False,
        opts=opts,
    )
