"""The Python client against a real server process: flush at exit, retries across a restart."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from cli_support import free_port, start_server, stop_server

import modelyard
from modelyard.errors import MetricsNotStored, NotFound, ParamConflict


def _history_steps(client: modelyard.Client, run_id: str, key: str) -> list[int]:
    history = client.get_metric_history(run_id, key)
    steps: list[int] = history["steps"]
    return steps


def test_fluent_run_logs_everything_and_finishes(server_url: str) -> None:
    with modelyard.start_run(experiment="e2e", name="first", url=server_url) as run:
        run.log_params({"lr": 0.01, "layers": 3})
        run.set_tag("team", "vision")
        for step in range(2500):
            run.log_metrics({"loss": 1 / (step + 1), "acc": step / 2500}, step=step)
    with modelyard.Client(server_url) as client:
        stored = client.get_run(run.id)
        assert stored["status"] == "FINISHED"
        assert stored["end_time"] is not None
        assert stored["params"] == {"lr": "0.01", "layers": "3"}
        assert stored["tags"]["team"] == "vision"
        assert _history_steps(client, run.id, "loss") == list(range(2500))
        assert stored["metrics"]["loss"]["step"] == 2499


def test_an_exception_marks_the_run_failed_and_keeps_its_metrics(server_url: str) -> None:
    with pytest.raises(RuntimeError), modelyard.start_run("e2e", url=server_url) as run:
        run.log_metric("loss", 0.5, step=1)
        raise RuntimeError("training diverged")
    with modelyard.Client(server_url) as client:
        assert client.get_run(run.id)["status"] == "FAILED"
        assert _history_steps(client, run.id, "loss") == [1]


def test_a_run_whose_last_points_are_refused_ends_failed_and_says_so(server_url: str) -> None:
    run = modelyard.start_run("e2e", url=server_url)
    run.log_metric("loss", 0.5, step=1)
    run.log_metric("loss", 0.25, step=2**63)  # out of bigint: refused by the server
    with pytest.raises(MetricsNotStored, match="not stored") as raised:
        run.end()
    assert raised.value.details["unsent"] == 2
    with modelyard.Client(server_url) as client:
        assert client.get_run(run.id)["status"] == "FAILED"
        assert _history_steps(client, run.id, "loss") == []


def test_typed_errors_come_back_from_the_server(server_url: str) -> None:
    with modelyard.Client(server_url) as client:
        with pytest.raises(NotFound):
            client.get_run("0" * 32)
        with modelyard.start_run("e2e", url=server_url) as run:
            run.log_param("lr", "0.1")
            with pytest.raises(ParamConflict):
                run.log_param("lr", "0.2")


def test_interpreter_exit_flushes_a_run_that_was_never_ended(server_url: str) -> None:
    script = textwrap.dedent(
        f"""
        import modelyard
        run = modelyard.start_run("exit-flush", url={server_url!r})
        for step in range(5000):
            run.log_metric("loss", float(step), step=step)
        print(run.id)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    run_id = done.stdout.strip()
    with modelyard.Client(server_url) as client:
        assert _history_steps(client, run_id, "loss") == list(range(5000))
        assert client.get_run(run_id)["status"] == "FINISHED"


def test_points_logged_while_the_server_restarts_arrive_exactly_once(database_url: str) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_server(["--database-url", database_url], port)
    run = modelyard.start_run("restart", url=url)
    try:
        for step in range(1000):
            run.log_metric("loss", float(step), step=step)
        run.flush(timeout=60)
        stop_server(process)
        # The server is down: these points wait in the buffer, their sends failing and retrying.
        for step in range(1000, 3000):
            run.log_metric("loss", float(step), step=step)
        process = start_server(["--database-url", database_url], port)
        run.end()
        with modelyard.Client(url) as client:
            assert _history_steps(client, run.id, "loss") == list(range(3000))
            assert client.get_run(run.id)["status"] == "FINISHED"
    finally:
        stop_server(process)
