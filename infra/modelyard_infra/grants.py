"""Grants and default privileges that give each non-owner role exactly its spec's access."""

from __future__ import annotations

import pulumi
import pulumi_postgresql as postgresql

from modelyard.bootstrap.spec import Privileges

__all__ = ["grant_role", "object_privileges"]


def object_privileges(privileges: Privileges) -> list[tuple[str, tuple[str, ...]]]:
    """(object type as the provider names it, privileges) for objects inside the schema."""
    return [
        ("table", privileges.tables),
        ("sequence", privileges.sequences),
        ("function", privileges.functions),
    ]


def grant_role(
    name: str,
    *,
    role: pulumi.Input[str],
    privileges: Privileges,
    database: pulumi.Input[str],
    schema: pulumi.Input[str],
    owner: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> list[pulumi.CustomResource]:
    """Grant `privileges` on what exists now and, as defaults, on what `owner` creates later.

    Every object class gets its resource even when the spec lists nothing for it: a Grant is
    authoritative (the provider revokes what is not listed), so an empty list takes away whatever
    someone granted by hand, as `modelyard db bootstrap` does.
    """
    resources: list[pulumi.CustomResource] = [
        postgresql.Grant(
            f"{name}-database",
            database=database,
            role=role,
            object_type="database",
            privileges=list(privileges.database),
            opts=opts,
        ),
        postgresql.Grant(
            f"{name}-schema",
            database=database,
            schema=schema,
            role=role,
            object_type="schema",
            privileges=list(privileges.schema),
            opts=opts,
        ),
    ]
    for object_type, granted in object_privileges(privileges):
        resources.append(
            postgresql.Grant(
                f"{name}-{object_type}s",
                database=database,
                schema=schema,
                role=role,
                object_type=object_type,
                privileges=list(granted),
                opts=opts,
            )
        )
        # Migrations run as the owner, so the owner's defaults cover every table they add.
        resources.append(
            postgresql.DefaultPrivileges(
                f"{name}-default-{object_type}s",
                database=database,
                schema=schema,
                owner=owner,
                role=role,
                object_type=object_type,
                privileges=list(granted),
                opts=opts,
            )
        )
    return resources
