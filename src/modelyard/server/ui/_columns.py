"""Columns of the runs table: parsing ``col`` parameters, cell values, and sort references."""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelyard.errors import InvalidInput
from modelyard.server.ui._render import fmt_duration, fmt_time, fmt_value
from modelyard.store.run_data import Run

ENTITIES = ("attributes", "params", "tags", "metrics")
# Attribute columns: (key, label, sortable). duration is computed, so it cannot be sorted.
ATTRIBUTES: dict[str, tuple[str, bool]] = {
    "status": ("Status", True),
    "start_time": ("Started", True),
    "end_time": ("Ended", True),
    "duration": ("Duration", False),
    "user_id": ("User", True),
    "run_id": ("Run id", True),
}
SUMMARIES = ("last", "min", "max")
DESCRIPTION_TAG = "mlflow.note.content"
_SIMPLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Column:
    entity: str
    key: str

    @property
    def spec(self) -> str:
        return f"{self.entity}.{self.key}"

    @property
    def label(self) -> str:
        if self.entity == "attributes":
            return ATTRIBUTES[self.key][0]
        return self.key

    @property
    def sortable(self) -> bool:
        return self.entity != "attributes" or ATTRIBUTES[self.key][1]

    @property
    def sort_ref(self) -> str:
        """The order-by field for this column, in the search language."""
        return field_ref(self.entity, self.key)


def field_ref(entity: str, key: str) -> str:
    """``entity.key`` as the search language reads it (a key that is not a plain word quoted)."""
    if _SIMPLE_KEY.match(key):
        return f"{entity}.{key}"
    return f"{entity}.`" + key.replace("`", "``") + "`"


def parse_column(spec: str) -> Column:
    entity, dot, key = spec.partition(".")
    if not dot or entity not in ENTITIES or not key:
        raise InvalidInput(
            f"column {spec!r} must be attributes.<name>, params.<key>, tags.<key> or "
            "metrics.<key>",
            field="col",
        )
    if entity == "attributes" and key not in ATTRIBUTES:
        raise InvalidInput(
            f"unknown attribute column {key!r}; one of {', '.join(ATTRIBUTES)}", field="col"
        )
    return Column(entity, key)


def cell(
    run: Run, column: Column, summary: str, extremes: dict[tuple[str, str], tuple[float, float]]
) -> str:
    """The text of one table cell (escaped by the template)."""
    if column.entity == "params":
        return run.params.get(column.key, "")
    if column.entity == "tags":
        return run.tags.get(column.key, "")
    if column.entity == "metrics":
        latest = run.metrics.get(column.key)
        if latest is None:
            return ""
        if summary == "last":
            return fmt_value(latest.value)
        low, high = extremes.get((run.run_id, column.key), (latest.value, latest.value))
        return fmt_value(low if summary == "min" else high)
    return attribute(run, column.key)


def attribute(run: Run, key: str) -> str:
    if key == "start_time":
        return fmt_time(run.start_time)
    if key == "end_time":
        return fmt_time(run.end_time)
    if key == "duration":
        return fmt_duration(run.start_time, run.end_time)
    value = getattr(run, key, None)
    return "" if value is None else str(value)
