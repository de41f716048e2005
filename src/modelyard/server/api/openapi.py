"""``GET /openapi.json``: an OpenAPI 3.1 document built from the route table and msgspec structs.

Nothing here is written by hand per endpoint: paths, methods, parameters, bodies and statuses come
from each :class:`ApiRoute`'s spec, and the schemas from ``msgspec.json.schema_components`` over
the same structs the handlers decode and encode. A route missing from the document is a bug that
``tests/server/api/test_openapi.py`` catches.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata
from typing import Any

import msgspec
import msgspec.inspect
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount

from modelyard import limits
from modelyard.artifacts.location import DEFAULT_STORE_URL
from modelyard.artifacts.paths import ARTIFACT_PATH_SCHEMA
from modelyard.auth.access import Access, access
from modelyard.server.api._nonfinite import WireFloat
from modelyard.server.api._routing import ApiRoute
from modelyard.server.api.artifacts import artifacts
from modelyard.server.api.schemas import ErrorResponse
from modelyard.server.responses import JSON
from modelyard.store.dataset_records import JSON_VALUE_REF

API_PREFIX = "/api/v1"
_REF = "#/components/schemas/{name}"
# The rules of path parameters, by name, from the definitions the handlers check them with; a
# route states its own where a name means something else (ApiRoute's path_schemas).
_PATH_SCHEMAS: dict[str, dict[str, Any]] = {
    "experiment_id": {"type": "integer", "minimum": 0, "maximum": limits.MAX_INT64},
    "version": {"type": "integer", "minimum": 1, "maximum": limits.MAX_VERSION},
    "run_id": limits.UUID_SCHEMA,
    "webhook_id": limits.UUID_SCHEMA,
    "delivery_id": limits.UUID_SCHEMA,
    "name": limits.NAME_SCHEMA,
    "key": limits.KEY_SCHEMA,
    "alias": limits.ALIAS_SCHEMA,
    "path": ARTIFACT_PATH_SCHEMA,
    "model_id": {"type": "string", "pattern": "^m-[0-9a-f]{32}$"},
}
_ERROR_STATUSES = {
    "400": "Invalid input: malformed JSON, wrong types, a bad parameter or filter",
    "404": "A referenced object does not exist",
    "409": "Conflict: a name is taken, a value contradicts a stored one, or a wrong state",
    "500": "Internal error",
    "503": "The database is unavailable or its schema is outdated",
}


def _version() -> str:
    try:
        return metadata.version("modelyard")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0+source"


def api_route_list(routes: Sequence[BaseRoute]) -> list[ApiRoute]:
    """The ApiRoutes under the ``/api/v1`` mount of an app's route list."""
    for route in routes:
        if isinstance(route, Mount) and route.path == API_PREFIX:
            return [r for r in route.routes if isinstance(r, ApiRoute)]
    return []


def build_document(
    routes: Sequence[ApiRoute], store_url: str = DEFAULT_STORE_URL
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes`` (mounted under ``/api/v1``) for a server whose
    artifact store is ``store_url`` (which decides the locations a client may name)."""
    types: list[Any] = [ErrorResponse]
    for route in routes:
        types.extend(t for t in (route.spec.body, route.spec.response) if t is not None)
    unique = list(dict.fromkeys(types))
    refs, components = msgspec.json.schema_components(unique, ref_template=_REF)
    schema_of = dict(zip(unique, refs, strict=True))
    for type_ in unique:
        component = components.get(schema_of[type_].get("$ref", "").rsplit("/", 1)[-1])
        rules = getattr(type_, "json_schema_rules", None)
        if rules and component is not None:
            component.update(rules)
        for name, schema in getattr(type_, "store_fields", {}).items():
            if component is not None:
                component["properties"][name] = schema(store_url)
    for cls in _structs(unique):  # nested records too, e.g. a Run's latest metrics
        fields = getattr(cls, "wire_float_fields", ())
        named = components.get(cls.__name__) or components.get(
            f"{cls.__module__}.{cls.__qualname__}"
        )
        if named is not None:
            for name in fields:
                named["properties"][name] = msgspec.json.schema(WireFloat)
    components["JsonValue"] = _json_value_schema()
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        item = paths.setdefault(API_PREFIX + route.template, {})
        item[route.spec.method.lower()] = _operation(route, schema_of)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "modelyard API",
            "version": _version(),
            "description": "Experiment tracking and model registry on PostgreSQL; see docs/api.md.",
        },
        "paths": paths,
        "components": {"schemas": components},
    }


def _structs(types: Sequence[Any]) -> list[type]:
    """Every Struct class reachable from ``types`` (fields, containers, unions), once each."""
    found: dict[type, None] = {}
    pending: list[msgspec.inspect.Type] = list(msgspec.inspect.multi_type_info(types))
    while pending:
        info = pending.pop()
        if isinstance(info, msgspec.inspect.StructType):
            if info.cls in found:
                continue
            found[info.cls] = None
            pending.extend(f.type for f in info.fields)
        elif isinstance(info, msgspec.inspect.UnionType):
            pending.extend(info.types)
        elif isinstance(info, msgspec.inspect.DictType):
            pending.extend((info.key_type, info.value_type))
        elif isinstance(
            info,
            (
                msgspec.inspect.ListType,
                msgspec.inspect.SetType,
                msgspec.inspect.FrozenSetType,
                msgspec.inspect.VarTupleType,
            ),
        ):
            pending.append(info.item_type)
        elif isinstance(info, msgspec.inspect.TupleType):
            pending.extend(info.item_types)
        elif isinstance(info, msgspec.inspect.Metadata):
            pending.append(info.type)
    return list(found)


def _json_value_schema() -> dict[str, Any]:
    """Any JSON value whose strings and keys hold no NUL (json_text in dataset_records)."""
    text = {"type": "string", "pattern": limits.TEXT_PATTERN}
    return {
        "anyOf": [
            text,
            {"type": ["number", "boolean", "null"]},
            {"type": "array", "items": {"$ref": JSON_VALUE_REF}},
            {
                "type": "object",
                "propertyNames": text,
                "additionalProperties": {"$ref": JSON_VALUE_REF},
            },
        ]
    }


def _operation(route: ApiRoute, schema_of: dict[Any, Any]) -> dict[str, Any]:
    spec = route.spec
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": description,
            "schema": spec.path_schemas.get(name) or _PATH_SCHEMAS.get(name, {"type": "string"}),
        }
        for name, description in spec.path_params.items()
    ]
    parameters += [
        {
            "name": q.name,
            "in": "query",
            "required": q.required,
            "description": q.description,
            "schema": q.schema(),
        }
        for q in spec.query
    ]
    parameters += [
        {
            "name": h.name,
            "in": "header",
            "required": False,
            "description": h.description,
            "schema": h.schema,
        }
        for h in spec.headers
    ]
    success: dict[str, Any] = {"description": spec.summary}
    octets = {"schema": {"type": "string", "format": "binary"}}
    if spec.response_media is not None:
        success["content"] = {spec.response_media: octets}
    elif spec.response is not None:
        success["content"] = {"application/json": {"schema": schema_of[spec.response]}}
    error = {"application/json": {"schema": schema_of[ErrorResponse]}}
    responses: dict[str, Any] = {str(spec.status): success}
    for status, description in spec.extra_statuses.items():
        if status == "206":
            responses[status] = {"description": description, "content": success.get("content")}
        else:
            responses[status] = {"description": description, "content": error}
    for status, description in _ERROR_STATUSES.items():
        responses[status] = {"description": description, "content": error}
    operation: dict[str, Any] = {
        "operationId": route.endpoint.__name__,
        "summary": spec.summary,
        "tags": [route.template.strip("/").split("/")[0]],
        "parameters": parameters,
        "responses": responses,
    }
    if spec.body_media is not None:
        # An empty stream is a legitimate body (an empty file).
        operation["requestBody"] = {"required": False, "content": {spec.body_media: octets}}
    elif spec.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema_of[spec.body]}},
        }
    return operation


@access(Access.PUBLIC)
async def openapi_document(request: Request) -> Response:
    document = getattr(request.app.state, "openapi", None)
    if document is None:  # built once per app, on first request
        document = build_document(
            api_route_list(request.app.routes), artifacts(request).backend.url
        )
        request.app.state.openapi = document
    return JSON(document)


routes = [
    ApiRoute(
        "GET",
        "/openapi.json",
        openapi_document,
        summary="This API's OpenAPI 3.1 document",
        response=dict[str, Any],
    ),
]
