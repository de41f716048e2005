"""What `bootstrap` did: one line per object, created, changed, unchanged or skipped."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Action", "BootstrapReport", "Change"]


class Action(StrEnum):
    CREATED = "created"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    # An optional extension the server does not offer; a stable state, not a change.
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Change:
    """One object and what bootstrapping did to it; ``detail`` says what changed or why skipped."""

    kind: str
    name: str
    action: Action
    detail: str = ""

    def __str__(self) -> str:
        text = f"{self.kind} {self.name}: {self.action}"
        return f"{text} ({self.detail})" if self.detail else text


@dataclass(frozen=True)
class BootstrapReport:
    """Every object the spec covers, in the order they were reconciled."""

    changes: tuple[Change, ...]

    @property
    def changed(self) -> bool:
        """True when the run created or altered anything."""
        return any(c.action in (Action.CREATED, Action.CHANGED) for c in self.changes)

    def by_action(self, action: Action) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is action)

    def summary(self) -> str:
        counts = Counter(c.action for c in self.changes)
        return ", ".join(f"{counts[a]} {a}" for a in Action if counts[a]) or "nothing to do"
