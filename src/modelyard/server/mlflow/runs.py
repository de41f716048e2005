"""MLflow's run endpoints: create, get, update, delete, restore, params, tags, metrics, and
MLflow 2's ``runs/log-model`` (the run's history of logged models).

The system tags the client sends (``mlflow.user``, ``mlflow.source.*``, ``mlflow.runName``,
``mlflow.parentRunId``) are kept as tags, and the ones we also hold in columns (the run's name,
parent and user) are read from them at creation, so our API, CLI and UI show the same run.
"""

from __future__ import annotations

import json
import time

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from modelyard.auth.access import Access
from modelyard.errors import InvalidInput
from modelyard.server.mlflow import _entities
from modelyard.server.mlflow._protocol import endpoint, parse, reply, require, store
from modelyard.server.mlflow.run_io import io_messages
from modelyard.store._base import Conn
from modelyard.store._metric_columns import MetricBatch, to_batch
from modelyard.store.logged_model_records import ModelMetricPoint
from modelyard.store.logged_models import write_model_metrics
from modelyard.store.run_data import RunState

RUN_NAME_TAG = "mlflow.runName"
PARENT_TAG = "mlflow.parentRunId"
USER_TAG = "mlflow.user"
# Where MLflow 2 clients record each model logged to a run (``runs/log-model``): a JSON list of
# the models' MLmodel dicts, which the client and MLflow's UI read back from the run's tags.
LOGGED_MODELS_TAG = "mlflow.log-model.history"
# The fields MLflow's server requires of a logged model's dict.
MODEL_FIELDS = ("artifact_path", "flavors", "utc_time_created", "run_id")


class KeyValue(msgspec.Struct):
    key: str
    value: str = ""


class RunRef(msgspec.Struct):
    """A request naming a run, by ``run_id`` or (older clients) by ``run_uuid``."""

    run_id: str | None = None
    run_uuid: str | None = None

    def target(self) -> str:
        return str(require(self.run_id or self.run_uuid, "run_id"))


class CreateRun(msgspec.Struct):
    experiment_id: str | None = None
    user_id: str | None = None
    start_time: int | None = None
    tags: list[KeyValue] = []
    run_name: str | None = None


class UpdateRun(RunRef):
    status: str | None = None
    end_time: int | None = None
    run_name: str | None = None


class LogParam(RunRef):
    key: str | None = None
    value: str | None = None


class SetTag(LogParam):
    pass


class DeleteTag(msgspec.Struct):
    run_id: str | None = None
    key: str | None = None


class Metric(msgspec.Struct):
    key: str
    value: float
    timestamp: int | None = None
    step: int = 0
    # MLflow 3: the logged model the point is about, and the dataset it was measured on.
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


class LogMetric(RunRef):
    key: str | None = None
    value: float | None = None
    timestamp: int | None = None
    step: int = 0
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


class LogModel(RunRef):
    model_json: str | None = None


class LogBatch(RunRef):
    metrics: list[Metric] = []
    params: list[KeyValue] = []
    tags: list[KeyValue] = []


# MLflow's log-batch limits (mlflow/utils/validation.py): the client splits larger batches.
MAX_BATCH_METRICS = 1000
MAX_BATCH_PARAMS = 100
MAX_BATCH_TAGS = 100
MAX_BATCH_ENTRIES = 1000


async def create_run(request: Request) -> Response:
    message = await parse(request, CreateRun)
    tags = {tag.key: tag.value for tag in message.tags}
    # The name lives in its column; the entity shows it as the mlflow.runName tag as well.
    name = message.run_name or tags.pop(RUN_NAME_TAG, None) or None
    tags.pop(RUN_NAME_TAG, None)
    created = await store(request).runs.create(
        require(message.experiment_id, "experiment_id"),
        name=name,
        start_time=message.start_time,
        tags=tags,
        parent_run_id=tags.get(PARENT_TAG) or None,
        user_id=message.user_id or tags.get(USER_TAG) or None,
    )
    return reply({"run": _entities.run(created)})


async def get_run(request: Request) -> Response:
    message = await parse(request, RunRef)
    # The client reads the run on many calls (fluent log_metric, start_run(run_id=...)): the
    # run and its links in one round trip.
    found = await store(request).run_links.get(message.target())
    inputs, outputs = io_messages(found.dataset_inputs, found.model_inputs, found.model_outputs)
    return reply({"run": _entities.run(found.run, inputs, outputs)})


async def update_run(request: Request) -> Response:
    message = await parse(request, UpdateRun)
    updated = await store(request).runs.update(
        message.target(),
        status=message.status or None,
        end_time=message.end_time,
        name=message.run_name or None,
    )
    return reply({"run_info": _entities.run_info(updated)})


async def delete_run(request: Request) -> Response:
    message = await parse(request, RunRef)
    await store(request).runs.delete(message.target())
    return reply()


async def restore_run(request: Request) -> Response:
    message = await parse(request, RunRef)
    await store(request).runs.restore(message.target())
    return reply()


async def log_param(request: Request) -> Response:
    message = await parse(request, LogParam)
    key = require(message.key, "key")
    value = message.value if message.value is not None else ""
    await store(request).runs.log_params(message.target(), {key: value})
    return reply()


async def set_tag(request: Request) -> Response:
    message = await parse(request, SetTag)
    key = require(message.key, "key")
    value = message.value if message.value is not None else ""
    runs = store(request).runs
    if key == RUN_NAME_TAG:
        await runs.update(message.target(), name=value)
    else:
        await runs.set_tags(message.target(), {key: value})
    return reply()


async def delete_tag(request: Request) -> Response:
    message = await parse(request, DeleteTag)
    await store(request).runs.delete_tag(
        require(message.run_id, "run_id"), require(message.key, "key")
    )
    return reply()


async def log_metric(request: Request) -> Response:
    message = await parse(request, LogMetric)
    key = require(message.key, "key")
    value = require(message.value, "value")
    timestamp = message.timestamp if message.timestamp is not None else _now_ms()
    opened = store(request)
    if not message.model_id:
        await opened.metrics.log(message.target(), [(key, value, message.step, timestamp)])
        return reply()
    # A model's metric: the run's point and the model's in one transaction.
    batch = to_batch(
        MetricBatch(keys=[key], values=[value], steps=[message.step], timestamps=[timestamp])
    )
    point = ModelMetricPoint(
        model_id=message.model_id,
        key=key,
        value=value,
        step=message.step,
        timestamp=timestamp,
        dataset_name=message.dataset_name or None,
        dataset_digest=message.dataset_digest or None,
    )

    async def write_metrics(conn: Conn, run: RunState) -> None:
        await opened.metrics.write(conn, run.run_id, batch)
        await write_model_metrics(conn, opened.logged_models.workspace_id, run.run_id, [point])

    await opened.runs.log_batch(message.target(), metrics_hook=write_metrics)
    return reply()


async def log_batch(request: Request) -> Response:
    message = await parse(request, LogBatch)
    _check_batch_limits(message)
    params: dict[str, str] = {}
    for param in message.params:
        if params.get(param.key, param.value) != param.value:
            raise InvalidInput(
                f"Duplicate parameter keys have been submitted: {param.key!r} with different "
                "values",
                field="params",
            )
        params[param.key] = param.value
    tags = {tag.key: tag.value for tag in message.tags}
    new_name = tags.pop(RUN_NAME_TAG, None)
    now = _now_ms()
    batch = to_batch(
        MetricBatch(
            keys=[metric.key for metric in message.metrics],
            values=[metric.value for metric in message.metrics],
            steps=[metric.step for metric in message.metrics],
            timestamps=[m.timestamp if m.timestamp is not None else now for m in message.metrics],
        )
    )
    model_points = [
        ModelMetricPoint(
            model_id=metric.model_id,
            key=metric.key,
            value=metric.value,
            step=metric.step,
            timestamp=metric.timestamp if metric.timestamp is not None else now,
            dataset_name=metric.dataset_name or None,
            dataset_digest=metric.dataset_digest or None,
        )
        for metric in message.metrics
        if metric.model_id
    ]
    opened = store(request)

    async def write_metrics(conn: Conn, run: RunState) -> None:
        if len(batch):
            await opened.metrics.write(conn, run.run_id, batch)
        if model_points:
            workspace_id = opened.logged_models.workspace_id
            await write_model_metrics(conn, workspace_id, run.run_id, model_points)

    # Params, tags and metrics in one transaction: all of the batch or none of it.
    await opened.runs.log_batch(
        message.target(), params=params, tags=tags, metrics_hook=write_metrics
    )
    if new_name:
        await opened.runs.update(message.target(), name=new_name)
    return reply()


async def log_model(request: Request) -> Response:
    """MLflow 2's record of a model logged to a run, appended to the run's model history."""
    message = await parse(request, LogModel)
    run_id = require(message.run_id, "run_id")
    text = require(message.model_json, "model_json")
    try:
        model = json.loads(text)
    except ValueError:
        raise InvalidInput("model_json is not valid JSON", field="model_json") from None
    if not isinstance(model, dict):
        raise InvalidInput("model_json must be a JSON object", field="model_json")
    missing = [name for name in MODEL_FIELDS if name not in model]
    if missing:
        raise InvalidInput(
            f"Model json is missing mandatory fields: {', '.join(missing)}", field="model_json"
        )
    await store(request).runs.append_to_list_tag(run_id, LOGGED_MODELS_TAG, model)
    return reply()


def _check_batch_limits(message: LogBatch) -> None:
    counts = {
        "metrics": (len(message.metrics), MAX_BATCH_METRICS),
        "params": (len(message.params), MAX_BATCH_PARAMS),
        "tags": (len(message.tags), MAX_BATCH_TAGS),
    }
    for what, (count, limit) in counts.items():
        if count > limit:
            raise InvalidInput(
                f"A batch logging request can contain at most {limit} {what}. Got {count} "
                f"{what}. Please split up {what} across multiple requests and try again.",
                field=what,
            )
    total = sum(count for count, _ in counts.values())
    if total > MAX_BATCH_ENTRIES:
        raise InvalidInput(
            f"A batch logging request can contain at most {MAX_BATCH_ENTRIES} total metrics, "
            f"params and tags. Got {total}. Please split up across multiple requests.",
            field="metrics",
        )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


routes = [
    endpoint("POST", "/runs/create", create_run, Access.WRITE),
    endpoint("GET", "/runs/get", get_run, Access.READ),
    endpoint("POST", "/runs/update", update_run, Access.WRITE),
    endpoint("POST", "/runs/delete", delete_run, Access.WRITE),
    endpoint("POST", "/runs/restore", restore_run, Access.WRITE),
    endpoint("POST", "/runs/log-parameter", log_param, Access.WRITE),
    endpoint("POST", "/runs/set-tag", set_tag, Access.WRITE),
    endpoint("POST", "/runs/delete-tag", delete_tag, Access.WRITE),
    endpoint("POST", "/runs/log-metric", log_metric, Access.WRITE),
    endpoint("POST", "/runs/log-batch", log_batch, Access.WRITE),
    endpoint("POST", "/runs/log-model", log_model, Access.WRITE),
]
