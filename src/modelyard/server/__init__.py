"""The HTTP server: our REST API, health and metrics endpoints, on Starlette."""

from modelyard.server.app import create_app

__all__ = ["create_app"]
