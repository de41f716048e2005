"""Our registry records as MLflow's ``RegisteredModel`` and ``ModelVersion`` messages.

MLflow writes a version number as a string, tags as ``{"key", "value"}`` lists, a model's aliases
as ``{"alias", "version"}`` pairs and a version's as plain names; fields we hold no value for are
left out, as protobuf's JSON leaves out unset fields.
"""

from __future__ import annotations

from typing import Any

from modelyard.server.mlflow._entities import key_values
from modelyard.store.registry_records import ModelVersion, RegisteredModel


def _present(message: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in message.items() if value is not None}


def model_version(record: ModelVersion) -> dict[str, Any]:
    return _present(
        {
            "name": record.name,
            "version": str(record.version),
            "creation_timestamp": record.creation_timestamp,
            "last_updated_timestamp": record.last_updated_timestamp,
            "user_id": record.user_id,
            "current_stage": record.current_stage,
            "description": record.description,
            "source": record.source,
            "run_id": record.run_id,
            "status": record.status,
            "status_message": record.status_message,
            "tags": key_values(record.tags),
            "run_link": record.run_link,
            "aliases": sorted(record.aliases),
            "model_id": record.model_id,
        }
    )


def registered_model(record: RegisteredModel) -> dict[str, Any]:
    aliases = [
        {"alias": alias, "version": str(version)}
        for alias, version in sorted(record.aliases.items())
    ]
    return _present(
        {
            "name": record.name,
            "creation_timestamp": record.creation_timestamp,
            "last_updated_timestamp": record.last_updated_timestamp,
            "description": record.description,
            "latest_versions": [model_version(v) for v in record.latest_versions],
            "tags": key_values(record.tags),
            "aliases": aliases,
        }
    )
