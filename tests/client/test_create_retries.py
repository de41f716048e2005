"""The client's creating calls: one idempotency key per call, reused by each of its retries."""

from __future__ import annotations

import json

import httpx
import pytest

from modelyard.client import Client
from modelyard.client import _http as http_module
from modelyard.client import client as client_module
from modelyard.client._http import ServerUnreachable
from modelyard.errors import InvalidInput

RUN = {"run_id": "a" * 32, "experiment_id": 1, "name": "r"}
VERSION = {"name": "m", "version": 1}
FAILURES = {"503": (503, "DATABASE_UNAVAILABLE"), "400": (400, "INVALID_PARAMETER_VALUE")}


class Flaky:
    """A server that fails the first ``failures`` requests in the given way, then answers."""

    def __init__(self, failures: int, answer: dict[str, object], how: str = "drop") -> None:
        self.failures = failures
        self.answer = answer
        self.how = how
        self.keys: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.keys.append(request.headers.get("idempotency-key"))
        if len(self.keys) <= self.failures:
            if self.how == "drop":
                raise httpx.ReadError("connection reset", request=request)
            status, code = FAILURES[self.how]
            error = {"code": code, "message": "no", "details": {}}
            return httpx.Response(status, content=json.dumps({"error": error}))
        return httpx.Response(201, json=self.answer)


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_module.time, "sleep", lambda _: None)


@pytest.mark.parametrize("how", ["drop", "503"])
def test_create_run_retries_with_the_key_it_chose(how: str) -> None:
    server = Flaky(2, RUN, how)
    with Client("http://modelyard", transport=httpx.MockTransport(server)) as client:
        assert client.create_run(1)["run_id"] == RUN["run_id"]
    assert len(server.keys) == 3 and len(set(server.keys)) == 1 and server.keys[0]


def test_register_version_retries_with_one_key_and_a_given_key_is_used() -> None:
    server = Flaky(1, VERSION)
    with Client("http://modelyard", transport=httpx.MockTransport(server)) as client:
        client.register_version("m", "runs:/" + "a" * 32, idempotency_key="mine")
        client.create_run(1)
    assert server.keys[:2] == ["mine", "mine"]
    assert server.keys[2] not in {None, "mine"}  # a new call, a new key


def test_a_refusal_is_not_retried_and_attempts_are_bounded() -> None:
    refused = Flaky(1, RUN, "400")
    with Client("http://modelyard", transport=httpx.MockTransport(refused)) as client:
        with pytest.raises(InvalidInput):
            client.create_run(1)
    assert len(refused.keys) == 1
    down = Flaky(100, RUN)
    with Client("http://modelyard", transport=httpx.MockTransport(down)) as client:
        with pytest.raises(ServerUnreachable):
            client.create_run(1)
    assert len(down.keys) == client_module.CREATE_ATTEMPTS
