"""The dataset and lineage methods of :class:`modelyard.client.Client`: dataset versions, runs'
inputs and outputs, and lineage graphs (``/api/v1/datasets``, ``/runs/{run_id}/inputs|outputs``,
``/api/v1/lineage``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from modelyard.errors import InvalidInput

Json = dict[str, Any]


class DatasetCalls:
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

    def log_dataset(
        self,
        name: str,
        digest: str,
        *,
        source_type: str | None = None,
        source: str | None = None,
        schema: Any = None,
        row_count: int | None = None,
        profile: Any = None,
    ) -> Json:
        """Log a dataset version (created if new; a known name and digest return the stored one).

        ``schema`` and ``profile`` are any JSON-serialisable values.
        """
        body = _dataset_body(name, digest, source_type, source, schema, row_count, profile)
        result: Json = self._call("POST", "/datasets", body=body)
        return result

    def get_dataset(self, name: str) -> Json:
        result: Json = self._call("GET", _dataset_path(name))
        return result

    def list_datasets(
        self,
        *,
        name_like: str | None = None,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[Json]:
        """Datasets in name order, ``name_like`` a SQL LIKE pattern."""
        return self._pages("/datasets", {"name_like": name_like}, limit, page_size)

    def get_dataset_version(self, name: str, digest: str) -> Json:
        path = f"{_dataset_path(name)}/versions/{segment(digest, 'digest')}"
        result: Json = self._call("GET", path)
        return result

    def list_dataset_versions(
        self, name: str, *, limit: int | None = None, page_size: int | None = None
    ) -> Iterator[Json]:
        """The versions of dataset ``name``, newest first."""
        return self._pages(f"{_dataset_path(name)}/versions", {}, limit, page_size)

    def log_inputs(self, run_id: str, datasets: Sequence[Mapping[str, Any]]) -> list[Json]:
        """Record dataset versions the run read: each a mapping of the fields of
        :meth:`log_dataset` plus ``context`` and ``tags``. Returns the inputs as stored."""
        path = f"/runs/{segment(run_id, 'run_id')}/inputs"
        body = {"datasets": [_drop_none(dict(item)) for item in datasets]}
        result: list[Json] = self._call("POST", path, body=body)["datasets"]
        return result

    def log_outputs(self, run_id: str, datasets: Sequence[Mapping[str, Any]]) -> list[Json]:
        """Record dataset versions the run wrote (mappings of the fields of :meth:`log_dataset`)."""
        path = f"/runs/{segment(run_id, 'run_id')}/outputs"
        body = {"datasets": [_drop_none(dict(item)) for item in datasets]}
        result: list[Json] = self._call("POST", path, body=body)["datasets"]
        return result

    def get_run_inputs(self, run_id: str) -> list[Json]:
        """The dataset versions the run read: ``[{dataset, context, tags}, ...]``."""
        result: list[Json] = self._call("GET", f"/runs/{segment(run_id, 'run_id')}/inputs")[
            "datasets"
        ]
        return result

    def get_run_outputs(self, run_id: str) -> list[Json]:
        """The dataset versions the run wrote: ``[{dataset}, ...]``."""
        result: list[Json] = self._call("GET", f"/runs/{segment(run_id, 'run_id')}/outputs")[
            "datasets"
        ]
        return result

    def lineage(self, uri: str, *, depth: int | None = None) -> Json:
        """The lineage graph of ``models:/NAME/VERSION``, ``models:/NAME@ALIAS`` (upstream) or
        ``dataset:NAME@DIGEST`` (downstream): ``{root, direction, depth, truncated, nodes,
        edges}``, edges pointing the way data flows."""
        result: Json = self._call("GET", "/lineage", params={"uri": uri, "depth": depth})
        return result


def _drop_none(body: Json) -> Json:
    return {k: v for k, v in body.items() if v is not None}


def _dataset_body(
    name: str,
    digest: str,
    source_type: str | None,
    source: str | None,
    schema: Any,
    row_count: int | None,
    profile: Any,
) -> Json:
    return _drop_none(
        {
            "name": name,
            "digest": digest,
            "source_type": source_type,
            "source": source,
            "schema": schema,
            "row_count": row_count,
            "profile": profile,
        }
    )


def _dataset_path(name: str) -> str:
    return f"/datasets/{segment(name, 'name')}"


def segment(value: object, field: str) -> str:
    """One escaped URL path segment that must stay one (the server decodes ``%2F`` first)."""
    text = str(value)
    if "/" in text:
        raise InvalidInput(
            f"{field} {text!r} holds '/' and cannot be addressed over the REST API", field=field
        )
    return quote(text, safe="")
