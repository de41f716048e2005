"""Advisory file locks (``flock``) with a timeout.

``flock`` locks belong to an open file description, so the kernel drops them when the holding
process dies, however it dies: a crashed modelyard command never leaves a lock behind. Two
``FileLock`` objects on one path conflict even inside one process, which lets tests run two
"processes" as two objects.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from modelyard.embedded.errors import LockTimeout

_POLL_SECONDS = 0.02


class FileLock:
    """An exclusive (or, with ``shared``, a shared) ``flock`` on ``path`` (created 0600)."""

    def __init__(self, path: Path, *, shared: bool = False) -> None:
        self.path = path
        self._mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; return whether we hold it now."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, self._mode | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def acquire(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the lock.

        Polling rather than a blocking ``flock`` keeps the timeout without signals or threads.
        """
        deadline = time.monotonic() + timeout
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                raise LockTimeout(f"timed out after {timeout:g}s waiting for lock {self.path}")
            time.sleep(_POLL_SECONDS)

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the last descriptor releases the flock

    def write(self, text: str) -> None:
        """Replace the file's content; only the holder writes, readers just show it in messages."""
        if self._fd is None:
            raise RuntimeError(f"lock {self.path} is not held")
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, text.encode(), 0)


def read_text(path: Path) -> str:
    """Return a lock file's content, or ``""`` when it does not exist."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""
