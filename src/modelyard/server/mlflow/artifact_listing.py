"""MLflow's ``artifacts/list``: a run's artifact directory, from our artifact store.

Paths are relative to the run's artifact root, as MLflow gives them (``dir/file.txt``), with the
run's ``artifact_uri`` as ``root_uri``. A directory that does not exist lists as empty, as it does
in MLflow; a run that does not exist is RESOURCE_DOES_NOT_EXIST.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from modelyard.artifacts.store import ArtifactStore
from modelyard.auth.access import Access
from modelyard.errors import NotFound
from modelyard.server.mlflow import _entities
from modelyard.server.mlflow._protocol import endpoint, parse, reply, require, store
from modelyard.store import validation


class ListArtifacts(msgspec.Struct):
    run_id: str | None = None
    run_uuid: str | None = None
    path: str | None = None
    page_token: str | None = None


async def list_artifacts(request: Request) -> Response:
    message = await parse(request, ListArtifacts)
    run_id = validation.check_uuid(require(message.run_id or message.run_uuid, "run_id"))
    run = await store(request).runs.get(run_id)
    artifacts: ArtifactStore = request.app.state.artifacts
    directory = (message.path or "").strip("/")
    try:
        entries = await artifacts.list_dir(run_id, directory)
    except NotFound:
        entries = []  # the run exists (above): the directory does not, or is a file
    files: list[dict[str, Any]] = []
    for entry in entries:
        info: dict[str, Any] = {"path": entry.path, "is_dir": entry.is_dir}
        if entry.size is not None:
            info["file_size"] = entry.size
        files.append(info)
    root = _entities.run_location(run.experiment_id, run.run_id, run.artifact_uri)
    return reply({"root_uri": root, "files": files})


routes = [endpoint("GET", "/artifacts/list", list_artifacts, Access.READ)]
