"""A multipart upload on disk: its parts written in place into one file, then read back checked.

Layout of one upload (``<data dir>/mlflow-multipart/<upload id>/``)::

    manifest.json      the proxy path and the number of parts, written by ``create``
    assembly           the file being assembled: part n is written at (n - 1) * part size
    part-size          the size of every part but the last, fixed by the first such part
    last-part          the last part, when it came before any other told the part size
    part-<n>.etag      "<sha256 hex> <size>" of part n, written once its bytes are in place
    part-<n>.lock      held (``flock``) by the one request writing part n

The mlflow client cuts a file into parts of one size (the last one shorter) and PUTs them a few
at a time in any order. Writing each part at its offset leaves the whole file in ``assembly``
when the last part ends: ``complete`` then reads it once, hashing the whole for the store, and a
``file://`` store on the same filesystem takes the file over by a rename, so the bytes are
written once. A part is written by one request at a time (a second one is refused while the
first runs) and loses its ETag when it is sent again, until all its new bytes are in place: so
a recorded ETag always describes the bytes at that part's place, and a cut-off part has none.
The one exception to writing in place, a last part that came before the part size was known,
is copied into place at ``complete`` (at most one part).

Writers of parts hold a shared ``flock`` on ``assembly``; ``complete`` first renames it (no new
writer can open it) and then takes the lock exclusively (the writers that had it open finish
first); a writer that got its lock after the rename sees the name gone and stops.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from modelyard.artifacts.backend import Chunker
from modelyard.errors import Conflict, InvalidInput, MalformedRequest, NotFound, PayloadTooLarge

MANIFEST, ASSEMBLY, COMPLETING = "manifest.json", "assembly", "completing"
PART_SIZE, LAST_PART = "part-size", "last-part"
BLOCK = 4 * 1024 * 1024  # bytes per disk write or read (one thread hop each)


@dataclass(frozen=True)
class Manifest:
    path: str
    num_parts: int


def create(folder: Path, path: str, num_parts: int) -> None:
    folder.mkdir(mode=0o700)
    (folder / MANIFEST).write_text(
        json.dumps({"path": path, "num_parts": num_parts}), encoding="utf-8"
    )
    os.close(os.open(folder / ASSEMBLY, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def manifest(folder: Path) -> Manifest:
    raw = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    return Manifest(path=raw["path"], num_parts=raw["num_parts"])


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="ascii"))
    except FileNotFoundError:
        return None


def _claim_part_size(folder: Path, size: int) -> int:
    """The upload's part size: ``size`` if this part is the first to tell it, else the known one.

    Written to a private name and linked into place, so a reader never sees it half written
    and two first parts cannot both win.
    """
    temporary = folder / f"{PART_SIZE}.{uuid.uuid4().hex}"
    temporary.write_text(str(size), encoding="ascii")
    try:
        os.link(temporary, folder / PART_SIZE)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    known = _read_int(folder / PART_SIZE)
    assert known is not None
    return known


@dataclass(frozen=True)
class Placement:
    """Where a part's bytes go: ``file`` at ``offset``; ``separate`` for the early last part."""

    file: Path
    offset: int
    separate: bool
    last: bool


def place(folder: Path, number: int, num_parts: int, size: int, limit: int) -> Placement:
    """Where part ``number`` of ``size`` bytes goes; refuses sizes that break the layout."""
    last = number == num_parts
    part_size = _read_int(folder / PART_SIZE)
    if not last:
        if size == 0:
            raise InvalidInput("only the last part may be empty", field="part_number")
        part_size = part_size or _claim_part_size(folder, size)
        if size != part_size:
            raise InvalidInput(
                f"every part but the last must have the same size ({part_size} bytes); "
                f"part {number} has {size}",
                field="part_number",
            )
    elif part_size is not None and size > part_size:
        raise InvalidInput(
            f"the last part ({size} bytes) is longer than the others ({part_size})",
            field="part_number",
        )
    if part_size is not None and (num_parts - 1) * part_size > limit:
        raise PayloadTooLarge(f"artifact larger than {limit} bytes", limit=limit)
    if num_parts == 1:
        return Placement(folder / ASSEMBLY, 0, separate=False, last=True)
    if part_size is None:  # the last part, before any other: it waits aside
        return Placement(folder / f"{LAST_PART}.{uuid.uuid4().hex}", 0, separate=True, last=True)
    return Placement(folder / ASSEMBLY, (number - 1) * part_size, separate=False, last=last)


def _open_for_part(folder: Path, placement: Placement) -> int:
    if placement.separate:
        return os.open(placement.file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fd = os.open(placement.file, os.O_WRONLY)
    except FileNotFoundError:
        raise NotFound("the multipart upload is being completed or is gone") from None
    fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        current = os.stat(placement.file)
    except FileNotFoundError:
        current = None
    if current is None or current.st_ino != os.fstat(fd).st_ino:
        os.close(fd)  # renamed by complete while we waited for the lock
        raise NotFound("the multipart upload is being completed or is gone")
    return fd


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


async def write_part(
    folder: Path, number: int, placement: Placement, size: int, body: AsyncIterable[bytes]
) -> str:
    """Write the part's ``size`` bytes where ``placement`` says; its sha256 (hex), the ETag."""
    lock = await asyncio.to_thread(_lock_part, folder, number)
    try:
        return await _write_part(folder, number, placement, size, body)
    finally:
        await asyncio.to_thread(os.close, lock)


def _lock_part(folder: Path, number: int) -> int:
    try:
        fd = os.open(folder / f"part-{number}.lock", os.O_WRONLY | os.O_CREAT, 0o600)
    except FileNotFoundError:
        raise NotFound("the multipart upload is gone") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise Conflict(f"part {number} is being uploaded by another request") from None
    return fd


async def _write_part(
    folder: Path, number: int, placement: Placement, size: int, body: AsyncIterable[bytes]
) -> str:
    etag_file = folder / f"part-{number}.etag"
    # A part sent again is not the part it was until its new bytes are all in place.
    await asyncio.to_thread(etag_file.unlink, True)
    if placement.last and not placement.separate:
        # A copy of the last part set aside before the part size was known is stale now.
        await asyncio.to_thread((folder / LAST_PART).unlink, True)
    fd = await asyncio.to_thread(_open_for_part, folder, placement)
    chunker = Chunker(size)
    written = 0
    try:
        async for block in chunker.chunks(body, BLOCK):
            await asyncio.to_thread(_pwrite_all, fd, block, placement.offset + written)
            written += len(block)
        if written != size:
            raise MalformedRequest(f"the part ended after {written} of its {size} bytes")
        etag = chunker.sha256.hex()
        if placement.separate:
            await asyncio.to_thread(os.replace, placement.file, folder / LAST_PART)
        temporary = folder / f"part-{number}.{uuid.uuid4().hex}"
        await asyncio.to_thread(temporary.write_text, f"{etag} {size}", "ascii")
        await asyncio.to_thread(os.replace, temporary, etag_file)
    except FileNotFoundError:
        raise NotFound("the multipart upload was aborted while the part was sent") from None
    except BaseException:
        if placement.separate:
            await asyncio.to_thread(placement.file.unlink, True)
        raise
    finally:
        await asyncio.to_thread(os.close, fd)
    return etag


def recorded_etag(folder: Path, number: int) -> tuple[str, int] | None:
    try:
        etag, size = (folder / f"part-{number}.etag").read_text(encoding="ascii").split()
    except FileNotFoundError:
        return None
    return etag, int(size)


class Completion:
    """The assembled file, renamed out of reach of part writers and locked, while it is stored."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.file = folder / COMPLETING
        self._fd: int | None = None

    def begin(self) -> None:
        try:
            os.rename(self.folder / ASSEMBLY, self.file)
        except FileNotFoundError:
            raise Conflict("the multipart upload is being completed already") from None
        self._fd = os.open(self.file, os.O_RDWR)
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # the parts being written finish first

    def give_back(self) -> None:
        """Undo ``begin`` after a refused complete (unless the store took the file already)."""
        self.close()
        try:
            os.rename(self.file, self.folder / ASSEMBLY)
        except FileNotFoundError:
            pass

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def finish_layout(self, sizes: list[int]) -> int:
        """Put an early last part in place and cut the file to its length; the length."""
        assert self._fd is not None
        total = sum(sizes)
        last = self.folder / LAST_PART
        if last.exists():
            offset = total - sizes[-1]
            with last.open("rb") as source:
                while block := source.read(BLOCK):
                    _pwrite_all(self._fd, block, offset)
                    offset += len(block)
        os.ftruncate(self._fd, total)
        return total

    async def blocks(self, total: int) -> AsyncIterator[bytes]:
        """The assembled file's bytes in order (the store hashes them as they pass)."""
        assert self._fd is not None
        fd, offset = self._fd, 0
        while offset < total:
            block = await asyncio.to_thread(os.pread, fd, min(BLOCK, total - offset), offset)
            if not block:
                raise InvalidInput("the assembled file is shorter than its parts", field="parts")
            offset += len(block)
            yield block
