"""Disk full, on the ``file://`` artifact store and in PostgreSQL, through the real server.

Each store sits on a small tmpfs this test mounts (so it needs root; skipped with the reason
otherwise), most of it taken by a filler file: an upload larger than what is left gets ENOSPC
for real. The server answers ``507 INSUFFICIENT_STORAGE`` in the JSON error shape (never 500),
nothing of the upload is visible (no listing entry, no blob row, no file, also after gc), other
requests are served meanwhile, and once the filler is removed the same upload succeeds.

PostgreSQL's tablespace case puts ``artifact_chunk`` (with its TOAST table) on the tmpfs and
leaves the WAL where it was, so a full disk is an error of the statement (SQLSTATE 53100, "could
not extend file"), not a crash of the server.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from fault_support import ServerProcess, sql_rows
from psycopg import sql

pytestmark = pytest.mark.faults

API = "/api/v1"
MIB = 1024 * 1024


@contextmanager
def small_tmpfs(path: Path, size_mib: int) -> Iterator[Path]:
    """A tmpfs of ``size_mib`` MiB mounted at ``path`` for the block."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root")
    path.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0700", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "--lazy", str(path)], check=False)


def _fill(path: Path, mib: int) -> None:
    with open(path, "wb") as filler:
        block = b"\0" * MIB
        for _ in range(mib):
            filler.write(block)


def _new_run(http: httpx.Client) -> str:
    experiment = http.post(f"{API}/experiments", json={"name": f"full-{uuid.uuid4().hex[:8]}"})
    assert experiment.status_code == 201, experiment.text
    run = http.post(f"{API}/runs", json={"experiment_id": experiment.json()["experiment_id"]})
    assert run.status_code == 201, run.text
    return str(run.json()["run_id"])


def _assert_insufficient_storage(response: httpx.Response) -> None:
    assert response.status_code == 507, (response.status_code, response.text[:300])
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "INSUFFICIENT_STORAGE"
    assert set(body["error"]) == {"code", "message", "details"}


def _artifact_rows(database_url: str, run_id: str) -> tuple[int, int]:
    """Rows naming the run's artifacts, and blob rows at all."""
    named = sql_rows(
        database_url, "SELECT count(*) FROM run_artifact WHERE run_id = %s::uuid", [run_id]
    )
    blobs = sql_rows(database_url, "SELECT count(*) FROM artifact_blob")
    return int(named[0][0]), int(blobs[0][0])


def _gc(database_url: str, store_url: str) -> None:
    subprocess.run(
        [
            sys.executable, "-m", "modelyard", "--database-url", database_url, "gc",
            "--artifact-store", store_url, "--uploads-older-than", "0", "--quiet",
        ],
        check=True,
        capture_output=True,
    )


def _full_then_freed(
    server: ServerProcess, database_url: str, store_url: str, filler: Path, what: str
) -> None:
    """Upload into a full store, check the refusal and that nothing of it is visible, also
    after gc, check the server still serves, free the space, and upload again."""
    data = os.urandom(8 * MIB)
    with httpx.Client(base_url=server.url, timeout=120) as http:
        run_id = _new_run(http)
        url = f"{API}/runs/{run_id}/artifacts/model/weights.bin"
        _assert_insufficient_storage(http.put(url, content=data))
        assert http.get(url).status_code == 404
        listing = http.get(f"{API}/runs/{run_id}/artifacts")
        assert listing.status_code == 200 and "weights.bin" not in listing.text
        assert _artifact_rows(database_url, run_id) == (0, 0)
        _gc(database_url, store_url)
        # Files of the store (a .part, a blob) besides the filler and PostgreSQL's own.
        root = filler.parent
        leftovers = [
            path
            for path in root.rglob("*")
            if path.is_file() and path != filler and path.relative_to(root).parts[0] != "pg"
        ]
        assert leftovers == [], leftovers
        # The server goes on serving while the disk is full.
        assert http.get(f"{API}/runs/{run_id}").status_code == 200
        assert http.get("/ready").status_code == 200
        filler.unlink()
        stored = http.put(url, content=data)
        assert stored.status_code == 201, stored.text
        assert stored.json()["sha256"] == hashlib.sha256(data).hexdigest()
        assert http.get(url).content == data
    print(
        f"\ndisk full ({what}): an 8 MiB upload with about 6 MiB free answered 507;"
        " 0 rows and 0 files left (also after gc); the server kept serving;"
        " stored once the space was freed"
    )


def test_a_full_artifact_directory_is_a_507_and_leaves_nothing(
    database_url: str, tmp_path: Path
) -> None:
    with small_tmpfs(tmp_path / "store", 16) as store:
        filler = store / "filler"
        _fill(filler, 10)  # 6 MiB left: an 8 MiB upload runs out part of the way
        store_url = f"file://{store}"
        server = ServerProcess(
            database_url,
            tmp_path,
            args=("--no-webhook-dispatcher", "--artifact-store", store_url),
        )
        server.start()
        try:
            _full_then_freed(server, database_url, store_url, filler, "file://")
        finally:
            server.stop()


@pytest.fixture
def small_tablespace(pg_server: str, database_url: str, tmp_path: Path) -> Iterator[Path]:
    """``artifact_chunk`` of the test database on a 24 MiB tmpfs; yields the filler's path."""
    with small_tmpfs(tmp_path / "tablespace", 24) as mount:
        location = mount / "pg"
        location.mkdir(mode=0o700)
        name = f"modelyard_small_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute(
                sql.SQL("CREATE TABLESPACE {} LOCATION {}").format(
                    sql.Identifier(name), sql.Literal(str(location))
                )
            )
        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("ALTER TABLE ml_model_schema.artifact_chunk SET TABLESPACE {}").format(
                        sql.Identifier(name)
                    )
                )
            filler = mount / "filler"
            _fill(filler, 18)  # about 6 MiB left for the table
            yield filler
        finally:
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute("ALTER TABLE ml_model_schema.artifact_chunk SET TABLESPACE pg_default")
            with psycopg.connect(pg_server, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP TABLESPACE {}").format(sql.Identifier(name)))


def test_a_full_database_disk_is_a_507_and_leaves_nothing(
    database_url: str, small_tablespace: Path, tmp_path: Path
) -> None:
    server = ServerProcess(database_url, tmp_path, args=("--no-webhook-dispatcher",))
    server.start()
    try:
        _full_then_freed(server, database_url, "postgresql", small_tablespace, "PostgreSQL")
    finally:
        server.stop()
