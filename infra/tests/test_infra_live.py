"""`pulumi up` through the Automation API against a throwaway local PostgreSQL, checked with SQL.

Needs the Pulumi CLI and the postgresql and random provider plugins on the machine. They are
downloaded from outside the package registries, which our CI machines cannot reach, so there
this module is skipped with the reason shown in pytest's summary.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from modelyard_infra import ModelyardDatabase, Secrets
from modelyard_infra.settings import ExistingServer, Settings

PG_BIN = Path("/usr/lib/postgresql/15/bin")
UNSHARE = ["unshare", "--user", "--map-user=1000", "--map-group=1000"]


def _missing_tools() -> str | None:
    if shutil.which("pulumi") is None:
        return "the pulumi CLI is not installed (it cannot be downloaded on CI machines)"
    listed = subprocess.run(
        ["pulumi", "plugin", "ls", "--json"], capture_output=True, text=True, check=False
    )
    names = {p.get("name") for p in json.loads(listed.stdout or "[]")}
    missing = {"postgresql", "random"} - names
    if missing:
        return f"pulumi provider plugins missing: {', '.join(sorted(missing))}"
    if not (PG_BIN / "initdb").exists():
        return f"no PostgreSQL server binaries in {PG_BIN}"
    return None


pytestmark = pytest.mark.skipif(_missing_tools() is not None, reason=str(_missing_tools()))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    """A trust-auth PostgreSQL cluster on a free port; local to this module for now."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        os.chmod(tmp, 0o777)
        subprocess.run(
            [*UNSHARE, PG_BIN / "initdb", "-D", data, "-U", "postgres", "--auth=trust"],
            check=True,
            capture_output=True,
        )
        port = _free_port()
        log = Path(tmp) / "server.log"
        options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
        # The postmaster inherits pg_ctl's stdout; a pipe there would never reach EOF.
        subprocess.run(
            [*UNSHARE, PG_BIN / "pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "start"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        try:
            yield port
        finally:
            pid = int((data / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGINT)
            while (data / "postmaster.pid").exists():
                time.sleep(0.1)


def test_pulumi_up_creates_what_the_spec_says(server: int, tmp_path: Path) -> None:
    from pulumi import automation as auto

    settings = Settings(server=ExistingServer(host="127.0.0.1", port=server, sslmode="disable"))

    def program() -> None:
        ModelyardDatabase("modelyard", settings, Secrets(server_password="unused-with-trust"))

    env = {"PULUMI_CONFIG_PASSPHRASE": "test", "PULUMI_BACKEND_URL": tmp_path.as_uri()}
    stack = auto.create_or_select_stack(
        stack_name="live",
        project_name="modelyard-infra",
        program=program,
        opts=auto.LocalWorkspaceOptions(env_vars=env, work_dir=str(tmp_path)),
    )
    stack.up(on_output=print)
    try:
        admin = f"host=127.0.0.1 port={server} user=postgres dbname=ml_models"
        with psycopg.connect(admin) as conn:
            row = conn.execute(
                "SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datconnlimit"
                " FROM pg_database WHERE datname = 'ml_models'"
            ).fetchone()
            assert row == ("db_admin", "UTF8", 250)
            owner = conn.execute(
                "SELECT pg_get_userbyid(nspowner) FROM pg_namespace"
                " WHERE nspname = 'ml_model_schema'"
            ).fetchone()
            assert owner == ("db_admin",)
            extensions = {r[0] for r in conn.execute("SELECT extname FROM pg_extension")}
            assert {"pg_trgm", "btree_gin"} <= extensions
            conn.execute("SET ROLE db_admin")
            conn.execute("CREATE TABLE ml_model_schema.later (id bigserial PRIMARY KEY)")
            conn.execute("RESET ROLE")
            privileges = conn.execute(
                "SELECT has_table_privilege('modelyard_app', 'ml_model_schema.later', 'INSERT'),"
                " has_table_privilege('modelyard_app', 'ml_model_schema.later', 'TRUNCATE'),"
                " has_table_privilege('modelyard_readonly', 'ml_model_schema.later', 'SELECT'),"
                " has_table_privilege('modelyard_readonly', 'ml_model_schema.later', 'UPDATE'),"
                " has_schema_privilege('modelyard_app', 'ml_model_schema', 'CREATE')"
            ).fetchone()
            assert privileges == (True, False, True, False, False)
    finally:
        stack.destroy()
