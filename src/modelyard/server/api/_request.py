"""What handlers take from a request: the store, and path parameters validated.

Routes capture path segments as plain strings and the handlers convert them here, so a request
for ``/experiments/abc`` is a 400 ``INVALID_PARAMETER_VALUE`` saying what is wrong with ``abc``,
never a 404 ("no such route") or a 500.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from modelyard.errors import InvalidInput
from modelyard.store import Store, validation

MAX_INT64 = 2**63 - 1
MAX_INT32 = 2**31 - 1


def store(request: Request) -> Store:
    """The app's store (opened by the lifespan)."""
    opened: Store = request.app.state.store
    return opened


def no_content() -> Response:
    """The answer of a write that has nothing to return (deletes, tag and param writes)."""
    return Response(status_code=204)


def path_str(request: Request, name: str) -> str:
    value: str = request.path_params[name]
    return value


def path_int(request: Request, name: str, *, minimum: int = 1, maximum: int = MAX_INT64) -> int:
    """A non-negative integer path parameter (experiment id, version number) within bounds."""
    raw = path_str(request, name)
    if not (raw.isascii() and raw.isdigit()):
        raise InvalidInput(f"{name} must be an integer, got {raw!r}", field=name)
    value = int(raw)
    if not minimum <= value <= maximum:
        raise InvalidInput(f"{name} must be from {minimum} to {maximum}", field=name)
    return value


def experiment_id(request: Request) -> int:
    # 0 is a valid id: MLflow's "Default" experiment has it.
    return path_int(request, "experiment_id", minimum=0)


def version(request: Request) -> int:
    return path_int(request, "version", maximum=MAX_INT32)


def run_id(request: Request) -> str:
    """A run id in its canonical 32-hex form (the dashed UUID form is accepted too)."""
    return validation.check_uuid(path_str(request, "run_id")).hex
