"""The lower-level Python client: one method per REST operation, results as plain dicts.

Every method raises the server's typed errors (:mod:`modelyard.errors`). Lists come back as
iterators that follow the server's page tokens, so callers never handle cursors themselves.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from modelyard.client._http import HttpSession
from modelyard.errors import NotFound

Json = dict[str, Any]

_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def encode_value(value: float) -> float | str:
    """JSON has no NaN or infinity: they travel as the strings the server understands."""
    if math.isnan(value):
        return "NaN"
    return _NON_FINITE.get(value, value)


def _seg(value: object) -> str:
    """One URL path segment, escaped (names may hold spaces and other characters)."""
    return quote(str(value), safe="")


class Client:
    """A connection to one modelyard server (``MODELYARD_URL``, default http://127.0.0.1:5000)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._session = HttpSession(url, timeout=timeout, transport=transport)
        self.url = self._session.url

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._session.request(method, path, **kwargs)

    def _pages(self, path: str, params: dict[str, Any], limit: int | None = None) -> Iterator[Json]:
        token: str | None = None
        seen = 0
        while True:
            page = self._call("GET", path, params={**params, "page_token": token})
            for item in page["items"]:
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            token = page.get("next_page_token")
            if not token:
                return

    # -- experiments ---------------------------------------------------------------------------

    def create_experiment(
        self, name: str, *, description: str | None = None, tags: Mapping[str, str] | None = None
    ) -> Json:
        body = {"name": name, "description": description, "tags": dict(tags or {})}
        result: Json = self._call("POST", "/experiments", body=body)
        return result

    def get_experiment(self, experiment_id: int) -> Json:
        result: Json = self._call("GET", f"/experiments/{int(experiment_id)}")
        return result

    def get_experiment_by_name(self, name: str) -> Json:
        result: Json = self._call("GET", f"/experiments/by-name/{_seg(name)}")
        return result

    def get_or_create_experiment(self, name: str) -> Json:
        try:
            return self.get_experiment_by_name(name)
        except NotFound:
            pass
        try:
            return self.create_experiment(name)
        except Exception:
            # Another process may have created it between our two calls.
            return self.get_experiment_by_name(name)

    def list_experiments(
        self, *, lifecycle: str = "active", limit: int | None = None
    ) -> Iterator[Json]:
        return self._pages("/experiments", {"lifecycle": lifecycle}, limit)

    def delete_experiment(self, experiment_id: int) -> None:
        self._call("DELETE", f"/experiments/{int(experiment_id)}")

    def restore_experiment(self, experiment_id: int) -> None:
        self._call("POST", f"/experiments/{int(experiment_id)}/restore")

    # -- runs ----------------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: int,
        *,
        name: str | None = None,
        tags: Mapping[str, str] | None = None,
        parent_run_id: str | None = None,
        start_time: int | None = None,
    ) -> Json:
        body = {
            "experiment_id": int(experiment_id),
            "name": name,
            "tags": dict(tags or {}),
            "parent_run_id": parent_run_id,
            "start_time": start_time,
        }
        result: Json = self._call(
            "POST", "/runs", body={k: v for k, v in body.items() if v is not None}
        )
        return result

    def get_run(self, run_id: str) -> Json:
        result: Json = self._call("GET", f"/runs/{_seg(run_id)}")
        return result

    def update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        end_time: int | None = None,
        name: str | None = None,
    ) -> Json:
        body = {"status": status, "end_time": end_time, "name": name}
        result: Json = self._call(
            "PATCH", f"/runs/{_seg(run_id)}", body={k: v for k, v in body.items() if v is not None}
        )
        return result

    def delete_run(self, run_id: str) -> None:
        self._call("DELETE", f"/runs/{_seg(run_id)}")

    def restore_run(self, run_id: str) -> None:
        self._call("POST", f"/runs/{_seg(run_id)}/restore")

    def log_params(self, run_id: str, params: Mapping[str, object]) -> None:
        body = {"params": {k: str(v) for k, v in params.items()}}
        self._call("POST", f"/runs/{_seg(run_id)}/params", body=body)

    def set_tags(self, run_id: str, tags: Mapping[str, object]) -> None:
        body = {"tags": {k: str(v) for k, v in tags.items()}}
        self._call("POST", f"/runs/{_seg(run_id)}/tags", body=body)

    def delete_tag(self, run_id: str, key: str) -> None:
        self._call("DELETE", f"/runs/{_seg(run_id)}/tags/{_seg(key)}")

    def log_metric_batch(
        self,
        run_id: str,
        keys: Sequence[str],
        values: Sequence[float],
        steps: Sequence[int],
        timestamps: Sequence[int],
        *,
        idempotency_key: str | None = None,
    ) -> None:
        """Store points given column-wise; a retry with the same key is a no-op on the server."""
        body = {
            "keys": list(keys),
            "values": [v if math.isfinite(v) else encode_value(v) for v in values],
            "steps": list(steps),
            "timestamps": list(timestamps),
        }
        headers = {"idempotency-key": idempotency_key} if idempotency_key else None
        self._call("POST", f"/runs/{_seg(run_id)}/metrics", body=body, headers=headers)

    def get_latest_metrics(self, run_id: str) -> Json:
        result: Json = self._call("GET", f"/runs/{_seg(run_id)}/metrics")
        return result

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        *,
        min_step: int | None = None,
        max_step: int | None = None,
        max_points: int | None = None,
    ) -> Json:
        params = {"min_step": min_step, "max_step": max_step, "max_points": max_points}
        result: Json = self._call(
            "GET", f"/runs/{_seg(run_id)}/metrics/{_seg(key)}/history", params=params
        )
        return result

    def search_runs(
        self,
        experiment_ids: Sequence[int],
        filter: str | None = None,
        *,
        order_by: Sequence[str] = (),
        max_results: int = 1000,
        lifecycle: str = "active",
    ) -> list[Json]:
        """Runs matching ``filter`` (the search language), following pages up to ``max_results``."""
        found: list[Json] = []
        token: str | None = None
        while len(found) < max_results:
            body = {
                "experiment_ids": [int(e) for e in experiment_ids],
                "filter": filter,
                "order_by": list(order_by),
                "max_results": min(1000, max_results - len(found)),
                "lifecycle": lifecycle,
                "page_token": token,
            }
            page = self._call("POST", "/runs/search", body=body)
            found.extend(page["items"])
            token = page.get("next_page_token")
            if not token:
                break
        return found

    # -- registry ------------------------------------------------------------------------------

    def create_model(
        self, name: str, *, description: str | None = None, tags: Mapping[str, str] | None = None
    ) -> Json:
        body = {"name": name, "description": description, "tags": dict(tags or {})}
        result: Json = self._call("POST", "/models", body=body)
        return result

    def get_model(self, name: str) -> Json:
        result: Json = self._call("GET", f"/models/{_seg(name)}")
        return result

    def list_models(
        self, *, name_like: str | None = None, limit: int | None = None
    ) -> Iterator[Json]:
        return self._pages("/models", {"name_like": name_like}, limit)

    def delete_model(self, name: str) -> None:
        self._call("DELETE", f"/models/{_seg(name)}")

    def register_version(
        self,
        name: str,
        source: str,
        *,
        run_id: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        create_model: bool = True,
    ) -> Json:
        """A new version of model ``name`` (created first when missing and ``create_model``)."""
        body = {
            "source": source,
            "run_id": run_id,
            "description": description,
            "tags": dict(tags or {}),
        }
        body = {k: v for k, v in body.items() if v is not None}
        try:
            result: Json = self._call("POST", f"/models/{_seg(name)}/versions", body=body)
            return result
        except NotFound:
            if not create_model:
                raise
        try:
            self.create_model(name)
        except Exception:
            pass  # created concurrently; the next call tells
        result = self._call("POST", f"/models/{_seg(name)}/versions", body=body)
        return result

    def get_version(self, name: str, version: int) -> Json:
        result: Json = self._call("GET", f"/models/{_seg(name)}/versions/{int(version)}")
        return result

    def list_versions(self, name: str, *, limit: int | None = None) -> Iterator[Json]:
        return self._pages(f"/models/{_seg(name)}/versions", {}, limit)

    def transition_stage(
        self, name: str, version: int, stage: str, *, archive_existing: bool = False
    ) -> Json:
        body = {"stage": stage, "archive_existing": archive_existing}
        result: Json = self._call(
            "POST", f"/models/{_seg(name)}/versions/{int(version)}/stage", body=body
        )
        return result

    def set_alias(self, name: str, alias: str, version: int) -> None:
        self._call(
            "PUT", f"/models/{_seg(name)}/aliases/{_seg(alias)}", body={"version": int(version)}
        )

    def delete_alias(self, name: str, alias: str) -> None:
        self._call("DELETE", f"/models/{_seg(name)}/aliases/{_seg(alias)}")

    def get_version_by_alias(self, name: str, alias: str) -> Json:
        result: Json = self._call("GET", f"/models/{_seg(name)}/aliases/{_seg(alias)}")
        return result

    def search_versions(
        self, filter: str | None = None, *, order_by: Sequence[str] = (), max_results: int = 100
    ) -> list[Json]:
        body = {"filter": filter, "order_by": list(order_by), "max_results": max_results}
        page = self._call("POST", "/model-versions/search", body=body)
        items: list[Json] = page["items"]
        return items
