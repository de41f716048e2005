"""``metrics/get-history-bulk-interval`` (the sampled histories MLflow's UI charts) through the
mlflow package's own REST machinery: its ``GetMetricHistoryBulkInterval`` message sent by
``RestStore`` and parsed back into protobuf, on both mounts the UI and the client use.

The known answers follow MLflow 3's server (``SqlAlchemyStore``): each run is sampled on its own
points, cut into ``max_results`` buckets (``NTILE``), the first point of each kept and the run's
last point in place of the last kept one; runs come back in the order asked.
"""

from __future__ import annotations

import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.protos.service_pb2 import GetMetricHistoryBulkInterval
from mlflow.store.tracking.rest_store import RestStore
from mlflow.utils.proto_json_utils import message_to_json
from mlflow.utils.rest_utils import MlflowHostCreds

MOUNTS = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")


def _bulk(url: str, mount: str, **fields: object) -> list[tuple[str, int, float, int]]:
    store = RestStore(lambda: MlflowHostCreds(url))
    body = message_to_json(GetMetricHistoryBulkInterval(**fields))  # type: ignore[arg-type]
    answer = store._call_endpoint(
        GetMetricHistoryBulkInterval,
        body,
        endpoint=f"{mount}/metrics/get-history-bulk-interval",
    )
    return [(m.run_id, m.step, m.value, m.timestamp) for m in answer.metrics]


@pytest.fixture
def runs(client: MlflowClient) -> tuple[str, str, str]:
    """Run a: steps 0-99; run b: steps 0, 10, ..., 90; run c: only another metric."""
    a, b, c = (client.create_run("0").info.run_id for _ in range(3))
    client.log_batch(a, metrics=[Metric("loss", s / 2, 1000 + s, s) for s in range(100)])
    client.log_batch(b, metrics=[Metric("loss", -s, 5000 + s, s) for s in range(0, 100, 10)])
    client.log_batch(c, metrics=[Metric("acc", 1.0, 1, 0)])
    return a, b, c


def _a(*steps: int, run: str) -> list[tuple[str, int, float, int]]:
    return [(run, s, s / 2, 1000 + s) for s in steps]


def _b(*steps: int, run: str) -> list[tuple[str, int, float, int]]:
    return [(run, s, float(-s), 5000 + s) for s in steps]


@pytest.mark.parametrize("mount", MOUNTS)
def test_sampled_histories_are_mlflows(
    modelyard_server: str, runs: tuple[str, str, str], mount: str
) -> None:
    a, b, c = runs
    url = modelyard_server
    # 100 points in 10 buckets of 10: firsts 0, 10, ..., 80, then the last point (99) for 90.
    # Run b has 10 points: all of them. Run c has no "loss": nothing.
    assert _bulk(url, mount, run_ids=[a, b, c], metric_key="loss", max_results=10) == [
        *_a(0, 10, 20, 30, 40, 50, 60, 70, 80, 99, run=a),
        *_b(*range(0, 100, 10), run=b),
    ]
    assert _bulk(url, mount, run_ids=[b, a], metric_key="loss", max_results=10)[0][0] == b
    # Steps 5-25 of run a are 21 points: buckets of 6, 5, 5, 5 start at 5, 11, 16, 21, and
    # 25 (the last) takes 21's place. Run b has 10 and 20 there.
    assert _bulk(
        url, mount, run_ids=[a, b], metric_key="loss", start_step=5, end_step=25, max_results=4
    ) == [*_a(5, 11, 16, 25, run=a), *_b(10, 20, run=b)]
    # One point per run: its last.
    assert _bulk(url, mount, run_ids=[a, b], metric_key="loss", max_results=1) == [
        *_a(99, run=a),
        *_b(90, run=b),
    ]
    # The default (2,500) keeps every point of these runs.
    assert _bulk(url, mount, run_ids=[a], metric_key="loss") == _a(*range(100), run=a)


def test_bad_requests_are_mlflows_errors(
    modelyard_server: str, runs: tuple[str, str, str]
) -> None:
    a = runs[0]
    url, mount = modelyard_server, MOUNTS[0]
    for fields in (
        {"run_ids": [a] * 101, "metric_key": "loss"},
        {"run_ids": [a], "metric_key": "loss", "start_step": 3},
        {"run_ids": [a], "metric_key": "loss", "start_step": 9, "end_step": 3},
        {"run_ids": [a], "metric_key": "loss", "max_results": 2501},
        {"run_ids": [a]},
    ):
        with pytest.raises(MlflowException) as raised:
            _bulk(url, mount, **fields)
        assert raised.value.error_code == "INVALID_PARAMETER_VALUE", fields
