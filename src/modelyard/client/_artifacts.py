"""The run-artifact methods of :class:`modelyard.client.Client` (``/runs/{run_id}/artifacts``).

The layout follows MLflow's ``log_artifact(s)`` so code moving over keeps its paths: a file is
stored as ``<path>/<file name>``, a directory's contents are stored below ``<path>`` (the root
when ``path`` is None). Downloads go the other way like ``cp -r``: a file arrives as
``<dst>/<file name>``, a directory as ``<dst>/<directory name>/...`` (the root's files directly
in ``<dst>``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from modelyard.artifacts import paths
from modelyard.client import _transfer
from modelyard.client._http import HttpSession
from modelyard.errors import InvalidInput
from modelyard.progress import NoProgress, Progress

Json = dict[str, Any]


def _under(directory: str | None, name: str) -> str:
    return paths.join(paths.check_directory(directory), name)


class ArtifactCalls:
    """Mixed into ``Client``, which provides the HTTP session."""

    if TYPE_CHECKING:
        _session: HttpSession

        def _call(self, method: str, path: str, **kwargs: Any) -> Any: ...

    def upload_artifact(
        self,
        run_id: str,
        local_path: str | Path,
        path: str | None = None,
        *,
        progress: Progress | None = None,
    ) -> Json:
        """Upload the file ``local_path`` as ``<path>/<its name>`` of the run (replacing a file
        there); returns the stored ``{path, size, sha256}``, checked against what was sent."""
        local = Path(local_path)
        if not local.is_file():
            raise InvalidInput(f"{str(local)!r} is not a file", field="local_path")
        target = _under(path, local.name)
        with (progress or NoProgress()).phase(target, local.stat().st_size) as advance:
            return _transfer.upload_file(self._session, run_id, target, local, advance)

    def upload_artifacts(
        self,
        run_id: str,
        local_dir: str | Path,
        path: str | None = None,
        *,
        progress: Progress | None = None,
    ) -> list[Json]:
        """Upload every file below the directory ``local_dir``, keeping its layout, below
        ``path`` (the run's root when None); returns the stored files in path order."""
        files = _transfer.local_files(Path(local_dir))
        targets = [(_under(path, relative), file) for relative, file in files]
        total = sum(file.stat().st_size for _, file in targets)
        stored = []
        with (progress or NoProgress()).phase(f"uploading {len(files)} files", total) as advance:
            for target, file in targets:
                stored.append(_transfer.upload_file(self._session, run_id, target, file, advance))
        return stored

    def list_artifacts(
        self, run_id: str, path: str | None = None, *, recursive: bool = False
    ) -> list[Json]:
        """The children of directory ``path`` (the root when None): ``{name, path, is_dir, size,
        sha256}``; with ``recursive``, every file below it instead."""
        params = {"path": paths.check_directory(path), "recursive": str(recursive).lower()}
        url = f"/runs/{quote(str(run_id), safe='')}/artifacts"
        listing: Json = self._call("GET", url, params=params)
        files: list[Json] = listing["files"]
        return files

    def download_artifact(
        self,
        run_id: str,
        path: str,
        dst: str | Path = ".",
        *,
        progress: Progress | None = None,
    ) -> Path:
        """Download the file ``path`` as ``<dst>/<its name>``, verified against its sha256 (a
        mismatch is ArtifactCorrupted and leaves no file behind); returns the local path."""
        path = paths.check_path(path)
        target = Path(dst) / path.rsplit("/", 1)[-1]
        shown = progress or NoProgress()
        _transfer.download_file(
            self._session, run_id, path, target, lambda file: shown.phase(path, file.size)
        )
        return target

    def download_artifacts(
        self,
        run_id: str,
        path: str | None = None,
        dst: str | Path = ".",
        *,
        progress: Progress | None = None,
    ) -> list[Path]:
        """Download the file or directory ``path`` (the whole root when None) into ``dst``, like
        ``cp -r``; every file is sha256-verified. Returns the local files written."""
        directory = paths.check_directory(path)
        files = _transfer.remote_files(self._session, run_id, directory)
        if directory and not files:
            # Not a directory (or an empty one, which cannot exist): a file, or NotFound.
            return [self.download_artifact(run_id, directory, dst, progress=progress)]
        destination = Path(dst)
        if directory:
            destination = destination / directory.rsplit("/", 1)[-1]
        return _transfer.download_tree(
            self._session, run_id, directory, destination, files, progress or NoProgress()
        )

    def delete_artifact(self, run_id: str, path: str) -> None:
        """Delete the file ``path``, or the directory ``path`` with everything below it."""
        target = paths.check_directory(path)
        if not target:
            raise InvalidInput("refusing to delete the whole artifact root; name a path")
        self._call("DELETE", _transfer.artifact_url(run_id, target))
