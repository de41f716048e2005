"""Builds the connection strings modelyard uses, with its schema first on the search path.

Every connection sets ``search_path`` to ``<schema>, public`` at connect time (libpq ``options``),
so the SQL files name tables unqualified and extensions installed in ``public`` (pg_trgm) resolve.
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


def with_schema(conninfo: str, schema: str = DEFAULT_SCHEMA) -> str:
    """``conninfo`` with the search path set to ``schema, public`` and our application name."""
    check_schema_name(schema)
    params = psycopg.conninfo.conninfo_to_dict(conninfo)
    params.setdefault("application_name", APPLICATION_NAME)
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
