"""The store's input checks: the shared definitions of :mod:`modelyard.limits`, under the name
the store modules have always used (``validation.check_name``...).

The definitions live in ``modelyard.limits`` so that the client can use them without importing
the store (and with it psycopg); this module adds nothing of its own.
"""

from __future__ import annotations

from modelyard.limits import (
    MAX_BATCH_METRICS,
    MAX_BATCH_PARAMS,
    MAX_BATCH_TAGS,
    MAX_DESCRIPTION_LENGTH,
    MAX_INT64,
    MAX_KEY_LENGTH,
    MAX_NAME_LENGTH,
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    MIN_INT64,
    check_batch_size,
    check_int64,
    check_key,
    check_metric_value,
    check_name,
    check_optional_text,
    check_text,
    check_uuid,
)

__all__ = [
    "MAX_BATCH_METRICS",
    "MAX_BATCH_PARAMS",
    "MAX_BATCH_TAGS",
    "MAX_DESCRIPTION_LENGTH",
    "MAX_INT64",
    "MAX_KEY_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_PARAM_VALUE_LENGTH",
    "MAX_TAG_VALUE_LENGTH",
    "MIN_INT64",
    "check_batch_size",
    "check_int64",
    "check_key",
    "check_metric_value",
    "check_name",
    "check_optional_text",
    "check_text",
    "check_uuid",
]
