"""The backup archive: an uncompressed tar of a manifest, a pg_dump and artifact files.

Layout (every member a regular file; no directories, links or absolute paths)::

    manifest.json           what the archive holds, with a sha256 of every other member
    database.dump           pg_dump -Fc of the modelyard schema (compressed by pg_dump itself)
    artifacts/<store>/<p>   artifact files kept outside PostgreSQL (blobs of file:// stores),
                            one entry each in manifest["artifacts"] (backup/artifacts.py)

The tar is not gzipped: the dump is already compressed, and artifacts (model weights) rarely
compress, so gzip would only cost time and make reading one member mean inflating the ones
before it. The manifest carries a sha256 of its own canonical JSON (``manifest_sha256``), so an
edited or damaged manifest is caught like a damaged dump. That guards against accidents, not
against someone who recomputes the hashes; sign or store archives elsewhere for that.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import msgspec

from modelyard.artifacts.location import parse_store_url
from modelyard.db.conninfo import check_schema_name
from modelyard.errors import BackupCorrupted, BackupError, InvalidInput

FORMAT = "modelyard-backup"
FORMAT_VERSION = 1
MANIFEST_MEMBER = "manifest.json"
DUMP_MEMBER = "database.dump"
ARTIFACTS_PREFIX = "artifacts/"
# How table checksums are computed (checksums.py); a new method gets a new name.
CHECKSUM_METHOD = "sha256/copy-text/pk-order-c-collation/v1"
_MAX_MANIFEST_BYTES = 64 * 1024 * 1024
_CHUNK = 1024 * 1024
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_LOCATOR = re.compile(r"^blobs/([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})$")


class TableDigest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Row count and content checksum of one table, as of the dump's snapshot."""

    name: str
    rows: int
    sha256: str


class FileEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One member of the archive other than the manifest."""

    path: str
    size: int
    sha256: str


class ArtifactEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An artifact file carried in the archive: its member path and where it came from."""

    path: str  # member path: artifacts/<store_key(store)>/<uri>
    store: str  # the URL of the artifact store it was read from (artifact_blob.store_url)
    uri: str  # where it lives inside that store (artifact_blob.locator: blobs/ab/cd/<sha256>)


class Manifest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything needed to check an archive without a database, and to check a restore."""

    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    modelyard_version: str
    created_at: str  # ISO 8601, UTC
    server_version: str
    server_major: int
    pg_dump_version: str
    pg_dump_major: int
    schema: str
    schema_version: int
    checksum_method: str = CHECKSUM_METHOD
    tables: tuple[TableDigest, ...]
    files: tuple[FileEntry, ...]
    artifacts: tuple[ArtifactEntry, ...] = ()
    manifest_sha256: str = ""

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables)


def _canonical(manifest: Manifest) -> bytes:
    body = msgspec.to_builtins(manifest)
    body.pop("manifest_sha256", None)
    return msgspec.json.encode(body, order="sorted")


def seal(manifest: Manifest) -> Manifest:
    """The manifest with ``manifest_sha256`` set over its other fields."""
    digest = hashlib.sha256(_canonical(manifest)).hexdigest()
    return msgspec.structs.replace(manifest, manifest_sha256=digest)


def file_digest(path: Path) -> tuple[int, str]:
    """Size and sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _tarinfo(name: str, size: int) -> tarfile.TarInfo:
    # Fixed ownership and mode: the archive says nothing about the machine that wrote it.
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


class _Hashing:
    """A file object that hashes what tarfile reads through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.digest.update(data)
        return data


def _add_checked(tar: tarfile.TarFile, name: str, source: Path, size: int, sha256: str) -> None:
    """Add ``source`` as ``name``, failing unless it has exactly the size and sha256 expected."""
    try:
        with source.open("rb") as f:
            if os.fstat(f.fileno()).st_size != size:
                raise BackupError(
                    f"artifact file {source} is not {size} bytes as its blob says; "
                    "the store is damaged (run the backup again if gc or an upload replaced it)"
                )
            hashing = _Hashing(f)
            tar.addfile(_tarinfo(name, size), hashing)
    except FileNotFoundError:
        raise BackupError(f"artifact file {source} is missing from its store") from None
    if hashing.digest.hexdigest() != sha256:
        raise BackupError(f"artifact file {source} does not match its sha256; the store is damaged")


def write_archive(
    path: Path,
    manifest: Manifest,
    members: dict[str, Path],
    checked: Sequence[tuple[str, Path, int, str]] = (),
    on_checked: Callable[[int], None] | None = None,
) -> None:
    """Write the archive to ``path`` atomically (a temporary file renamed into place).

    ``checked`` members (name, source, size, sha256) are hashed as they are copied, and the
    archive is not written if one differs (``on_checked`` is told of each one added).
    """
    manifest_bytes = msgspec.json.format(msgspec.json.encode(seal(manifest)), indent=2)
    fd, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
                # The manifest goes first so a reader finds it without reading the dump.
                tar.addfile(
                    _tarinfo(MANIFEST_MEMBER, len(manifest_bytes)), io.BytesIO(manifest_bytes)
                )
                for name, source in members.items():
                    with source.open("rb") as f:
                        tar.addfile(_tarinfo(name, source.stat().st_size), f)
                for name, source, size, sha256 in checked:
                    _add_checked(tar, name, source, size, sha256)
                    if on_checked is not None:
                        on_checked(1)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def parse_manifest(data: bytes) -> Manifest:
    """Decode and check a manifest: format, version, self-checksum and field sanity."""
    try:
        raw: Any = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise BackupCorrupted(f"{MANIFEST_MEMBER} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise BackupCorrupted(f"{MANIFEST_MEMBER} is not a modelyard backup manifest")
    version = raw.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise BackupError(
            f"archive format version {version} is newer than this modelyard reads "
            f"({FORMAT_VERSION}); upgrade modelyard"
        )
    try:
        manifest = msgspec.convert(raw, Manifest)
    except msgspec.ValidationError as exc:
        raise BackupCorrupted(f"{MANIFEST_MEMBER} is malformed: {exc}") from exc
    if seal(manifest).manifest_sha256 != manifest.manifest_sha256:
        raise BackupCorrupted(f"{MANIFEST_MEMBER} was modified: its own checksum does not match")
    _check_fields(manifest)
    return manifest


def _check_fields(manifest: Manifest) -> None:
    try:
        check_schema_name(manifest.schema)
    except ValueError as exc:
        raise BackupCorrupted(f"{MANIFEST_MEMBER}: {exc}") from exc
    names = [t.name for t in manifest.tables]
    if len(set(names)) != len(names):
        raise BackupCorrupted(f"{MANIFEST_MEMBER} lists a table twice")
    entries: list[TableDigest | FileEntry] = [*manifest.tables, *manifest.files]
    for entry in entries:
        if not _HEX64.match(entry.sha256):
            raise BackupCorrupted(f"{MANIFEST_MEMBER}: bad sha256 for {_label(entry)}")
    if any(t.rows < 0 for t in manifest.tables) or any(f.size < 0 for f in manifest.files):
        raise BackupCorrupted(f"{MANIFEST_MEMBER}: negative row count or size")
    paths = [f.path for f in manifest.files]
    if len(set(paths)) != len(paths) or DUMP_MEMBER not in paths:
        raise BackupCorrupted(f"{MANIFEST_MEMBER}: file list must name {DUMP_MEMBER} once")
    files = {f.path: f for f in manifest.files}
    for artifact in manifest.artifacts:
        if not artifact.path.startswith(ARTIFACTS_PREFIX) or artifact.path not in paths:
            raise BackupCorrupted(f"{MANIFEST_MEMBER}: artifact {artifact.path!r} is not a file")
        _check_artifact(artifact, files[artifact.path])


def store_key(store_url: str) -> str:
    """A short, stable directory name for an artifact store inside the archive."""
    return hashlib.sha256(store_url.encode()).hexdigest()[:12]


def _check_artifact(artifact: ArtifactEntry, entry: FileEntry) -> None:
    """An artifact names a file:// store and a blob path that is its own sha256.

    A hostile or damaged manifest must not make restore write outside the store's ``blobs/``
    directory, or install bytes under a name they do not hash to.
    """
    try:
        kind = parse_store_url(artifact.store).kind
    except InvalidInput as exc:
        raise BackupCorrupted(f"artifact {artifact.path!r}: {exc.message}") from exc
    match = _LOCATOR.match(artifact.uri)
    if (
        kind != "file"
        or match is None
        or match.group(3) != entry.sha256
        or match.group(3)[:4] != match.group(1) + match.group(2)
        or artifact.path != f"{ARTIFACTS_PREFIX}{store_key(artifact.store)}/{artifact.uri}"
    ):
        raise BackupCorrupted(
            f"artifact {artifact.path!r} does not name a blob of a file:// store by its sha256"
        )


def _label(entry: TableDigest | FileEntry) -> str:
    return f"table {entry.name}" if isinstance(entry, TableDigest) else f"file {entry.path}"


def _check_member(member: tarfile.TarInfo) -> None:
    name = member.name
    if not member.isfile():
        raise BackupCorrupted(f"archive member {name!r} is not a regular file")
    parts = name.split("/")
    if name.startswith("/") or ".." in parts or "" in parts:
        raise BackupCorrupted(f"archive member {name!r} has an unsafe path")
    if name not in (MANIFEST_MEMBER, DUMP_MEMBER) and not name.startswith(ARTIFACTS_PREFIX):
        raise BackupCorrupted(f"unexpected archive member {name!r}")


@contextmanager
def _open_tar(path: Path) -> Iterator[tarfile.TarFile]:
    if not path.is_file():
        raise BackupError(f"{path} does not exist or is not a file")
    try:
        tar = tarfile.open(path, mode="r:")
    except tarfile.TarError as exc:
        raise BackupCorrupted(f"{path} is not a modelyard backup archive ({exc})") from exc
    try:
        with tar:
            yield tar
    except (tarfile.TarError, EOFError) as exc:
        # Reading past the end of a truncated file lands here.
        raise BackupCorrupted(f"{path} is truncated or damaged ({exc})") from exc


def _copy_member(source: IO[bytes], sink: IO[bytes] | None) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
        if sink is not None:
            sink.write(chunk)
    return size, digest.hexdigest()


def read_verified(
    path: Path,
    extract_dump_to: Path | None = None,
    extract: Callable[[Manifest, str], Path | None] | None = None,
) -> Manifest:
    """Check the archive's structure, manifest and every member's size and sha256.

    With ``extract_dump_to``, the dump is written there while it is hashed, so what a restore
    feeds to pg_restore is exactly the bytes that were checked; ``extract`` names where to
    write other members the same way (None: only check it).
    """
    with _open_tar(path) as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        for member in members:
            _check_member(member)
        if len(set(names)) != len(names):
            raise BackupCorrupted("the archive holds a member twice")
        if MANIFEST_MEMBER not in names:
            raise BackupCorrupted(f"the archive has no {MANIFEST_MEMBER}")
        manifest_file = tar.extractfile(MANIFEST_MEMBER)
        assert manifest_file is not None  # a regular file, checked above
        manifest = parse_manifest(manifest_file.read(_MAX_MANIFEST_BYTES))
        expected = {f.path: f for f in manifest.files}
        actual = set(names) - {MANIFEST_MEMBER}
        if missing := sorted(set(expected) - actual):
            raise BackupCorrupted(f"the archive lacks {missing[0]} (listed in the manifest)")
        if extra := sorted(actual - set(expected)):
            raise BackupCorrupted(f"archive member {extra[0]} is not in the manifest")
        for member in members:
            if member.name == MANIFEST_MEMBER:
                continue
            if member.name == DUMP_MEMBER:
                sink = extract_dump_to
            else:
                sink = extract(manifest, member.name) if extract is not None else None
            _verify_member(tar, member, expected[member.name], sink)
    return manifest


def _verify_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, entry: FileEntry, sink_path: Path | None
) -> None:
    source = tar.extractfile(member)
    assert source is not None
    if sink_path is not None:
        with sink_path.open("wb") as sink:
            size, digest = _copy_member(source, sink)
            sink.flush()
            os.fsync(sink.fileno())
    else:
        size, digest = _copy_member(source, None)
    if size != entry.size:
        raise BackupCorrupted(f"{member.name} is {size} bytes, the manifest says {entry.size}")
    if digest != entry.sha256:
        raise BackupCorrupted(f"{member.name} is corrupted: its sha256 does not match the manifest")
