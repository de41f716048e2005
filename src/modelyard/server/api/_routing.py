"""Route declarations of ``/api/v1``: one method per route, with what the OpenAPI document needs.

An :class:`ApiRoute` is a Starlette ``Route`` that also records its request body type, response
type, success status and query parameters. The handlers parse their parameters through the same
:class:`Query` objects the route declares, so the OpenAPI document (``openapi.py``) cannot drift
from what the handlers accept.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from modelyard.errors import DeadlineExceeded, InvalidInput
from modelyard.limits import PAGE_TOKEN_SCHEMA

Handler = Callable[[Request], Awaitable[Response]]

_PATH_PARAM = re.compile(r"{([a-z_]+)(?::[a-z]+)?}")


@dataclass(frozen=True)
class Query:
    """One query parameter: its name, JSON-schema type, bounds and documentation."""

    name: str
    description: str
    kind: type = str
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    required: bool = False
    # JSON-schema keywords beyond type and bounds (a pattern, lengths), from the same definition
    # the handler's check uses (modelyard.limits).
    rule: dict[str, Any] | None = None

    def parse(self, request: Request) -> Any:
        """The parameter's value from ``request``; a bad value is an InvalidInput (a 400)."""
        raw = request.query_params.get(self.name)
        # An empty free-text value counts as absent (an HTML form's empty field); an empty
        # number or choice is not one.
        if raw is None or (raw == "" and self.kind is str and not self.choices):
            if self.required:
                raise InvalidInput(f"query parameter {self.name} is required", field=self.name)
            return self.default
        if self.kind is int:
            return self._parse_int(raw)
        if self.choices and raw not in self.choices:
            raise InvalidInput(
                f"query parameter {self.name} must be one of {', '.join(self.choices)}",
                field=self.name,
            )
        return raw

    def _parse_int(self, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise InvalidInput(
                f"query parameter {self.name} must be an integer, got {raw!r}", field=self.name
            ) from None
        low = self.minimum if self.minimum is not None else -(2**63)
        high = self.maximum if self.maximum is not None else 2**63 - 1
        if not low <= value <= high:
            raise InvalidInput(
                f"query parameter {self.name} must be from {low} to {high}", field=self.name
            )
        return value

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer" if self.kind is int else "string"}
        if self.kind is int:  # _parse_int's bounds
            schema["minimum"] = self.minimum if self.minimum is not None else -(2**63)
            schema["maximum"] = self.maximum if self.maximum is not None else 2**63 - 1
        if self.choices:
            schema["enum"] = list(self.choices)
        if self.default is not None:
            schema["default"] = self.default
        if self.required and self.kind is str:
            schema["minLength"] = 1  # an empty value counts as absent
        if self.rule is not None:
            schema.update(self.rule)
        return schema


PAGE_TOKEN = Query(
    "page_token", "The next_page_token of the previous page.", rule=dict(PAGE_TOKEN_SCHEMA)
)


@dataclass(frozen=True)
class Header:
    """A request header a route reads (documented in OpenAPI)."""

    name: str
    description: str
    # The rule the handler checks the value with, stated in the document.
    schema: dict[str, Any] = field(
        default_factory=lambda: {"type": "string", "minLength": 1, "maxLength": 128}
    )


@dataclass(frozen=True)
class Spec:
    """What a route takes and gives, for the OpenAPI document."""

    method: str
    summary: str
    status: int
    body: Any = None
    response: Any = None
    query: tuple[Query, ...] = ()
    headers: tuple[Header, ...] = ()
    path_params: dict[str, str] = field(default_factory=dict)
    # JSON schemas of path parameters whose rule differs from the one their name usually has.
    path_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Streamed routes (StreamRoute): the media type of a raw request or response body.
    body_media: str | None = None
    response_media: str | None = None
    # Statuses beyond the common error set, with their meaning (206, 413, 416).
    extra_statuses: dict[str, str] = field(default_factory=dict)


class ApiRoute(Route):
    """A Starlette route answering exactly one HTTP method, with its :class:`Spec`."""

    def __init__(
        self,
        method: str,
        path: str,
        endpoint: Handler,
        *,
        summary: str,
        status: int = 200,
        body: Any = None,
        response: Any = None,
        query: Sequence[Query] = (),
        headers: Sequence[Header] = (),
        path_params: dict[str, str] | None = None,
        path_schemas: dict[str, dict[str, Any]] | None = None,
        body_media: str | None = None,
        response_media: str | None = None,
        extra_statuses: dict[str, str] | None = None,
    ) -> None:
        if body_media is None and response_media is None:
            endpoint = with_deadline(endpoint)
        super().__init__(path, endpoint, methods=[method], name=f"{method} {path}")
        declared = dict(path_params or {})
        for name in _PATH_PARAM.findall(path):
            declared.setdefault(name, name.replace("_", " "))
        self.spec = Spec(
            method=method,
            summary=summary,
            status=status,
            body=body,
            response=response,
            query=tuple(query),
            headers=tuple(headers),
            path_params=declared,
            path_schemas=dict(path_schemas or {}),
            body_media=body_media,
            response_media=response_media,
            extra_statuses=dict(extra_statuses or {}),
        )

    # Literal paths of other routes that this route's pattern also matches (``/runs/search`` for
    # ``/runs/{run_id}``): they belong to those routes, so a method only this route has answers
    # 405 there instead of being read as a run id.
    shadowed: frozenset[str] = frozenset()

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if self.shadowed and get_route_path(scope) in self.shadowed:
            return Match.NONE, {}
        return super().matches(scope)

    @property
    def template(self) -> str:
        """The path as OpenAPI writes it: ``{key}`` without Starlette's ``:path`` convertor."""
        return _PATH_PARAM.sub(lambda m: "{" + m.group(1) + "}", self.path)


def reserve_literal_paths(routes: Sequence[BaseRoute]) -> list[BaseRoute]:
    """``routes``, with every parametrised ApiRoute told which literal paths it must leave alone."""
    literal = {r.path for r in routes if isinstance(r, ApiRoute) and not r.param_convertors}
    for route in routes:
        if isinstance(route, ApiRoute) and route.param_convertors:
            route.shadowed = frozenset(p for p in literal if route.path_regex.match(p))
    return list(routes)


def with_deadline(endpoint: Handler) -> Handler:
    """``endpoint`` bounded by the server's ``request_timeout``: past it, a 504.

    A database that stops answering (a blackholed network, a hung server) would otherwise hold
    the request, its pool connection and the client forever. The handler runs as its own task:
    at the deadline it is cancelled and the client answered at once, while the cancelled task
    cleans up behind (the driver's cancel request and the discarded connection can themselves
    wait on the dead network for seconds). Its transaction never commits.
    """

    @functools.wraps(endpoint)
    async def bounded(request: Request) -> Response:
        seconds: float = request.app.state.settings.request_timeout
        task = asyncio.ensure_future(endpoint(request))
        done, _ = await asyncio.wait({task}, timeout=seconds)
        if task in done:
            return task.result()
        task.cancel()
        task.add_done_callback(_forget)
        raise DeadlineExceeded(
            f"the request did not complete within {seconds:g} s; retry later", timeout=seconds
        )

    return bounded


def _forget(task: asyncio.Future[Response]) -> None:
    """Collect a cancelled handler's outcome, so its late failure is not reported as lost."""
    if not task.cancelled():
        task.exception()


class StreamRoute(ApiRoute):
    """A route whose request or response body is raw bytes streamed in chunks, never JSON.

    Its handler reads ``request.stream()`` or answers with a ``StreamingResponse``; the JSON body
    reader (with its ``--max-body-mb`` limit) is never involved, and the OpenAPI document shows
    the body as ``application/octet-stream``.
    """

    def __init__(
        self,
        method: str,
        path: str,
        endpoint: Handler,
        *,
        streams_request: bool = False,
        streams_response: bool = False,
        **kwargs: Any,
    ) -> None:
        octets = "application/octet-stream"
        super().__init__(
            method,
            path,
            endpoint,
            body_media=octets if streams_request else None,
            response_media=octets if streams_response else None,
            **kwargs,
        )
