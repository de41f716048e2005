"""MLflow 3's workspace endpoints (``/api/3.0/mlflow/workspaces``), over our workspaces.

The mlflow client (``mlflow.set_workspace`` or ``MLFLOW_WORKSPACE``) first asks ``server-info``
whether workspaces are enabled, then sends ``X-MLFLOW-WORKSPACE`` on every request but these,
which name the workspace in the path; the guard reads that header like ours. Listing shows the
workspaces the caller may enter; one it may not enter is a 404, like one that does not exist.
Creating needs a server admin; descriptions and per-workspace artifact roots are not kept.
"""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from modelyard.auth import caller as caller_context
from modelyard.auth.access import Access
from modelyard.auth.caller import Caller, anonymous
from modelyard.auth.credentials import Identities
from modelyard.errors import NotFound
from modelyard.server.mlflow._protocol import endpoint, parse, reply
from modelyard.server.responses import JSON


class CreateWorkspace(msgspec.Struct):
    name: str
    description: str | None = None
    default_artifact_root: str | None = None


def _identities(request: Request) -> Identities:
    found: Identities = request.app.state.identities
    return found


def _caller() -> Caller:
    return caller_context.current() or anonymous()


def _workspace(name: str) -> dict[str, str]:
    return {"name": name}


async def list_workspaces(request: Request) -> Response:
    names = await _identities(request).visible_workspaces(_caller())
    return reply({"workspaces": [_workspace(name) for name in names]})


async def get_workspace(request: Request) -> Response:
    name = str(request.path_params["workspace_name"])
    if name not in await _identities(request).visible_workspaces(_caller()):
        raise NotFound(f"workspace {name} does not exist")
    return reply({"workspace": _workspace(name)})


async def create_workspace(request: Request) -> Response:
    body = await parse(request, CreateWorkspace)
    await _identities(request).create_workspace(body.name)
    return JSON({"workspace": _workspace(body.name)}, status_code=201)


routes = [
    endpoint("GET", "/workspaces", list_workspaces, Access.AUTHENTICATED),
    endpoint("POST", "/workspaces", create_workspace, Access.SERVER_ADMIN),
    endpoint("GET", "/workspaces/{workspace_name}", get_workspace, Access.AUTHENTICATED),
]
