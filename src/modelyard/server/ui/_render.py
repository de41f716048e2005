"""Jinja2 rendering of the UI's pages: one autoescaping environment, formatting filters, errors.

Every value a template prints is escaped (``autoescape`` on for .html and .svg), so a run named
``<img src=x onerror=alert(1)>`` is text. Pages carry a Content-Security-Policy allowing only
this server's scripts and styles: an injected inline script would not run even if it got in.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from modelyard.auth import caller
from modelyard.errors import ModelyardError
from modelyard.server.ui import _csrf, _flash

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def fmt_time(ms: int | None) -> str:
    """Milliseconds since the epoch as ``YYYY-MM-DD HH:MM:SS`` UTC; empty for None."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(start: int | None, end: int | None) -> str:
    if start is None or end is None:
        return ""
    seconds = max(0, (end - start) // 1000)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def fmt_value(value: object) -> str:
    """A metric value: six significant digits; NaN and infinities by name."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.6g}"
    return str(value)


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("modelyard.server.ui", "templates"),
        autoescape=select_autoescape(["html", "svg"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(time=fmt_time, value=fmt_value)
    env.globals.update(duration=fmt_duration)
    return env


def render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    """The page ``template`` with ``context``; sets the CSRF cookie when the browser lacks it."""
    nonce, fresh = _csrf.nonce(request)
    context.setdefault("title", "modelyard")
    html = environment().get_template(template).render(
        request=request,
        csrf_token=_csrf.token(request, nonce),
        flash=_flash.read(request),
        theme=request.cookies.get("modelyard_theme", ""),
        path=request.url.path,
        who=caller.current(),
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    secure_headers(response)
    if fresh:
        _csrf.set_cookie(response, nonce)
    _flash.clear(request, response)
    return response


def secure_headers(response: Response) -> None:
    response.headers["content-security-policy"] = CSP
    response.headers["x-content-type-options"] = "nosniff"
    response.headers["referrer-policy"] = "same-origin"


Handler = Callable[[Request], Awaitable[Response]]


def page(handler: Handler) -> Handler:
    """A UI handler whose modelyard errors become an HTML error page with the error's status."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ModelyardError as exc:
            return render(
                request,
                "error.html",
                status=exc.http_status,
                title="Error",
                error=exc,
            )

    return wrapped
