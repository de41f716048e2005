"""``modelyard db bootstrap`` as a subprocess: prepare a server, migrate, serve as the app role."""

from __future__ import annotations

import json
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from cli_support import free_port, modelyard, start_server, stop_server
from psycopg import sql

from modelyard.bootstrap.credentials import password_matches

KEYS = ("admin", "app", "readonly")


@dataclass(frozen=True)
class Target:
    """A spec file naming a database and roles of this test's own, on the session's server."""

    server: str
    spec_file: Path
    database: str
    roles: dict[str, str]

    def exists(self) -> tuple[list[str], bool]:
        with psycopg.connect(self.server) as conn:
            names = list(self.roles.values())
            roles = conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", [names])
            db = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.database])
            return [r[0] for r in roles.fetchall()], db.fetchone() is not None

    def stored_password(self, key: str) -> str:
        with psycopg.connect(self.server) as conn:
            row = conn.execute(
                "SELECT rolpassword FROM pg_authid WHERE rolname = %s", [self.roles[key]]
            ).fetchone()
        assert row is not None
        return str(row[0])


@pytest.fixture
def target(pg_server: str, tmp_path: Path) -> Iterator[Target]:
    suffix = uuid.uuid4().hex[:10]
    roles = {key: f"my_cli_{key}_{suffix}" for key in KEYS}
    database = f"my_cli_{suffix}"
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(
        json.dumps(
            {
                "database": {"name": database, "connectionLimit": 40},
                "roles": {key: {"name": name} for key, name in roles.items()},
            }
        )
    )
    yield Target(pg_server, spec_file, database, roles)
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )
        for name in roles.values():
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone():
                conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
                conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def read_credentials(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_bootstrap_migrate_and_serve_as_the_app_role(target: Target, tmp_path: Path) -> None:
    credentials = tmp_path / "modelyard.env"
    base = ("db", "bootstrap", "--admin-url", target.server, "--spec-file", str(target.spec_file))
    first = modelyard(*base, "--write-credentials", str(credentials), "--migrate")
    assert first.returncode == 0, first.stderr
    assert f"role {target.roles['app']}: created" in first.stdout
    assert f"database {target.database}: created" in first.stdout
    assert "applied 0001_initial" in first.stdout
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    uris = read_credentials(credentials)
    assert set(uris) == {
        "MODELYARD_ADMIN_DATABASE_URL",
        "MODELYARD_APP_DATABASE_URL",
        "MODELYARD_READONLY_DATABASE_URL",
    }
    for key in KEYS:
        password = uris[f"MODELYARD_{key.upper()}_DATABASE_URL"].split(":")[2].split("@")[0]
        assert len(password) == 32
        assert password not in first.stdout + first.stderr  # written, never printed
        assert password_matches(target.stored_password(key), target.roles[key], password)

    again = modelyard(*base)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1] == "bootstrap: 11 unchanged"

    port = free_port()
    server = start_server(["--database-url", uris["MODELYARD_APP_DATABASE_URL"]], port)
    try:
        created = httpx.post(f"http://127.0.0.1:{port}/api/v1/experiments", json={"name": "e"})
        assert created.status_code == 201, created.text
    finally:
        assert stop_server(server) == 0


def test_generated_passwords_need_a_credentials_file(target: Target) -> None:
    result = modelyard(
        "db", "bootstrap", "--admin-url", target.server, "--spec-file", str(target.spec_file)
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: roles ")
    assert "--write-credentials" in result.stderr
    assert target.exists() == ([], False)


def test_passwords_from_the_environment_and_files(target: Target, tmp_path: Path) -> None:
    admin_file = tmp_path / "admin-password"
    admin_file.write_text("admin-secret-1\n")
    env = {"MODELYARD_APP_PASSWORD": "app-secret-2", "MODELYARD_READONLY_PASSWORD": "ro-secret-3"}
    result = modelyard(
        "db",
        "bootstrap",
        "--admin-url",
        target.server,
        "--spec-file",
        str(target.spec_file),
        "--admin-password-file",
        str(admin_file),
        env=env,
    )
    assert result.returncode == 0, result.stderr
    for key, password in (("admin", "admin-secret-1"), ("app", "app-secret-2")):
        assert password_matches(target.stored_password(key), target.roles[key], password)
        assert password not in result.stdout
    shown = modelyard(
        "db",
        "bootstrap",
        "--admin-url",
        target.server,
        "--spec-file",
        str(target.spec_file),
        "--show-credentials",
        env=env,
    )
    assert shown.returncode == 0, shown.stderr
    # Asked for: the URIs of the roles whose passwords it was given.
    app_uri = f"MODELYARD_APP_DATABASE_URL=postgresql://{target.roles['app']}:app-secret-2@"
    assert app_uri in shown.stdout
    assert "MODELYARD_ADMIN_DATABASE_URL" not in shown.stdout


def test_invalid_spec_file_is_a_one_line_error(target: Target, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[database]\nname = "x"\nsize = 3\n')
    result = modelyard("db", "bootstrap", "--admin-url", target.server, "--spec-file", str(bad))
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: spec file {bad}: unknown key database.size")
    assert result.stderr.count("\n") == 1


def test_migrate_without_the_owners_password_is_refused(target: Target) -> None:
    env = {f"MODELYARD_{key.upper()}_PASSWORD": f"{key}-pw-1" for key in KEYS}
    base = ("db", "bootstrap", "--admin-url", target.server, "--spec-file", str(target.spec_file))
    assert modelyard(*base, env=env).returncode == 0
    result = modelyard(*base, "--migrate")
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: --migrate connects as {target.roles['admin']}")
    assert result.stderr.count("\n") == 1
    with psycopg.connect(target.server, dbname=target.database) as conn:
        found = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'ml_model_schema'")
        assert found.fetchone() == (0,)
