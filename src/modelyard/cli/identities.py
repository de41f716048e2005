"""``modelyard workspaces``, ``users``, ``members`` and ``tokens``: identities, on the database.

Like ``db upgrade`` these connect to the database directly (the embedded PostgreSQL on
``--data-dir``, or ``--database-url``), not to a server, so the first admin and their first token
can be made before any token exists. A token is printed once, when it is made.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from modelyard.auth import admin
from modelyard.auth.access import Role
from modelyard.cli._common import option
from modelyard.cli._globals import global_options
from modelyard.cli._output import json_option, show, show_one
from modelyard.database import open_database
from modelyard.settings import Settings

TOKEN_COLUMNS = [
    ("token_id", "ID"),
    ("user", "USER"),
    ("workspace", "WORKSPACE"),
    ("kind", "KIND"),
    ("created_at", "CREATED"),
    ("expires_at", "EXPIRES"),
    ("revoked_at", "REVOKED"),
]


@contextmanager
def _database(settings: Settings) -> Iterator[admin.Conn]:
    # for_serving: the embedded database gets its schema on first use, as the server does;
    # as_owner: these commands manage every workspace, which the runtime role cannot see.
    with (
        open_database(settings, for_serving=True, as_owner=True) as dsn,
        admin.connect(dsn, settings.schema) as c,
    ):
        yield c


@click.group()
def workspaces() -> None:
    """Workspaces: each experiment, run and model belongs to one."""


@workspaces.command("create")
@click.argument("name")
@global_options
@json_option
@click.pass_obj
def create_workspace(settings: Settings, name: str, as_json: bool) -> None:
    """Create workspace NAME (lowercase letters, digits, _ and -)."""
    with _database(settings) as conn:
        show_one(admin.create_workspace(conn, name), as_json=as_json)


@workspaces.command("list")
@global_options
@json_option
@click.pass_obj
def list_workspaces(settings: Settings, as_json: bool) -> None:
    """List workspaces."""
    with _database(settings) as conn:
        rows = admin.list_workspaces(conn)
    show(
        rows, [("workspace_id", "ID"), ("name", "NAME"), ("created_at", "CREATED")], as_json=as_json
    )


@click.group()
def users() -> None:
    """Users and service accounts (who tokens belong to)."""


@users.command("create")
@click.argument("name")
@option("--admin", "is_admin", is_flag=True, help="A server-wide admin: every right everywhere.")
@option("--service-account", is_flag=True, help="A service account (for automation) not a person.")
@global_options
@json_option
@click.pass_obj
def create_user(
    settings: Settings, name: str, is_admin: bool, service_account: bool, as_json: bool
) -> None:
    """Create user NAME; give it workspaces with `members add` and a token with `tokens create`."""
    with _database(settings) as conn:
        created = admin.create_user(conn, name, admin=is_admin, service=service_account)
    show_one(created, as_json=as_json)


@users.command("list")
@global_options
@json_option
@click.pass_obj
def list_users(settings: Settings, as_json: bool) -> None:
    """List users and service accounts."""
    with _database(settings) as conn:
        rows = admin.list_users(conn)
    columns = [("name", "NAME"), ("kind", "KIND"), ("is_admin", "ADMIN"), ("created_at", "CREATED")]
    show(rows, columns, as_json=as_json)


@click.group()
def members() -> None:
    """Who may do what in a workspace: roles reader, editor, admin."""


@members.command("add")
@click.argument("workspace")
@click.argument("user")
@option(
    "--role",
    required=True,
    type=click.Choice([role.value for role in Role]),
    help="reader: read; editor: also write; admin: also manage webhooks.",
)
@global_options
@json_option
@click.pass_obj
def add_member(settings: Settings, workspace: str, user: str, role: str, as_json: bool) -> None:
    """Give USER a ROLE in WORKSPACE (a member already there gets the new role)."""
    with _database(settings) as conn:
        show_one(admin.add_member(conn, workspace, user, Role(role)), as_json=as_json)


@members.command("remove")
@click.argument("workspace")
@click.argument("user")
@global_options
@click.pass_obj
def remove_member(settings: Settings, workspace: str, user: str) -> None:
    """Take USER out of WORKSPACE."""
    with _database(settings) as conn:
        admin.remove_member(conn, workspace, user)
    click.echo(f"removed {user} from {workspace}")


@members.command("list")
@option("--workspace", default=None, help="Only this workspace's members.")
@global_options
@json_option
@click.pass_obj
def list_members(settings: Settings, workspace: str | None, as_json: bool) -> None:
    """List memberships."""
    with _database(settings) as conn:
        rows = admin.list_members(conn, workspace)
    show(rows, [("workspace", "WORKSPACE"), ("user", "USER"), ("role", "ROLE")], as_json=as_json)


@click.group()
def tokens() -> None:
    """API tokens: shown once when made, stored only as a hash."""


@tokens.command("create")
@option("--user", required=True, help="Whose token it is.")
@option("--workspace", default=None, help="Limit the token to this workspace.")
@option("--expires", default=None, metavar="DURATION", help="Expire after 30d, 12h, 90m, 2w...")
@global_options
@json_option
@click.pass_obj
def create_token(
    settings: Settings, user: str, workspace: str | None, expires: str | None, as_json: bool
) -> None:
    """Make a token for --user and print it (the only time it is shown)."""
    expires_in = admin.parse_duration(expires) if expires is not None else None
    with _database(settings) as conn:
        made = admin.create_token(conn, user, workspace=workspace, expires_in=expires_in)
    if as_json:
        show_one(made, as_json=True)
        return
    click.echo(made["token"])
    click.echo(
        f"token {made['token_id']} for {user}: shown once, store it now "
        "(clients read MODELYARD_TOKEN)",
        err=True,
    )


@tokens.command("list")
@option("--user", default=None, help="Only this user's tokens.")
@global_options
@json_option
@click.pass_obj
def list_tokens(settings: Settings, user: str | None, as_json: bool) -> None:
    """List tokens: ids, users, workspaces, expiry (never the tokens themselves)."""
    with _database(settings) as conn:
        rows = admin.list_tokens(conn, user)
    show(rows, TOKEN_COLUMNS, as_json=as_json)


@tokens.command("revoke")
@click.argument("token_id", metavar="ID")
@global_options
@json_option
@click.pass_obj
def revoke_token(settings: Settings, token_id: str, as_json: bool) -> None:
    """Revoke token ID: refused from the next request on."""
    with _database(settings) as conn:
        show_one(admin.revoke_token(conn, token_id), as_json=as_json)
