"""A logged model's files: uploaded as artifacts of its run, downloaded by ``models:/`` URI.

The files travel like any run artifact (:mod:`modelyard.client._transfer`): streamed both ways,
each one's sha256 checked, a corrupted download never kept.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from modelyard.client._http import HttpSession, raise_for
from modelyard.client._transfer import (
    artifact_url,
    download_tree,
    remote_files,
    upload_file,
)
from modelyard.errors import InvalidInput, NotFound
from modelyard.limits import METADATA_FILE
from modelyard.progress import NoProgress
from modelyard.uris import ModelVersionRef, parse_uri

Json = dict[str, Any]


def model_files(directory: Path) -> list[tuple[str, Path]]:
    """The files of a model directory as (relative POSIX path, file), in path order."""
    if not directory.is_dir():
        raise InvalidInput(f"{str(directory)!r} is not a directory", field="path")
    files = {p.relative_to(directory).as_posix(): p for p in directory.rglob("*") if p.is_file()}
    if METADATA_FILE in files:
        raise InvalidInput(
            f"{METADATA_FILE} is written by log_model; the directory must not hold one",
            field="path",
        )
    return sorted(files.items())


def metadata_document(model: Json, metadata: Json) -> bytes:
    """The MLmodel file: JSON (which YAML readers such as MLflow's accept)."""
    document = {
        "model_id": model["model_id"],
        "name": model["name"],
        "run_id": model["source_run_id"],
        "artifact_path": model["artifact_path"],
        "flavors": {model["flavor"]: {}} if model.get("flavor") else {},
        "utc_time_created": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        **metadata,
    }
    return json.dumps(document, indent=2, sort_keys=True).encode()


def upload_model(session: HttpSession, model: Json, directory: Path, metadata: Json) -> None:
    """Upload the directory's files and the MLmodel file under the model's artifact path."""
    run_id, root = model["source_run_id"], model["artifact_path"]
    for relative, file in model_files(directory):
        upload_file(session, run_id, f"{root}/{relative}", file, _ignore)
    document = metadata_document(model, metadata)
    headers = {"content-type": "application/octet-stream"}
    url = artifact_url(run_id, f"{root}/{METADATA_FILE}")
    raise_for(session.send_stream("PUT", url, content=[document], headers=headers))


def download_model(session: HttpSession, model: Json, destination: Path) -> list[Path]:
    """Every file of the model into ``destination`` (created), each checked against its sha256."""
    run_id, root = model["source_run_id"], model["artifact_path"]
    if run_id is None:
        raise NotFound(f"logged model {model['model_id']} has no run holding its files")
    files = remote_files(session, run_id, root)
    return download_tree(session, run_id, root, destination, files, NoProgress())


def _ignore(_n: int) -> None:
    """Progress is not reported for model files."""


def version_ref(uri: str) -> ModelVersionRef:
    """``models:/NAME/VERSION``, ``models:/NAME@ALIAS`` or ``models:/NAME/latest``."""
    ref = parse_uri(uri)
    if not isinstance(ref, ModelVersionRef):
        raise InvalidInput(f"{uri!r} is not a models:/ URI", field="uri")
    return ref
