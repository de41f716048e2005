"""CSRF protection of the UI's forms: a signed double-submit token.

The browser holds a random nonce in an HttpOnly, SameSite=Strict cookie; every form carries
HMAC(secret, nonce), and a state-changing request is accepted only when its token is the HMAC of
its own cookie. Another site can neither read the token nor compute one for a cookie it planted,
since the secret never leaves the server. The secret is the app's ``ui_secret``, made at server
start when the settings give none (so every worker of one server shares it, and there is no
default).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import parse_qsl

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from modelyard.errors import InvalidInput, PermissionDenied

COOKIE = "modelyard_csrf"
FIELD = "csrf_token"
HEADER = "x-csrf-token"
# A UI form is a few fields; anything larger is not one of ours.
MAX_FORM_BYTES = 256 * 1024
MAX_FIELDS = 2000


async def read_form(request: Request) -> FormData:
    """An urlencoded form body (the only kind our forms send), read up to ``MAX_FORM_BYTES``."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise InvalidInput("expected an urlencoded form", field="content-type")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise InvalidInput(f"form larger than {MAX_FORM_BYTES} bytes")
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("the form is not valid urlencoded UTF-8") from None
    return FormData(list(pairs))


def nonce(request: Request) -> tuple[str, bool]:
    """The browser's nonce, and whether it is new (the response must set the cookie)."""
    found = request.cookies.get(COOKIE, "")
    if 16 <= len(found) <= 64 and found.isascii():
        return found, False
    made: str | None = getattr(request.state, "csrf_nonce", None)
    if made is None:
        made = secrets.token_urlsafe(24)
        request.state.csrf_nonce = made
    return made, True


def token(request: Request, value: str) -> str:
    secret: bytes = request.app.state.ui_secret
    return hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()


def set_cookie(response: Response, value: str) -> None:
    response.set_cookie(COOKIE, value, httponly=True, samesite="strict", path="/")


async def checked_form(request: Request) -> FormData:
    """The submitted form, after its CSRF token was checked (PermissionDenied otherwise)."""
    form = await read_form(request)
    sent = form.get(FIELD) or request.headers.get(HEADER, "")
    cookie = request.cookies.get(COOKIE, "")
    expected = token(request, cookie) if cookie else ""
    if not cookie or not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise PermissionDenied(
            "the form's CSRF token is missing or wrong; reload the page and submit it again"
        )
    return form
