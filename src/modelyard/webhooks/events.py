"""The events a webhook can subscribe to, and the subset MLflow's webhook API knows."""

from __future__ import annotations

from collections.abc import Iterable

from modelyard.errors import InvalidInput

# Mirrors event_name_ck in schema.sql. MLflow's own names come first; the others follow its
# "<entity>.<action>" pattern for the changes MLflow 3 does not report.
MLFLOW_EVENTS = (
    "registered_model.created",
    "model_version.created",
    "model_version_tag.set",
    "model_version_tag.deleted",
    "model_version_alias.created",
    "model_version_alias.deleted",
)
EVENTS = (
    *MLFLOW_EVENTS,
    "registered_model.renamed",
    "registered_model.deleted",
    "registered_model_tag.set",
    "registered_model_tag.deleted",
    "model_version.stage_transitioned",
    "model_version.deleted",
    "model_version_alias.moved",
    "run.finished",
    "run.failed",
)
MAX_EVENTS = 32


def check_events(events: Iterable[str]) -> list[str]:
    """The distinct subscribed event names in a stable order; unknown names are an InvalidInput."""
    found = list(dict.fromkeys(events))
    if not found:
        raise InvalidInput("a webhook needs at least one event", field="events")
    unknown = [name for name in found if name not in EVENTS]
    if unknown:
        raise InvalidInput(
            f"unknown event {unknown[0]!r}; events are: {', '.join(EVENTS)}", field="events"
        )
    return found


def split_event(name: str) -> tuple[str, str]:
    entity, _, action = name.partition(".")
    return entity, action


# A sample payload per event, for `webhooks test` (shapes as the triggers write them).
EXAMPLES: dict[str, dict[str, object]] = {
    "registered_model.created": {
        "name": "example_model",
        "tags": {"example_key": "example_value"},
        "description": "An example registered model",
    },
    "registered_model.renamed": {"name": "example_model", "previous_name": "old_model"},
    "registered_model.deleted": {"name": "example_model"},
    "registered_model_tag.set": {
        "name": "example_model",
        "key": "example_key",
        "value": "example_value",
    },
    "registered_model_tag.deleted": {"name": "example_model", "key": "example_key"},
    "model_version.created": {
        "name": "example_model",
        "version": "1",
        "source": "models:/123",
        "run_id": "abcd1234abcd5678",
        "tags": {"example_key": "example_value"},
        "description": "An example model version",
    },
    "model_version.stage_transitioned": {
        "name": "example_model",
        "version": "1",
        "from_stage": "Staging",
        "to_stage": "Production",
    },
    "model_version.deleted": {"name": "example_model", "version": "1"},
    "model_version_tag.set": {
        "name": "example_model",
        "version": "1",
        "key": "example_key",
        "value": "example_value",
    },
    "model_version_tag.deleted": {"name": "example_model", "version": "1", "key": "example_key"},
    "model_version_alias.created": {
        "name": "example_model",
        "alias": "example_alias",
        "version": "1",
    },
    "model_version_alias.moved": {
        "name": "example_model",
        "alias": "example_alias",
        "version": "2",
        "previous_version": "1",
    },
    "model_version_alias.deleted": {"name": "example_model", "alias": "example_alias"},
    "run.finished": {
        "run_id": "abcd1234abcd5678abcd1234abcd5678",
        "experiment_id": "1",
        "run_name": "example_run",
        "status": "FINISHED",
        "end_time": 1700000000000,
    },
    "run.failed": {
        "run_id": "abcd1234abcd5678abcd1234abcd5678",
        "experiment_id": "1",
        "run_name": "example_run",
        "status": "FAILED",
        "end_time": 1700000000000,
    },
}
