"""Every client command of the CLI as a subprocess against a real server: tables, JSON, errors.

Each ``modelyard`` process costs about half a second of start-up, so the tests group their
assertions and run independent commands side by side (:func:`run_all`).
"""

from __future__ import annotations

import json
import math
import os
import platform
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cli_support import free_port, modelyard

from modelyard import Client
from modelyard.cli.metrics_import import import_points
from modelyard.errors import InvalidInput, InvalidState

# A version source inside the server's own artifacts (the only kind it accepts).
SRC = "runs:/" + "5" * 32

Result = subprocess.CompletedProcess[str]


def run_all(env: dict[str, str], *commands: tuple[str, ...]) -> list[Result]:
    """Run independent commands concurrently; results in the order given."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda args: modelyard(*args, env=env), commands))


def ok(result: Result) -> str:
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    return result.stdout


def strict_json(result: Result) -> Any:
    """The JSON a command printed, refusing the bare NaN/Infinity that JSON does not have."""

    def refuse(token: str) -> None:
        raise AssertionError(f"not JSON: {token}")

    return json.loads(ok(result), parse_constant=refuse)


def failed(result: Result, *phrases: str) -> str:
    """The one ``error:`` line of a command that failed with exit code 1."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for phrase in phrases:
        assert phrase in lines[0]
    return lines[0]


def usage_error(result: Result, phrase: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    assert f"Error: {phrase}" in result.stderr or phrase in result.stderr, result.stderr


def fields(stdout: str) -> dict[str, str]:
    """The ``field  value`` lines of a shown object."""
    shown = {}
    for line in stdout.splitlines():
        key, _, value = line.partition(" ")
        shown[key] = value.strip()
    return shown


def rows(stdout: str) -> list[list[str]]:
    """A table's lines split into cells (cells here hold no double spaces)."""
    return [
        [cell.strip() for cell in line.split("  ") if cell.strip()] for line in stdout.splitlines()
    ]


def test_experiment_commands(server_url: str) -> None:
    env = {"MODELYARD_URL": server_url}
    created = fields(
        ok(
            modelyard(
                "experiments",
                "create",
                "mnist",
                "--description",
                "digits",
                "--tag",
                "team=vision",
                env=env,
            )
        )
    )
    assert (created["name"], created["description"], created["tags"]) == (
        "mnist",
        "digits",
        "team=vision",
    )
    assert created["lifecycle_stage"] == "active"
    assert created["creation_time"][:2] == "20"  # a readable time, not milliseconds
    mnist_id = created["experiment_id"]
    slashed, digits, duplicate, bad_tag = run_all(
        env,
        ("experiments", "create", "team/a b", "--json"),
        ("experiments", "create", "2024"),
        ("experiments", "create", "mnist"),
        ("experiments", "create", "x", "--tag", "novalue"),
    )
    slashed_id = strict_json(slashed)["experiment_id"]
    digits_id = fields(ok(digits))["experiment_id"]
    failed(duplicate, "already exists")
    usage_error(bad_tag, "expected KEY=VALUE")

    (
        table,
        as_json,
        limited,
        by_id,
        by_name,
        by_slash,
        by_digits,
        missing,
        deleted_none,
    ) = run_all(
        env,
        ("experiments", "list"),
        ("experiments", "list", "--json"),
        ("experiments", "list", "--limit", "1", "--json"),
        ("experiments", "show", mnist_id),
        ("experiments", "show", "mnist", "--json"),
        ("experiments", "show", "team/a b", "--json"),
        ("experiments", "show", "2024", "--json"),  # no experiment 2024: the name
        ("experiments", "show", "9999"),
        ("experiments", "list", "--lifecycle", "deleted", "--json"),
    )
    lines = rows(ok(table))
    assert lines[0] == ["ID", "NAME", "STATE", "CREATED"]
    # In creation order (the last two were created side by side, in either order), after
    # experiment 0 (MLflow's Default, in every database).
    assert [line[:3] for line in lines[1:]] == sorted(
        [
            ["0", "Default", "active"],
            [mnist_id, "mnist", "active"],
            [str(slashed_id), "team/a b", "active"],
            [digits_id, "2024", "active"],
        ],
        key=lambda row: int(row[0]),
    )
    listed = strict_json(as_json)
    assert [e["name"] for e in listed] == [line[1] for line in lines[1:]]
    assert set(listed[0]) >= {"experiment_id", "name", "lifecycle_stage", "creation_time", "tags"}
    assert [e["name"] for e in strict_json(limited)] == ["Default"]
    assert fields(ok(by_id))["name"] == "mnist"
    assert strict_json(by_name)["experiment_id"] == int(mnist_id)
    assert strict_json(by_slash)["experiment_id"] == slashed_id
    assert strict_json(by_digits)["experiment_id"] == int(digits_id)
    failed(missing, "experiment 9999 does not exist")
    assert strict_json(deleted_none) == []

    assert ok(modelyard("experiments", "delete", str(slashed_id), env=env)) == (
        f"deleted experiment {slashed_id}\n"
    )
    gone, shown_deleted, restored = (
        strict_json(modelyard("experiments", "list", "--lifecycle", "deleted", "--json", env=env)),
        fields(ok(modelyard("experiments", "show", str(slashed_id), env=env))),
        ok(modelyard("experiments", "restore", str(slashed_id), env=env)),
    )
    assert [e["experiment_id"] for e in gone] == [slashed_id]
    assert shown_deleted["lifecycle_stage"] == "deleted"
    assert restored == f"restored experiment {slashed_id}\n"
    again, not_int, no_such, unknown = run_all(
        env,
        ("experiments", "restore", str(slashed_id)),
        ("experiments", "delete", "abc"),
        ("experiments", "delete", "9999"),
        ("experiments", "list", "--lifecycle", "gone"),
    )
    failed(again, "is not deleted")
    usage_error(not_int, "'abc' is not a valid integer")
    failed(no_such, "experiment 9999 does not exist")
    usage_error(unknown, "'gone' is not one of")


def test_run_commands(server_url: str, tmp_path: Path) -> None:
    env = {"MODELYARD_URL": server_url}
    ok(modelyard("experiments", "create", "mnist", env=env))
    base = modelyard(
        "runs", "create", "-e", "mnist", "--name", "base", "--tag", "team=vision", "--json", env=env
    )
    second = modelyard("runs", "create", "-e", "1", "--name", "second", env=env)
    run = strict_json(base)
    run_id = run["run_id"]
    assert (run["name"], run["status"], run["tags"]) == ("base", "RUNNING", {"team": "vision"})
    second_id = fields(ok(second))["run_id"]

    # Import: 2,503 points in batches of 1,000; NaN and infinities allowed.
    good = tmp_path / "good.csv"
    lines = ["key,value,step,timestamp"]
    lines += [f"loss,{1 / (s + 1)},{s},{1000 + s}" for s in range(2500)]
    lines += ["acc,nan,0,5", "acc,inf,1,6", "acc,-Infinity,2,7"]
    good.write_text("\n".join(lines) + "\n")
    imported = modelyard(
        "runs", "import-metrics", run_id, str(good), "--batch-size", "1000", env=env
    )
    assert ok(imported) == f"imported 2503 points into run {run_id}\n"  # no progress bar when piped

    # A bad line anywhere: one error line naming it, and nothing of the file imported.
    bad_value = tmp_path / "bad_value.csv"
    bad_value.write_text("\n".join([*lines[:1500], "loss,oops,9,9", *lines[1500:]]) + "\n")
    short = tmp_path / "short.csv"
    short.write_text("key,value,step,timestamp\nfresh,1.0,0,0\nfresh,2.0,1\n")
    bad_key = tmp_path / "bad_key.csv"
    bad_key.write_text("key,value,step,timestamp\nfresh,1.0,0,0\nno*key,2.0,1,1\n")
    no_column = tmp_path / "no_column.csv"
    no_column.write_text("key,value,step\nfresh,1.0,0\n")
    huge_step = tmp_path / "huge_step.csv"
    huge_step.write_text(f"key,value,step,timestamp\nfresh,1.0,{2**63},0\n")
    results = run_all(
        env,
        ("runs", "import-metrics", run_id, str(bad_value), "--batch-size", "100"),
        ("runs", "import-metrics", run_id, str(short)),
        ("runs", "import-metrics", run_id, str(bad_key)),
        ("runs", "import-metrics", run_id, str(no_column)),
        ("runs", "import-metrics", run_id, str(huge_step)),
        ("runs", "import-metrics", "0" * 32, str(good)),
        ("runs", "import-metrics", run_id, str(tmp_path / "absent.csv")),
    )
    failed(results[0], f"{bad_value}:1501: value 'oops' is not a number")
    failed(results[1], f"{short}:3: fewer fields")
    failed(results[2], f"{bad_key}:3: metric key 'no*key'")
    failed(results[3], "lacks the column(s) timestamp")
    failed(results[4], f"{huge_step}:2: step", "out of range")
    failed(results[5], "does not exist")
    usage_error(results[6], "does not exist")
    with Client(server_url) as client:
        assert client.get_metric_history(run_id, "loss")["total_points"] == 2500
        assert client.get_metric_history(run_id, "fresh")["total_points"] == 0

    with Client(server_url) as client:
        client.log_params(run_id, {"lr": "0.01"})
        client.log_metric_batch(second_id, ["loss"], [0.25], [0], [0])
    shown, shown_json, listed, listed_json, one = run_all(
        env,
        ("runs", "show", run_id),
        ("runs", "show", run_id, "--json"),
        ("runs", "list", "-e", "mnist"),
        ("runs", "list", "-e", "mnist", "--json"),
        ("runs", "list", "-e", "mnist", "--max-results", "1", "--json"),
    )
    shown_fields = fields(ok(shown))
    assert shown_fields["params"] == "lr=0.01"
    assert shown_fields["metrics"] == "acc=-Infinity, loss=0.0004"
    assert shown_fields["start_time"][:2] == "20"
    full = strict_json(shown_json)
    assert full["metrics"]["acc"] == {"value": "-Infinity", "step": 2, "timestamp": 7}
    table = rows(ok(listed))
    assert table[0] == ["RUN ID", "NAME", "STATUS", "STARTED", "METRICS"]
    assert [(r[0], r[1], r[2]) for r in table[1:]] == [
        (second_id, "second", "RUNNING"),
        (run_id, "base", "RUNNING"),
    ]
    assert table[1][-1] == "loss=0.25"
    assert [r["run_id"] for r in strict_json(listed_json)] == [second_id, run_id]
    assert [r["run_id"] for r in strict_json(one)] == [second_id]

    found, ordered, as_json, syntax, unknown_exp = run_all(
        env,
        ("runs", "search", "-e", "mnist", "params.lr = '0.01'"),
        ("runs", "search", "-e", "mnist", "-e", "1", "-o", "metrics.loss ASC", "--json"),
        ("runs", "search", "metrics.loss < 0.3", "-e", "mnist", "--json", "--max-results", "5"),
        ("runs", "search", "-e", "mnist", "metrics.loss <"),
        ("runs", "search", "-e", "nothing"),
    )
    assert [r[0] for r in rows(ok(found))[1:]] == [run_id]
    assert [r["run_id"] for r in strict_json(ordered)] == [run_id, second_id]
    assert {r["run_id"] for r in strict_json(as_json)} == {run_id, second_id}
    failed(syntax, "position 14")
    failed(unknown_exp, "experiment 'nothing' does not exist")

    assert ok(modelyard("runs", "delete", second_id, env=env)) == f"deleted run {second_id}\n"
    deleted, active, restored_twice, missing_run, bad_id, no_experiment = run_all(
        env,
        ("runs", "search", "-e", "mnist", "--lifecycle", "deleted", "--json"),
        ("runs", "list", "-e", "mnist", "--json"),
        ("runs", "restore", run_id),
        ("runs", "show", "0" * 32),
        ("runs", "show", "not-a-run"),
        ("runs", "list"),
    )
    assert [r["run_id"] for r in strict_json(deleted)] == [second_id]
    assert [r["run_id"] for r in strict_json(active)] == [run_id]
    failed(restored_twice, "not deleted")
    failed(missing_run, f"run {'0' * 32} does not exist")
    failed(bad_id)
    usage_error(no_experiment, "Missing option '--experiment'")
    assert ok(modelyard("runs", "restore", second_id, env=env)) == f"restored run {second_id}\n"
    with Client(server_url) as client:
        assert client.get_run(second_id)["lifecycle_stage"] == "active"


def test_registry_commands(server_url: str) -> None:
    env = {"MODELYARD_URL": server_url}
    with Client(server_url) as client:
        run_id = client.create_run(client.create_experiment("e")["experiment_id"])["run_id"]
    long_source = f"{SRC}/models/" + "deep/" * 40 + "model.pkl"  # wider than any terminal
    first = fields(
        ok(
            modelyard(
                "versions",
                "create",
                "churn",
                "--source",
                f"{SRC}/churn/1",
                "--run-id",
                run_id,
                "--tag",
                "validated=yes",
                "--description",
                "first cut",
                env=env,
            )
        )
    )
    assert (first["name"], first["version"], first["current_stage"]) == ("churn", "1", "None")
    assert (first["run_id"], first["tags"]) == (run_id, "validated=yes")
    assert first["creation_timestamp"][:2] == "20"
    second, made, duplicate, no_run = run_all(
        env,
        ("versions", "create", "churn", "--source", long_source, "--json"),
        ("models", "create", "fraud", "--description", "fraud model", "--tag", "team=risk"),
        ("models", "create", "churn"),
        ("versions", "create", "orphan", "--source", f"{SRC}/o", "--run-id", "0" * 32),
    )
    assert strict_json(second)["version"] == 2
    made_fields = fields(ok(made))
    assert (made_fields["name"], made_fields["tags"]) == ("fraud", "team=risk")
    failed(duplicate, "already exists")
    failed(no_run, "does not exist")

    staged = fields(ok(modelyard("versions", "stage", "churn", "1", "Production", env=env)))
    assert staged["current_stage"] == "Production"
    moved = modelyard(
        "versions", "stage", "churn", "2", "Production", "--archive-existing", "--json", env=env
    )
    assert strict_json(moved)["current_stage"] == "Production"
    pointed = ok(modelyard("models", "alias", "set", "churn", "champion", "2", env=env))
    assert pointed == "churn@champion -> version 2\n"

    (
        versions,
        versions_json,
        one_version,
        shown_v1,
        missing_version,
        bad_stage,
        searched,
        searched_json,
        bad_filter,
        models,
        models_json,
        like,
        limited,
        model,
        model_json,
        alias_table,
        alias_json,
        reserved,
        orphan_model,
    ) = run_all(
        env,
        ("versions", "list", "churn"),
        ("versions", "list", "churn", "--json"),
        ("versions", "list", "churn", "--limit", "1", "--json"),
        ("versions", "show", "churn", "1", "--json"),
        ("versions", "show", "churn", "9"),
        ("versions", "stage", "churn", "1", "Retired"),
        ("versions", "search", "tags.validated = 'yes'"),
        ("versions", "search", "name = 'churn'", "--max-results", "1", "--json"),
        ("versions", "search", "name ="),
        ("models", "list"),
        ("models", "list", "--json"),
        ("models", "list", "--name-like", "fr%", "--json"),
        ("models", "list", "--limit", "1", "--json"),
        ("models", "show", "churn"),
        ("models", "show", "churn", "--json"),
        ("models", "alias", "show", "churn", "champion"),
        ("models", "alias", "show", "churn", "champion", "--json"),
        ("models", "alias", "set", "churn", "v1", "1"),
        ("models", "show", "orphan"),
    )
    table = rows(ok(versions))
    assert table[0] == ["VERSION", "STAGE", "ALIASES", "RUN", "SOURCE"]
    assert table[1] == ["2", "Production", "champion", long_source]  # one line, not folded
    assert table[2] == ["1", "Archived", run_id, f"{SRC}/churn/1"]
    assert len(table) == 3
    assert [v["version"] for v in strict_json(versions_json)] == [2, 1]
    assert [v["version"] for v in strict_json(one_version)] == [2]
    assert strict_json(shown_v1)["current_stage"] == "Archived"
    failed(missing_version, "version 9")
    usage_error(bad_stage, "'Retired' is not one of")
    search_table = rows(ok(searched))
    assert search_table[0] == ["MODEL", "VERSION", "STAGE", "ALIASES", "RUN", "SOURCE"]
    assert search_table[1:] == [["churn", "1", "Archived", run_id, f"{SRC}/churn/1"]]
    assert [(v["name"], v["version"]) for v in strict_json(searched_json)] == [("churn", 2)]
    failed(bad_filter, "position")
    model_table = rows(ok(models))
    assert model_table[0] == ["NAME", "DESCRIPTION", "ALIASES", "UPDATED"]
    assert [r[0] for r in model_table[1:]] == ["churn", "fraud"]
    assert model_table[1][1] == "champion=2"
    assert [m["name"] for m in strict_json(models_json)] == ["churn", "fraud"]
    assert [m["name"] for m in strict_json(like)] == ["fraud"]
    assert [m["name"] for m in strict_json(limited)] == ["churn"]
    model_fields = fields(ok(model))
    assert model_fields["aliases"] == "champion=2"
    assert model_fields["latest_versions"] == "Archived=1, Production=2"
    assert model_fields["last_updated_timestamp"][:2] == "20"
    assert strict_json(model_json)["aliases"] == {"champion": 2}
    assert fields(ok(alias_table))["version"] == "2"
    assert strict_json(alias_json)["aliases"] == ["champion"]
    failed(reserved, "reserved")
    failed(orphan_model, "does not exist")  # the failed registration left no model behind

    assert ok(modelyard("models", "alias", "delete", "churn", "champion", env=env)) == (
        "deleted alias churn@champion\n"
    )
    alias_gone, alias_again = run_all(
        env,
        ("models", "alias", "show", "churn", "champion"),
        ("models", "alias", "delete", "churn", "champion"),
    )
    failed(alias_gone, "champion")
    failed(alias_again, "champion")

    # Deleting asks first; with no terminal to ask on, it refuses instead of guessing.
    refused = modelyard("models", "delete", "churn", env=env)
    usage_error(refused, "pass --yes")
    assert refused.stdout == ""
    assert ok(modelyard("models", "show", "churn", "--json", env=env))
    assert ok(modelyard("models", "delete", "churn", "--yes", env=env)) == "deleted model churn\n"
    gone, gone_again = run_all(
        env, ("models", "show", "churn"), ("models", "delete", "churn", "--yes")
    )
    failed(gone, "'churn' does not exist")
    failed(gone_again, "'churn' does not exist")


def _delete_at_a_terminal(url: str, model: str, answer: bytes | None) -> tuple[int, str]:
    """``models delete`` with a terminal on stdin: answer its prompt, or press Ctrl-C at it."""
    import fcntl
    import pty
    import select
    import termios

    leader, follower = pty.openpty()

    def as_a_terminal_session() -> None:
        # What a shell does for a program it starts: its own session with the pty as controlling
        # terminal, and SIGINT at its default (pytest-xdist workers ignore SIGINT, and an ignored
        # signal stays ignored across exec, so Python would never raise KeyboardInterrupt).
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "models", "delete", model],
        stdin=follower,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "MODELYARD_URL": url},
        preexec_fn=as_a_terminal_session,
    )
    os.close(follower)
    assert process.stderr is not None
    err = b""
    try:
        deadline = time.monotonic() + 30
        while b"[y/N]" not in err:  # the prompt goes to stderr
            assert time.monotonic() < deadline and process.poll() is None, err
            if select.select([process.stderr], [], [], 0.1)[0]:
                err += os.read(process.stderr.fileno(), 4096)
        # A person answers once the program waits for the keyboard: blocked in read(0) on the
        # terminal. (A Ctrl-C that reached the pty before that was seen, on this kernel, to
        # drop the session's controlling terminal instead of signalling it.)
        syscall = Path(f"/proc/{process.pid}/syscall")
        reading_stdin = "63 0x0 " if platform.machine() == "aarch64" else "0 0x0 "
        while not syscall.read_text().startswith(reading_stdin):
            assert time.monotonic() < deadline and process.poll() is None, err
            time.sleep(0.01)
        # Ctrl-C is the terminal's interrupt character: the line discipline turns it into SIGINT
        # for the foreground process group, as it does when a person presses it.
        os.write(leader, b"\x03" if answer is None else answer)
        # Bounded: a child that never exits fails this test in 30 s instead of hanging the suite.
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"models delete did not exit after the answer: {err!r}") from None
        err += process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(leader)
        process.stderr.close()
    return process.returncode, err.decode()


def test_delete_confirmation_at_a_terminal(server_url: str) -> None:
    with Client(server_url) as client:
        for name in ("kept", "interrupted", "removed"):
            client.create_model(name)
        code, err = _delete_at_a_terminal(server_url, "kept", b"n\n")
        assert code == 1 and err.rstrip().endswith("aborted"), err
        code, err = _delete_at_a_terminal(server_url, "interrupted", None)
        assert code == 130 and err.rstrip().endswith("aborted"), err
        assert {m["name"] for m in client.list_models()} == {"kept", "interrupted", "removed"}
        code, err = _delete_at_a_terminal(server_url, "removed", b"y\n")
        assert code == 0, err
        assert {m["name"] for m in client.list_models()} == {"kept", "interrupted"}


def test_cli_errors_without_a_server() -> None:
    down = {"MODELYARD_URL": f"http://127.0.0.1:{free_port()}"}
    unreachable, bad_url, no_scheme, too_long, unknown, missing_arg = run_all(
        down,
        ("models", "list"),
        ("runs", "show", "x" * 32, "--url", "http://[::1"),
        ("experiments", "list", "--url", "localhost:5000"),
        ("experiments", "show", "x" * 70_000),
        ("experiments", "frobnicate"),
        ("versions", "create", "m"),
    )
    failed(unreachable, "cannot reach modelyard")
    failed(bad_url, "invalid server URL 'http://[::1'")
    failed(no_scheme, "unsupported protocol 'localhost://'")
    failed(too_long, "URL too long")
    usage_error(unknown, "No such command 'frobnicate'")
    usage_error(missing_arg, "Missing option '--source'")


class _FailingClient:
    """Stores the first ``good`` batches, then fails the way a deleted run does."""

    def __init__(self, good: int) -> None:
        self.good = good
        self.points: list[tuple[str, float, int, int]] = []

    def log_metric_batch(
        self,
        run_id: str,
        keys: list[str],
        values: list[float],
        steps: list[int],
        timestamps: list[int],
    ) -> None:
        if self.good == 0:
            raise InvalidState(f"run {run_id} is deleted")
        self.good -= 1
        self.points.extend(zip(keys, values, steps, timestamps, strict=True))


def test_a_failure_while_importing_says_how_much_was_imported(tmp_path: Path) -> None:
    path = tmp_path / "points.csv"
    path.write_text("key,value,step,timestamp\n" + "".join(f"m,{s},{s},0\n" for s in range(25)))
    client = _FailingClient(good=2)
    with pytest.raises(InvalidState) as failure:
        import_points(client, "r", path, batch_size=10)  # type: ignore[arg-type]
    assert failure.value.message == "run r is deleted (20 of 25 points were imported before)"
    assert [p[2] for p in client.points] == list(range(20))
    assert math.isclose(client.points[-1][1], 19.0)

    # A bad line stops the import before anything is sent.
    path.write_text("key,value,step,timestamp\nm,1,0,0\nm,2,1,0,extra\n")
    untouched = _FailingClient(good=5)
    with pytest.raises(InvalidInput, match=r"points.csv:3: more fields"):
        import_points(untouched, "r", path, batch_size=1)  # type: ignore[arg-type]
    assert untouched.points == []
    path.write_text("key,value,step,timestamp\nm,1,0,0\nm,2,1.5,0\n")
    with pytest.raises(InvalidInput, match=r"points.csv:3: step '1.5' is not an integer"):
        import_points(untouched, "r", path, batch_size=1)  # type: ignore[arg-type]
    assert untouched.points == []
