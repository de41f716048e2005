"""Who the server runs as: ourselves, root's user namespace, or a dedicated user."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from embedded_support import FAST, SRC

from modelyard.embedded import EmbeddedPostgres, PrivilegeError
from modelyard.embedded._process import _namespace_prefix

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: tests root's run modes")

# Run as an unprivileged user: a session, a query, and how the postmaster runs.
NON_ROOT_CHILD = """
import json, os, sys
import psycopg
from modelyard.embedded import EmbeddedPostgres
with EmbeddedPostgres(sys.argv[1], settings={"fsync": "off"}).session() as server:
    with psycopg.connect(server.dsn()) as conn:
        answer = conn.execute("SELECT 1").fetchone()[0]
    same_userns = os.readlink(f"/proc/{server.pid}/ns/user") == os.readlink("/proc/self/ns/user")
    print(json.dumps({"answer": answer, "uid": os.geteuid(), "same_userns": same_userns,
                      "postmaster_uid": os.stat(f"/proc/{server.pid}").st_uid}))
"""


def _real_uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for pid {pid}")


def _unprivileged_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwuid(1000)
    except KeyError:
        pytest.skip("no user with uid 1000 to run PostgreSQL as")


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A directory other users may traverse; pytest's tmp_path is private to its user."""
    path = Path(tempfile.mkdtemp(prefix="modelyard-test-", dir="/tmp"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path)


@root_only
def test_root_runs_server_in_user_namespace(tmp_path: Path) -> None:
    if _namespace_prefix() is None:
        pytest.skip("user namespaces are blocked here")
    with EmbeddedPostgres(tmp_path, settings=FAST).session() as server:
        assert os.readlink(f"/proc/{server.pid}/ns/user") != os.readlink("/proc/self/ns/user")
        assert _real_uid(server.pid) == 0
        assert (tmp_path / "pg").stat().st_uid == 0  # no file handed to another account


@root_only
def test_root_runs_server_as_dedicated_user(shared_tmp: Path) -> None:
    user = _unprivileged_user()
    data = shared_tmp / "data"
    with EmbeddedPostgres(data, settings=FAST, run_as=user.pw_name).session() as server:
        assert _real_uid(server.pid) == user.pw_uid
        assert os.readlink(f"/proc/{server.pid}/ns/user") == os.readlink("/proc/self/ns/user")
        with psycopg.connect(server.dsn()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    assert (data / "pg").stat().st_uid == user.pw_uid
    assert (data / "pg.password").stat().st_uid == 0

    # Switching back to the user namespace takes the cluster back (chown within data only).
    if _namespace_prefix() is not None:
        with EmbeddedPostgres(data, settings=FAST).session() as server:
            assert _real_uid(server.pid) == 0
        assert (data / "pg").stat().st_uid == 0


@root_only
def test_dedicated_user_who_cannot_reach_the_data_dir(tmp_path: Path) -> None:
    user = _unprivileged_user()
    embedded = EmbeddedPostgres(tmp_path / "data", settings=FAST, run_as=user.pw_name)
    with pytest.raises(PrivilegeError, match=f"user '{user.pw_name}' cannot write"):
        with embedded.session():
            pass


@root_only
def test_dedicated_user_must_exist(tmp_path: Path) -> None:
    embedded = EmbeddedPostgres(tmp_path, run_as="no-such-user-here")
    with pytest.raises(PrivilegeError, match="'no-such-user-here' does not exist"):
        with embedded.session():
            pass


@root_only
def test_non_root_process_runs_server_directly(shared_tmp: Path) -> None:
    user = _unprivileged_user()
    data = shared_tmp / "data"
    data.mkdir()
    os.chown(data, user.pw_uid, user.pw_gid)
    as_user = [
        "setpriv",
        f"--reuid={user.pw_uid}",
        f"--regid={user.pw_gid}",
        "--clear-groups",
        sys.executable,
        "-c",
    ]
    env = {**os.environ, "PYTHONPATH": str(SRC), "HOME": str(data)}
    probe = subprocess.run(
        [*as_user, "import psycopg, modelyard.embedded"], env=env, capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip(f"{user.pw_name} cannot run this interpreter or read {SRC}")

    child = subprocess.run(
        [*as_user, NON_ROOT_CHILD, str(data)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout) == {
        "answer": 1,
        "uid": user.pw_uid,
        "same_userns": True,
        "postmaster_uid": user.pw_uid,
    }
