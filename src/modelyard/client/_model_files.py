"""A logged model's files: uploaded as artifacts of its run, downloaded by ``models:/`` URI.

Uploads stream each file from disk in 1 MiB blocks; downloads stream each file to disk while
hashing it and refuse a file whose sha256 differs from the one the server listed, so neither
side holds a whole file in memory and a corrupted download never passes for a good one.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from modelyard.client._http import HttpSession, raise_for
from modelyard.errors import ArtifactCorrupted, InvalidInput, NotFound
from modelyard.limits import METADATA_FILE
from modelyard.uris import ModelVersionRef, parse_uri

_BLOCK = 1024 * 1024
Json = dict[str, Any]


def _blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            yield block


def _artifact_url(run_id: str, path: str) -> str:
    return f"/runs/{run_id}/artifacts/{quote(path, safe='/')}"


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
    http = session.raw()
    for relative, file in model_files(directory):
        raise_for(http.put(_artifact_url(run_id, f"{root}/{relative}"), content=_blocks(file)))
    document = metadata_document(model, metadata)
    raise_for(http.put(_artifact_url(run_id, f"{root}/{METADATA_FILE}"), content=document))


def download_model(session: HttpSession, model: Json, destination: Path) -> list[Path]:
    """Every file of the model into ``destination`` (created), each checked against its sha256."""
    run_id, root = model["source_run_id"], model["artifact_path"]
    if run_id is None:
        raise NotFound(f"logged model {model['model_id']} has no run holding its files")
    listing = session.request(
        "GET", f"/runs/{run_id}/artifacts", params={"path": root, "recursive": "true"}
    )
    written = []
    http = session.raw()
    for entry in listing["files"]:
        if entry["is_dir"]:
            continue
        relative = entry["path"][len(root) + 1 :]
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with http.stream("GET", _artifact_url(run_id, entry["path"])) as response:
            raise_for(response)
            with target.open("wb") as handle:
                for block in response.iter_bytes(_BLOCK):
                    digest.update(block)
                    handle.write(block)
        if digest.hexdigest() != entry["sha256"]:
            target.unlink()
            raise ArtifactCorrupted(
                f"{entry['path']} arrived with sha256 {digest.hexdigest()}, "
                f"expected {entry['sha256']}",
                path=entry["path"],
            )
        written.append(target)
    return written


def version_ref(uri: str) -> ModelVersionRef:
    """``models:/NAME/VERSION``, ``models:/NAME@ALIAS`` or ``models:/NAME/latest``."""
    ref = parse_uri(uri)
    if not isinstance(ref, ModelVersionRef):
        raise InvalidInput(f"{uri!r} is not a models:/ URI", field="uri")
    return ref
