"""Client-supplied artifact locations and version sources: only inside the server's own store."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelyard.artifacts.owned import (
    check_artifact_location,
    check_version_source,
    location_rules,
    location_schema,
    source_rules,
    source_schema,
)
from modelyard.errors import InvalidInput

RUN = "3fa5d00515214fe9864fc869734284f2"
MODEL = "m-" + "0123456789abcdef" * 2
FILE_STORE = "file:///srv/modelyard/artifacts"
S3_STORE = "s3://team-bucket/modelyard"

# Refused whatever the store: traversal, escapes, control characters, foreign places.
HOSTILE = [
    "/etc/passwd",
    "file:///etc/passwd",
    "file:///srv/modelyard/artifacts/../../../etc",
    "file:///srv/modelyard/artifacts/%2e%2e/%2e%2e/etc",
    "file:///srv/modelyard/artifacts/%252e%252e/etc",
    "file:///srv/modelyard/artifacts/a\\..\\..\\etc",
    "file:///srv/modelyard/artifactsX/next-door",
    "file://evil.example.com/srv/modelyard/artifacts/x",
    "file:///srv/modelyard/artifacts/x?y=1",
    "s3://team-bucket/modelyard/../other-team",
    "s3://team-bucket/modelyardX",
    "s3://other-bucket/modelyard/x",
    "s3://team-bucket/modelyard/a%00b",
    "http://169.254.169.254/latest/meta-data",
    "mlflow-artifacts:/../../etc",
    "exp\x01\x02",
    "file:///srv/modelyard/artifacts/a\nb",
    "file:///srv/modelyard/artifacts/\u202ecod.exe",
    "",
]


@pytest.mark.parametrize("store", ["postgresql", FILE_STORE, S3_STORE])
@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_locations_and_sources_are_refused(store: str, value: str) -> None:
    with pytest.raises(InvalidInput):
        check_artifact_location(value, store)
    with pytest.raises(InvalidInput):
        check_version_source(value, store)


def test_locations_inside_the_store_are_kept_canonical() -> None:
    assert check_artifact_location(f"{FILE_STORE}/team/exp", FILE_STORE) == f"{FILE_STORE}/team/exp"
    assert check_artifact_location("file://localhost/srv/modelyard/artifacts/", FILE_STORE) == (
        FILE_STORE
    )
    assert check_artifact_location(f"{S3_STORE}/exp 1/", S3_STORE) == f"{S3_STORE}/exp 1"
    assert check_artifact_location("s3://b/anything", "s3://b") == "s3://b/anything"
    assert check_artifact_location(None, "postgresql") is None


def test_the_postgresql_store_takes_no_client_location() -> None:
    with pytest.raises(InvalidInput, match="PostgreSQL"):
        check_artifact_location("postgresql", "postgresql")
    with pytest.raises(InvalidInput, match="not inside"):
        check_artifact_location(f"{S3_STORE}/x", FILE_STORE)


@pytest.mark.parametrize("store", ["postgresql", FILE_STORE, S3_STORE])
def test_sources_naming_the_servers_own_artifacts(store: str) -> None:
    assert check_version_source(f"runs:/{RUN}/model", store) == f"runs:/{RUN}/model"
    assert check_version_source(f"runs:/{RUN}", store) == f"runs:/{RUN}"
    assert check_version_source(f"models:/{MODEL}", store) == f"models:/{MODEL}"


@pytest.mark.parametrize(
    "source",
    [
        f"runs:/{RUN}/../../etc/passwd",
        f"runs:/{RUN}/%2e%2e/x",
        "runs:/not-a-run/model",
        "runs://etc/passwd",
        "models:/clf/1",
        "models:/m-XYZ",
        f"models:/{MODEL}/../x",
    ],
)
def test_malformed_internal_sources_are_refused(source: str) -> None:
    with pytest.raises(InvalidInput):
        check_version_source(source, "postgresql")


def test_a_source_inside_a_file_or_s3_store() -> None:
    assert check_version_source(f"{FILE_STORE}/exported/m1", FILE_STORE) == (
        f"{FILE_STORE}/exported/m1"
    )
    with pytest.raises(InvalidInput):
        check_version_source(f"{FILE_STORE}/exported/m1", "postgresql")


# -- the document's patterns are the checks' rules --------------------------------------------

PATTERNS = settings(max_examples=50, derandomize=True, database=None, deadline=None)


@pytest.mark.parametrize("store", ["postgresql", FILE_STORE, S3_STORE])
@PATTERNS
@given(data=st.data())
def test_every_value_of_a_documented_pattern_is_accepted(store: str, data: st.DataObject) -> None:
    """What the OpenAPI document allows, the checks accept (schemathesis' positive cases)."""
    for rules, check in ((location_rules(store), check_artifact_location),
                         (source_rules(store), check_version_source)):  # fmt: skip
        for rule in rules:
            value = data.draw(st.from_regex(rule.pattern).filter(lambda v: len(v) <= 300))
            assert check(value, store) is not None, value


@pytest.mark.parametrize("store", [FILE_STORE, S3_STORE])
@pytest.mark.parametrize(
    "suffix", ["/a%41", "/a%", "/a?b", "/a#b", "/a\u200bb", "/a\U000e0041", "/a\\b", "/.."]
)
def test_what_no_pattern_matches_is_refused(store: str, suffix: str) -> None:
    """And what the document refuses, the checks refuse (its negative cases): '%' even where
    decoding it would give a harmless name, invisible characters by one list."""
    value = store + suffix
    assert not any(rule.matches(value) for rule in location_rules(store) + source_rules(store))
    with pytest.raises(InvalidInput):
        check_artifact_location(value, store)
    with pytest.raises(InvalidInput):
        check_version_source(value, store)


def test_the_document_states_each_stores_own_rules() -> None:
    assert location_schema("postgresql")["type"] == "null"
    file_schema = location_schema(FILE_STORE)
    patterns = [s["pattern"] for s in file_schema["anyOf"][0]["anyOf"]]
    assert any(p.startswith("^file:///srv/modelyard/artifacts(?:") for p in patterns)
    sources = source_schema(S3_STORE)["anyOf"]
    assert [s["pattern"][:9] for s in sources] == ["^runs:/[0", "^models:/", "^s3://tea"]
