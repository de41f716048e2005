"""Every public method of ``modelyard.Client`` against a real server process: shapes and errors."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs

import httpx
import pytest
from cli_support import free_port

from modelyard import Client
from modelyard.client._http import ServerUnreachable
from modelyard.errors import (
    AlreadyExists,
    FilterSyntaxError,
    InvalidInput,
    InvalidState,
    NotFound,
    ParamConflict,
)

# A version source inside the server's own artifacts (the only kind it accepts).
SRC = "runs:/" + "5" * 32

EXPERIMENT_FIELDS = {
    "experiment_id",
    "name",
    "description",
    "artifact_location",
    "lifecycle_stage",
    "creation_time",
    "last_update_time",
    "tags",
}
RUN_FIELDS = {
    "run_id",
    "experiment_id",
    "name",
    "status",
    "start_time",
    "end_time",
    "lifecycle_stage",
    "user_id",
    "artifact_uri",
    "parent_run_id",
    "params",
    "tags",
    "metrics",
}
VERSION_FIELDS = {
    "name",
    "version",
    "creation_timestamp",
    "last_updated_timestamp",
    "current_stage",
    "source",
    "run_id",
    "run_link",
    "description",
    "user_id",
    "status",
    "status_message",
    "tags",
    "aliases",
    "model_id",
}


class Recorder(httpx.HTTPTransport):
    """A real transport that remembers each request (method, path, query), to count pages."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        query = parse_qs(request.url.query.decode())
        self.requests.append((request.method, request.url.path, query))
        return super().handle_request(request)

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p, _ in self.requests if m == method and p == f"/api/v1{path}")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(server_url: str, recorder: Recorder) -> Iterator[Client]:
    with Client(server_url, transport=recorder) as opened:
        yield opened


def test_experiments(client: Client, recorder: Recorder) -> None:
    created = client.create_experiment(
        "mnist / digits", description="hand-written", tags={"team": "vision"}
    )
    assert set(created) == EXPERIMENT_FIELDS
    assert created["name"] == "mnist / digits"
    assert created["lifecycle_stage"] == "active"
    assert created["tags"] == {"team": "vision"}
    exp_id = created["experiment_id"]
    assert client.get_experiment(exp_id) == created
    # A name holding '/' and spaces is addressable by name (the last part of its path).
    assert client.get_experiment_by_name("mnist / digits") == created
    assert client.get_or_create_experiment("mnist / digits")["experiment_id"] == exp_id

    with pytest.raises(AlreadyExists):
        client.create_experiment("mnist / digits")
    with pytest.raises(InvalidInput):
        client.create_experiment("")
    with pytest.raises(InvalidInput):
        client.get_or_create_experiment("")  # not swallowed and retried as a lookup
    with pytest.raises(NotFound) as missing:
        client.get_experiment(exp_id + 1000)
    assert missing.value.details == {"experiment_id": exp_id + 1000}
    with pytest.raises(NotFound):
        client.get_experiment_by_name("nothing of the kind")

    # Many threads racing to get-or-create one name: exactly one experiment, all see its id.
    barrier = threading.Barrier(8)
    ids: list[int] = []
    errors: list[BaseException] = []

    def racer() -> None:
        try:
            barrier.wait()
            ids.append(client.get_or_create_experiment("raced")["experiment_id"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=racer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(ids) == 8 and len(set(ids)) == 1
    assert [e["name"] for e in client.list_experiments()].count("raced") == 1

    # Listing follows the page tokens: 25 more experiments, 10 to a page.
    names = [f"bulk-{i:02d}" for i in range(25)]
    for name in names:
        client.create_experiment(name)
    before = recorder.count("GET", "/experiments")
    listed = [e["name"] for e in client.list_experiments(page_size=10)]
    assert listed == ["Default", "mnist / digits", "raced", *names]
    assert recorder.count("GET", "/experiments") - before == 3  # 28 experiments, 10 a page
    # A limit stops early and asks the server only for what it needs.
    limited = list(client.list_experiments(limit=4))
    assert [e["name"] for e in limited] == listed[:4]
    assert recorder.requests[-1][2]["limit"] == ["4"]
    assert len(list(client.list_experiments(limit=12, page_size=5))) == 12

    # Soft delete and restore.
    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id)["lifecycle_stage"] == "deleted"
    assert "mnist / digits" not in [e["name"] for e in client.list_experiments()]
    assert [e["experiment_id"] for e in client.list_experiments(lifecycle="deleted")] == [exp_id]
    assert len(list(client.list_experiments(lifecycle="all"))) == 28  # with Default
    with pytest.raises(AlreadyExists):
        client.create_experiment("mnist / digits")  # a deleted experiment keeps its name
    with pytest.raises(InvalidInput):
        list(client.list_experiments(lifecycle="gone"))
    restored = client.restore_experiment(exp_id)
    assert restored["experiment_id"] == exp_id
    assert restored["lifecycle_stage"] == "active"
    with pytest.raises(InvalidState):
        client.restore_experiment(exp_id)
    with pytest.raises(NotFound):
        client.delete_experiment(exp_id + 1000)


def test_runs_params_and_tags(client: Client) -> None:
    exp_id = client.create_experiment("runs")["experiment_id"]
    parent = client.create_run(exp_id, name="parent")
    run = client.create_run(
        exp_id,
        name="child",
        tags={"git": "4f2c1e"},
        parent_run_id=parent["run_id"],
        start_time=1_700_000_000_000,
    )
    assert set(run) == RUN_FIELDS
    assert len(run["run_id"]) == 32 and run["experiment_id"] == exp_id
    assert run["status"] == "RUNNING" and run["end_time"] is None
    assert run["start_time"] == 1_700_000_000_000
    assert run["parent_run_id"] == parent["run_id"]
    assert run["tags"]["git"] == "4f2c1e"
    assert (run["params"], run["metrics"]) == ({}, {})
    run_id = run["run_id"]
    assert client.get_run(run_id) == run

    with pytest.raises(NotFound):
        client.create_run(exp_id + 1000)
    with pytest.raises(NotFound):
        client.get_run("0" * 32)
    with pytest.raises(InvalidInput):
        client.get_run("not-a-run-id")
    with pytest.raises(InvalidInput):
        client.get_run("a/b")  # would address another route; refused before sending

    # Updates.
    renamed = client.update_run(run_id, name="child-2")
    assert (renamed["name"], renamed["status"]) == ("child-2", "RUNNING")
    with pytest.raises(InvalidState, match="before the run's start_time"):
        client.update_run(run_id, status="FINISHED", end_time=1)  # conflicts with the stored start
    with pytest.raises(InvalidInput):
        client.update_run(run_id, status="DONE")
    assert client.get_run(run_id)["status"] == "RUNNING"
    finished = client.update_run(run_id, status="FINISHED", end_time=1_700_000_060_000)
    assert (finished["status"], finished["end_time"]) == ("FINISHED", 1_700_000_060_000)

    # Params: immutable, and a conflicting request writes none of its params.
    client.log_params(run_id, {"lr": 0.01, "layers": 3})
    client.log_params(run_id, {"lr": "0.01"})  # the same value again is fine
    with pytest.raises(ParamConflict):
        client.log_params(run_id, {"epochs": 10, "lr": 0.1})
    assert client.get_run(run_id)["params"] == {"lr": "0.01", "layers": "3"}

    # Tags: set, overwrite, delete (keys may hold '/').
    client.set_tags(run_id, {"stage": "dev", "team/owner": "ana"})
    client.set_tags(run_id, {"stage": "prod"})
    tags = client.get_run(run_id)["tags"]
    assert (tags["stage"], tags["team/owner"]) == ("prod", "ana")
    client.delete_tag(run_id, "team/owner")
    assert "team/owner" not in client.get_run(run_id)["tags"]
    with pytest.raises(NotFound):
        client.delete_tag(run_id, "team/owner")

    # Soft delete: writes refused until restored.
    client.delete_run(run_id)
    assert client.get_run(run_id)["lifecycle_stage"] == "deleted"
    with pytest.raises(InvalidState):
        client.set_tags(run_id, {"late": "1"})
    with pytest.raises(InvalidState):
        client.log_metric_batch(run_id, ["loss"], [1.0], [0], [0])
    assert "late" not in client.get_run(run_id)["tags"]
    restored = client.restore_run(run_id)
    assert (restored["run_id"], restored["lifecycle_stage"]) == (run_id, "active")
    client.set_tags(run_id, {"late": "1"})
    with pytest.raises(NotFound):
        client.delete_run("0" * 32)

    # A deleted experiment takes no new runs.
    client.delete_experiment(exp_id)
    with pytest.raises(InvalidState):
        client.create_run(exp_id)


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_metrics(client: Client) -> None:
    exp_id = client.create_experiment("metrics")["experiment_id"]
    run_id = client.create_run(exp_id)["run_id"]
    values = [0.5, math.nan, math.inf, -math.inf, -0.25]
    client.log_metric_batch(run_id, ["loss"] * 5, values, [0, 1, 2, 3, 4], [10, 11, 12, 13, 14])
    history = client.get_metric_history(run_id, "loss")
    assert history["key"] == "loss"
    assert history["steps"] == [0, 1, 2, 3, 4]
    assert history["timestamps"] == [10, 11, 12, 13, 14]
    assert history["total_points"] == 5
    # Non-finite values come back as the floats that were logged, not as their wire strings.
    assert all(isinstance(v, float) for v in history["values"])
    assert all(_same(a, b) for a, b in zip(history["values"], values, strict=True))

    client.log_metric_batch(run_id, ["acc", "nan/metric"], [0.9, math.nan], [7, 7], [20, 21])
    latest = {m["key"]: m for m in client.get_latest_metrics(run_id)["items"]}
    assert set(latest) == {"loss", "acc", "nan/metric"}
    assert latest["loss"] == {"key": "loss", "value": -0.25, "step": 4, "timestamp": 14}
    assert math.isnan(latest["nan/metric"]["value"])
    run_metrics = client.get_run(run_id)["metrics"]
    assert run_metrics["acc"] == {"value": 0.9, "step": 7, "timestamp": 20}
    assert math.isnan(run_metrics["nan/metric"]["value"])
    assert math.isnan(client.get_metric_history(run_id, "nan/metric")["values"][0])

    # An idempotency key used twice stores the batch once; without a key, twice.
    for _ in range(2):
        client.log_metric_batch(run_id, ["once"], [1.0], [0], [0], idempotency_key="batch-1")
        client.log_metric_batch(run_id, ["twice"], [1.0], [0], [0])
    assert client.get_metric_history(run_id, "once")["total_points"] == 1
    assert client.get_metric_history(run_id, "twice")["total_points"] == 2

    # Step ranges and downsampling.
    steps = list(range(1000))
    client.log_metric_batch(
        run_id, ["curve"] * 1000, [float(s % 97) for s in steps], steps, [1000 + s for s in steps]
    )
    ranged = client.get_metric_history(run_id, "curve", min_step=100, max_step=199)
    assert ranged["steps"] == list(range(100, 200))
    assert ranged["total_points"] == 100
    thin = client.get_metric_history(run_id, "curve", max_points=20)
    assert thin["total_points"] == 1000
    assert 2 <= len(thin["steps"]) <= 20
    assert (thin["steps"][0], thin["steps"][-1]) == (0, 999)
    assert (min(thin["values"]), max(thin["values"])) == (0.0, 96.0)
    assert thin["steps"] == sorted(thin["steps"])
    with pytest.raises(InvalidInput):
        client.get_metric_history(run_id, "curve", max_points=1)

    never = client.get_metric_history(run_id, "never-logged")
    assert (never["steps"], never["values"], never["total_points"]) == ([], [], 0)
    with pytest.raises(NotFound):
        client.get_metric_history("0" * 32, "loss")
    with pytest.raises(NotFound):
        client.get_latest_metrics("0" * 32)

    # An invalid point rejects the whole batch.
    with pytest.raises(InvalidInput):
        client.log_metric_batch(run_id, ["fine", ""], [1.0, 2.0], [0, 0], [0, 0])
    with pytest.raises(InvalidInput):
        client.log_metric_batch(run_id, ["fine", "fine"], [1.0], [0, 1], [0, 0])
    assert client.get_metric_history(run_id, "fine")["total_points"] == 0


def test_search_runs(client: Client, recorder: Recorder) -> None:
    exp_id = client.create_experiment("search")["experiment_id"]
    other = client.create_experiment("other")["experiment_id"]
    run_ids = []
    for i in range(25):
        run_id = client.create_run(exp_id, name=f"r{i:02d}")["run_id"]
        client.log_metric_batch(run_id, ["loss"], [float(i)], [0], [0])
        client.log_params(run_id, {"parity": "even" if i % 2 == 0 else "odd"})
        run_ids.append(run_id)
    client.create_run(other, name="elsewhere")
    nan_run = client.create_run(other, name="diverged")["run_id"]
    client.log_metric_batch(nan_run, ["loss"], [math.nan], [0], [0])

    found = client.search_runs([exp_id], "metrics.loss < 10", order_by=["metrics.loss ASC"])
    assert [r["run_id"] for r in found] == run_ids[:10]
    assert set(found[0]) == RUN_FIELDS
    assert found[3]["metrics"]["loss"]["value"] == 3.0
    odd = client.search_runs([exp_id], "params.parity = 'odd'", order_by=["run_name DESC"])
    assert [r["name"] for r in odd] == [f"r{i:02d}" for i in range(23, 0, -2)]

    # Following pages: 4 runs a request, up to 22 of the 25, in order and without repeats.
    before = recorder.count("POST", "/runs/search")
    paged = client.search_runs(
        [exp_id], order_by=["metrics.loss DESC"], max_results=22, page_size=4
    )
    assert [r["run_id"] for r in paged] == run_ids[::-1][:22]
    assert recorder.count("POST", "/runs/search") - before == 6
    everything = client.search_runs([exp_id, other], page_size=10)
    assert len(everything) == 27 and len({r["run_id"] for r in everything}) == 27
    assert len(client.search_runs([exp_id], max_results=5)) == 5
    assert client.search_runs([exp_id], "metrics.loss > 1000") == []
    diverged = client.search_runs([other], "attributes.run_name = 'diverged'")
    assert math.isnan(diverged[0]["metrics"]["loss"]["value"])

    client.delete_run(run_ids[0])
    assert [r["run_id"] for r in client.search_runs([exp_id], lifecycle="deleted")] == [run_ids[0]]
    assert len(client.search_runs([exp_id])) == 24
    assert len(client.search_runs([exp_id], lifecycle="all")) == 25

    with pytest.raises(FilterSyntaxError) as bad:
        client.search_runs([exp_id], "metrics.loss <")
    assert bad.value.position == 14
    assert bad.value.details == {"position": 14, "text": "metrics.loss <"}
    with pytest.raises(FilterSyntaxError):
        client.search_runs([exp_id], order_by=["metrics.loss SIDEWAYS"])


def test_registry(client: Client) -> None:
    exp_id = client.create_experiment("registry")["experiment_id"]
    run_id = client.create_run(exp_id)["run_id"]

    model = client.create_model("churn", description="churn classifier", tags={"team": "growth"})
    assert model == {
        "name": "churn",
        "creation_timestamp": model["creation_timestamp"],
        "last_updated_timestamp": model["last_updated_timestamp"],
        "description": "churn classifier",
        "tags": {"team": "growth"},
        "aliases": {},
        "latest_versions": [],
    }
    with pytest.raises(AlreadyExists):
        client.create_model("churn")
    with pytest.raises(InvalidInput):
        client.create_model("")
    with pytest.raises(NotFound):
        client.get_model("nothing")
    with pytest.raises(InvalidInput):
        client.get_model("team/churn")  # cannot be one path segment

    # Versions: the model is created when missing, unless create_model=False.
    first = client.register_version("fraud", f"{SRC}/fraud/1", run_id=run_id, tags={"k": "v"})
    assert set(first) == VERSION_FIELDS
    assert (first["name"], first["version"], first["current_stage"]) == ("fraud", 1, "None")
    expected = (f"{SRC}/fraud/1", run_id, {"k": "v"})
    assert (first["source"], first["run_id"], first["tags"]) == expected
    assert client.get_model("fraud")["name"] == "fraud"
    with pytest.raises(NotFound):
        client.register_version("absent", f"{SRC}/absent/1", create_model=False)
    with pytest.raises(NotFound):
        client.get_model("absent")
    # A missing run is not fixed by creating the model, and leaves no empty model behind.
    with pytest.raises(NotFound) as no_run:
        client.register_version("orphan", f"{SRC}/orphan/1", run_id="0" * 32)
    assert no_run.value.details["run_id"] == "0" * 32
    with pytest.raises(NotFound):
        client.get_model("orphan")
    with pytest.raises(NotFound):
        client.register_version("fraud", f"{SRC}/fraud/x", run_id="0" * 32)

    for n in (1, 2, 3):
        assert (
            client.register_version("churn", f"{SRC}/{n}", description=f"v{n}")["version"] == n
        )
    assert client.get_version("churn", 2)["source"] == f"{SRC}/2"
    with pytest.raises(NotFound):
        client.get_version("churn", 9)
    assert [v["version"] for v in client.list_versions("churn")] == [3, 2, 1]
    assert [v["version"] for v in client.list_versions("churn", page_size=1)] == [3, 2, 1]
    assert [v["version"] for v in client.list_versions("churn", limit=2)] == [3, 2]
    with pytest.raises(NotFound):
        client.list_versions("nothing")  # raised at the call, not at the first next()

    # Stages.
    staged = client.transition_stage("churn", 1, "production")
    assert staged["current_stage"] == "Production"
    moved = client.transition_stage("churn", 2, "Production", archive_existing=True)
    assert moved["current_stage"] == "Production"
    assert client.get_version("churn", 1)["current_stage"] == "Archived"
    assert [v["version"] for v in client.list_versions("churn", stage="Production")] == [2]
    with pytest.raises(InvalidInput):
        client.transition_stage("churn", 3, "Bogus")
    with pytest.raises(InvalidInput):
        client.transition_stage("churn", 3, "Archived", archive_existing=True)
    assert client.get_version("churn", 3)["current_stage"] == "None"
    latest = client.get_model("churn")["latest_versions"]
    assert {(v["current_stage"], v["version"]) for v in latest} == {
        ("Production", 2),
        ("Archived", 1),
        ("None", 3),
    }

    # Aliases.
    pointed = client.set_alias("churn", "champion", 2)
    assert (pointed["version"], pointed["aliases"]) == (2, ["champion"])
    assert client.get_version_by_alias("churn", "champion")["version"] == 2
    client.set_alias("churn", "champion", 3)  # moves
    assert client.get_version_by_alias("churn", "champion")["version"] == 3
    assert client.get_model("churn")["aliases"] == {"champion": 3}
    assert client.get_version("churn", 2)["aliases"] == []
    with pytest.raises(InvalidInput):
        client.set_alias("churn", "v3", 1)  # reads as a version reference
    with pytest.raises(InvalidInput):
        client.set_alias("churn", "a/b", 1)
    with pytest.raises(NotFound):
        client.set_alias("churn", "ghost", 99)
    client.delete_alias("churn", "champion")
    with pytest.raises(NotFound):
        client.get_version_by_alias("churn", "champion")
    with pytest.raises(NotFound):
        client.delete_alias("churn", "champion")

    # Listing models.
    for name in ("churn-eu", "churn_us", "chxrn"):
        client.create_model(name)
    assert [m["name"] for m in client.list_models()] == [
        "churn",
        "churn-eu",
        "churn_us",
        "chxrn",
        "fraud",
    ]
    assert [m["name"] for m in client.list_models(name_like="churn%")] == [
        "churn",
        "churn-eu",
        "churn_us",
    ]
    assert [m["name"] for m in client.list_models(name_like="ch_rn")] == ["churn", "chxrn"]
    assert [m["name"] for m in client.list_models(page_size=2)] == [
        m["name"] for m in client.list_models()
    ]
    assert len(list(client.list_models(limit=2))) == 2

    # Searching versions.
    found = client.search_versions("name = 'churn'")
    assert [v["version"] for v in found] == [3, 2, 1]
    assert set(found[0]) == VERSION_FIELDS
    tagged = client.search_versions("tags.k = 'v'")
    assert [(v["name"], v["version"]) for v in tagged] == [("fraud", 1)]
    paged = client.search_versions(order_by=["version_number ASC", "name"], page_size=2)
    assert [(v["name"], v["version"]) for v in paged] == [
        ("churn", 1),
        ("fraud", 1),
        ("churn", 2),
        ("churn", 3),
    ]
    assert len(client.search_versions(max_results=3, page_size=2)) == 3
    with pytest.raises(FilterSyntaxError) as bad:
        client.search_versions("name = ")
    assert bad.value.position == 7

    # Deleting a model takes its versions.
    client.delete_model("churn")
    with pytest.raises(NotFound):
        client.get_model("churn")
    assert client.search_versions("name = 'churn'") == []
    with pytest.raises(NotFound):
        client.delete_model("churn")


def test_unusable_urls_are_invalid_input_not_retryable_outages() -> None:
    with pytest.raises(InvalidInput, match="invalid server URL"):
        Client("http://[::1")
    with Client("localhost:5000") as no_scheme, pytest.raises(InvalidInput):
        no_scheme.get_model("m")
    with Client(f"http://127.0.0.1:{free_port()}") as down:
        with pytest.raises(ServerUnreachable):
            down.get_model("m")
        with pytest.raises(InvalidInput, match="URL too long"):
            down.get_experiment_by_name("x" * 70_000)


def test_updating_and_tagging_experiments_models_and_versions(server_url: str) -> None:
    with Client(server_url) as client:
        exp = client.create_experiment("to-edit", description="first")
        eid = exp["experiment_id"]
        edited = client.update_experiment(eid, name="edited")
        assert (edited["name"], edited["description"]) == ("edited", "first")
        cleared = client.update_experiment(eid, description=None)
        assert (cleared["name"], cleared["description"]) == ("edited", None)
        client.set_experiment_tag(eid, "owner/team", "vision")
        assert client.get_experiment(eid)["tags"] == {"owner/team": "vision"}
        client.delete_experiment_tag(eid, "owner/team")
        assert client.get_experiment(eid)["tags"] == {}
        with pytest.raises(NotFound):
            client.delete_experiment_tag(eid, "never-set")

        client.register_version("m-edit", f"{SRC}/a")
        renamed = client.update_model("m-edit", new_name="m-edited", description="churn model")
        assert (renamed["name"], renamed["description"]) == ("m-edited", "churn model")
        with pytest.raises(NotFound):
            client.get_model("m-edit")
        with pytest.raises(InvalidInput):
            client.update_model("m-edited", new_name="a/b")
        client.set_model_tag("m-edited", "stage", "beta")
        assert client.get_model("m-edited")["tags"] == {"stage": "beta"}
        client.delete_model_tag("m-edited", "stage")
        assert client.get_model("m-edited")["tags"] == {}

        assert client.update_version("m-edited", 1, description="v1")["description"] == "v1"
        client.set_version_tag("m-edited", 1, "validated", "yes")
        assert client.get_version("m-edited", 1)["tags"] == {"validated": "yes"}
        client.delete_version_tag("m-edited", 1, "validated")
        assert client.get_version("m-edited", 1)["tags"] == {}
        client.delete_version("m-edited", 1)
        with pytest.raises(NotFound):
            client.get_version("m-edited", 1)
        assert client.register_version("m-edited", f"{SRC}/b")["version"] == 2, "numbers not reused"
