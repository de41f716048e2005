"""``modelyard db`` and ``modelyard server`` as subprocesses, on external and embedded databases."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import httpx
import pytest
from cli_support import free_port, modelyard, start_server, stop_server

from modelyard.sql import migrations


def test_db_status_upgrade_status_on_an_empty_database(fresh_database: str) -> None:
    before = modelyard("--database-url", fresh_database, "db", "status")
    assert before.returncode == 1
    assert "pending: 0001_initial" in before.stdout

    upgraded = modelyard("--database-url", fresh_database, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "applied 0001_initial" in upgraded.stdout

    again = modelyard("--database-url", fresh_database, "db", "upgrade")
    assert again.returncode == 0
    assert "already up to date" in again.stdout

    after = modelyard("--database-url", fresh_database, "db", "status", "--json")
    assert after.returncode == 0
    assert '"up_to_date": true' in after.stdout


def test_database_url_comes_from_the_environment(fresh_database: str) -> None:
    result = modelyard("db", "status", env={"MODELYARD_DATABASE_URL": fresh_database})
    assert result.returncode == 1
    assert "current: 0" in result.stdout


def test_server_refuses_an_external_database_with_an_outdated_schema(
    fresh_database: str,
) -> None:
    result = modelyard(
        "--database-url", fresh_database, "server", "--port", str(free_port()), timeout=60
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: schema ml_model_schema is at version 0")
    assert "modelyard db upgrade" in lines[-1]
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_a_one_line_error() -> None:
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/nothing?connect_timeout=2"
    result = modelyard("--database-url", url, "db", "status")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr


def test_server_serves_an_upgraded_external_database(database_url: str) -> None:
    port = free_port()
    server = start_server(["--database-url", database_url], port)
    assert stop_server(server) == 0


def _postmaster_running(data_dir: Path) -> bool:
    pid_file = data_dir / "pg" / "postmaster.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_embedded_server_starts_postgres_applies_the_schema_and_stops_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    server = start_server(["--data-dir", str(data_dir)], port, timeout=120)
    try:
        assert _postmaster_running(data_dir)
        # Another command on the same data dir attaches to the running PostgreSQL.
        status = modelyard("--data-dir", str(data_dir), "db", "status")
        assert status.returncode == 0, status.stderr
        latest = max(m.version for m in migrations())
        assert f"current: {latest}\nlatest:  {latest}\n" in status.stdout
        assert _postmaster_running(data_dir), "the attached command must not stop it"
    finally:
        assert stop_server(server) == 0
    assert not _postmaster_running(data_dir)


def test_concurrent_upgrades_on_one_embedded_data_dir(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "data")
    results: list[int] = []

    def upgrade() -> None:
        results.append(modelyard("--data-dir", data_dir, "db", "upgrade").returncode)

    threads = [threading.Thread(target=upgrade) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [0, 0, 0]
    status = modelyard("--data-dir", data_dir, "db", "status")
    assert status.returncode == 0
    assert not _postmaster_running(tmp_path / "data"), "each command stops what it started"


@pytest.mark.parametrize("args", [["db", "nosuch"], ["--log-level", "loud", "db", "status"]])
def test_usage_errors_exit_2_with_a_message(args: list[str]) -> None:
    result = modelyard(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip()


def test_metrics_count_the_requests_of_every_worker(database_url: str) -> None:
    port = free_port()
    process = start_server(["--database-url", database_url], port, server_args=["--workers", "2"])
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(40):
            # A new connection each time, so the kernel spreads them over both workers.
            assert httpx.get(f"{url}/health", headers={"connection": "close"}).status_code == 200
        workers = set()
        for _ in range(10):
            text = httpx.get(f"{url}/metrics", headers={"connection": "close"}).text
            # Whichever worker answers the scrape reports the requests of both.
            assert (
                'modelyard_http_requests_total{method="GET",route="/health",status="200"} 40.0'
                in text
            )
            workers.update(
                line.split('worker="')[1].split('"')[0]
                for line in text.splitlines()
                if line.startswith("modelyard_pool_size{")
            )
        assert workers, "pool gauges carry the worker label"
    finally:
        assert stop_server(process) == 0
