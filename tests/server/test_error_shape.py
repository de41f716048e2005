"""The one JSON error shape, pinned: every error response looks like this."""

from __future__ import annotations

import httpx
import pytest

from modelyard import errors


def assert_error_shape(body: object, code: str) -> None:
    assert isinstance(body, dict)
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)


@pytest.mark.anyio
async def test_unknown_route_is_a_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert_error_shape(response.json(), "NOT_FOUND")


@pytest.mark.anyio
async def test_wrong_method_is_a_json_405(client: httpx.AsyncClient) -> None:
    response = await client.post("/health")
    assert response.status_code == 405
    assert_error_shape(response.json(), "METHOD_NOT_ALLOWED")


def test_error_round_trips_through_the_shape() -> None:
    original = errors.FilterSyntaxError("expected a value", position=7, text="a < ")
    rebuilt = errors.error_from_dict(original.to_dict())
    assert type(rebuilt) is errors.FilterSyntaxError
    assert rebuilt.message == "expected a value"
    assert isinstance(rebuilt, errors.FilterSyntaxError) and rebuilt.position == 7


def test_unknown_code_becomes_the_base_class() -> None:
    rebuilt = errors.error_from_dict({"error": {"code": "NEW_CODE", "message": "m"}})
    assert type(rebuilt) is errors.ModelyardError
    assert rebuilt.message == "m"


def test_each_code_is_unique() -> None:
    seen: dict[str, type] = {}
    stack = [errors.ModelyardError]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if "code" not in cls.__dict__:
            continue  # inherits its parent's code on purpose (a finer Python type only)
        assert cls.code not in seen, f"{cls.__name__} reuses {cls.code} of {seen.get(cls.code)}"
        seen[cls.code] = cls
