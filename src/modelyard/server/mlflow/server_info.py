"""MLflow's capability endpoints: ``/api/3.0/mlflow/server-info`` and ``/version``.

The mlflow client reads ``server-info`` to decide, among other things, whether to send big files
(500 MB and more) as a multipart upload through the artifact proxy. We say no, as MLflow does
for a local artifact destination: one streamed PUT goes into the store as it arrives, while
parts must all be in before ``complete`` can hash the whole file and hand it to the store, a
second pass that made 1 GB uploads slower on every store (BENCHMARKS.md). The multipart routes
still serve a client that asks for them (``MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true``).
Presigned downloads and uploads: no (the client then streams every download through the
proxy); no trace archival (tracing is out of scope), no AI gateway.
Workspaces are enabled: the client may pick one (``workspaces.py``).
"""

from __future__ import annotations

from importlib import metadata

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from modelyard.auth.access import Access, protect
from modelyard.server.mlflow._protocol import endpoint, reply

READ = Access.READ


def capabilities() -> dict[str, object]:
    return {
        # What MLflow calls a database-backed store; the UI keys some features off it.
        "store_type": "SqlStore",
        "workspaces_enabled": True,
        "trace_archival_enabled": False,
        "multipart_uploads_enabled": False,
        "multipart_downloads_enabled": False,
        "presigned_upload_run_id_supported": False,
        "presigned_upload_model_id_supported": False,
        "features_enabled": {"gateway": False},
    }


async def server_info(request: Request) -> Response:
    return reply(capabilities())


async def version(request: Request) -> Response:
    """The server's version as plain text, as MLflow answers ``/version``."""
    return PlainTextResponse(metadata.version("modelyard"))


v3_routes = [endpoint("GET", "/server-info", server_info, READ)]
root_routes = [protect(Route("/version", version, methods=["GET"]), READ)]
