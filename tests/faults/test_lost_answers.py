"""Answers lost after the work was done, and one idempotency key sent 20 times at once.

- The connection to the client is cut as the server starts answering (it has committed): the
  client's retry with its key gets the original result, and PostgreSQL holds the batch once.
- The connection from the server to PostgreSQL is cut right after PostgreSQL's COMMIT: the
  server cannot know the batch is stored, answers 503, and the retry finds it stored.
- 20 concurrent requests with the same key: one effect; the same key with another body: 409.

Each for metric batches, and for run creation and model-version creation (``Target``), where the
client itself retries with the key it chose: one run or version exists, the one it was answered.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fault_proxy import FaultProxy, fault_proxy
from fault_support import ServerProcess, proxied_database, sql_rows, stored_steps

from modelyard.client import Client
from modelyard.client import _http as client_http
from modelyard.client._http import ServerUnreachable
from modelyard.errors import DatabaseUnavailable, IdempotencyKeyReused

pytestmark = pytest.mark.faults

STEPS = list(range(50))


@pytest.fixture
def server(
    app_database_url: str, route_args: tuple[str, ...], tmp_path: Path
) -> Iterator[ServerProcess]:
    """The server, directly on PostgreSQL or through PgBouncer (``route``)."""
    process = ServerProcess(
        app_database_url, tmp_path, args=("--no-webhook-dispatcher", *route_args)
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


def _run(client: Client) -> str:
    experiment = client.get_or_create_experiment("lost-answers")
    return str(client.create_run(int(experiment["experiment_id"]))["run_id"])


def _log(client: Client, run_id: str, key: str) -> None:
    client.log_metric_batch(
        run_id, ["loss"] * len(STEPS), [0.5] * len(STEPS), STEPS, STEPS, idempotency_key=key
    )


def test_an_answer_cut_after_the_commit_is_retried_to_one_copy(
    server: ServerProcess, database_url: str
) -> None:
    with fault_proxy("127.0.0.1", server.port) as proxy, Client(_url(proxy)) as client:
        run_id = _run(client)
        key = uuid.uuid4().hex
        proxy.cut_after(0)  # the next answer: cut before its first byte
        with pytest.raises(ServerUnreachable):
            _log(client, run_id, key)
        assert proxy.cuts == 1
        assert stored_steps(database_url, run_id, "loss") == STEPS, "the server did commit"
        _log(client, run_id, key)  # the retry: the original result
        stored = stored_steps(database_url, run_id, "loss")
    print(f"\nanswer cut after commit: sent {len(STEPS)}, stored {len(stored)} after the retry")
    assert stored == STEPS


def test_a_database_connection_cut_after_commit_is_503_and_the_retry_finds_it(
    database_url: str, route: str, tmp_path: Path
) -> None:
    with proxied_database(database_url, route) as (through, route_args, proxy):
        server = ServerProcess(through, tmp_path, args=("--no-webhook-dispatcher", *route_args))
        server.start()
        try:
            with Client(server.url) as client:
                run_id = _run(client)
                key = uuid.uuid4().hex
                proxy.cut_after_commit()
                with pytest.raises(DatabaseUnavailable):
                    _log(client, run_id, key)
                assert proxy.cuts == 1
                _log(client, run_id, key)
                stored = stored_steps(database_url, run_id, "loss")
        finally:
            server.stop()
    print(
        f"\nCOMMIT cut from PostgreSQL ({route}): sent {len(STEPS)}, "
        f"stored {len(stored)} after retry"
    )
    assert stored == STEPS


def test_twenty_concurrent_requests_with_one_key_have_one_effect(
    server: ServerProcess, database_url: str, route: str
) -> None:
    key = uuid.uuid4().hex
    with Client(server.url) as setup:
        run_id = _run(setup)
    failures: list[BaseException] = []
    start = threading.Barrier(20)

    def send() -> None:
        with Client(server.url) as client:
            start.wait()
            try:
                _log(client, run_id, key)
            except BaseException as exc:  # collected: every one of them must succeed
                failures.append(exc)

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    stored = stored_steps(database_url, run_id, "loss")
    print(
        f"\n20 concurrent requests, one key ({route}): {len(failures)} failed,"
        f" stored {len(stored)} points"
    )
    assert not failures
    assert stored == STEPS


def test_the_same_key_with_another_body_is_a_409(server: ServerProcess, database_url: str) -> None:
    key = uuid.uuid4().hex
    with Client(server.url) as client:
        run_id = _run(client)
        _log(client, run_id, key)
        with pytest.raises(IdempotencyKeyReused):
            client.log_metric_batch(run_id, ["loss"], [9.0], [999], [999], idempotency_key=key)
        _log(client, run_id, key)  # the true retry still answers as the first time
    assert stored_steps(database_url, run_id, "loss") == STEPS


def _url(proxy: FaultProxy) -> str:
    return f"http://127.0.0.1:{proxy.port}"


class Target:
    """A creating call under test (run or model-version creation) and its rows in PostgreSQL."""

    def __init__(self, kind: str, client: Client, database_url: str) -> None:
        self.kind = kind
        self.database_url = database_url
        experiment = client.get_or_create_experiment(f"lost-{kind}")
        self.experiment_id = int(experiment["experiment_id"])
        if kind == "version":
            self.run_id = str(client.create_run(self.experiment_id)["run_id"])
            client.create_model("lost-model")

    def create(self, client: Client, key: str | None = None, variant: int = 0) -> str:
        """The id (run) or number (version) the server answered."""
        if self.kind == "run":
            run = client.create_run(self.experiment_id, name=f"r{variant}", idempotency_key=key)
            return str(run["run_id"])
        source = f"runs:/{self.run_id}/model{variant}"
        made = client.register_version("lost-model", source, idempotency_key=key)
        return str(made["version"])

    def stored(self) -> list[str]:
        if self.kind == "run":
            statement = (
                "SELECT replace(run_id::text, '-', '') FROM run"
                " WHERE experiment_id = %s AND name LIKE 'r%%'"
            )
            rows = sql_rows(self.database_url, statement, [self.experiment_id])
        else:
            statement = (
                "SELECT v.version::text FROM model_version v"
                " JOIN registered_model m USING (model_id) WHERE m.name = 'lost-model'"
            )
            rows = sql_rows(self.database_url, statement)
        return sorted(str(row[0]) for row in rows)


KINDS = ["run", "version"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_creation_whose_answer_is_cut_is_retried_to_one_row(
    server: ServerProcess, database_url: str, kind: str
) -> None:
    with fault_proxy("127.0.0.1", server.port) as proxy, Client(_url(proxy)) as client:
        target = Target(kind, client, database_url)
        proxy.cut_after(0)  # the first answer is lost after the COMMIT; the client retries
        answered = target.create(client)
        assert proxy.cuts == 1
        stored = target.stored()
    print(f"\n{kind} creation, answer cut after commit: {len(stored)} stored, retry answered it")
    assert stored == [answered]


@pytest.mark.parametrize("kind", KINDS)
def test_a_creation_whose_commit_is_cut_from_postgresql_is_retried_to_one_row(
    database_url: str, route: str, tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with proxied_database(database_url, route) as (through, route_args, proxy):
        server = ServerProcess(through, tmp_path, args=("--no-webhook-dispatcher", *route_args))
        server.start()
        try:
            with Client(server.url) as client:
                target = Target(kind, client, database_url)
                key = uuid.uuid4().hex
                proxy.cut_after_commit()
                with monkeypatch.context() as only_once:  # the first attempt alone: a 503
                    only_once.setattr(client_http, "CREATE_ATTEMPTS", 1)
                    with pytest.raises(DatabaseUnavailable):
                        target.create(client, key)
                assert proxy.cuts == 1
                assert len(target.stored()) == 1, "PostgreSQL did commit"
                answered = target.create(client, key)  # the retry: the original result
                stored = target.stored()
        finally:
            server.stop()
    print(
        f"\n{kind} creation, COMMIT cut from PostgreSQL ({route}): {len(stored)} stored after retry"
    )
    assert stored == [answered]


@pytest.mark.parametrize("kind", KINDS)
def test_twenty_concurrent_creations_with_one_key_have_one_effect(
    server: ServerProcess, database_url: str, kind: str
) -> None:
    key = uuid.uuid4().hex
    with Client(server.url) as setup:
        target = Target(kind, setup, database_url)
    start = threading.Barrier(20)

    def send(_: int) -> str:
        with Client(server.url) as client:
            start.wait()
            return target.create(client, key)

    with ThreadPoolExecutor(20) as pool:
        answered = set(pool.map(send, range(20)))
    stored = target.stored()
    print(f"\n20 concurrent {kind} creations, one key: {len(stored)} stored, {answered=}")
    assert stored == sorted(answered) and len(stored) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_creation_key_reused_with_another_body_is_a_409(
    server: ServerProcess, database_url: str, kind: str
) -> None:
    key = uuid.uuid4().hex
    with Client(server.url) as client:
        target = Target(kind, client, database_url)
        first = target.create(client, key)
        with pytest.raises(IdempotencyKeyReused):
            target.create(client, key, variant=1)
        assert target.create(client, key) == first  # the true retry still gets the first answer
    assert target.stored() == [first]
