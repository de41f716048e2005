"""The artifact files a backup carries: blobs of ``file://`` stores, checked both ways.

``postgresql``-store blobs are rows of the schema, so the dump and the table checksums already
hold them. ``file://`` blobs live in a directory: a backup adds every blob referenced in the
dump's snapshot as the member ``artifacts/<store key>/<locator>``, with its size and sha256
(which is also its file name) in the manifest, and fails if a file is missing or no longer
matches its sha256 (a damaged store must not yield an archive that looks good). Restore writes
each member into the store's ``staging/`` while the archive is verified, and moves the files
into place only once every member matched the manifest. ``s3://`` stores are backed up by the
bucket's own versioning and replication (docs/deployment.md), not by the archive.

gc (or an upload replacing a condemned blob) removes blob files only while holding
``BYTES_REMOVAL_LOCK`` exclusively, and a backup holds it shared from before its snapshot to its
end, so a blob referenced in the snapshot cannot vanish while it is being copied.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from modelyard.artifacts.location import parse_store_url
from modelyard.backup.archive import (
    ARTIFACTS_PREFIX,
    ArtifactEntry,
    FileEntry,
    Manifest,
    store_key,
)
from modelyard.errors import BackupError


@dataclass(frozen=True)
class BlobFile:
    """A blob file to put in the archive: where it is, and what it must hash to."""

    member: str
    source: Path
    size: int
    sha256: str
    store_url: str
    locator: str

    @property
    def entries(self) -> tuple[FileEntry, ArtifactEntry]:
        return (
            FileEntry(self.member, self.size, self.sha256),
            ArtifactEntry(path=self.member, store=self.store_url, uri=self.locator),
        )


def blob_file(store_url: str, sha256: bytes, size: int, locator: str) -> BlobFile:
    """The archive member of one ``file://`` blob row."""
    root = Path(parse_store_url(store_url).path)
    return BlobFile(
        member=f"{ARTIFACTS_PREFIX}{store_key(store_url)}/{locator}",
        source=root / locator,
        size=size,
        sha256=sha256.hex(),
        store_url=store_url,
        locator=locator,
    )


class Installer:
    """Stages verified artifact members in their stores, then moves them into place."""

    def __init__(self, manifest: Manifest) -> None:
        self._targets = {a.path: a for a in manifest.artifacts}
        self._staged: list[tuple[Path, Path]] = []

    def staging_path(self, member: str) -> Path | None:
        """Where to write ``member`` while it is verified (None: not an artifact)."""
        artifact = self._targets.get(member)
        if artifact is None:
            return None
        root = Path(parse_store_url(artifact.store).path)
        staging = root / "staging"
        try:
            staging.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise BackupError(
                f"cannot write artifacts to {artifact.store}: {exc.strerror}"
            ) from exc
        path = staging / f"restore-{uuid.uuid4().hex}.part"
        self._staged.append((path, root / artifact.uri))
        return path

    def install(self) -> int:
        """Move every staged file to its blob path (fsynced); the number of files."""
        for staged, target in self._staged:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.replace(staged, target)
            directory = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        count = len(self._staged)
        self._staged.clear()
        return count

    def discard(self) -> None:
        """Remove staged files (the archive failed verification)."""
        for staged, _ in self._staged:
            staged.unlink(missing_ok=True)
        self._staged.clear()
