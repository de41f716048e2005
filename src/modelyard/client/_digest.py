"""Content digests of local data: what identifies a dataset version the client logs from a path.

A file's digest is the sha256 of its bytes, read in blocks so any size fits in memory. A
directory's digest is the sha256 of one line per regular file, in the order of their relative
POSIX paths: ``<path> NUL <size> NUL <sha256 of the file> LF``. It depends on names and contents
only (not on times, permissions or the directory's own location), so the same data copied
elsewhere has the same digest.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from modelyard.errors import InvalidInput

_BLOCK = 1024 * 1024


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def path_digest(path: str | Path) -> str:
    """The sha256 hex digest of a file, or of a directory tree as described above."""
    target = Path(path)
    if target.is_file():
        return file_digest(target)
    if not target.is_dir():
        raise InvalidInput(f"{str(target)!r} is neither a file nor a directory", field="path")
    digest = hashlib.sha256()
    files = {p.relative_to(target).as_posix(): p for p in target.rglob("*") if p.is_file()}
    for name in sorted(files):
        file = files[name]
        line = f"{name}\0{file.stat().st_size}\0{file_digest(file)}\n"
        digest.update(line.encode("utf-8", errors="surrogateescape"))
    return digest.hexdigest()
