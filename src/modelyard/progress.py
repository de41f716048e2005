"""Progress reporting for long operations (backup, restore, gc, artifact transfers), as phases."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

Advance = Callable[[int], None]


class Progress(Protocol):
    """Receives the phases of an operation; ``phase`` yields a function that advances it."""

    def phase(self, description: str, total: int | None) -> AbstractContextManager[Advance]: ...


class NoProgress:
    """Reports nothing: the default for library callers, ``--quiet`` and non-terminals."""

    @contextmanager
    def phase(self, description: str, total: int | None) -> Iterator[Advance]:
        yield lambda _n: None


class RichProgress:
    """One bar per phase on stderr, drawn with ``rich``; stdout stays free for results."""

    @contextmanager
    def phase(self, description: str, total: int | None) -> Iterator[Advance]:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as Bar

        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Bar(*columns, console=Console(stderr=True), transient=False) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n: bar.advance(task, n)


class ByteProgress:
    """Like :class:`RichProgress` but counting bytes, with the speed (artifact transfers)."""

    @contextmanager
    def phase(self, description: str, total: int | None) -> Iterator[Advance]:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as Bar

        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        with Bar(*columns, console=Console(stderr=True), transient=False) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n: bar.advance(task, n)
