"""The shared path rules (modelyard.artifacts.paths), without a database."""

from __future__ import annotations

import ast
from pathlib import Path
from types import ModuleType

import pytest
from test_store_suite import TRAVERSALS

from modelyard.artifacts import location, paths
from modelyard.errors import InvalidArtifactPath


@pytest.mark.parametrize("path", TRAVERSALS, ids=repr)
def test_traversal_forms_are_refused(path: str) -> None:
    with pytest.raises(InvalidArtifactPath) as caught:
        paths.check_path(path)
    assert caught.value.http_status == 400


@pytest.mark.parametrize(
    "path",
    ["model.pkl", "a/b/c.txt", "données/模型/😀.bin", "with spaces", "v1:final", "..a/b..", "%zz"],
)
def test_ordinary_paths_pass(path: str) -> None:
    assert paths.check_path(path) == path


def test_limits() -> None:
    assert paths.check_path("a" * 255) == "a" * 255
    with pytest.raises(InvalidArtifactPath):
        paths.check_path("a" * 256)
    with pytest.raises(InvalidArtifactPath):
        paths.check_path("/".join(["a" * 200] * 6))
    with pytest.raises(InvalidArtifactPath):
        paths.check_path("\ud800")  # a lone surrogate is not UTF-8


def test_directories() -> None:
    assert paths.check_directory(None) == paths.check_directory("") == ""
    assert paths.check_directory("a/b/") == "a/b"
    with pytest.raises(InvalidArtifactPath):
        paths.check_directory("../a")
    assert paths.child_range("a/b") == ("a/b/", "a/b0")
    assert paths.child_range("") == ("", None)


@pytest.mark.parametrize("module", [paths, location])
def test_the_rules_import_nothing_but_the_standard_library_and_errors(module: ModuleType) -> None:
    # The client shares these modules; they must not pull in the database driver.
    assert module.__file__ is not None
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    imported = {
        name
        for node in ast.walk(tree)
        for name in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
    }
    ours = {name for name in imported if name.startswith("modelyard")}
    assert ours <= {"modelyard.errors"}
    assert not {name for name in imported if name.split(".")[0] in ("psycopg", "psycopg_pool")}
