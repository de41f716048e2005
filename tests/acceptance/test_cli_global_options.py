"""Global options are accepted after the subcommand too, with the same variables and precedence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import free_port, modelyard, start_server, stop_server


def test_database_options_after_the_subcommand(database_url: str) -> None:
    result = modelyard("db", "status", "--database-url", database_url, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["up_to_date"] is True


def test_a_flag_after_the_subcommand_wins_over_one_before_and_over_the_variable(
    database_url: str,
) -> None:
    result = modelyard(
        "--schema",
        "typed_before",
        "db",
        "status",
        "--schema",
        "typed_after",
        "--json",
        env={"MODELYARD_DATABASE_URL": database_url, "MODELYARD_SCHEMA": "from_env"},
    )
    assert json.loads(result.stdout)["schema"] == "typed_after"


def test_the_variable_still_applies_when_no_flag_is_typed(database_url: str) -> None:
    result = modelyard(
        "db",
        "status",
        "--json",
        env={"MODELYARD_DATABASE_URL": database_url, "MODELYARD_SCHEMA": "from_env"},
    )
    assert json.loads(result.stdout)["schema"] == "from_env"


def test_a_flag_before_the_subcommand_is_not_overridden_by_the_variable(
    database_url: str,
) -> None:
    # The subcommand declares the same variable; it must not re-read it over a typed flag.
    result = modelyard(
        "--schema",
        "typed_before",
        "db",
        "status",
        "--json",
        env={"MODELYARD_DATABASE_URL": database_url, "MODELYARD_SCHEMA": "from_env"},
    )
    assert json.loads(result.stdout)["schema"] == "typed_before"


def test_server_takes_artifact_store_data_dir_and_database_url_after_its_name(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    process = start_server(
        [],
        port,
        server_args=[
            "--artifact-store",
            f"file://{tmp_path / 'artifacts'}",
            "--data-dir",
            str(tmp_path / "data"),
            "--database-url",
            database_url,
        ],
    )
    assert stop_server(process) == 0


@pytest.mark.parametrize("before", [True, False], ids=["before", "after"])
def test_a_bad_artifact_store_url_is_a_usage_error(before: bool) -> None:
    flag = ["--artifact-store", "ftp://example/x"]
    args = [*flag, "gc", "--dry-run"] if before else ["gc", "--dry-run", *flag]
    result = modelyard(*args)
    assert result.returncode == 2
    assert "bad artifact store URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_artifact_store_variable_is_checked_too() -> None:
    result = modelyard("gc", "--dry-run", env={"MODELYARD_ARTIFACT_STORE": "file://relative"})
    assert result.returncode == 2
    assert "bad artifact store URL" in result.stderr
