"""Model version sources: what the registry accepts from the mlflow client, and where they resolve.

A version's files must be somewhere this server serves, so the accepted sources are:

* ``runs:/<run id>/<path>``: a run's artifacts;
* ``models:/<model id>``: a logged model (``m-`` and 32 hex digits);
* ``mlflow-artifacts:/<experiment id>/<run id>/artifacts/...`` or
  ``mlflow-artifacts:/<experiment id>/models/<model id>/artifacts/...``: the same two, as the
  artifact proxy addresses them (the client turns ``runs:/`` into this form itself);
* the artifact location a run of ours recorded, below that run (an experiment created with its
  own ``artifact_location``), when the request names the run.

Anything else (a local path, another server's URL, a bucket) is refused, and the owner must exist:
a version never points at files nobody can fetch through the server. :func:`check` also tells the
run and logged model a source implies, so a version registered from ``models:/m-...`` is linked to
its model and run (lineage) without the client saying so. :func:`download_uri` maps a stored source
to the URI ``get-download-uri`` answers, one the client downloads through the artifact proxy.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from modelyard.errors import InvalidInput, ModelyardError
from modelyard.server.mlflow import _artifact_paths
from modelyard.server.mlflow._entities import run_location
from modelyard.store import Store, validation

_RUNS = "runs:/"
_MODELS = "models:/"
_PROXY = _artifact_paths.SCHEME + "/"


@dataclass(frozen=True)
class Checked:
    """An accepted source, with the run and logged model it implies (None when it implies none)."""

    run_id: str | None
    model_id: str | None


def _refuse(source: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"invalid model version source {source!r}: {why}; this server registers "
        "runs:/<run id>/..., models:/<model id> and mlflow-artifacts:/ sources it serves",
        field="source",
    )


def _run_part(source: str) -> tuple[uuid.UUID, str]:
    rest = source[len(_RUNS) :].lstrip("/")
    run_text, _, path = rest.partition("/")
    try:
        run_id = validation.check_uuid(run_text)
    except ModelyardError:
        raise _refuse(source, "no run id after runs:/") from None
    return run_id, path.strip("/")


def _model_part(source: str) -> str:
    model_id = source[len(_MODELS) :].strip("/")
    if not model_id.startswith("m-") or "/" in model_id:
        raise _refuse(source, "models:/ sources name a logged model, models:/m-<32 hex digits>")
    return model_id


async def check(store: Store, source: str, run_id: str | None) -> Checked:
    """``source`` checked against what the server holds; raises InvalidInput or NotFound."""
    owners = store.artifact_owners
    if source.startswith(_RUNS):
        run, _ = _run_part(source)
        await owners.run(run)
        return Checked(run_id=run.hex, model_id=None)
    if source.startswith(_MODELS):
        model = await owners.logged_model(_model_part(source))
        source_run = model.source_run_id.hex if model.source_run_id is not None else None
        return Checked(run_id=source_run, model_id=model.model_id)
    if source.startswith(_PROXY) and not source.startswith(_PROXY + "/"):
        try:
            proxied = _artifact_paths.parse(source[len(_PROXY) :])
        except ModelyardError:
            raise _refuse(source, "not a run's or a logged model's artifacts") from None
        located = await _artifact_paths.locate(store, proxied)
        return Checked(run_id=located.run_id.hex, model_id=proxied.model_id)
    if run_id is not None:
        owner = await owners.run(validation.check_uuid(run_id))
        recorded = owner.artifact_uri
        if recorded is not None and (source == recorded or source.startswith(recorded + "/")):
            return Checked(run_id=owner.run_id.hex, model_id=None)
    raise _refuse(source, "not a location this server serves")


async def download_uri(store: Store, source: str) -> str:
    """Where the client downloads a version's files; an unrecognised stored source as it is."""
    owners = store.artifact_owners
    if source.startswith(_RUNS):
        run_id, path = _run_part(source)
        run = await owners.run(run_id)
        root = run_location(run.experiment_id, run_id.hex, run.artifact_uri)
        return f"{root}/{path}" if path else root
    if source.startswith(_MODELS):
        model = await owners.logged_model(_model_part(source))
        return _artifact_paths.logged_model_uri(model.experiment_id, model.model_id)
    return source
