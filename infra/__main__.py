"""Pulumi entry point: build modelyard's PostgreSQL backend from stack config and export it."""

import pulumi

from modelyard_infra import ModelyardDatabase, load_settings

settings, secrets = load_settings()
backend = ModelyardDatabase("modelyard", settings, secrets)

pulumi.export("host", backend.host)
pulumi.export("port", backend.port)
pulumi.export("database", backend.database)
pulumi.export("schema", backend.schema)
pulumi.export("uris", backend.uris)
