"""The artifact files a backup carries: blobs of ``file://`` stores, checked both ways.

``postgresql``-store blobs are rows of the schema, so the dump and the table checksums already
hold them. ``file://`` blobs live in a directory: a backup adds every blob referenced in the
dump's snapshot as the member ``artifacts/<store key>/<locator>``, with its size and sha256
(which is also its file name) in the manifest, and fails if a file is missing or no longer
matches its sha256 (a damaged store must not yield an archive that looks good). Restore writes
each member into the store's ``staging/`` while the archive is verified, checks that the
restored rows reference exactly the blobs the manifest carries, and moves the files into place
only then. Files go to the store their rows name, or to the one ``file://`` store given to
``modelyard restore --artifact-store`` (the rows move with them); never to a place that only
the archive names. ``s3://`` stores are backed up by the
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

from modelyard.artifacts.location import StoreLocation, parse_store_url
from modelyard.backup.archive import (
    ARTIFACTS_PREFIX,
    ArtifactEntry,
    FileEntry,
    Manifest,
    store_key,
)
from modelyard.errors import BackupCorrupted, BackupError, RestoreRefused


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
    """Stages verified artifact members in their stores, then moves them into place.

    A member goes only to the store its blob row names (the manifest says which, and
    :meth:`check_rows` holds the manifest to the restored rows before anything is installed),
    or to the one ``file://`` store the operator named for the restore, whose rows are then
    moved to it. The path inside a store is the blob's own name (archive.py checked it), and
    every directory on the way must resolve inside the store's root, so neither an archive nor
    a symbolic link in the store can make restore write elsewhere.
    """

    def __init__(self, manifest: Manifest, target: str | None = None) -> None:
        self._targets = {a.path: a for a in manifest.artifacts}
        self._manifest = manifest
        self._staged: list[tuple[Path, Path]] = []
        recorded = sorted({a.store for a in manifest.artifacts})
        self._moved_to: StoreLocation | None = None
        if target is not None:
            location = parse_store_url(target)
            if location.kind == "file" and recorded != [location.url]:
                if len(recorded) > 1:
                    raise RestoreRefused(
                        f"the archive holds artifacts of {len(recorded)} file:// stores "
                        f"({', '.join(recorded)}); restore them to where they were, without "
                        "--artifact-store"
                    )
                self._moved_to = location

    @property
    def moved(self) -> tuple[str, str] | None:
        """(recorded store, the store named for the restore) when the rows move; else None."""
        if self._moved_to is None or not self._manifest.artifacts:
            return None
        return self._manifest.artifacts[0].store, self._moved_to.url

    def _root(self, store: str) -> Path:
        location = self._moved_to or parse_store_url(store)
        return Path(location.path)

    def staging_path(self, member: str) -> Path | None:
        """Where to write ``member`` while it is verified (None: not an artifact)."""
        artifact = self._targets.get(member)
        if artifact is None:
            return None
        root = self._root(artifact.store)
        staging = root / "staging"
        try:
            staging.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise BackupError(f"cannot write artifacts to {root}: {exc.strerror}") from exc
        target = root / artifact.uri
        _inside(root, staging)
        _inside(root, target)
        path = staging / f"restore-{uuid.uuid4().hex}.part"
        self._staged.append((path, target))
        return path

    def check_rows(self, rows: set[tuple[str, str, str, int]]) -> None:
        """The restored file:// blob rows (store, locator, sha256 hex, size) that runs reference
        must be exactly the archive's artifacts: the manifest names no other place, and every
        blob the database needs is carried."""
        sizes = {f.path: f for f in self._manifest.files}
        carried = {
            (a.store, a.uri, sizes[a.path].sha256, sizes[a.path].size)
            for a in self._manifest.artifacts
        }
        if carried != rows:
            extra = sorted(carried - rows)[:1]
            missing = sorted(rows - carried)[:1]
            raise BackupCorrupted(
                "the archive's artifacts do not match the blob rows of its dump"
                + (f": {extra[0][0]}/{extra[0][1]} is no referenced blob" if extra else "")
                + (f": {missing[0][0]}/{missing[0][1]} is not in the archive" if missing else "")
            )

    def install(self) -> int:
        """Move every staged file to its blob path (fsynced); the number of files."""
        for staged, target in self._staged:
            root = target.parents[3]  # blobs/ab/cd/<sha256> below the root
            _inside(root, target)  # again: the store may have changed since staging
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            _inside(root, target)
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


def _inside(root: Path, path: Path) -> None:
    """Refuse ``path`` unless it resolves inside ``root`` (no symbolic link leads out)."""
    if not path.resolve().is_relative_to(root.resolve()):
        raise RestoreRefused(
            f"{path} leads outside the artifact store {root} (a symbolic link); "
            "nothing was restored"
        )
