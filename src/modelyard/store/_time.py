"""Conversions between PostgreSQL timestamptz values and the int milliseconds records carry.

The schema stores instants as timestamptz (readable in psql, usable with date functions); records
carry int milliseconds since the epoch, MLflow's convention. The conversion is exact integer
arithmetic on ``timedelta``, never through floats.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from modelyard.errors import InvalidInput

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_US = timedelta(microseconds=1)
# Python's datetime ends in year 9999; a later instant could be stored but never read back.
MAX_TIME_MS = (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC) - EPOCH) // _MS


def to_ms(value: datetime) -> int:
    """Milliseconds since the epoch, rounded down (timestamptz holds microseconds)."""
    return (value - EPOCH) // _MS


def optional_ms(value: object) -> int | None:
    return None if value is None else to_ms(_as_datetime(value))


def from_ms(ms: object, field: str) -> datetime:
    """The instant ``ms`` milliseconds after the epoch; validates the range."""
    if isinstance(ms, bool) or not isinstance(ms, int) or not 0 <= ms <= MAX_TIME_MS:
        raise InvalidInput(
            f"{field} must be milliseconds since the epoch, from 0 to {MAX_TIME_MS}", field=field
        )
    return EPOCH + ms * _MS


def to_us(value: datetime) -> int:
    """Microseconds since the epoch: the exact key of a timestamptz, for cursors."""
    return (value - EPOCH) // _US


def from_us(us: int) -> datetime:
    """The instant of :func:`to_us`; raises OverflowError outside datetime's range."""
    return EPOCH + us * _US


def _as_datetime(value: object) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
    return value
