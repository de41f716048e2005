"""MLflow 3's logged-model endpoints (``service.proto``) over our logged models.

A logged model's files live among its source run's artifacts (``models/<model id>``); to the mlflow
client its ``artifact_uri`` is ``mlflow-artifacts:/<experiment id>/models/<model id>/artifacts``,
which the artifact proxy maps back there, so ``mlflow.<flavor>.log_model`` uploads through the
server and finalizing as READY finds the ``MLmodel`` file it requires. Deleted models are gone
for the MLflow API (get answers RESOURCE_DOES_NOT_EXIST, search skips them).
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from modelyard.artifacts import paths
from modelyard.auth.access import Access
from modelyard.errors import InvalidInput, NotFound
from modelyard.server.mlflow import _artifact_paths
from modelyard.server.mlflow._entities import key_values
from modelyard.server.mlflow._protocol import (
    endpoint,
    parse,
    reply,
    require,
    store,
    wire_float,
)
from modelyard.server.mlflow.artifact_proxy import artifact_store
from modelyard.store.logged_model_records import LoggedModel, ModelMetric
from modelyard.store.logged_model_search import DatasetFilter, ModelOrder
from modelyard.store.run_names import generate_run_name

# MLflow's LoggedModelStatus names and ours.
_STATUS_OUT = {
    "PENDING": "LOGGED_MODEL_PENDING",
    "READY": "LOGGED_MODEL_READY",
    "FAILED": "LOGGED_MODEL_UPLOAD_FAILED",
}
_STATUS_IN = {wire: ours for ours, wire in _STATUS_OUT.items()}

READ, WRITE = Access.READ, Access.WRITE


class KeyValue(msgspec.Struct):
    key: str
    value: str = ""


class CreateLoggedModel(msgspec.Struct):
    experiment_id: str | None = None
    name: str | None = None
    model_type: str | None = None
    source_run_id: str | None = None
    params: list[KeyValue] = []
    tags: list[KeyValue] = []


class Finalize(msgspec.Struct):
    status: str | None = None


class OrderBy(msgspec.Struct):
    field_name: str
    ascending: bool = True
    # With a metrics.<key> field: order by the metric's latest point on this dataset.
    dataset_name: str | None = None
    dataset_digest: str | None = None


class Dataset(msgspec.Struct):
    dataset_name: str | None = None
    dataset_digest: str | None = None


class SearchLoggedModels(msgspec.Struct):
    experiment_ids: list[str] = []
    filter: str | None = None
    datasets: list[Dataset] = []
    max_results: int = 100
    order_by: list[OrderBy] = []
    page_token: str | None = None


class Tags(msgspec.Struct):
    tags: list[KeyValue] = []


class Params(msgspec.Struct):
    params: list[KeyValue] = []


class ListArtifacts(msgspec.Struct):
    artifact_directory_path: str | None = None
    page_token: str | None = None


def logged_model(record: LoggedModel) -> dict[str, Any]:
    info: dict[str, Any] = {
        "model_id": record.model_id,
        "experiment_id": str(record.experiment_id),
        "name": record.name,
        "creation_timestamp_ms": record.creation_timestamp,
        "last_updated_timestamp_ms": record.last_updated_timestamp,
        "artifact_uri": _artifact_paths.logged_model_uri(record.experiment_id, record.model_id),
        "status": _STATUS_OUT[record.status],
        "tags": key_values(record.tags),
        "registrations": [
            {"name": r.name, "version": str(r.version)} for r in record.registrations
        ],
    }
    for name in ("model_type", "source_run_id", "status_message"):
        value = getattr(record, name)
        if value is not None:
            info[name] = value
    metrics = [_metric(m) for m in record.metrics]
    return {"info": info, "data": {"params": key_values(record.params), "metrics": metrics}}


def _metric(point: ModelMetric) -> dict[str, Any]:
    metric: dict[str, Any] = {
        "key": point.key,
        "value": wire_float(point.value),
        "timestamp": point.timestamp,
        "step": point.step,
        "model_id": point.model_id,
        "run_id": point.run_id,
    }
    if point.dataset_name is not None:
        metric["dataset_name"] = point.dataset_name
    if point.dataset_digest is not None:
        metric["dataset_digest"] = point.dataset_digest
    return metric


async def _active(request: Request) -> LoggedModel:
    model_id = request.path_params["model_id"]
    found = await store(request).logged_models.get(model_id)
    if found.lifecycle_stage != "active":
        raise NotFound(f"logged model {model_id} does not exist", model_id=model_id)
    return found


async def create(request: Request) -> Response:
    message = await parse(request, CreateLoggedModel)
    created = await store(request).logged_models.create(
        message.name or generate_run_name(),
        experiment_id=require(message.experiment_id, "experiment_id"),
        source_run_id=message.source_run_id or None,
        model_type=message.model_type or None,
        tags={t.key: t.value for t in message.tags},
        params={p.key: p.value for p in message.params},
    )
    return reply({"model": logged_model(created)})


async def get(request: Request) -> Response:
    return reply({"model": logged_model(await _active(request))})


async def finalize(request: Request) -> Response:
    message = await parse(request, Finalize)
    status = _STATUS_IN.get(require(message.status, "status"))
    if status is None:
        raise InvalidInput(
            "status must be LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED", field="status"
        )
    await _active(request)
    done = await store(request).logged_models.finalize(request.path_params["model_id"], status)
    return reply({"model": logged_model(done)})


async def delete(request: Request) -> Response:
    await store(request).logged_models.delete(request.path_params["model_id"])
    return reply()


async def search(request: Request) -> Response:
    message = await parse(request, SearchLoggedModels)
    if any(not d.dataset_name for d in message.datasets):
        raise InvalidInput(
            "`dataset_name` in the `datasets` clause must be specified.", field="datasets"
        )
    page = await store(request).logged_model_search.search(
        message.experiment_ids,
        message.filter or None,
        [
            ModelOrder(o.field_name, o.ascending, o.dataset_name or None, o.dataset_digest or None)
            for o in message.order_by
        ],
        datasets=[
            DatasetFilter(str(d.dataset_name), d.dataset_digest or None) for d in message.datasets
        ],
        max_results=message.max_results,
        page_token=message.page_token or None,
    )
    answer: dict[str, Any] = {"models": [logged_model(m) for m in page.items]}
    if page.next_page_token is not None:
        answer["next_page_token"] = page.next_page_token
    return reply(answer)


async def set_tags(request: Request) -> Response:
    message = await parse(request, Tags)
    await _active(request)
    model_id = request.path_params["model_id"]
    models = store(request).logged_models
    await models.set_tags(model_id, {t.key: t.value for t in message.tags})
    return reply({"model": logged_model(await models.get(model_id))})


async def delete_tag(request: Request) -> Response:
    await _active(request)
    await store(request).logged_models.delete_tag(
        request.path_params["model_id"], request.path_params["tag_key"]
    )
    return reply()


async def log_params(request: Request) -> Response:
    message = await parse(request, Params)
    await _active(request)
    await store(request).logged_models.log_params(
        request.path_params["model_id"], {p.key: p.value for p in message.params}
    )
    return reply()


async def list_artifacts(request: Request) -> Response:
    """The children of a directory of the model's files, paths relative to the model's root."""
    message = await parse(request, ListArtifacts)
    model = await _active(request)
    directory = paths.check_directory(message.artifact_directory_path)
    proxied = _artifact_paths.Proxied(model.experiment_id, None, model.model_id, directory)
    located = await _artifact_paths.locate(store(request), proxied)
    try:
        entries = await artifact_store(request).list_dir(located.run_id, located.path)
    except NotFound:
        entries = []
    files: list[dict[str, Any]] = []
    for entry in entries:
        info: dict[str, Any] = {
            "path": f"{directory}/{entry.name}" if directory else entry.name,
            "is_dir": entry.is_dir,
        }
        if entry.size is not None:
            info["file_size"] = entry.size
        files.append(info)
    root = _artifact_paths.logged_model_uri(model.experiment_id, model.model_id)
    return reply({"root_uri": root, "files": files})


_ONE = "/logged-models/{model_id}"

routes = [
    endpoint("POST", "/logged-models", create, WRITE),
    endpoint("POST", "/logged-models/search", search, READ),
    endpoint("GET", _ONE, get, READ),
    endpoint("PATCH", _ONE, finalize, WRITE),
    endpoint("DELETE", _ONE, delete, WRITE),
    endpoint("PATCH", f"{_ONE}/tags", set_tags, WRITE),
    endpoint("DELETE", f"{_ONE}/tags/{{tag_key:path}}", delete_tag, WRITE),
    endpoint("POST", f"{_ONE}/params", log_params, WRITE),
    endpoint("GET", f"{_ONE}/artifacts/directories", list_artifacts, READ),
]
