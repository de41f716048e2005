"""Locations a client may name: only places inside the artifact store this server owns.

The server decides where artifacts live (``--artifact-store``); a client never gets to point it
elsewhere. MLflow took an experiment's ``artifact_location`` and a model version's ``source``
from the client and later used them as paths and URLs, and its long list of traversal CVEs
(CVE-2023-1177 among them) started there. Here both are checked when they arrive:

- an experiment's ``artifact_location`` must lie inside the configured store: for
  ``file:///root`` a ``file:///root/...`` URL, for ``s3://bucket/prefix`` an
  ``s3://bucket/prefix/...`` URL, each remainder obeying the artifact path rules
  (:mod:`modelyard.artifacts.paths`: no ``..``, no control character, no ``%XX`` left after one
  decoding, no backslash). The ``postgresql`` store has no location a client could name, so
  there it must be omitted. Omitted, the server keeps none.
- a model version's ``source`` must be ``runs:/<run id>[/<path>]`` (that run's artifacts),
  ``models:/m-<id>`` (a logged model, whose files are its run's artifacts) or, like a location,
  a URL inside the configured store. Such a source addresses the server's own artifacts
  whether or not the run exists (yet); the version's ``run_id`` and ``model_id`` stay what the
  client sent, checked by the database.

Nothing here touches a disk or a network: a checked value is only ever stored and shown, and
downloads read a version's files through its logged model, never through its ``source``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from modelyard.artifacts import paths
from modelyard.artifacts.location import StoreLocation, parse_store_url
from modelyard.errors import InvalidArtifactPath, InvalidInput

MAX_LOCATION_LENGTH = 4096
_MODEL_ID_HEX = frozenset("0123456789abcdef")

# -- the rules as regular expressions --------------------------------------------------------
# Each accepted value matches one of the patterns below, built from the configured store; the
# OpenAPI document states the same patterns (location_schema, source_schema), and the checks
# refuse what they do not match, so the document and the server cannot disagree. Patterns are
# valid in Python and ECMA-262 (JSON Schema's dialect); astral characters appear literally.
#
# Invisible characters (Unicode's Cf, Zl and Zp: soft hyphen, bidi controls, zero-width
# characters...), which would let a location display as another one.
_INVISIBLE = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
# A segment below the store's root: the artifact path rules (modelyard.artifacts.paths) with no
# '%' at all (a location is written unescaped) and no '?' or '#' (URL syntax).
_EXCLUDED = rf"\x00-\x1f\x7f-\x9f/\\%?#{_INVISIBLE}"
_C = rf"[^{_EXCLUDED}]"
_N = rf"[^{_EXCLUDED}.]"
_SEG = rf"(?:{_N}{_C}{{0,254}}|\.{_N}{_C}{{0,253}}|\.\.{_C}{{1,253}})"
# What follows the root: nothing, '/', '/.', or '/' and a relative path, optionally ending in '/'.
_BELOW = rf"(?:/(?:/|\.|(?![A-Za-z]:){_SEG}(?:/{_SEG})*/?)?)?"
_END = r"(?!\n)$"
_HEX32 = "[0-9a-fA-F]{32}"


def _literal(text: str) -> str:
    """``text`` as a regular expression matching itself, in both dialects."""
    return re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\1", text)


@dataclass(frozen=True)
class Rule:
    """One form of accepted value: a pattern and a length limit."""

    pattern: str
    max_length: int

    def matches(self, value: str) -> bool:
        return len(value) <= self.max_length and re.search(self.pattern, value) is not None

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "minLength": 1, "maxLength": self.max_length,
                "pattern": self.pattern}  # fmt: skip


def _below(prefix_pattern: str, prefix_length: int) -> Rule:
    # The remainder is an artifact path (at most MAX_PATH_BYTES), plus its slashes.
    longest = min(MAX_LOCATION_LENGTH, prefix_length + paths.MAX_PATH_BYTES + 2)
    return Rule(f"^{prefix_pattern}{_BELOW}{_END}", longest)


def location_rules(store_url: str) -> list[Rule]:
    """The forms of an experiment's ``artifact_location`` this store accepts (none: postgresql)."""
    store = parse_store_url(store_url)
    if store.kind == "file":
        root = store.path.rstrip("/")
        return [
            _below(_literal(head + root), len(head + root))
            for head in ("file://", "file://localhost")
        ]
    if store.kind == "s3":
        head = f"s3://{store.bucket}" + (f"/{store.path}" if store.path else "")
        return [_below(_literal(head), len(head))]
    return []


def source_rules(store_url: str) -> list[Rule]:
    """The forms of a model version's ``source``: a run's artifacts, a logged model, the store."""
    return [
        _below(f"runs:/{_HEX32}", len("runs:/") + 32),
        Rule(f"^models:/m-[0-9a-f]{{32}}/*{_END}", MAX_LOCATION_LENGTH),
        *location_rules(store_url),
    ]


def rules_schema(rules: list[Rule], description: str) -> dict[str, Any]:
    """The JSON schema of a value of one of ``rules``; ``null`` only when there is none."""
    if not rules:
        return {"type": "null", "description": description}
    if len(rules) == 1:
        return {**rules[0].schema(), "description": description}
    return {"anyOf": [rule.schema() for rule in rules], "description": description}


def location_schema(store_url: str) -> dict[str, Any]:
    """``artifact_location`` in the OpenAPI document of a server on ``store_url``."""
    rules = location_rules(store_url)
    schema = rules_schema(rules, LOCATION_RULE)
    return {"anyOf": [schema, {"type": "null"}], "description": LOCATION_RULE} if rules else schema


def source_schema(store_url: str) -> dict[str, Any]:
    """A model version's ``source`` in the OpenAPI document of a server on ``store_url``."""
    return rules_schema(source_rules(store_url), SOURCE_RULE)


LOCATION_RULE = (
    "Optional (omitted, the server records none). A client-supplied location must lie inside "
    "the server's artifact store (--artifact-store): file:///ROOT/... or s3://BUCKET/PREFIX/... "
    "with a plain relative remainder (no '..', control character, backslash, '%', '?' or '#'); "
    "with the postgresql store no location may be given. Anything else is a 400 "
    "INVALID_PARAMETER_VALUE."
)
SOURCE_RULE = (
    "Where the version's files are, inside an artifact store this server owns: "
    "runs:/RUN_ID[/PATH] (the run's artifacts), models:/m-ID (a logged model), or a URL "
    "inside the server's --artifact-store as for an experiment's artifact_location. Local "
    "paths, other URLs and anything with control characters are a 400 INVALID_PARAMETER_VALUE."
)


def _refuse(field: str, value: str, why: str) -> InvalidInput:
    return InvalidInput(f"{field} {value[:200]!r} is refused: {why}", field=field)


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{field} must be a non-empty string", field=field)
    if len(value) > MAX_LOCATION_LENGTH:
        raise _refuse(field, value, f"longer than {MAX_LOCATION_LENGTH} characters")
    if re.search(f"[\\x00-\\x1f\\x7f-\\x9f{_INVISIBLE}]", value):
        raise _refuse(field, value, "control or invisible formatting characters")
    return value


def _gate(field: str, value: str, rules: list[Rule]) -> None:
    """The last word: what no rule's pattern matches is refused, whatever the checks said."""
    if not any(rule.matches(value) for rule in rules):
        raise _refuse(
            field, value, "not of a documented form (no '%', '?', '#', backslash or '..')"
        )


def _remainder(field: str, value: str, rest: str) -> str:
    """The part below the store's root, checked by the artifact path rules ("" for the root)."""
    try:
        return paths.check_directory(rest)
    except InvalidArtifactPath as exc:
        raise _refuse(field, value, exc.message) from None


def _inside(field: str, value: str, store: StoreLocation) -> str:
    """``value`` as a canonical URL inside ``store``; InvalidInput when it is anything else."""
    parts = urlsplit(value)
    if parts.query or parts.fragment:
        raise _refuse(field, value, "a location has no query or fragment")
    if store.kind == "file" and parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise _refuse(field, value, "a file:// location names a local directory")
        path = unquote(parts.path)
        root = store.path.rstrip("/")
        if path != root and not path.startswith(f"{root}/"):
            raise _refuse(field, value, f"not inside the artifact store {store.url}")
        rest = _remainder(field, value, path[len(root) + 1 :])
        return f"{store.url}/{rest}" if rest else store.url
    if store.kind == "s3" and parts.scheme == "s3":
        key = unquote(parts.path).lstrip("/")
        prefix = store.path
        if parts.netloc != store.bucket or (
            prefix and key != prefix and not key.startswith(f"{prefix}/")
        ):
            raise _refuse(field, value, f"not inside the artifact store {store.url}")
        rest = _remainder(field, value, key[len(prefix) + 1 :] if prefix else key)
        return f"{store.url}/{rest}" if rest else store.url
    if store.kind == "postgresql":
        raise _refuse(
            field,
            value,
            "this server keeps artifacts in PostgreSQL; a client cannot choose where",
        )
    raise _refuse(field, value, f"not inside the artifact store {store.url}")


def check_artifact_location(value: object, store_url: str) -> str | None:
    """An experiment's client-supplied ``artifact_location``, canonical; None stays None."""
    if value is None:
        return None
    text = _text(value, "artifact_location")
    canonical = _inside("artifact_location", text, parse_store_url(store_url))
    _gate("artifact_location", text, location_rules(store_url))
    return canonical


def check_version_source(value: object, store_url: str) -> str:
    """A model version's ``source``: a run's or a logged model's artifacts, or inside the store."""
    text = _text(value, "source")
    canonical = _source(text, store_url)
    _gate("source", text, source_rules(store_url))
    return canonical


def _source(text: str, store_url: str) -> str:
    if text.startswith("runs:/"):
        run, _, rest = text[len("runs:/") :].partition("/")
        try:
            run_id = uuid.UUID(run) if len(run) == 32 else None
        except ValueError:
            run_id = None
        if run_id is None:
            raise _refuse("source", text, "runs:/ takes a run id of 32 hex digits")
        rest = _remainder("source", text, rest)
        canonical = f"runs:/{run_id.hex}/{rest}" if rest else f"runs:/{run_id.hex}"
        return canonical
    if text.startswith("models:/"):
        model_id = text[len("models:/") :].rstrip("/")
        digits = model_id[2:]
        if not (model_id.startswith("m-") and len(digits) == 32 and set(digits) <= _MODEL_ID_HEX):
            raise _refuse(
                "source",
                text,
                "a models:/ source names a logged model: models:/m- and 32 lowercase hex digits",
            )
        return f"models:/{model_id}"
    return _inside("source", text, parse_store_url(store_url))
