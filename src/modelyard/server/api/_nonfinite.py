"""Non-finite floats on the wire: JSON has no NaN or infinity, so they travel as strings.

``NaN``, ``Infinity`` and ``-Infinity`` are legitimate training output (a diverged loss), so the
API accepts and returns them as the JSON strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``
(the spelling JavaScript's ``Number()`` and Python's ``float()`` both read). Finite values stay
JSON numbers. The column converters check a whole column with one C-speed ``sum`` first, so the
common all-finite column costs no per-point Python work.
"""

from __future__ import annotations

import math
from typing import Literal, cast

import msgspec

from modelyard.store.run_data import Run

NonFiniteText = Literal["NaN", "Infinity", "-Infinity"]
WireFloat = float | NonFiniteText

_FROM_TEXT = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def to_wire(value: float) -> WireFloat:
    """``value`` as the API writes it."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def column_to_wire(values: list[float]) -> list[WireFloat]:
    """A column as the API writes it; the same list when every value is finite."""
    # The sum of finite floats is finite unless it overflows; either way the slow path is right.
    if math.isfinite(sum(values)):
        return cast(list[WireFloat], values)
    return [to_wire(value) for value in values]


def column_from_wire(values: list[WireFloat]) -> list[float]:
    """A column decoded from the wire, the strings turned back into floats."""
    return [_FROM_TEXT[value] if isinstance(value, str) else value for value in values]


def run_to_wire(run: Run) -> Run:
    """``run`` with non-finite latest metric values as strings (the same object when none are)."""
    if all(math.isfinite(metric.value) for metric in run.metrics.values()):
        return run
    # The struct types value as float; msgspec encodes whatever the field holds.
    metrics = {
        key: msgspec.structs.replace(metric, value=to_wire(metric.value))
        for key, metric in run.metrics.items()
    }
    return msgspec.structs.replace(run, metrics=metrics)
