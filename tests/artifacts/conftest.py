"""Artifact-store fixtures: one ArtifactStore per backend kind over a fresh database.

The s3 kind talks to a real S3 endpoint: moto in server mode, started once per session on
127.0.0.1 with a free port (boto3 itself is never mocked).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelyard.artifacts.backend import Backend
from modelyard.artifacts.filesystem import FileBackend
from modelyard.artifacts.location import parse_store_url
from modelyard.artifacts.postgres import PostgresBackend
from modelyard.artifacts.s3 import S3Backend
from modelyard.artifacts.store import ArtifactStore
from modelyard.store import Store

STORE_KINDS = ["postgresql", "file", "s3"]
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class S3Endpoint:
    url: str

    def client(self) -> Any:
        import boto3  # type: ignore[import-untyped]

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def env(self) -> dict[str, str]:
        """What a modelyard process needs in its environment to use this endpoint."""
        return {**S3_ENV, "AWS_ENDPOINT_URL": self.url}


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    """A moto S3 server on 127.0.0.1 for the whole session."""
    port = _free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **S3_ENV},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if process.poll() is not None:
                raise AssertionError(f"moto server exited with {process.returncode}")
            try:
                httpx.get(f"{url}/moto-api/", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise AssertionError("moto server did not start in 60 s") from None
                time.sleep(0.1)
        yield S3Endpoint(url)
    finally:
        process.terminate()
        process.wait(30)
        log.close()


@pytest.fixture
def s3_bucket(s3_endpoint: S3Endpoint) -> str:
    """A new, empty bucket."""
    name = f"modelyard-{uuid.uuid4().hex[:12]}"
    s3_endpoint.client().create_bucket(Bucket=name)
    return name


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The ``--artifact-store`` URL of this test's store."""
    if store_kind == "file":
        return f"file://{tmp_path / 'artifacts'}"
    if store_kind == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        return f"s3://{bucket}/team/artifacts"
    return "postgresql"


@pytest.fixture
async def artifacts(
    store: Store, store_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[ArtifactStore]:
    """An ArtifactStore of the parametrised kind over the test's fresh database."""
    location = parse_store_url(store_url)
    backend: Backend
    if location.kind == "file":
        backend = FileBackend(location)
    elif location.kind == "s3":
        endpoint: S3Endpoint = request.getfixturevalue("s3_endpoint")
        backend = S3Backend(location, client=endpoint.client())
    else:
        backend = PostgresBackend(store.pool)
    opened = ArtifactStore(store.pool, backend, max_bytes=512 * 1024 * 1024)
    try:
        yield opened
    finally:
        await backend.close()


@pytest.fixture
async def run_id(store: Store) -> uuid.UUID:
    experiment = await store.experiments.get_or_create("artifacts")
    return uuid.UUID((await store.runs.create(experiment.experiment_id)).run_id)
