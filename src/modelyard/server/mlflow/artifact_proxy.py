"""MLflow's artifact proxy, ``/api/2.0/mlflow-artifacts/artifacts/...``, over our artifact store.

Experiments default to ``mlflow-artifacts:/<experiment id>``, so the mlflow client uploads and
downloads through these routes: PUT streams the body into the store (bounded memory, dedup by
content), GET streams a verified file back (``Range`` honoured), DELETE removes a file or a
directory, and the listing answers MLflow's ``FileInfo`` list with names relative to the listed
directory. Paths map to runs and logged models as ``_artifact_paths`` says; the multipart
endpoints are in ``multipart``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from modelyard.artifacts.store import ArtifactStore
from modelyard.auth.access import Access
from modelyard.errors import NotFound
from modelyard.server import artifact_bodies
from modelyard.server.mlflow import _artifact_paths
from modelyard.server.mlflow._protocol import endpoint, reply, store

READ, WRITE = Access.READ, Access.WRITE


def artifact_store(request: Request) -> ArtifactStore:
    found: ArtifactStore = request.app.state.artifacts
    return found


async def located(request: Request, raw: str) -> _artifact_paths.Located:
    return await _artifact_paths.locate(store(request), _artifact_paths.parse(raw))


async def upload(request: Request) -> Response:
    target = await located(request, request.path_params["path"])
    await artifact_bodies.receive(request, artifact_store(request), target.run_id, target.path)
    return reply()


async def download(request: Request) -> Response:
    target = await located(request, request.path_params["path"])
    return await artifact_bodies.send(request, artifact_store(request), target.run_id, target.path)


async def delete(request: Request) -> Response:
    target = await located(request, request.path_params["path"])
    await artifact_store(request).delete(target.run_id, target.path)
    return reply()


async def list_artifacts(request: Request) -> Response:
    """MLflow's listing: the children of ``path``; a file or a missing directory lists nothing."""
    target = await located(request, request.query_params.get("path", ""))
    try:
        entries = await artifact_store(request).list_dir(target.run_id, target.path)
    except NotFound:
        entries = []  # the owner exists (located checked it); MLflow lists nothing here
    files: list[dict[str, Any]] = []
    for entry in entries:
        info: dict[str, Any] = {"path": entry.name, "is_dir": entry.is_dir}
        if entry.size is not None:
            info["file_size"] = entry.size
        files.append(info)
    return reply({"files": files} if files else {})


routes = [
    endpoint("GET", "/artifacts", list_artifacts, READ),
    endpoint("PUT", "/artifacts/{path:path}", upload, WRITE),
    endpoint("GET", "/artifacts/{path:path}", download, READ),
    endpoint("DELETE", "/artifacts/{path:path}", delete, WRITE),
]
