"""One-shot messages shown on the page after a form's redirect (a short-lived cookie)."""

from __future__ import annotations

from urllib.parse import quote, unquote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

COOKIE = "modelyard_flash"
MAX_LENGTH = 500


def read(request: Request) -> str:
    return unquote(request.cookies.get(COOKIE, ""))[:MAX_LENGTH]


def clear(request: Request, response: Response) -> None:
    if COOKIE in request.cookies:
        response.delete_cookie(COOKIE, path="/")


def redirect(location: str, message: str = "") -> Response:
    """A 303 to ``location`` (same-site paths only) that shows ``message`` there."""
    response = RedirectResponse(safe_location(location), status_code=303)
    if message:
        response.set_cookie(
            COOKIE, quote(message[:MAX_LENGTH]), max_age=60, httponly=True, samesite="strict"
        )
    return response


def safe_location(location: str) -> str:
    """``location`` if it is a path on this server, else ``/``: no open redirect."""
    if not location.startswith("/") or location.startswith("//") or "\\" in location:
        return "/"
    return location
