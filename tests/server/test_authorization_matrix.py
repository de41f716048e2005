"""The authorization matrix: every operation of every mounted route x every kind of caller.

The operations are enumerated from the router (through every mount), not from the OpenAPI
document, so a route added anywhere is in the matrix the moment it is mounted. Each caller gets
the status its column says: 401 without valid credentials (none, garbage, expired, revoked),
403 for a role below what the route declares or a workspace the caller is no member of, and an
answer from the handler itself (neither 401 nor 403) when allowed. Path parameters are filled
with values that name nothing, so an allowed request reaches its handler and ends in a 404 or
400 without changing anything.

``test_another_workspaces_objects_are_404`` is the column "another workspace's token": a member
of workspace ``other`` asks, in its own workspace, for the real objects of ``default``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from auth_support import bearer

from modelyard.auth.access import Access
from modelyard.server import create_app
from modelyard.server.guard import is_ui_path, leaf_routes
from modelyard.server.ui import _csrf
from modelyard.settings import Settings

pytestmark = pytest.mark.anyio

UI_SECRET = b"matrix-test-ui-secret-0123456789"
NONCE = "matrix-nonce-0123456789abcdef"

# Values for path parameters that name no object (an allowed request ends in its handler).
NOTHING = {
    "experiment_id": "987654",
    "run_id": "0" * 32,
    "model_id": "m-" + "0" * 32,
    "name": "no-such-thing",
    "key": "k",
    "path": "a.txt",
    "alias": "champion",
    "version": "9999",
    "digest": "0" * 64,
    "webhook_id": "987654",
    "delivery_id": "987654",
    "rest": "x",
    "tag_key": "k",
    "upload_id": "no-such-upload",
    "part_number": "1",
    "workspace": "no-such-workspace",
    "user": "no-such-user",
    "token_id": "0123456789ab",
    "workspace_name": "no-such-workspace",
}

# The columns: who asks (the `people` fixture's token, a literal header, or nothing) and, for
# the outsider, the workspace named.
COLUMNS = {
    "no token": None,
    "bad token": "Bearer myd_" + "0" * 12 + "_" + "0" * 64,
    "expired": "expired",
    "revoked": "revoked",
    "outsider": "olga",
    "reader": "rita",
    "editor": "ed",
    "workspace admin": "ada",
    "server admin": "root",
}
UNAUTHENTICATED = ("no token", "bad token", "expired", "revoked")
# The lowest column each level lets in, in the order of COLUMNS' roles.
ROLE_ORDER = ("reader", "editor", "workspace admin", "server admin")
LOWEST = {
    Access.READ: "reader",
    Access.WRITE: "editor",
    Access.MANAGE: "workspace admin",
    Access.SERVER_ADMIN: "server admin",
}

_PARAM = re.compile(r"{([a-z_]+)(?::[a-z]+)?}")


@dataclasses.dataclass(frozen=True)
class Operation:
    method: str
    path: str
    template: str
    level: Access


def operations() -> list[Operation]:
    """One operation per route and method (HEAD is GET's twin), with its path filled in."""
    app = create_app(Settings(database_url="unused"), "unused")
    found = []
    for leaf in leaf_routes(app.router.routes):
        assert leaf.access is not None, leaf.path  # test_routes_declared says why
        path = _PARAM.sub(lambda m: NOTHING[m.group(1)], leaf.path)
        if leaf.methods is None:  # a mounted app (static files): whatever lies under it
            path += "/nothing.css"
        for method in sorted((leaf.methods or {"GET"}) - {"HEAD"}):
            found.append(Operation(method, path, leaf.path, leaf.access))
    return found


OPERATIONS = operations()


def expected(column: str, level: Access) -> int | None:
    """401, 403, or None: the handler answers."""
    if level in (Access.PUBLIC, Access.METRICS):  # /metrics: open unless --metrics-auth
        return None
    if column in UNAUTHENTICATED:
        return 401
    if level is Access.AUTHENTICATED:
        return None
    if column == "outsider":
        return 403
    lowest = LOWEST[level]
    return None if ROLE_ORDER.index(column) >= ROLE_ORDER.index(lowest) else 403


def headers_for(column: str, people: dict[str, str]) -> dict[str, str]:
    who = COLUMNS[column]
    headers = {"cookie": f"{_csrf.COOKIE}={NONCE}"}
    if who is None:
        return headers
    headers["authorization"] = who if who.startswith("Bearer ") else f"Bearer {people[who]}"
    if column == "outsider":  # a member of "other" only, asking for default
        headers["x-modelyard-workspace"] = "default"
    return headers


def body_for(operation: Operation) -> dict[str, Any]:
    if operation.method in ("GET", "DELETE", "OPTIONS"):
        return {}
    if operation.path.startswith("/ui/"):  # the UI's forms, with a valid CSRF token
        token = hmac.new(UI_SECRET, NONCE.encode(), hashlib.sha256).hexdigest()
        return {"data": {_csrf.FIELD: token}}
    return {"json": {}}


@pytest.fixture
async def matrix_api(runtime_url: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(dataclasses.replace(settings, auth=True, ui_secret=UI_SECRET), runtime_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://modelyard") as c:
            yield c


def test_the_matrix_covers_every_level_and_many_routes() -> None:
    assert len(OPERATIONS) > 250
    assert {op.level for op in OPERATIONS} == set(Access)


@pytest.mark.parametrize("column", list(COLUMNS))
async def test_every_operation_answers_each_caller_as_its_column_says(
    matrix_api: httpx.AsyncClient, people: dict[str, str], column: str
) -> None:
    headers = headers_for(column, people)
    wrong = []
    for op in OPERATIONS:
        response = await matrix_api.request(op.method, op.path, headers=headers, **body_for(op))
        want = expected(column, op.level)
        # A browser without a session is sent to the login page instead of a bare 401.
        to_login = want == 401 and is_ui_path(op.path)
        if to_login:
            want = 303
        got = response.status_code
        if want is None and got in (401, 403):
            wrong.append(f"{op.method} {op.template} ({op.level.value}): {got}, expected allowed")
        elif want is not None and got != want:
            wrong.append(f"{op.method} {op.template} ({op.level.value}): {got}, expected {want}")
        elif to_login:
            assert response.headers["location"].startswith("/ui/login?next="), op
        elif want == 401:
            assert response.headers["www-authenticate"].startswith("Bearer"), op
    assert not wrong, f"{len(wrong)} wrong answers for {column}:\n" + "\n".join(wrong)


async def _objects_of_default(api: httpx.AsyncClient, root: dict[str, str]) -> dict[str, str]:
    """Real objects in workspace default, as the values of the path parameters naming them."""

    async def made(method: str, path: str, **kwargs: Any) -> Any:
        response = await api.request(method, path, headers=root, **kwargs)
        assert response.status_code in (200, 201), (path, response.text)
        return response.json()

    experiment = await made("POST", "/api/v1/experiments", json={"name": "shared"})
    experiment_id = str(experiment["experiment_id"])
    run = await made("POST", "/api/v1/runs", json={"experiment_id": experiment["experiment_id"]})
    run_id = run["run_id"]
    await made("PUT", f"/api/v1/runs/{run_id}/artifacts/a.txt", content=b"secret")
    await made("POST", "/api/v1/models", json={"name": "shared"})
    source = f"runs:/{run_id}/model"
    await made("POST", "/api/v1/models/shared/versions", json={"source": source})
    await made("PUT", "/api/v1/models/shared/aliases/champion", json={"version": 1})
    logged = await made(
        "POST",
        "/api/v1/logged-models",
        json={"experiment_id": experiment["experiment_id"], "name": "m"},
    )
    return {
        **NOTHING,
        "experiment_id": experiment_id,
        "run_id": run_id,
        "name": "shared",
        "version": "1",
        "alias": "champion",
        "model_id": logged["model_id"],
        "path": "a.txt",
    }


# The same objects through the MLflow API, which names them in the query string.
MLFLOW_GETS = (
    "/api/2.0/mlflow/experiments/get?experiment_id={experiment_id}",
    "/api/2.0/mlflow/experiments/get-by-name?experiment_name={name}",
    "/api/2.0/mlflow/runs/get?run_id={run_id}",
    "/api/2.0/mlflow/registered-models/get?name={name}",
    "/api/2.0/mlflow/model-versions/get?name={name}&version={version}",
    "/api/2.0/mlflow/registered-models/alias?name={name}&alias={alias}",
    "/api/2.0/mlflow/logged-models/{model_id}",
)


async def test_another_workspaces_objects_are_404(
    matrix_api: httpx.AsyncClient, people: dict[str, str]
) -> None:
    root = bearer(people["root"])
    real = await _objects_of_default(matrix_api, root)
    # olga is an admin of "other" and asks in her own workspace: every role there is hers.
    olga = {**bearer(people["olga"]), "x-modelyard-workspace": "other"}
    asked = [
        (op.method, _PARAM.sub(lambda m: real[m.group(1)], op.template))
        for op in OPERATIONS
        if _PARAM.search(op.template)
        and {m.group(1) for m in _PARAM.finditer(op.template)}
        <= {"experiment_id", "run_id", "name", "version", "alias", "model_id", "path"}
        and (op.method == "GET" or (op.method == "DELETE" and "tags" not in op.path))
        and op.level is not Access.PUBLIC
        # The artifact proxy's paths are not object ids; the UI's file views take ?path=.
        and "mlflow-artifacts" not in op.template
        and not op.template.endswith("/raw")  # images only; view and download are the same
    ]
    asked = [(m, p + "?path=a.txt" if "/ui/runs/" in p else p) for m, p in asked]
    asked += [("GET", path.format(**real)) for path in MLFLOW_GETS]
    # Reads first, so a write that got through cannot hide a read that would have.
    asked.sort(key=lambda pair: pair[0] != "GET")
    wrong = []
    for method, path in asked:
        response = await matrix_api.request(method, path, headers=olga)
        if response.status_code != 404:
            wrong.append(f"{method} {path}: {response.status_code}")
    # And nothing of default's was changed through another workspace.
    for path in (
        f"/api/v1/experiments/{real['experiment_id']}",
        f"/api/v1/runs/{real['run_id']}",
        "/api/v1/models/shared/versions/1",
    ):
        response = await matrix_api.get(path, headers=root)
        if response.status_code != 200 or response.json().get("lifecycle_stage") == "deleted":
            wrong.append(f"{path} was changed through workspace other: {response.text}")
    assert not wrong, f"{len(wrong)} of {len(asked)} answered:\n" + "\n".join(wrong)
