"""The fluent API for training code: ``with modelyard.start_run(experiment="x") as run: ...``.

Params and tags are sent at once (they are few, and a conflict should fail loudly where it
happens); metrics go through a :class:`MetricBuffer`, so ``log_metrics`` returns immediately. The
run's end flushes everything before the run is marked finished, and an ``atexit`` hook flushes
runs that were never ended, so an interpreter exit loses no points. A run whose last points
could not be stored is never marked FINISHED: it ends FAILED and ``end`` raises
:class:`~modelyard.errors.MetricsNotStored` saying how many points were lost and why.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from modelyard.client._digest import path_digest
from modelyard.client.buffer import MetricBuffer
from modelyard.client.client import Client
from modelyard.errors import InvalidInput, MetricsNotStored
from modelyard.limits import check_key

_open_runs: weakref.WeakSet[ActiveRun] = weakref.WeakSet()
_open_runs_lock = threading.Lock()


def _now_ms() -> int:
    return int(time.time() * 1000)


class ActiveRun:
    """A run being logged to; end it with :meth:`end` or by leaving its ``with`` block."""

    def __init__(
        self,
        client: Client,
        run: dict[str, object],
        *,
        owns_client: bool = False,
        batch_size: int = 10_000,
        capacity: int = 200_000,
        flush_interval: float = 1.0,
    ) -> None:
        self.client = client
        self.info = run
        self.id = str(run["run_id"])
        self.experiment_id = int(str(run["experiment_id"]))
        self._owns_client = owns_client
        self._ended = False
        self._metrics = MetricBuffer(
            self._send,
            batch_size=batch_size,
            capacity=capacity,
            flush_interval=flush_interval,
        )
        with _open_runs_lock:
            _open_runs.add(self)

    def _send(
        self, keys: list[str], values: list[float], steps: list[int], stamps: list[int], key: str
    ) -> None:
        self.client.log_metric_batch(self.id, keys, values, steps, stamps, idempotency_key=key)

    # -- logging -------------------------------------------------------------------------------

    def log_param(self, key: str, value: object) -> None:
        self.client.log_params(self.id, {key: value})

    def log_params(self, params: Mapping[str, object]) -> None:
        self.client.log_params(self.id, params)

    def set_tag(self, key: str, value: object) -> None:
        self.client.set_tags(self.id, {key: value})

    def set_tags(self, tags: Mapping[str, object]) -> None:
        self.client.set_tags(self.id, tags)

    def log_input(
        self,
        name: str,
        *,
        path: str | Path | None = None,
        digest: str | None = None,
        context: str | None = None,
        source: str | None = None,
        source_type: str | None = None,
        schema: Any = None,
        row_count: int | None = None,
        profile: Any = None,
        tags: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Record that this run read a version of dataset ``name``; returns that version.

        The version is ``digest``, or the sha256 of the file or directory at ``path`` (whose
        ``file://`` URI is then the default ``source``). The same content logged again, by this
        run or any other, is the same version. ``context`` says how it was used: "training",
        "validation"...
        """
        spec = _dataset_spec(name, path, digest, source, source_type, schema, row_count, profile)
        spec.update(context=context, tags=dict(tags) if tags else None)
        (logged,) = self.client.log_inputs(self.id, [spec])
        version: dict[str, Any] = logged["dataset"]
        return version

    def log_output(
        self,
        name: str,
        *,
        path: str | Path | None = None,
        digest: str | None = None,
        source: str | None = None,
        source_type: str | None = None,
        schema: Any = None,
        row_count: int | None = None,
        profile: Any = None,
    ) -> dict[str, Any]:
        """Record that this run wrote a version of dataset ``name`` (identified as in
        :meth:`log_input`); returns that version."""
        spec = _dataset_spec(name, path, digest, source, source_type, schema, row_count, profile)
        (logged,) = self.client.log_outputs(self.id, [spec])
        version: dict[str, Any] = logged["dataset"]
        return version

    def log_artifact(self, local_path: str | Path, path: str | None = None) -> dict[str, Any]:
        """Upload the file ``local_path`` as ``<path>/<its name>`` of this run's artifacts."""
        return self.client.upload_artifact(self.id, local_path, path)

    def log_artifacts(self, local_dir: str | Path, path: str | None = None) -> list[dict[str, Any]]:
        """Upload every file below ``local_dir`` (keeping its layout) below ``path``."""
        return self.client.upload_artifacts(self.id, local_dir, path)

    def log_model(
        self,
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
    ) -> dict[str, Any]:
        """Log the model directory ``path`` (its files plus an MLmodel metadata file with the
        flavor, signature and framework versions) from this run; returns the READY logged model,
        whose ``model_id`` a version is registered with:
        ``client.register_version(name, f"models:/{model_id}", model_id=model_id)``."""
        return self.client.log_model(
            self.id,
            path,
            name=name,
            flavor=flavor,
            model_type=model_type,
            signature=signature,
            framework_versions=framework_versions,
            tags=tags,
            params=params,
            step=step,
        )

    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Queue one point (returns at once; blocks only when the buffer is full)."""
        check_key(key, "metric key")
        self._metrics.add(key, float(value), step or 0, timestamp or _now_ms())

    def log_metrics(
        self, metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
    ) -> None:
        stamp = timestamp or _now_ms()
        for key, value in metrics.items():
            check_key(key, "metric key")
            self._metrics.add(key, float(value), step or 0, stamp)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every metric logged so far is stored on the server."""
        self._metrics.flush(timeout)

    # -- lifecycle -----------------------------------------------------------------------------

    def end(self, status: str = "FINISHED") -> None:
        """Flush metrics, then mark the run ``status``. Safe to call twice.

        When the flush fails (a batch was refused, or the server stayed unreachable past the
        retry deadline) the run is marked FAILED instead and :class:`MetricsNotStored` is raised,
        chained to the error that stopped the flush.
        """
        if self._ended:
            return
        self._ended = True
        with _open_runs_lock:
            _open_runs.discard(self)
        try:
            try:
                self._metrics.close()
            except Exception as exc:
                raise self._end_failed(exc) from exc
            self.client.update_run(self.id, status=status, end_time=_now_ms())
        finally:
            if self._owns_client:
                self.client.close()

    def _end_failed(self, cause: Exception) -> MetricsNotStored:
        """Mark the run FAILED (if the server lets us) and say what was not stored."""
        unsent = self._metrics.pending
        error = MetricsNotStored(
            f"run {self.id} ended FAILED: {unsent} metric points were not stored ({cause})",
            run_id=self.id,
            unsent=unsent,
        )
        try:
            self.client.update_run(self.id, status="FAILED", end_time=_now_ms())
        except Exception as mark_error:  # the cause above is the news; this is a footnote
            error.add_note(f"marking the run FAILED failed too: {mark_error}")
        return error

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.end("FINISHED")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.end("KILLED")
        else:
            self.end("FAILED")


def start_run(
    experiment: str = "Default",
    *,
    name: str | None = None,
    tags: Mapping[str, str] | None = None,
    parent: ActiveRun | str | None = None,
    client: Client | None = None,
    url: str | None = None,
) -> ActiveRun:
    """Create a run in ``experiment`` (created if missing) and return it, ready to log to."""
    owns = client is None
    client = client or Client(url)
    exp = client.get_or_create_experiment(experiment)
    parent_id = parent.id if isinstance(parent, ActiveRun) else parent
    run = client.create_run(
        int(exp["experiment_id"]), name=name, tags=tags, parent_run_id=parent_id
    )
    return ActiveRun(client, run, owns_client=owns)


def _dataset_spec(
    name: str,
    path: str | Path | None,
    digest: str | None,
    source: str | None,
    source_type: str | None,
    schema: Any,
    row_count: int | None,
    profile: Any,
) -> dict[str, Any]:
    """The fields of a dataset version to log, the digest computed from ``path`` if not given."""
    if digest is None:
        if path is None:
            raise InvalidInput("give the dataset's digest, or a path to compute it from")
        digest = path_digest(path)
    if path is not None and source is None:
        source, source_type = Path(path).resolve().as_uri(), source_type or "local"
    return {
        "name": name,
        "digest": digest,
        "source": source,
        "source_type": source_type,
        "schema": schema,
        "row_count": row_count,
        "profile": profile,
    }


@atexit.register
def _flush_open_runs() -> None:
    """At interpreter exit, store the metrics of runs that were never ended (and end them)."""
    with _open_runs_lock:
        runs = list(_open_runs)
    for run in runs:
        try:
            run.end("FINISHED")
        except Exception:  # the process is exiting; report, don't mask the real exit
            import logging

            logging.getLogger(__name__).exception("could not flush run %s at exit", run.id)
