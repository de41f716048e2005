"""The logged-model methods of :class:`modelyard.client.Client` (``/api/v1/logged-models``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from modelyard.client._datasets import segment

Json = dict[str, Any]


class LoggedModelCalls:
    """Mixed into ``Client``, which provides the HTTP calls."""

    if TYPE_CHECKING:

        def _call(self, method: str, path: str, **kwargs: Any) -> Any: ...

        def _pages(
            self,
            path: str,
            params: dict[str, Any],
            limit: int | None = None,
            page_size: int | None = None,
        ) -> Iterator[Json]: ...

    def create_logged_model(
        self,
        name: str,
        *,
        source_run_id: str | None = None,
        experiment_id: int | None = None,
        model_type: str | None = None,
        flavor: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Json:
        """A new PENDING logged model; upload its files to ``artifact_path`` of the source run,
        then :meth:`finalize_logged_model`."""
        body = {
            "name": name,
            "source_run_id": source_run_id,
            "experiment_id": experiment_id,
            "model_type": model_type,
            "flavor": flavor,
            "metadata": dict(metadata) if metadata is not None else None,
            "tags": dict(tags) if tags else None,
            "params": {k: str(v) for k, v in params.items()} if params else None,
        }
        result: Json = self._call(
            "POST", "/logged-models", body={k: v for k, v in body.items() if v is not None}
        )
        return result

    def get_logged_model(self, model_id: str) -> Json:
        result: Json = self._call("GET", f"/logged-models/{segment(model_id, 'model_id')}")
        return result

    def finalize_logged_model(
        self, model_id: str, status: str = "READY", *, status_message: str | None = None
    ) -> Json:
        """READY (the server checks the MLmodel file was uploaded) or FAILED."""
        body = {"status": status, "status_message": status_message}
        path = f"/logged-models/{segment(model_id, 'model_id')}/finalize"
        result: Json = self._call("POST", path, body={k: v for k, v in body.items() if v})
        return result

    def list_logged_models(
        self, experiment_id: int, *, limit: int | None = None, page_size: int | None = None
    ) -> Iterator[Json]:
        """An experiment's logged models, newest first."""
        params = {"experiment_id": int(experiment_id)}
        return self._pages("/logged-models", params, limit, page_size)

    def set_logged_model_tag(self, model_id: str, key: str, value: object) -> None:
        path = f"/logged-models/{segment(model_id, 'model_id')}/tags/{segment(key, 'key')}"
        self._call("PUT", path, body={"value": str(value)})

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        path = f"/logged-models/{segment(model_id, 'model_id')}/tags/{segment(key, 'key')}"
        self._call("DELETE", path)

    def log_model_outputs(self, run_id: str, models: Mapping[str, int]) -> None:
        """Record that the run produced these logged models (model_id -> step)."""
        body = {"models": [{"model_id": m, "step": int(s)} for m, s in models.items()]}
        self._call("POST", f"/runs/{segment(run_id, 'run_id')}/outputs", body=body)

    def log_model_inputs(self, run_id: str, model_ids: list[str]) -> None:
        """Record that the run took these logged models as inputs."""
        body = {"models": [{"model_id": m} for m in model_ids]}
        self._call("POST", f"/runs/{segment(run_id, 'run_id')}/inputs", body=body)
