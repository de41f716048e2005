"""What runs read and wrote, the MLflow way: ``runs/log-inputs``, ``runs/outputs``, and the
``inputs``/``outputs`` of a run as ``runs/get`` and ``runs/search`` show them.

Datasets go to our dataset store (``modelyard.store.datasets``), so a dataset logged with
``mlflow.log_input`` is the same dataset version our API, CLI and lineage queries show. MLflow
sends a dataset's ``schema`` and ``profile`` as strings holding JSON; we keep them as JSON and
give back the same text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from modelyard.auth.access import Access
from modelyard.server.mlflow._protocol import endpoint, parse, reply, require, store
from modelyard.store import Store
from modelyard.store.dataset_records import CONTEXT_TAG, DatasetInput, InputSpec
from modelyard.store.logged_model_records import ModelInput, ModelOutput


class KeyValue(msgspec.Struct):
    key: str
    value: str = ""


class Dataset(msgspec.Struct):
    name: str
    digest: str
    source_type: str | None = None
    source: str | None = None
    schema: str | None = None
    profile: str | None = None


class DatasetInputMessage(msgspec.Struct):
    dataset: Dataset
    tags: list[KeyValue] = []


class ModelRef(msgspec.Struct):
    model_id: str
    step: int = 0


class LogInputs(msgspec.Struct):
    run_id: str | None = None
    datasets: list[DatasetInputMessage] = []
    models: list[ModelRef] = []


class LogOutputs(msgspec.Struct):
    run_id: str | None = None
    models: list[ModelRef] = []


def _json_of(text: str | None) -> msgspec.Raw:
    """MLflow's JSON-in-a-string as the JSON itself; text that is not JSON as a JSON string."""
    if text is None or text == "":
        return msgspec.Raw(b"null")
    try:
        msgspec.json.decode(text)
    except msgspec.DecodeError:
        return msgspec.Raw(msgspec.json.encode(text))
    return msgspec.Raw(text.encode())


def _text_of(raw: msgspec.Raw) -> str | None:
    data = bytes(raw)
    if data in (b"", b"null"):
        return None
    if data.startswith(b'"'):
        decoded: str = msgspec.json.decode(data)
        return decoded
    return data.decode()


async def log_inputs(request: Request) -> Response:
    message = await parse(request, LogInputs)
    run_id = require(message.run_id, "run_id")
    specs = [
        InputSpec(
            name=item.dataset.name,
            digest=item.dataset.digest,
            source_type=item.dataset.source_type or None,
            source=item.dataset.source or None,
            schema=_json_of(item.dataset.schema),
            profile=_json_of(item.dataset.profile),
            tags={tag.key: tag.value for tag in item.tags},
        )
        for item in message.datasets
    ]
    models = [ModelInput(model_id=model.model_id) for model in message.models]
    opened = store(request)
    if specs:
        # Datasets and model inputs in one transaction.
        await opened.datasets.log_inputs(run_id, specs, models=models)
    elif models:
        await opened.logged_models.log_inputs(run_id, models)
    return reply()


async def log_outputs(request: Request) -> Response:
    message = await parse(request, LogOutputs)
    run_id = require(message.run_id, "run_id")
    outputs = [ModelOutput(model_id=m.model_id, step=m.step) for m in message.models]
    if outputs:
        await store(request).logged_models.log_outputs(run_id, outputs)
    return reply()


def _dataset_input(found: DatasetInput) -> dict[str, Any]:
    version = found.dataset
    dataset: dict[str, Any] = {"name": version.name, "digest": version.digest}
    for field, value in (
        ("source_type", version.source_type),
        ("source", version.source),
        ("schema", _text_of(version.schema)),
        ("profile", _text_of(version.profile)),
    ):
        if value is not None:
            dataset[field] = value
    tags = dict(found.tags)
    if found.context:
        tags[CONTEXT_TAG] = found.context
    return {"tags": [{"key": k, "value": v} for k, v in tags.items()], "dataset": dataset}


def io_messages(
    datasets: Sequence[DatasetInput],
    model_inputs: Sequence[ModelInput],
    model_outputs: Sequence[ModelOutput],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A run's MLflow ``inputs`` and ``outputs`` messages."""
    inputs: dict[str, Any] = {
        "dataset_inputs": [_dataset_input(d) for d in datasets],
        "model_inputs": [{"model_id": m.model_id} for m in model_inputs],
    }
    outputs = {"model_outputs": [{"model_id": m.model_id, "step": m.step} for m in model_outputs]}
    return inputs, outputs


async def inputs_and_outputs(
    opened: Store, run_ids: Sequence[str]
) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Each run's MLflow ``inputs`` and ``outputs`` messages, in three queries for all runs."""
    if not run_ids:
        return {}
    datasets = await opened.datasets.inputs_of(run_ids)
    model_inputs = await opened.logged_models.inputs_of(run_ids)
    model_outputs = await opened.logged_models.outputs_of(run_ids)
    return {
        run_id: io_messages(
            datasets.get(run_id, []), model_inputs.get(run_id, []), model_outputs.get(run_id, [])
        )
        for run_id in run_ids
    }


routes = [
    endpoint("POST", "/runs/log-inputs", log_inputs, Access.WRITE),
    endpoint("POST", "/runs/outputs", log_outputs, Access.WRITE),
]
