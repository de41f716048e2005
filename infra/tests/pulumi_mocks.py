"""Runs the Pulumi program against recording mocks, so tests need no CLI, plugins or cloud."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pulumi
from pulumi.runtime import MockCallArgs, MockResourceArgs

from modelyard_infra import ModelyardDatabase, load_settings

T = TypeVar("T")

RDS_ADDRESS = "modelyard.abcdefgh.eu-west-1.rds.amazonaws.com"


@dataclass(frozen=True)
class Recorded:
    """One resource registration as the engine would have seen it."""

    typ: str
    name: str
    inputs: dict[str, Any]
    provider: str | None


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers every registration with its inputs plus the outputs a real provider would add."""

    def __init__(self) -> None:
        self.resources: list[Recorded] = []

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        self.resources.append(Recorded(args.typ, args.name, dict(args.inputs), args.provider))
        outputs = dict(args.inputs)
        if args.typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = f"generated{args.name.replace('-', '')}"
        if args.typ.startswith("aws:"):
            # AWS auto-names what config leaves unnamed; the mock names it after the resource.
            outputs.setdefault("name", args.name)
        if args.typ == "aws:rds/instance:Instance":
            outputs.update(address=RDS_ADDRESS, port=5432, endpoint=f"{RDS_ADDRESS}:5432")
        return f"{args.name}-id", outputs

    def call(self, args: MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return {}, None


@dataclass
class Deployment:
    """What one mocked `pulumi up` registered and exported."""

    resources: list[Recorded]
    # Each output of the component, resolved: (value, is it a secret?).
    outputs: dict[str, tuple[Any, bool]] = field(default_factory=dict)

    def of_type(self, typ: str) -> list[Recorded]:
        return [r for r in self.resources if r.typ == typ]

    def named(self, name: str) -> Recorded:
        (found,) = [r for r in self.resources if r.name == name]
        return found


def deploy(
    config: Mapping[str, Any] | None = None, secrets: Mapping[str, str] | None = None
) -> Deployment:
    """Run the program as `__main__` does, with `config` and `secrets` as stack config."""
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="modelyard-infra", stack="test", preview=False)
    values = {f"modelyard:{k}": json.dumps(v) for k, v in (config or {}).items()}
    values |= {f"modelyard:{k}": v for k, v in (secrets or {}).items()}
    pulumi.runtime.set_all_config(values, secret_keys=[f"modelyard:{k}" for k in secrets or {}])
    deployment = Deployment(resources=mocks.resources)

    async def program() -> None:
        settings, stack_secrets = load_settings()
        backend = ModelyardDatabase("modelyard", settings, stack_secrets)
        named: dict[str, pulumi.Output[Any]] = {
            "host": backend.host,
            "port": backend.port,
            "database": backend.database,
            "schema": backend.schema,
        }
        named |= {f"uri.{key}": uri for key, uri in backend.uris.items()}
        named |= {f"password.{key}": pw for key, pw in backend.passwords.items()}
        for key, output in named.items():
            deployment.outputs[key] = (await output.future(), await output.is_secret())

    _run(program)
    return deployment


def _run(program: Callable[[], Awaitable[None]]) -> None:
    # pulumi.runtime.test drives the program and waits for every registration, like the engine.
    pulumi.runtime.test(program)()  # type: ignore[no-untyped-call]
