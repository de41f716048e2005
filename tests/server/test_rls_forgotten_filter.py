"""A query that forgets its workspace filter still leaks nothing: PostgreSQL's row-level security,
not the application's WHERE clause, is what keeps one workspace out of another's rows.

The test removes ``workspace_id = %(workspace_id)s`` from the queries behind
``GET /api/v1/experiments/{id}`` and ``GET /api/v1/experiments`` (the kind of slip a review can
miss), then asks for workspace ``default``'s experiment as an admin of workspace ``other``. A
control runs the same edited SQL as the owner, whom row-level security does not bind, to show
that the edit really removed the filter.
"""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest
from auth_support import bearer

from modelyard import sql
from modelyard.db.conninfo import DEFAULT_SCHEMA, with_schema

pytestmark = pytest.mark.anyio

FILTER = "workspace_id = %(workspace_id)s"
# What replaces the filter: true for every row, and keeps the parameter in use so the store
# passes the same parameters as before.
NO_FILTER = "%(workspace_id)s::integer IS NOT NULL"
EDITED = ("experiments.get", "experiments.list")


@pytest.fixture
def forgetful_queries(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The two experiment queries with their workspace filter removed, in the loaded catalog."""
    catalog = sql.queries()
    edited = {}
    for name in EDITED:
        assert FILTER in catalog[name], f"{name} no longer filters by workspace_id"
        edited[name] = catalog[name].replace(FILTER, NO_FILTER)
        monkeypatch.setitem(catalog, name, edited[name])
    return edited


async def test_a_query_without_its_workspace_filter_still_sees_only_its_workspace(
    api: httpx.AsyncClient,
    people: dict[str, str],
    database_url: str,
    forgetful_queries: dict[str, str],
) -> None:
    ada = bearer(people["ada"])
    made = await api.post("/api/v1/experiments", json={"name": "private"}, headers=ada)
    assert made.status_code in (200, 201), made.text
    experiment_id = made.json()["experiment_id"]
    # The edited query still serves its own workspace: ada reads her experiment.
    own = await api.get(f"/api/v1/experiments/{experiment_id}", headers=ada)
    assert own.status_code == 200, own.text

    olga = {**bearer(people["olga"]), "x-modelyard-workspace": "other"}
    one = await api.get(f"/api/v1/experiments/{experiment_id}", headers=olga)
    assert one.status_code == 404, one.text
    listed = await api.get("/api/v1/experiments", params={"lifecycle": "all"}, headers=olga)
    assert listed.status_code == 200, listed.text
    seen = {e["experiment_id"] for e in listed.json()["items"]}
    assert experiment_id not in seen
    ada_sees = await api.get("/api/v1/experiments", params={"lifecycle": "all"}, headers=ada)
    assert seen.isdisjoint({e["experiment_id"] for e in ada_sees.json()["items"]})

    # Control: the owner bypasses row-level security, and the edited SQL run as the owner in
    # workspace other's scope does return default's experiment: the filter really is gone.
    with psycopg.connect(with_schema(database_url, DEFAULT_SCHEMA)) as owner:
        other_id = _workspace_id(owner, "other")
        owner.execute("SELECT set_config('modelyard.workspace', %s, false)", [str(other_id)])
        row = owner.execute(
            forgetful_queries["experiments.get"],  # type: ignore[arg-type]
            {"experiment_id": int(experiment_id), "workspace_id": other_id},
        ).fetchone()
        assert row is not None, "the edited query still filters; the test proves nothing"
        listed_by_owner = owner.execute(
            forgetful_queries["experiments.list"],  # type: ignore[arg-type]
            {"workspace_id": other_id, "lifecycle": "all", "after_id": -1, "limit": 1000},
        ).fetchall()
        assert len(listed_by_owner) > len(seen)


def _workspace_id(conn: psycopg.Connection[Any], name: str) -> int:
    row = conn.execute("SELECT workspace_id FROM workspace WHERE name = %s", [name]).fetchone()
    assert row is not None
    return int(row[0])
