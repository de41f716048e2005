"""The lower-level Python client: one method per REST operation, results as plain dicts.

Every method raises the server's typed errors (:mod:`modelyard.errors`). Lists come back as
iterators that follow the server's page tokens, so callers never handle cursors themselves.

Creating a run or a model version sends an ``Idempotency-Key`` chosen once per call and retries
a transient failure (no answer, 502/503/504) with the same key: when the first attempt was
stored but its answer lost, the retry gets that first answer instead of making a second run.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from modelyard.client._artifacts import ArtifactCalls
from modelyard.client._datasets import DatasetCalls
from modelyard.client._http import CREATE_ATTEMPTS as CREATE_ATTEMPTS  # a creating call's tries
from modelyard.client._http import HttpSession
from modelyard.client._logged_models import LoggedModelCalls
from modelyard.client._model_files import download_model, model_files, upload_model, version_ref
from modelyard.errors import AlreadyExists, InvalidInput, NotFound

Json = dict[str, Any]


class _Keep:
    """The type of :data:`KEEP`: "leave this field as it is" (``None`` means "clear it")."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP = _Keep()

_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}
_FROM_TEXT = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
MAX_PAGE_SIZE = 1000  # the server's largest page (``limit`` / ``max_results``)


def encode_value(value: float) -> float | str:
    """JSON has no NaN or infinity: they travel as the strings the server understands."""
    if math.isnan(value):
        return "NaN"
    return _NON_FINITE.get(value, value)


def decode_value(value: float | str) -> float:
    """A metric value from the wire: the strings ``NaN``, ``Infinity``, ``-Infinity`` as floats."""
    return _FROM_TEXT[value] if isinstance(value, str) else value


def _decode_run(run: Json) -> Json:
    """A run with the non-finite latest metric values turned back into floats."""
    for metric in (run.get("metrics") or {}).values():
        metric["value"] = decode_value(metric["value"])
    return run


def _seg(value: object) -> str:
    """One URL path segment, escaped (names may hold spaces and other characters)."""
    return quote(str(value), safe="")


def _one_seg(value: object, field: str) -> str:
    """A path segment that must stay one: the server decodes ``%2F`` before routing, so a ``/``
    would address another route (or none) instead of this object."""
    text = str(value)
    if "/" in text:
        raise InvalidInput(
            f"{field} {text!r} holds '/' and cannot be addressed over the REST API", field=field
        )
    return _seg(text)


def _page_size(page_size: int | None, limit: int | None) -> int | None:
    """The page size to ask for: as given, else no more than ``limit`` needs."""
    if page_size is not None:
        return page_size
    return None if limit is None else min(limit, MAX_PAGE_SIZE)


class Client(ArtifactCalls, DatasetCalls, LoggedModelCalls):
    """A connection to one modelyard server (``MODELYARD_URL``, default http://127.0.0.1:5000)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        token: str | None = None,
        workspace: str | None = None,
    ) -> None:
        self._session = HttpSession(
            url, timeout=timeout, transport=transport, token=token, workspace=workspace
        )
        self.url = self._session.url

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._session.request(method, path, **kwargs)

    def _pages(
        self,
        path: str,
        params: dict[str, Any],
        limit: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[Json]:
        """The items of a listing, page after page. The first page is fetched now, so a missing
        model or a bad parameter raises at the call rather than at the first ``next()``."""
        params = {**params, "limit": _page_size(page_size, limit)}
        first: Json = self._call("GET", path, params=params)
        return self._follow(path, params, first, limit)

    def _follow(
        self, path: str, params: dict[str, Any], page: Json, limit: int | None
    ) -> Iterator[Json]:
        seen = 0
        while True:
            for item in page["items"]:
                if limit is not None and seen >= limit:
                    return
                yield item
                seen += 1
            token = page.get("next_page_token")
            if not token or (limit is not None and seen >= limit):
                return
            page = self._call("GET", path, params={**params, "page_token": token})

    def _search(self, path: str, body: Json, max_results: int, page_size: int | None) -> list[Json]:
        """Every item of a search up to ``max_results``, following the page tokens."""
        found: list[Json] = []
        token: str | None = None
        size = page_size or MAX_PAGE_SIZE
        while len(found) < max_results:
            request = {**body, "max_results": min(size, max_results - len(found))}
            page = self._call("POST", path, body={**request, "page_token": token})
            found.extend(page["items"])
            token = page.get("next_page_token")
            if not token:
                break
        return found[:max_results]

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
        except AlreadyExists:
            # Another process created it between our two calls.
            return self.get_experiment_by_name(name)

    def list_experiments(
        self, *, lifecycle: str = "active", limit: int | None = None, page_size: int | None = None
    ) -> Iterator[Json]:
        """Experiments in creation order (at most ``limit``), fetched ``page_size`` at a time."""
        return self._pages("/experiments", {"lifecycle": lifecycle}, limit, page_size)

    def update_experiment(
        self,
        experiment_id: int,
        *,
        name: str | None = None,
        description: str | _Keep | None = KEEP,
    ) -> Json:
        """Rename and/or describe (``None`` clears the description), both or neither."""
        body: Json = {} if name is None else {"name": name}
        if not isinstance(description, _Keep):
            body["description"] = description
        result: Json = self._call("PATCH", f"/experiments/{int(experiment_id)}", body=body)
        return result

    def set_experiment_tag(self, experiment_id: int, key: str, value: object) -> None:
        path = f"/experiments/{int(experiment_id)}/tags/{_seg(key)}"
        self._call("PUT", path, body={"value": str(value)})

    def delete_experiment_tag(self, experiment_id: int, key: str) -> None:
        self._call("DELETE", f"/experiments/{int(experiment_id)}/tags/{_seg(key)}")

    def delete_experiment(self, experiment_id: int) -> None:
        self._call("DELETE", f"/experiments/{int(experiment_id)}")

    def restore_experiment(self, experiment_id: int) -> Json:
        """Undo a delete (with the runs deleted along); the experiment as restored."""
        result: Json = self._call("POST", f"/experiments/{int(experiment_id)}/restore")
        return result

    # -- runs ----------------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: int,
        *,
        name: str | None = None,
        tags: Mapping[str, str] | None = None,
        parent_run_id: str | None = None,
        start_time: int | None = None,
        idempotency_key: str | None = None,
    ) -> Json:
        """A new RUNNING run; ``idempotency_key`` (default: a new one per call) makes this call's
        retries, and a caller's own retry with the same key, create it only once."""
        body = {
            "experiment_id": int(experiment_id),
            "name": name,
            "tags": dict(tags or {}),
            "parent_run_id": parent_run_id,
            "start_time": start_time,
        }
        result: Json = self._session.create(
            "/runs",
            {k: v for k, v in body.items() if v is not None},
            idempotency_key or uuid.uuid4().hex,
        )
        return result

    def get_run(self, run_id: str) -> Json:
        """The run with its params, tags and metrics: ``{key: {value, step, timestamp}}``."""
        return _decode_run(self._call("GET", f"/runs/{_one_seg(run_id, 'run_id')}"))

    def update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        end_time: int | None = None,
        name: str | None = None,
    ) -> Json:
        body = {"status": status, "end_time": end_time, "name": name}
        path = f"/runs/{_one_seg(run_id, 'run_id')}"
        return _decode_run(
            self._call("PATCH", path, body={k: v for k, v in body.items() if v is not None})
        )

    def delete_run(self, run_id: str) -> None:
        self._call("DELETE", f"/runs/{_one_seg(run_id, 'run_id')}")

    def restore_run(self, run_id: str) -> Json:
        """Undo a delete; the run as restored."""
        return _decode_run(self._call("POST", f"/runs/{_one_seg(run_id, 'run_id')}/restore"))

    def log_params(self, run_id: str, params: Mapping[str, object]) -> None:
        body = {"params": {k: str(v) for k, v in params.items()}}
        self._call("POST", f"/runs/{_one_seg(run_id, 'run_id')}/params", body=body)

    def set_tags(self, run_id: str, tags: Mapping[str, object]) -> None:
        body = {"tags": {k: str(v) for k, v in tags.items()}}
        self._call("POST", f"/runs/{_one_seg(run_id, 'run_id')}/tags", body=body)

    def delete_tag(self, run_id: str, key: str) -> None:
        self._call("DELETE", f"/runs/{_one_seg(run_id, 'run_id')}/tags/{_seg(key)}")

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
        path = f"/runs/{_one_seg(run_id, 'run_id')}/metrics"
        self._call("POST", path, body=body, headers=headers)

    def get_latest_metrics(self, run_id: str) -> Json:
        """``{"items": [{key, value, step, timestamp}, ...]}``: the latest point of each metric."""
        result: Json = self._call("GET", f"/runs/{_one_seg(run_id, 'run_id')}/metrics")
        for item in result["items"]:
            item["value"] = decode_value(item["value"])
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
        """One series column-wise: ``{key, steps, timestamps, values, total_points}``."""
        path = f"/runs/{_one_seg(run_id, 'run_id')}/metrics/{_seg(key)}/history"
        result: Json = self._call("GET", path, params=params)
        result["values"] = [decode_value(v) for v in result["values"]]
        return result

    def search_runs(
        self,
        experiment_ids: Sequence[int],
        filter: str | None = None,
        *,
        order_by: Sequence[str] = (),
        max_results: int = 1000,
        lifecycle: str = "active",
        page_size: int | None = None,
    ) -> list[Json]:
        """Runs matching ``filter`` (the search language), following pages up to ``max_results``
        (``page_size`` runs per request, default and at most 1000)."""
        body = {
            "experiment_ids": [int(e) for e in experiment_ids],
            "filter": filter,
            "order_by": list(order_by),
            "lifecycle": lifecycle,
        }
        return [
            _decode_run(run) for run in self._search("/runs/search", body, max_results, page_size)
        ]

    # -- registry ------------------------------------------------------------------------------

    def create_model(
        self, name: str, *, description: str | None = None, tags: Mapping[str, str] | None = None
    ) -> Json:
        body = {"name": name, "description": description, "tags": dict(tags or {})}
        result: Json = self._call("POST", "/models", body=body)
        return result

    def get_model(self, name: str) -> Json:
        result: Json = self._call("GET", _model_path(name))
        return result

    def list_models(
        self,
        *,
        name_like: str | None = None,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[Json]:
        """Models in name order, ``name_like`` a SQL LIKE pattern."""
        return self._pages("/models", {"name_like": name_like}, limit, page_size)

    def update_model(
        self, name: str, *, new_name: str | None = None, description: str | _Keep | None = KEEP
    ) -> Json:
        """Rename and/or describe (``None`` clears the description), both or neither."""
        body: Json = {}
        if new_name is not None:
            _one_seg(new_name, "new_name")  # a name with '/' could never be addressed again
            body["name"] = new_name
        if not isinstance(description, _Keep):
            body["description"] = description
        result: Json = self._call("PATCH", _model_path(name), body=body)
        return result

    def set_model_tag(self, name: str, key: str, value: object) -> None:
        self._call("PUT", f"{_model_path(name)}/tags/{_seg(key)}", body={"value": str(value)})

    def delete_model_tag(self, name: str, key: str) -> None:
        self._call("DELETE", f"{_model_path(name)}/tags/{_seg(key)}")

    def delete_model(self, name: str) -> None:
        self._call("DELETE", _model_path(name))

    def register_version(
        self,
        name: str,
        source: str,
        *,
        run_id: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        create_model: bool = True,
        model_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Json:
        """A new version of model ``name`` (created first when missing and ``create_model``);
        ``model_id`` names the logged model it is registered from. ``idempotency_key`` (default:
        a new one per call) makes retries register one version, not two."""
        key = idempotency_key or uuid.uuid4().hex
        body = {
            "source": source,
            "run_id": run_id,
            "model_id": model_id,
            "description": description,
            "tags": dict(tags or {}),
        }
        body = {k: v for k, v in body.items() if v is not None}
        path = f"{_model_path(name)}/versions"
        try:
            result: Json = self._session.create(path, body, key)
            return result
        except NotFound as exc:
            # Only a missing model is ours to fix; a missing run is the caller's error.
            if not create_model or "run_id" in exc.details or "model_id" in exc.details:
                raise
        if run_id is not None:
            # The model is missing and so may the run be: check first, or a failed registration
            # would leave an empty model behind.
            self.get_run(run_id)
        try:
            self.create_model(name)
        except AlreadyExists:
            pass  # created concurrently
        # The same key: the refused first attempt left no receipt behind.
        result = self._session.create(path, body, key)
        return result

    def get_version(self, name: str, version: int) -> Json:
        result: Json = self._call("GET", f"{_model_path(name)}/versions/{int(version)}")
        return result

    def update_version(self, name: str, version: int, *, description: str | None) -> Json:
        """Set (``None`` clears) the description of one version."""
        body = {"description": description}
        result: Json = self._call("PATCH", _version_path(name, version), body=body)
        return result

    def delete_version(self, name: str, version: int) -> None:
        """Delete one version with its tags and aliases; its number is never reused."""
        self._call("DELETE", _version_path(name, version))

    def set_version_tag(self, name: str, version: int, key: str, value: object) -> None:
        path = f"{_version_path(name, version)}/tags/{_seg(key)}"
        self._call("PUT", path, body={"value": str(value)})

    def delete_version_tag(self, name: str, version: int, key: str) -> None:
        self._call("DELETE", f"{_version_path(name, version)}/tags/{_seg(key)}")

    def list_versions(
        self,
        name: str,
        *,
        stage: str | None = None,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[Json]:
        """Versions of model ``name``, newest first; only those in ``stage`` when given."""
        return self._pages(f"{_model_path(name)}/versions", {"stage": stage}, limit, page_size)

    def transition_stage(
        self, name: str, version: int, stage: str, *, archive_existing: bool = False
    ) -> Json:
        body = {"stage": stage, "archive_existing": archive_existing}
        result: Json = self._call(
            "POST", f"{_model_path(name)}/versions/{int(version)}/stage", body=body
        )
        return result

    def set_alias(self, name: str, alias: str, version: int) -> Json:
        """Point ``alias`` at ``version`` (creating or moving it); the version it now names."""
        result: Json = self._call("PUT", _alias_path(name, alias), body={"version": int(version)})
        return result

    def delete_alias(self, name: str, alias: str) -> None:
        self._call("DELETE", _alias_path(name, alias))

    def get_version_by_alias(self, name: str, alias: str) -> Json:
        result: Json = self._call("GET", _alias_path(name, alias))
        return result

    def search_versions(
        self,
        filter: str | None = None,
        *,
        order_by: Sequence[str] = (),
        max_results: int = 100,
        page_size: int | None = None,
    ) -> list[Json]:
        """Versions matching ``filter``, following pages up to ``max_results``."""
        body = {"filter": filter, "order_by": list(order_by)}
        return self._search("/model-versions/search", body, max_results, page_size)


    # -- model files ---------------------------------------------------------------------------

    def log_model(
        self,
        run_id: str,
        path: str | Path,
        *,
        name: str,
        flavor: str | None = None,
        model_type: str | None = None,
        signature: Mapping[str, Any] | None = None,
        framework_versions: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        step: int = 0,
    ) -> Json:
        """Log the model directory ``path`` from run ``run_id``: a PENDING logged model, its files
        and an MLmodel metadata file uploaded under its artifact path, then READY (FAILED if the
        upload failed). Returns the logged model."""
        directory = Path(path)
        model_files(directory)  # refuse a bad directory before creating anything
        metadata: Json = {
            "signature": dict(signature) if signature is not None else None,
            "framework_versions": dict(framework_versions or {}),
        }
        model = self.create_logged_model(
            name,
            source_run_id=run_id,
            flavor=flavor,
            model_type=model_type,
            metadata=metadata,
            tags=tags,
            params=params,
        )
        try:
            upload_model(self._session, model, directory, metadata)
        except BaseException:
            self.finalize_logged_model(model["model_id"], "FAILED", status_message="upload failed")
            raise
        self.log_model_outputs(run_id, {model["model_id"]: step})
        return self.finalize_logged_model(model["model_id"], "READY")

    def resolve_model_version(self, uri: str) -> Json:
        """The version ``models:/NAME/VERSION``, ``models:/NAME@ALIAS`` or ``models:/NAME/latest``
        names."""
        ref = version_ref(uri)
        if ref.version is not None:
            return self.get_version(ref.name, ref.version)
        if ref.alias is not None:
            return self.get_version_by_alias(ref.name, ref.alias)
        for version in self.list_versions(ref.name, limit=1):
            return version
        raise NotFound(f"registered model {ref.name!r} has no versions", name=ref.name)

    def download_model(self, uri: str, destination: str | Path) -> list[Path]:
        """Download the files of the logged model a ``models:/`` URI's version was registered
        from into ``destination``; every file is checked against its sha256."""
        version = self.resolve_model_version(uri)
        if not version.get("model_id"):
            raise NotFound(
                f"version {version['version']} of {version['name']!r} was not registered from a "
                f"logged model; its source is {version['source']!r}",
                name=version["name"],
            )
        model = self.get_logged_model(version["model_id"])
        return download_model(self._session, model, Path(destination))

def _model_path(name: str) -> str:
    return f"/models/{_one_seg(name, 'name')}"


def _version_path(name: str, version: int) -> str:
    return f"{_model_path(name)}/versions/{int(version)}"


def _alias_path(name: str, alias: str) -> str:
    return f"{_model_path(name)}/aliases/{_one_seg(alias, 'alias')}"
