"""The ``s3://bucket/prefix`` store: one object per blob, written by multipart upload.

Layout under the prefix::

    blobs/<uuid>     the bytes of one content; its sha256 and size are in artifact_blob

The sha256 of an upload is known only at its end, and S3 cannot rename, so an upload streams
its parts (8 MiB, bounded memory) to a fresh key and completes the multipart upload only when
publishing, under the content lock: a duplicate is aborted instead and never becomes an object.
An unfinished multipart upload is invisible to readers; gc aborts those left behind, and
removes objects that no row names (an upload that failed between completing its object and
committing its row; the publish holds ``OBJECT_PUBLISH_LOCK`` shared across that window, gc
takes it exclusively). Every listing is paged (``page_size`` keys or uploads a request), so a
bucket of any size is read to its end in bounded memory. Endpoint,
region and credentials come from boto3's own configuration (``AWS_ENDPOINT_URL``,
``AWS_REGION``, ``AWS_ACCESS_KEY_ID``, ... or an instance role), as for any AWS tool.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from modelyard.artifacts.backend import CHUNK_SIZE, Backend, BlobRef, Chunker, Conn, Staged, Swept
from modelyard.artifacts.location import StoreLocation
from modelyard.artifacts.store import OBJECT_PUBLISH_LOCK
from modelyard.errors import ArtifactCorrupted, ArtifactStoreUnavailable
from modelyard.sql import query

# S3 requires parts of at least 5 MiB except the last; 8 MiB is boto3's own default.
PART_SIZE = 8 * 1024 * 1024
# Keys, uploads or parts per listing request: S3's own maximum.
PAGE_SIZE = 1000

T = TypeVar("T")


@dataclass(frozen=True)
class StoredObject:
    """An object under the store's ``blobs/`` as a listing reports it."""

    key: str
    size: int


@dataclass
class _Upload:
    key: str
    upload_id: str | None
    parts: list[dict[str, Any]] = field(default_factory=list)


class S3Backend(Backend):
    """Objects in one bucket under one prefix, through boto3 (run in worker threads)."""

    def __init__(
        self, location: StoreLocation, client: Any = None, *, page_size: int = PAGE_SIZE
    ) -> None:
        self.url = location.url
        self.page_size = page_size
        self.bucket = location.bucket
        self.prefix = location.path
        if client is None:
            try:
                import boto3  # type: ignore[import-untyped]
                from botocore.config import Config  # type: ignore[import-untyped]
            except ImportError as exc:  # pragma: no cover - boto3 is a dependency
                raise ArtifactStoreUnavailable("the s3 store needs boto3 installed") from exc
            client = boto3.client(
                "s3", config=Config(retries={"max_attempts": 5, "mode": "standard"})
            )
        self._s3 = client

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    async def _call(self, method: str, **kwargs: Any) -> Any:
        """One boto3 call in a worker thread; transport and service errors become one type."""
        function: Callable[..., Any] = getattr(self._s3, method)
        try:
            return await asyncio.to_thread(functools.partial(function, **kwargs))
        except Exception as exc:
            if _error_code(exc) in ("NoSuchKey", "404", "NoSuchUpload"):
                raise
            raise ArtifactStoreUnavailable(
                f"artifact store {self.url}: {method} failed: {exc}", store=self.url
            ) from exc

    async def stage(self, conn: Conn | None, source: AsyncIterable[bytes], limit: int) -> Staged:
        upload = _Upload(key=self._key(f"blobs/{uuid.uuid4().hex}"), upload_id=None)
        chunker = Chunker(limit)
        held = b""  # one part, sent once the next one starts (the last may be put whole)
        try:
            async for part in chunker.chunks(source, PART_SIZE):
                if held:
                    await self._upload_part(upload, held)
                held = part
            if held and upload.upload_id is not None:
                await self._upload_part(upload, held)
                held = b""
        except BaseException:
            await self._abort(upload)
            raise
        # A file of at most one part stays in memory (<= 8 MiB) and is put whole on publish.
        return Staged(sha256=chunker.sha256, size=chunker.size, handle=(upload, held))

    async def _upload_part(self, upload: _Upload, data: bytes) -> None:
        if upload.upload_id is None:
            created = await self._call(
                "create_multipart_upload", Bucket=self.bucket, Key=upload.key
            )
            upload.upload_id = created["UploadId"]
        number = len(upload.parts) + 1
        answer = await self._call(
            "upload_part",
            Bucket=self.bucket,
            Key=upload.key,
            UploadId=upload.upload_id,
            PartNumber=number,
            Body=data,
        )
        upload.parts.append({"ETag": answer["ETag"], "PartNumber": number})

    async def _abort(self, upload: _Upload) -> None:
        if upload.upload_id is not None:
            try:
                await self._call(
                    "abort_multipart_upload",
                    Bucket=self.bucket,
                    Key=upload.key,
                    UploadId=upload.upload_id,
                )
            except Exception:  # gc aborts whatever this could not
                pass

    async def publish(self, conn: Conn, staged: Staged) -> int:
        upload, small = cast(tuple[_Upload, bytes], staged.handle)
        namespace, key = OBJECT_PUBLISH_LOCK
        await conn.execute(query("artifacts.lock_shared"), {"namespace": namespace, "key": key})
        if upload.upload_id is None:
            await self._call("put_object", Bucket=self.bucket, Key=upload.key, Body=small)
        else:
            await self._call(
                "complete_multipart_upload",
                Bucket=self.bucket,
                Key=upload.key,
                UploadId=upload.upload_id,
                MultipartUpload={"Parts": upload.parts},
            )
        cur = await conn.execute(
            query("artifacts.insert_blob"),
            {
                "store_url": self.url,
                "sha256": staged.sha256,
                "size": staged.size,
                "locator": upload.key,
            },
        )
        row = await cur.fetchone()
        assert row is not None
        return cast(int, row[0])

    async def discard(self, conn: Conn | None, staged: Staged) -> None:
        upload, _ = cast(tuple[_Upload, bytes], staged.handle)
        await self._abort(upload)

    async def read(self, blob: BlobRef) -> AsyncIterator[bytes]:
        try:
            answer = await self._call("get_object", Bucket=self.bucket, Key=blob.locator)
        except Exception as exc:
            raise ArtifactCorrupted(
                f"the object of blob {blob.sha256.hex()} is missing from {self.url}",
                sha256=blob.sha256.hex(),
            ) from exc
        body = answer["Body"]
        try:
            while data := await asyncio.to_thread(body.read, CHUNK_SIZE):
                yield data
        finally:
            body.close()

    async def remove(self, blob: BlobRef) -> None:
        if blob.locator is not None:
            await self._call("delete_object", Bucket=self.bucket, Key=blob.locator)

    async def _pages(
        self, method: str, markers: Mapping[str, str], **kwargs: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """Every page of a listing; ``markers`` maps a request's marker parameter to the
        answer's field that holds its next value (S3 pages three listings three ways)."""
        while True:
            page = cast(dict[str, Any], await self._call(method, Bucket=self.bucket, **kwargs))
            yield page
            if not page.get("IsTruncated"):
                return
            following = {param: page.get(field) for param, field in markers.items()}
            if not any(following.values()):
                return  # a truncated answer without a marker would repeat itself forever
            kwargs.update({k: v for k, v in following.items() if v is not None})

    async def objects(self) -> AsyncIterator[list[StoredObject]]:
        """The objects under ``blobs/``, a page at a time."""
        async for page in self._pages(
            "list_objects_v2",
            {"ContinuationToken": "NextContinuationToken"},
            Prefix=self._key("blobs/"),
            MaxKeys=self.page_size,
        ):
            yield [
                StoredObject(key=item["Key"], size=int(item["Size"]))
                for item in page.get("Contents", [])
            ]

    async def remove_objects(self, keys: list[str]) -> None:
        """Delete the objects ``keys`` (at most 1,000, one request)."""
        if not keys:
            return
        answer = await self._call(
            "delete_objects",
            Bucket=self.bucket,
            Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
        )
        failed = answer.get("Errors", [])
        if failed:
            raise ArtifactStoreUnavailable(
                f"artifact store {self.url}: could not delete {len(failed)} objects "
                f"({failed[0].get('Code')}: {failed[0].get('Key')})",
                store=self.url,
            )

    async def _upload_bytes(self, key: str, upload_id: str) -> tuple[dt.datetime | None, int]:
        """The newest part's time and the total size of an unfinished upload (every page)."""
        newest: dt.datetime | None = None
        size = 0
        async for page in self._pages(
            "list_parts",
            {"PartNumberMarker": "NextPartNumberMarker"},
            Key=key,
            UploadId=upload_id,
            MaxParts=self.page_size,
        ):
            for part in page.get("Parts", []):
                size += int(part["Size"])
                if newest is None or part["LastModified"] > newest:
                    newest = part["LastModified"]
        return newest, size

    async def sweep(self, older_than_seconds: float, dry_run: bool) -> list[Swept]:
        """Abort multipart uploads whose newest part (or start) is older than the cutoff."""
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=older_than_seconds)
        stale: list[tuple[str, str, int]] = []
        async for page in self._pages(
            "list_multipart_uploads",
            {"KeyMarker": "NextKeyMarker", "UploadIdMarker": "NextUploadIdMarker"},
            Prefix=self._key("blobs/"),
            MaxUploads=self.page_size,
        ):
            for item in page.get("Uploads", []):
                newest, size = await self._upload_bytes(item["Key"], item["UploadId"])
                if max(newest or item["Initiated"], item["Initiated"]) < cutoff:
                    stale.append((item["Key"], item["UploadId"], size))
        # Aborted after the listing ends: aborting while paging would move the markers.
        swept: list[Swept] = []
        for key, upload_id, size in stale:
            swept.append(Swept(what=f"s3://{self.bucket}/{key} (unfinished)", size=size))
            if not dry_run:
                await self._abort(_Upload(key=key, upload_id=upload_id))
        return swept

    async def close(self) -> None:
        await asyncio.to_thread(self._s3.close)


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""
