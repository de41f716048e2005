"""search_runs through the real mlflow client: every operator, order_by, pages, the DataFrame,
and datasets logged with ``mlflow.log_input``."""

from __future__ import annotations

import httpx
import mlflow
import pandas as pd
import pytest
from mlflow.entities import Metric, Param, RunTag, ViewType

RUNS = 25


@pytest.fixture
def populated(client: mlflow.MlflowClient) -> tuple[str, list[str]]:
    """An experiment of 25 finished runs: metric m = i, param p = i, tag parity."""
    experiment_id = client.create_experiment("search")
    run_ids = []
    for i in range(RUNS):
        run = client.create_run(experiment_id, run_name=f"run-{i:02d}", start_time=1_000 + i)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("m", float(i), 1, 0)],
            params=[Param("p", str(i)), Param("kind", "big" if i >= 20 else "small")],
            tags=[RunTag("parity", "even" if i % 2 == 0 else "odd")],
        )
        client.set_terminated(run.info.run_id, "FINISHED" if i < 24 else "FAILED")
        run_ids.append(run.info.run_id)
    return experiment_id, run_ids


def names(runs: list[mlflow.entities.Run]) -> list[str]:
    return [run.info.run_name for run in runs]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("metrics.m > 22", [23, 24]),
        ("metrics.m >= 23", [23, 24]),
        ("metrics.m < 2", [0, 1]),
        ("metrics.m <= 1", [0, 1]),
        ("metrics.m = 3", [3]),
        ("metrics.m != 3 and metrics.m < 3", [0, 1, 2]),
        ("params.p = '7'", [7]),
        ("params.p != '7' and params.kind = 'big'", [20, 21, 22, 23, 24]),
        ("params.kind LIKE 'b%' and params.p LIKE '2_'", [20, 21, 22, 23, 24]),
        ("params.kind ILIKE 'BIG' and tags.parity = 'even'", [20, 22, 24]),
        ("params.p IN ('1', '2')", [1, 2]),
        ("params.p NOT IN ('0', '1') and metrics.m < 4", [2, 3]),
        ("tags.parity = 'odd' and metrics.m < 6", [1, 3, 5]),
        ("tags.`parity` LIKE 'ev%' and metrics.m < 5", [0, 2, 4]),
        ("attributes.status = 'FAILED'", [24]),
        ("attributes.run_name = 'run-05'", [5]),
        ("attributes.run_name LIKE 'run-1%' and metrics.m < 12", [10, 11]),
        ("attributes.start_time < 1002", [0, 1]),
        # Our extensions are there too.
        ("metrics.m = 1 OR metrics.m = 2", [1, 2]),
    ],
)
def test_search_runs_operators(
    client: mlflow.MlflowClient,
    populated: tuple[str, list[str]],
    filter_string: str,
    expected: list[int],
) -> None:
    experiment_id, _ = populated
    found = client.search_runs([experiment_id], filter_string, order_by=["metrics.m ASC"])
    assert names(found) == [f"run-{i:02d}" for i in expected]


def test_search_runs_by_run_id(
    client: mlflow.MlflowClient, populated: tuple[str, list[str]]
) -> None:
    experiment_id, run_ids = populated
    wanted = run_ids[3:5]
    quoted = ", ".join(f"'{run_id}'" for run_id in wanted)
    found = client.search_runs([experiment_id], f"attributes.run_id IN ({quoted})")
    assert sorted(run.info.run_id for run in found) == sorted(wanted)


@pytest.mark.parametrize(
    ("order_by", "first_three"),
    [
        (["metrics.m DESC"], [24, 23, 22]),
        (["params.p ASC"], [0, 1, 10]),  # params order as strings
        (["attributes.start_time ASC"], [0, 1, 2]),
        (["attributes.run_name DESC"], [24, 23, 22]),
        (["tags.parity ASC", "metrics.m DESC"], [24, 22, 20]),
        ([], [24, 23, 22]),  # newest start_time first
    ],
)
def test_search_runs_order_by(
    client: mlflow.MlflowClient,
    populated: tuple[str, list[str]],
    order_by: list[str],
    first_three: list[int],
) -> None:
    experiment_id, _ = populated
    found = client.search_runs([experiment_id], order_by=order_by, max_results=3)
    assert names(found) == [f"run-{i:02d}" for i in first_three]


def test_search_runs_pages(client: mlflow.MlflowClient, populated: tuple[str, list[str]]) -> None:
    experiment_id, run_ids = populated
    for order_by in ([], ["metrics.m ASC"]):
        seen: list[str] = []
        page = client.search_runs([experiment_id], max_results=7, order_by=order_by)
        pages = 1
        seen += [run.info.run_id for run in page]
        while page.token:
            page = client.search_runs(
                [experiment_id], max_results=7, order_by=order_by, page_token=page.token
            )
            seen += [run.info.run_id for run in page]
            pages += 1
        assert pages == 4
        assert sorted(seen) == sorted(run_ids) and len(seen) == RUNS


def test_search_runs_view_type(
    client: mlflow.MlflowClient, populated: tuple[str, list[str]]
) -> None:
    experiment_id, run_ids = populated
    client.delete_run(run_ids[0])
    active = client.search_runs([experiment_id], run_view_type=ViewType.ACTIVE_ONLY)
    deleted = client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    every = client.search_runs([experiment_id], run_view_type=ViewType.ALL)
    assert (len(active), len(every)) == (RUNS - 1, RUNS)
    assert [run.info.run_id for run in deleted] == [run_ids[0]]


def test_fluent_search_runs_gives_a_dataframe(
    client: mlflow.MlflowClient, populated: tuple[str, list[str]]
) -> None:
    experiment_id, _ = populated
    frame = mlflow.search_runs([experiment_id], order_by=["metrics.m ASC"])
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == RUNS
    assert list(frame["metrics.m"]) == [float(i) for i in range(RUNS)]
    assert list(frame["params.p"])[:3] == ["0", "1", "2"]
    assert set(frame["tags.parity"]) == {"even", "odd"}
    assert {"run_id", "experiment_id", "status", "start_time", "end_time"} <= set(frame.columns)
    filtered = mlflow.search_runs(
        experiment_names=["search"], filter_string="tags.parity = 'odd'", max_results=5
    )
    assert len(filtered) == 5
    as_list = mlflow.search_runs([experiment_id], output_format="list", max_results=30)
    assert len(as_list) == RUNS


# mlflow.data's own pandas calls warn about pandas 4 (their code, not ours).
@pytest.mark.filterwarnings("ignore:Starting with pandas version 4.0")
def test_log_input_dataset(tracking_uri: str, client: mlflow.MlflowClient) -> None:
    import mlflow.data

    frame = pd.DataFrame({"x": [1, 2, 3], "y": [0.5, 0.25, 0.125]})
    dataset = mlflow.data.from_pandas(frame, source="s3://bucket/train.csv", name="train")
    mlflow.set_experiment("with-data")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training", tags={"split": "a"})
    got = client.get_run(run.info.run_id)
    (logged,) = got.inputs.dataset_inputs
    assert logged.dataset.name == "train"
    assert logged.dataset.digest == dataset.digest
    assert logged.dataset.source_type == dataset.to_dict()["source_type"]
    assert logged.dataset.schema == dataset.to_dict()["schema"]
    tags = {tag.key: tag.value for tag in logged.tags}
    assert tags == {"mlflow.data.context": "training", "split": "a"}
    # The same dataset version through our own API.
    ours = httpx.get(f"{tracking_uri}/api/v1/datasets/train/versions/{dataset.digest}")
    assert ours.status_code == 200, ours.text
    assert ours.json()["source_type"] == dataset.to_dict()["source_type"]
