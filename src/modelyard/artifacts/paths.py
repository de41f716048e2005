"""Artifact path rules, shared by the server and the client (no database imports here).

A path names a file under a run's artifact root: relative, ``/``-separated, no empty, ``.`` or
``..`` segment, no backslash, NUL or other control character, no drive letter, and no
percent-encoded sequence at all. The server receives paths already percent-decoded once by the
HTTP layer; refusing any remaining ``%XX`` closes the double-decoding tricks (``%252e%252e``,
``..%252f``) instead of guessing how many more times some later layer might decode. The client
applies the same rules to the names a server sends back before it writes a local file, so a
hostile server cannot make ``download`` write outside the chosen directory either.
"""

from __future__ import annotations

import re
import unicodedata

from modelyard.errors import InvalidArtifactPath

MAX_PATH_BYTES = 1024
MAX_SEGMENT_BYTES = 255

# The rules above as one regular expression, for the OpenAPI document and as check_path's last
# word: a segment is at most MAX_SEGMENT_BYTES characters here (exact for ASCII; check_path
# counts UTF-8 bytes, so a long non-ASCII segment is refused by it even when the pattern admits it).
_CHAR = r"(?:[^\x00-\x1f\x7f-\x9f/\\%]|%(?![0-9A-Fa-f]{2}))"
_NON_DOT = r"(?:[^\x00-\x1f\x7f-\x9f/\\%.]|%(?![0-9A-Fa-f]{2}))"
_LONGEST = MAX_SEGMENT_BYTES
_SEGMENT = (
    rf"(?:{_NON_DOT}{_CHAR}{{0,{_LONGEST - 1}}}|\.{_NON_DOT}{_CHAR}{{0,{_LONGEST - 2}}}"
    rf"|\.\.{_CHAR}{{1,{_LONGEST - 2}}})"
)
PATH_PATTERN = rf"^(?![A-Za-z]:){_SEGMENT}(?:/{_SEGMENT})*(?!\n)$"
_PATH = re.compile(PATH_PATTERN)

ARTIFACT_PATH_SCHEMA: dict[str, object] = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_PATH_BYTES,
    "pattern": PATH_PATTERN,
    "description": (
        "A relative '/'-separated path: no empty, '.' or '..' segment, no leading '/', "
        "no backslash, control character, drive letter or %XX escape (after the one "
        f"URL decoding), at most {MAX_PATH_BYTES} bytes, {MAX_SEGMENT_BYTES} per segment; "
        "violations are a 400 INVALID_ARTIFACT_PATH"
    ),
}
# A directory to list: a path, optionally with a trailing '/', or empty for the root.
ARTIFACT_DIRECTORY_SCHEMA: dict[str, object] = {
    "type": "string",
    "maxLength": MAX_PATH_BYTES,
    "pattern": rf"^(?:|/|\.|(?![A-Za-z]:){_SEGMENT}(?:/{_SEGMENT})*/?)(?!\n)$",
}

_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}")
_DRIVE = re.compile(r"^[A-Za-z]:")


def _refuse(path: str, why: str) -> InvalidArtifactPath:
    return InvalidArtifactPath(f"invalid artifact path {path!r}: {why}", path=path)


def check_path(path: str) -> str:
    """``path`` if it is a valid artifact file path; else :class:`InvalidArtifactPath` (400)."""
    if not isinstance(path, str) or not path:
        raise InvalidArtifactPath("artifact path must be a non-empty string", path=path)
    try:
        size = len(path.encode("utf-8"))
    except UnicodeEncodeError:
        raise _refuse(path, "not valid UTF-8") from None
    if size > MAX_PATH_BYTES:
        raise _refuse(path, f"longer than {MAX_PATH_BYTES} bytes")
    if "\\" in path:
        raise _refuse(path, "backslashes are not allowed")
    if any(unicodedata.category(ch) == "Cc" for ch in path):
        raise _refuse(path, "control characters (NUL, newline, ...) are not allowed")
    if _ENCODED.search(path):
        raise _refuse(path, "percent-encoded sequences are not allowed (double encoding)")
    if path.startswith("/") or _DRIVE.match(path):
        raise _refuse(path, "must be relative, not absolute")
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            raise _refuse(path, "empty, '.' and '..' segments are not allowed")
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise _refuse(path, f"a segment is longer than {MAX_SEGMENT_BYTES} bytes")
    if not _PATH.search(path):
        raise _refuse(path, "not a relative path of allowed characters")
    return path


def check_directory(path: str | None) -> str:
    """A directory to list or download: ``""`` for the root, else a valid path (no trailing /)."""
    if path is None or path in ("", "/", "."):
        return ""
    return check_path(path[:-1] if path.endswith("/") else path)


def join(directory: str, name: str) -> str:
    """``directory/name`` (``name`` alone at the root), checked."""
    return check_path(f"{directory}/{name}" if directory else name)


def child_range(directory: str) -> tuple[str, str | None]:
    """The half-open range ``[low, high)`` of the paths below ``directory`` in C collation.

    Every path under ``dir/`` sorts at or after ``dir/`` and before ``dir0`` ('0' follows '/'),
    so a primary-key range scan finds them; the root (``high`` None) is every path.
    """
    if not directory:
        return "", None
    return f"{directory}/", f"{directory}0"
