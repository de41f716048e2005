"""Where a path of MLflow's artifact proxy lives in our artifact store.

The client addresses artifacts under an experiment's ``mlflow-artifacts:/<experiment id>``
location in MLflow's layout, and only two shapes of path are ours to serve:

* ``<experiment id>/<run id>/artifacts/<path>``: the run's artifact ``<path>``;
* ``<experiment id>/models/<model id>/artifacts/<path>``: the file ``<path>`` of a logged model,
  kept among its source run's artifacts below the model's directory (``models/<model id>``),
  where our own API and ``modelyard models download`` find it too.

Anything else (another layout, an unknown run, a run of another experiment) is refused: the
proxy never turns a request path into a location of its own choosing.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from modelyard.artifacts import paths
from modelyard.errors import InvalidArtifactPath, InvalidState, NotFound
from modelyard.store import Store

SCHEME = "mlflow-artifacts:"
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_EXPERIMENT_ID = re.compile(r"^[0-9]{1,19}$")


@dataclass(frozen=True)
class Proxied:
    """A parsed proxy path: whose artifacts, and the path below their root (``""``: the root)."""

    experiment_id: int
    run_id: uuid.UUID | None
    model_id: str | None
    rest: str

    @property
    def root(self) -> str:
        owner = self.run_id.hex if self.run_id is not None else f"models/{self.model_id}"
        return f"{self.experiment_id}/{owner}/artifacts"


@dataclass(frozen=True)
class Located:
    """A proxy path resolved to a run's artifact path."""

    run_id: uuid.UUID
    path: str


def _refuse(path: str) -> InvalidArtifactPath:
    return InvalidArtifactPath(
        f"{path!r} is not an artifact path of this server: expected "
        "<experiment id>/<run id>/artifacts/... or <experiment id>/models/<model id>/artifacts/...",
        path=path,
    )


def parse(path: str) -> Proxied:
    """The owner and inner path of ``path``; InvalidArtifactPath for any other shape."""
    clean = paths.check_directory(path.strip("/") if isinstance(path, str) else path)
    parts = clean.split("/") if clean else []
    if len(parts) >= 3 and _EXPERIMENT_ID.match(parts[0]) and _RUN_ID.match(parts[1]):
        if parts[2] == "artifacts":
            return Proxied(int(parts[0]), uuid.UUID(parts[1]), None, "/".join(parts[3:]))
    if len(parts) >= 4 and _EXPERIMENT_ID.match(parts[0]) and parts[1] == "models":
        if parts[3] == "artifacts" and re.match(r"^m-[0-9a-f]{32}$", parts[2]):
            return Proxied(int(parts[0]), None, parts[2], "/".join(parts[4:]))
    raise _refuse(path)


async def locate(store: Store, proxied: Proxied) -> Located:
    """The run and run path holding ``proxied``; NotFound when its owner is not where it says."""
    owners = store.artifact_owners
    if proxied.run_id is not None:
        run = await owners.run(proxied.run_id)
        if run.experiment_id != proxied.experiment_id:
            raise NotFound(
                f"run {run.run_id.hex} is not in experiment {proxied.experiment_id}",
                run_id=run.run_id.hex,
            )
        return Located(run.run_id, proxied.rest)
    assert proxied.model_id is not None
    model = await owners.logged_model(proxied.model_id)
    if model.experiment_id != proxied.experiment_id or not model.active:
        raise NotFound(
            f"logged model {model.model_id} is not in experiment {proxied.experiment_id}",
            model_id=model.model_id,
        )
    if model.source_run_id is None:
        raise InvalidState(
            f"logged model {model.model_id} has no source run, and this server keeps a model's "
            "files among its source run's artifacts; log the model from a run",
            model_id=model.model_id,
        )
    inner = f"{model.artifact_path}/{proxied.rest}" if proxied.rest else model.artifact_path
    return Located(model.source_run_id, inner)


def experiment_uri(experiment_id: int) -> str:
    return f"{SCHEME}/{experiment_id}"


def logged_model_uri(experiment_id: int, model_id: str) -> str:
    """A logged model's ``artifact_uri`` as MLflow writes it."""
    return f"{experiment_uri(experiment_id)}/models/{model_id}/artifacts"
