"""The wire protocol of MLflow's REST API, shared by every MLflow endpoint module.

MLflow's client sends a request message as a JSON body (POST, PATCH, DELETE) or, for GET, as the
query string with one key per field and a repeated key per list item (``run_ids=a&run_ids=b``).
Its JSON is protobuf's: 64-bit integers may arrive as strings (``"step": "3"``) and non-finite
doubles as ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``. :func:`parse` accepts all of that into
one msgspec ``Struct`` per request message, so a handler never looks at the transport.

Answers are JSON objects with MLflow's field names; :func:`wire_float` writes non-finite doubles
the way protobuf does, and :func:`reply` sends the object.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelyard.auth.access import Access, protect
from modelyard.errors import InvalidInput, MalformedRequest
from modelyard.server.responses import JSON, read_body
from modelyard.store import Store

T = TypeVar("T", bound=msgspec.Struct)
Handler = Callable[[Request], Awaitable[Response]]

_LIST_TYPES = (msgspec.inspect.ListType, msgspec.inspect.SetType, msgspec.inspect.TupleType)


def endpoint(method: str, path: str, handler: Handler, level: Access) -> Route:
    """One MLflow endpoint: ``path`` is relative to the API prefix (``/api/2.0/mlflow``), and
    ``level`` is the permission it needs (the guard refuses everyone else)."""
    route = Route(path, handler, methods=[method], name=f"mlflow {method} {path}")
    return protect(route, level)


def store(request: Request) -> Store:
    """The app's store (opened by the lifespan)."""
    opened: Store = request.app.state.store
    return opened


async def parse(request: Request, message: type[T]) -> T:
    """The request message: from the query string for GET, else from the JSON body."""
    if request.method in ("GET", "HEAD"):
        data: object = query_fields(request, message)
    else:
        data = await _json_body(request)
    try:
        return msgspec.convert(data, message, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidInput(_explain(exc), field=_field_of(exc)) from None


def query_fields(request: Request, message: type[msgspec.Struct]) -> dict[str, Any]:
    """The query string as a dict: a list field takes every value of its repeated key."""
    info = msgspec.inspect.type_info(message)
    assert isinstance(info, msgspec.inspect.StructType)
    params = request.query_params
    found: dict[str, Any] = {}
    for field in info.fields:
        if field.encode_name not in params:
            continue
        if _is_list(field.type):
            found[field.encode_name] = params.getlist(field.encode_name)
        else:
            found[field.encode_name] = params[field.encode_name]
    return found


def require(value: T | Any, name: str) -> Any:
    """``value``, or MLflow's error for a missing required parameter when it is empty."""
    if value is None or value == "":
        raise InvalidInput(
            f"Missing value for required parameter '{name}'. See the API docs for more "
            "information about request parameters.",
            field=name,
        )
    return value


def wire_float(value: float) -> float | str:
    """A double as protobuf's JSON writes it: non-finite values as strings."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def reply(payload: dict[str, Any] | msgspec.Struct | None = None) -> Response:
    """A 200 answer; MLflow answers writes that return nothing with ``{}``."""
    return JSON({} if payload is None else payload)


def _is_list(info: msgspec.inspect.Type) -> bool:
    if isinstance(info, msgspec.inspect.UnionType):
        return any(_is_list(member) for member in info.types)
    return isinstance(info, _LIST_TYPES)


async def _json_body(request: Request) -> object:
    try:
        body = await read_body(request)
    except MalformedRequest:
        return {}  # an empty body is an empty message (every field at its default)
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise MalformedRequest(f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedRequest("the request body must be a JSON object")
    return data


def _explain(exc: msgspec.ValidationError) -> str:
    text = str(exc)
    if text.startswith("Object missing required field"):
        name = text.split("`")[1] if "`" in text else "?"
        return (
            f"Missing value for required parameter '{name}'. See the API docs for more "
            "information about request parameters."
        )
    return f"Invalid value in request: {text}"


def _field_of(exc: msgspec.ValidationError) -> str | None:
    text = str(exc)
    if " - at `$." in text:
        return text.rsplit("`$.", 1)[1].rstrip("`")
    if text.startswith("Object missing required field") and "`" in text:
        return text.split("`")[1]
    return None
