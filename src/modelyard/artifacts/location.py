"""The ``--artifact-store`` URL: which backend holds artifacts, parsed without touching it.

Pure (no database, no boto3) so that the CLI can check the option before anything starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import unquote, urlsplit

from modelyard.errors import InvalidInput

DEFAULT_STORE_URL = "postgresql"

StoreKind = Literal["postgresql", "file", "s3"]


@dataclass(frozen=True)
class StoreLocation:
    """A parsed store URL: ``postgresql``, ``file:///abs/dir`` or ``s3://bucket/prefix``."""

    kind: StoreKind
    url: str
    # file: the absolute directory; s3: the key prefix (no leading or trailing slash).
    path: str = ""
    bucket: str = ""


def _refuse(url: str, why: str) -> InvalidInput:
    return InvalidInput(f"bad artifact store URL {url!r}: {why}", url=url)


def parse_store_url(url: str) -> StoreLocation:
    """``url`` parsed; anything else than the three forms is :class:`InvalidInput`."""
    if any(ord(c) < 0x20 or c == "\x7f" for c in url):
        raise _refuse(url, "control characters")
    if url in ("postgresql", "postgresql:", "postgresql://"):
        return StoreLocation(kind="postgresql", url=DEFAULT_STORE_URL)
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise _refuse(url, "a file:// URL names a local directory: file:///absolute/path")
        path = unquote(parts.path)
        if not path.startswith("/") or "\x00" in path:
            raise _refuse(url, "the path must be absolute")
        if ".." in PurePosixPath(path).parts:
            raise _refuse(url, "the path must not contain '..'")
        normal = str(PurePosixPath(path))
        return StoreLocation(kind="file", url=f"file://{normal}", path=normal)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise _refuse(url, "no bucket: s3://bucket/prefix")
        prefix = parts.path.strip("/")
        if ".." in prefix.split("/") or "//" in prefix:
            raise _refuse(url, "the prefix must be plain key segments")
        shown = f"s3://{parts.netloc}/{prefix}" if prefix else f"s3://{parts.netloc}"
        return StoreLocation(kind="s3", url=shown, path=prefix, bucket=parts.netloc)
    raise _refuse(url, "expected postgresql, file:///dir or s3://bucket/prefix")
