"""The MLflow API's protocol: both prefixes, the error shape, GET parameters, unknown endpoints."""

from __future__ import annotations

import httpx
import pytest

from modelyard import errors
from modelyard.server.mlflow._errors import HTTP_STATUS, mlflow_code

pytestmark = pytest.mark.anyio

V2 = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")


def assert_mlflow_error(response: httpx.Response, code: str, status: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message"}
    assert body["error_code"] == code
    assert isinstance(body["message"], str) and body["message"]


@pytest.mark.parametrize("prefix", V2)
async def test_default_experiment_zero_exists(client: httpx.AsyncClient, prefix: str) -> None:
    response = await client.get(f"{prefix}/experiments/get", params={"experiment_id": "0"})
    assert response.status_code == 200, response.text
    experiment = response.json()["experiment"]
    assert experiment["experiment_id"] == "0"
    assert experiment["name"] == "Default"
    assert experiment["lifecycle_stage"] == "active"


@pytest.mark.parametrize("prefix", V2)
async def test_create_then_get_by_id_and_name(client: httpx.AsyncClient, prefix: str) -> None:
    created = await client.post(
        f"{prefix}/experiments/create",
        json={"name": "exp-a", "tags": [{"key": "team", "value": "vision"}]},
    )
    assert created.status_code == 200, created.text
    experiment_id = created.json()["experiment_id"]
    assert isinstance(experiment_id, str) and experiment_id.isdigit()
    by_id = (await client.get(f"{prefix}/experiments/get?experiment_id={experiment_id}")).json()
    by_name = (
        await client.get(f"{prefix}/experiments/get-by-name", params={"experiment_name": "exp-a"})
    ).json()
    assert by_id == by_name
    experiment = by_id["experiment"]
    assert experiment["name"] == "exp-a"
    assert experiment["tags"] == [{"key": "team", "value": "vision"}]
    assert experiment["artifact_location"] == f"mlflow-artifacts:/{experiment_id}"
    assert isinstance(experiment["creation_time"], int)
    assert isinstance(experiment["last_update_time"], int)


async def test_experiment_description_is_mlflow_note_tag(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/2.0/mlflow/experiments/create",
        json={"name": "noted", "tags": [{"key": "mlflow.note.content", "value": "hello"}]},
    )
    experiment_id = created.json()["experiment_id"]
    ours = (await client.get(f"/api/v1/experiments/{experiment_id}")).json()
    assert ours["description"] == "hello"
    theirs = await client.get(
        "/api/2.0/mlflow/experiments/get", params={"experiment_id": experiment_id}
    )
    assert {"key": "mlflow.note.content", "value": "hello"} in theirs.json()["experiment"]["tags"]


async def test_taken_name_is_resource_already_exists(client: httpx.AsyncClient) -> None:
    await client.post("/api/2.0/mlflow/experiments/create", json={"name": "twice"})
    again = await client.post("/api/2.0/mlflow/experiments/create", json={"name": "twice"})
    assert_mlflow_error(again, "RESOURCE_ALREADY_EXISTS", 400)


async def test_missing_experiment_is_resource_does_not_exist(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": "99"})
    assert_mlflow_error(response, "RESOURCE_DOES_NOT_EXIST", 404)
    by_name = await client.get(
        "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": "nope"}
    )
    assert_mlflow_error(by_name, "RESOURCE_DOES_NOT_EXIST", 404)


async def test_missing_required_parameter(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/2.0/mlflow/experiments/get")
    assert_mlflow_error(response, "INVALID_PARAMETER_VALUE", 400)
    assert "experiment_id" in response.json()["message"]
    empty = await client.post("/api/2.0/mlflow/experiments/create", content=b"")
    assert_mlflow_error(empty, "INVALID_PARAMETER_VALUE", 400)


async def test_bad_values_are_invalid_parameter_value(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": "abc"})
    assert_mlflow_error(response, "INVALID_PARAMETER_VALUE", 400)
    wrong_type = await client.post("/api/2.0/mlflow/experiments/create", json={"name": 12})
    assert_mlflow_error(wrong_type, "INVALID_PARAMETER_VALUE", 400)


async def test_malformed_json_is_malformed_request(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/2.0/mlflow/experiments/create", content=b"{nope")
    assert_mlflow_error(response, "MALFORMED_REQUEST", 400)
    not_object = await client.post("/api/2.0/mlflow/experiments/create", content=b"[1]")
    assert_mlflow_error(not_object, "MALFORMED_REQUEST", 400)


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/api/2.0/mlflow/no-such-endpoint"),
        ("POST", "/api/2.0/mlflow/experiments/get"),  # a known path with another method
        ("POST", "/api/2.0/mlflow/traces"),
        ("GET", "/api/3.0/mlflow/traces/abc"),
        ("POST", "/ajax-api/2.0/mlflow/gateway-proxy"),
        ("POST", "/graphql"),
        ("POST", "/ajax-api/graphql"),
        ("GET", "/api/2.0/gateway/routes"),
    ],
)
async def test_unknown_and_out_of_scope_endpoints(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path)
    assert_mlflow_error(response, "ENDPOINT_NOT_FOUND", 404)


async def test_our_api_keeps_its_own_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/experiments/99")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.parametrize(
    "exc, code",
    [
        (errors.InvalidInput("x"), "INVALID_PARAMETER_VALUE"),
        (errors.FilterSyntaxError("x", position=1, text="t"), "INVALID_PARAMETER_VALUE"),
        (errors.MalformedRequest("x"), "MALFORMED_REQUEST"),
        (errors.NotFound("x"), "RESOURCE_DOES_NOT_EXIST"),
        (errors.AlreadyExists("x"), "RESOURCE_ALREADY_EXISTS"),
        (errors.ParamConflict("x"), "INVALID_PARAMETER_VALUE"),
        (errors.InvalidState("x"), "INVALID_PARAMETER_VALUE"),
        (errors.Unauthenticated("x"), "UNAUTHENTICATED"),
        (errors.PermissionDenied("x"), "PERMISSION_DENIED"),
        (errors.DatabaseUnavailable("x"), "TEMPORARILY_UNAVAILABLE"),
        (errors.ArtifactCorrupted("x"), "DATA_LOSS"),
        (errors.BackupError("x"), "INTERNAL_ERROR"),
    ],
)
def test_every_error_class_maps_to_an_mlflow_code(exc: errors.ModelyardError, code: str) -> None:
    assert mlflow_code(exc) == code
    assert code in HTTP_STATUS


@pytest.mark.parametrize("location", ["/etc", "file:///tmp/elsewhere", "s3://b/\x01x", "../up"])
async def test_a_client_artifact_location_outside_the_store_is_refused(
    client: httpx.AsyncClient, location: str
) -> None:
    # As in /api/v1: the server owns artifact locations, so MLflow's create cannot plant one.
    created = await client.post(
        "/api/2.0/mlflow/experiments/create",
        json={"name": "planted", "artifact_location": location},
    )
    assert created.status_code == 400, created.text
    assert created.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    found = await client.get(
        "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": "planted"}
    )
    assert found.status_code == 404
