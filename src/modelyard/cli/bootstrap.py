"""``modelyard db bootstrap``: the bootstrap spec applied to an existing server with plain SQL."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import psycopg.conninfo

from modelyard.bootstrap.apply import bootstrap, roles_to_create
from modelyard.bootstrap.credentials import connection_uri, generate_password
from modelyard.bootstrap.spec import DEFAULT_SPEC, Spec, SpecError, spec_from_mapping
from modelyard.cli._common import option
from modelyard.db.migrate import upgrade
from modelyard.errors import BootstrapError

_ROLE_KEYS = tuple(role.key for role in DEFAULT_SPEC.roles)


def _password_options(command: Any) -> Any:
    """``--<key>-password`` (from ``MODELYARD_<KEY>_PASSWORD``) and ``--<key>-password-file``."""
    for key in reversed(_ROLE_KEYS):
        command = option(
            f"--{key}-password-file",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            help=f"File holding the {key} role's password (first line).",
        )(command)
        command = option(
            f"--{key}-password",
            envvar=f"MODELYARD_{key.upper()}_PASSWORD",
            show_envvar=True,
            help=f"The {key} role's password; prefer the variable or the file (flags show in ps).",
        )(command)
    return command


@click.command("bootstrap")
@option(
    "--admin-url",
    envvar="MODELYARD_ADMIN_URL",
    show_envvar=True,
    required=True,
    help="URL of an administrator (superuser, or CREATEROLE+CREATEDB) on the server.",
)
@option(
    "--spec-file",
    envvar="MODELYARD_SPEC_FILE",
    show_envvar=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="JSON or TOML overrides of the spec (names, connection limits, extensions).",
)
@_password_options
@option(
    "--write-credentials",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write each role's connection URI to this file (mode 0600).",
)
@option(
    "--show-credentials", is_flag=True, help="Print each role's connection URI (with password)."
)
@option("--migrate", is_flag=True, help="Then apply the migrations as the owner role.")
def db_bootstrap(
    admin_url: str,
    spec_file: Path | None,
    write_credentials: Path | None,
    show_credentials: bool,
    migrate: bool,
    **password_args: Any,
) -> None:
    """Create the database, schema, roles, grants and extensions on an existing server.

    Applies the same declarative spec as the Pulumi program in infra/ (modelyard.bootstrap.spec),
    with SQL, as the administrator given by --admin-url. It is idempotent: it creates what is
    missing, reconciles what differs (owners, connection limits, passwords, privileges) and leaves
    the rest; a second run reports everything unchanged.

    A role that does not exist yet gets the password given for it, or a generated one; generated
    passwords are only ever written to --write-credentials or printed with --show-credentials, so
    one of them is required then. Passwords are never printed otherwise. The credentials file
    (mode 0600) holds shell-sourceable lines MODELYARD_ADMIN_DATABASE_URL=...,
    MODELYARD_APP_DATABASE_URL=... and MODELYARD_READONLY_DATABASE_URL=..., one per role whose
    password is known.

    Checks that can fail (a new role without a password, a required extension the server lacks,
    an existing database with another encoding) run before the first statement. See "Without
    Pulumi" in infra/README.md.

    --migrate then runs `modelyard db upgrade` connected as the owner role, which needs its
    password (given or generated), so that every table belongs to the owner and the default
    privileges cover it.
    """
    spec = _load_spec(spec_file)
    passwords = _given_passwords(password_args)
    generated: dict[str, str] = {}
    for role in roles_to_create(admin_url, spec):
        if role.key not in passwords:
            generated[role.key] = passwords[role.key] = generate_password()
    if generated and not (write_credentials or show_credentials):
        raise BootstrapError(
            f"roles {', '.join(spec.role(k).name for k in generated)} would get generated "
            "passwords; give --write-credentials FILE (or --show-credentials, or their passwords)"
        )
    if migrate and spec.owner.key not in passwords:
        raise BootstrapError(
            f"--migrate connects as {spec.owner.name} and needs its password "
            f"(--{spec.owner.key}-password-file or MODELYARD_{spec.owner.key.upper()}_PASSWORD)"
        )
    report = bootstrap(admin_url, spec, passwords)
    for change in report.changes:
        click.echo(str(change))
    click.echo(f"bootstrap: {report.summary()}")
    uris = _uris(admin_url, spec, passwords)
    if write_credentials:
        _write_private(write_credentials, uris)
        click.echo(f"wrote connection URIs of {', '.join(uris)} to {write_credentials}")
    if show_credentials:
        for key, uri in uris.items():
            click.echo(f"{_env_name(key)}={uri}")
    if migrate:
        owner_dsn = psycopg.conninfo.make_conninfo(
            admin_url,
            user=spec.owner.name,
            password=passwords[spec.owner.key],
            dbname=spec.database.name,
        )
        applied = upgrade(owner_dsn, spec.schema.name)
        for migration in applied:
            click.echo(f"applied {migration.version:04d}_{migration.name}")
        if not applied:
            click.echo("schema already up to date")


def _load_spec(path: Path | None) -> Spec:
    if path is None:
        return DEFAULT_SPEC
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        return spec_from_mapping(raw)
    except (ValueError, SpecError) as exc:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        raise BootstrapError(f"spec file {path}: {exc}") from exc


def _given_passwords(args: Mapping[str, Any]) -> dict[str, str]:
    passwords: dict[str, str] = {}
    for key in _ROLE_KEYS:
        value: str | None = args.get(f"{key}_password")
        path: Path | None = args.get(f"{key}_password_file")
        if value is not None and path is not None:
            raise click.UsageError(f"give the {key} password once: as a value or as a file")
        if path is not None:
            lines = path.read_text(encoding="utf-8").splitlines()
            value = lines[0] if lines else ""
        if value is not None:
            if not value:
                raise BootstrapError(f"the {key} password is empty")
            passwords[key] = value
    return passwords


def _env_name(key: str) -> str:
    # Like MODELYARD_DATABASE_URL, per role; not MODELYARD_ADMIN_URL, the --admin-url variable.
    return f"MODELYARD_{key.upper()}_DATABASE_URL"


def _uris(admin_url: str, spec: Spec, passwords: Mapping[str, str]) -> dict[str, str]:
    """A URI per login role whose password is known, on the administrator's host and port."""
    params = psycopg.conninfo.conninfo_to_dict(admin_url)
    return {
        role.key: connection_uri(
            role.name,
            passwords[role.key],
            str(params["host"]) if params.get("host") else None,
            str(params["port"]) if params.get("port") else None,
            spec.database.name,
            str(params["sslmode"]) if params.get("sslmode") else None,
        )
        for role in spec.roles
        if role.login and role.key in passwords
    }


def _write_private(path: Path, uris: Mapping[str, str]) -> None:
    lines = ["# modelyard connection URIs written by `modelyard db bootstrap`; keep secret"]
    lines += [f"{_env_name(key)}={uri}" for key, uri in uris.items()]
    # Created 0600 (and narrowed if it existed), so the secret is never readable by others.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write("\n".join(lines) + "\n")
