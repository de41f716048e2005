"""Builds the connection strings modelyard uses, and the search path its SQL expects.

The SQL files name tables unqualified and rely on ``search_path`` being ``<schema>, public`` (so
extensions installed in ``public``, pg_trgm, resolve too). Pooled connections (the server's, the
worker's) carry no startup ``options``: each transaction sets the path itself
(``store/_base.py``), because a transaction-mode pooler such as PgBouncer refuses ``options``
and hands consecutive transactions to different server sessions. Sessions of their own on
PostgreSQL directly (``gc``) may set it once at connect time instead (:func:`with_schema`).
"""

from __future__ import annotations

import re

import psycopg.conninfo

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
DEFAULT_SCHEMA = "ml_model_schema"
DEFAULT_DATABASE = "ml_models"
APPLICATION_NAME = "modelyard"


def check_schema_name(schema: str) -> str:
    """Refuse schema names that would need quoting; they end up in a libpq options string."""
    if not SCHEMA_NAME.match(schema):
        raise ValueError(
            f"schema name {schema!r} must be lowercase letters, digits and underscores (max 63)"
        )
    return schema


def search_path(schema: str = DEFAULT_SCHEMA) -> str:
    """The ``search_path`` value modelyard's SQL expects: its schema, then ``public``."""
    return f"{check_schema_name(schema)}, public"


def for_pool(conninfo: str) -> str:
    """``conninfo`` with our application name (unless it names one) and nothing a pooler refuses.

    No ``options`` are added: PgBouncer (up to 1.19, and later ones unless configured) refuses
    the startup parameter, so the pool's transactions set the search path themselves.
    """
    params = psycopg.conninfo.conninfo_to_dict(conninfo)
    params.setdefault("application_name", APPLICATION_NAME)
    return psycopg.conninfo.make_conninfo("", **params)


def with_schema(conninfo: str, schema: str = DEFAULT_SCHEMA) -> str:
    """``conninfo`` with the search path set at connect time to ``schema, public`` and our
    application name: for sessions of their own, connected to PostgreSQL directly."""
    check_schema_name(schema)
    params = psycopg.conninfo.conninfo_to_dict(for_pool(conninfo))
    # Append to any options the user passed rather than replacing them.
    options = str(params.get("options") or "")
    params["options"] = f"{options} -c search_path={schema},public".strip()
    return psycopg.conninfo.make_conninfo("", **params)


def with_database(conninfo: str, dbname: str) -> str:
    """The same server and credentials, another database."""
    return psycopg.conninfo.make_conninfo(conninfo, dbname=dbname)


def redact(conninfo: str) -> str:
    """The conninfo without its password, for logs and error messages."""
    params = psycopg.conninfo.conninfo_to_dict(conninfo)
    if "password" in params:
        params["password"] = "***"
    return psycopg.conninfo.make_conninfo("", **params)
