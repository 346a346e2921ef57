"""Content-addressed objects in an S3-compatible bucket under Object Lock (decision 0028).

Layout: <prefix>/ab/cd/<sha256>, the local store's fan-out. An object is written once, by
multipart upload with a SHA-256 checksum on every part that the server checks before it
accepts the part, and locked as it is written: COMPLIANCE for originals by default, so nobody
(the bucket's owner included) can delete or change it until the lock ends. Writing bytes that are
already there is a no-op. Every request is retried with exponential back-off and jitter on 5xx,
throttling and timeouts (botocore's "standard" retry mode); when the retries run out the caller
gets StoreUnreachable, a StorageError that says what failed.
"""

import base64
import hashlib
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from witnessbox.storage.base import (
    READ_CHUNK,
    BlobInfo,
    BlobKind,
    BlobLocked,
    BlobNotFound,
    StorageError,
    StoredObject,
    StoreUnreachable,
    check_sha256,
    is_sha256,
)
from witnessbox.storage.s3_options import MAX_PARTS, LockMode, S3Options

THROTTLED = frozenset({"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "TooManyRequests"})
MISSING = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchVersion"})
ANCHORS = "anchors"  # audit anchor copies: <prefix>/anchors/<name>
PROBES = "worm-check"  # the WORM check's probe objects: <prefix>/worm-check/<name>
ASIDE = (ANCHORS, PROBES)  # areas beside the blobs, left out of the listing


def make_client(options: S3Options) -> Any:
    """A boto3 S3 client with the store's retries and timeouts (path-style for a named endpoint)."""
    config = Config(
        retries={"total_max_attempts": options.max_attempts, "mode": "standard"},  # the first try included
        connect_timeout=options.connect_timeout_s,
        read_timeout=options.read_timeout_s,
        s3={"addressing_style": "path"} if options.endpoint_url else None,
        signature_version="s3v4",
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.client(
        "s3",
        endpoint_url=options.endpoint_url,
        region_name=options.region or "us-east-1",
        aws_access_key_id=options.access_key_id,
        aws_secret_access_key=options.secret_access_key,
        config=config,
    )


def error_code(error: ClientError) -> str:
    """The S3 error code of a refused request ("AccessDenied", "NoSuchKey", "404"...)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def translate(error: Exception, doing: str) -> StorageError:
    """Our error for a failed S3 call: BlobNotFound, StoreUnreachable (retries spent) or StorageError."""
    if isinstance(error, ClientError):
        code = error_code(error)
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        message = error.response.get("Error", {}).get("Message") or code
        if code in MISSING:
            return BlobNotFound(f"{doing}: no such object")
        if status >= 500 or code in THROTTLED:
            return StoreUnreachable(
                f"{doing}: the object store kept failing ({code or status}: {message}) after every retry; "
                "nothing half-written was kept; try again later"
            )
        return StorageError(f"{doing}: the object store refused ({code}: {message})")
    return StoreUnreachable(
        f"{doing}: the object store did not answer ({error}) after every retry; "
        "nothing half-written was kept; try again later"
    )


@contextmanager
def s3_errors(doing: str) -> Iterator[None]:
    """Translate boto3's errors inside the block into ours."""
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        raise translate(error, doing) from error


def _b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class S3BlobStore:
    """A BlobStore in an S3 bucket with Object Lock (WORM)."""

    worm = True

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        options: S3Options | None = None,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        staging: Path | None = None,
    ) -> None:
        self.client, self.bucket = client, bucket
        self.prefix = prefix.strip("/")
        self.options = options or S3Options()
        self.now = now
        self.staging = staging  # where put() spools a stream it has not hashed yet (None: the system's)

    @classmethod
    def from_url(cls, url: str, options: S3Options, *, staging: Path | None = None) -> "S3BlobStore":
        """The store an s3://bucket/prefix URL names."""
        rest = url.removeprefix("s3://")
        bucket, _, prefix = rest.partition("/")
        if not url.startswith("s3://") or not bucket:
            raise ValueError(f"an S3 storage URL is s3://bucket/prefix, not {url!r}")
        return cls(make_client(options), bucket, prefix, options, staging=staging)

    # -- names -------------------------------------------------------------------------------------

    def relative_key(self, sha256: str) -> str:
        """A blob's key below the prefix: ab/cd/<sha256>."""
        digest = check_sha256(sha256)
        return f"{digest[:2]}/{digest[2:4]}/{digest}"

    def key_for(self, sha256: str) -> str:
        """A blob's full object key."""
        return self._full(self.relative_key(sha256))

    def aside_key(self, area: str, name: str) -> str:
        """The full key of an object kept beside the blobs (anchor copies, WORM probes)."""
        return self._full(f"{area}/{name}")

    def _full(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def lock_for(self, kind: BlobKind) -> tuple[LockMode, datetime]:
        """The retention mode and retain-until date an object of this kind is written with now."""
        mode = self.options.lock_mode if kind == BlobKind.ORIGINAL else self.options.derivative_lock_mode
        return mode, self.now() + timedelta(days=self.options.lock_days)

    # -- writing -----------------------------------------------------------------------------------

    def put(self, chunks: Iterable[bytes], *, kind: BlobKind = BlobKind.ORIGINAL) -> BlobInfo:
        """Spool the stream to a temporary file while hashing (its key is its hash), then upload it."""
        digest = hashlib.sha256()
        if self.staging is not None:
            self.staging.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.staging, suffix=".part", delete=False) as out:
            spool = Path(out.name)
            try:
                for chunk in chunks:
                    digest.update(chunk)
                    out.write(chunk)
            except BaseException:
                spool.unlink(missing_ok=True)
                raise
        try:
            return self.adopt(spool, digest.hexdigest(), kind=kind)
        finally:
            spool.unlink(missing_ok=True)

    def adopt(self, path: Path, sha256: str, *, kind: BlobKind = BlobKind.ORIGINAL) -> BlobInfo:
        """Upload a complete local file under its content address, locked; then remove the file.

        Bytes already stored with the same size are not sent again. The hash is computed again
        while uploading: a file that does not match `sha256` is refused before anything is locked.
        """
        digest = check_sha256(sha256)
        size = path.stat().st_size
        stored = self._stored_size(digest)
        if stored is None:
            self._upload(path, digest, size, kind)
        elif stored != size:
            raise StorageError(
                f"the object store already holds {stored} bytes under {digest}, not {size}: "
                "different bytes under one content address; nothing was written, investigate"
            )
        path.unlink(missing_ok=True)
        return BlobInfo(sha256=digest, size=size)

    def _upload(self, path: Path, digest: str, size: int, kind: BlobKind) -> None:
        if size <= self.options.part_size:
            self._put_small(path, digest, kind)
        else:
            self._put_multipart(path, digest, size, kind)

    def _lock_arguments(self, digest: str, kind: BlobKind) -> dict[str, Any]:
        mode, until = self.lock_for(kind)
        return {
            "Bucket": self.bucket,
            "Key": self.key_for(digest),
            "ObjectLockMode": str(mode),
            "ObjectLockRetainUntilDate": until,
            "Metadata": {"sha256": digest, "kind": str(kind)},
        }

    def _put_small(self, path: Path, digest: str, kind: BlobKind) -> None:
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise StorageError(f"{path.name} does not hash to {digest}: nothing was written")
        with s3_errors(f"storing {digest} in the object store"):
            self.client.put_object(
                Body=data, ChecksumAlgorithm="SHA256", ChecksumSHA256=_b64_sha256(data),
                **self._lock_arguments(digest, kind),
            )

    def _put_multipart(self, path: Path, digest: str, size: int, kind: BlobKind) -> None:
        part_size = max(self.options.part_size, -(-size // MAX_PARTS))
        arguments = self._lock_arguments(digest, kind)
        with s3_errors(f"starting the upload of {digest} to the object store"):
            started = self.client.create_multipart_upload(ChecksumAlgorithm="SHA256", **arguments)
        upload_id = started["UploadId"]
        target = {"Bucket": self.bucket, "Key": arguments["Key"], "UploadId": upload_id}
        try:
            parts = self._send_parts(path, digest, part_size, target)
            with s3_errors(f"finishing the upload of {digest} to the object store"):
                self.client.complete_multipart_upload(MultipartUpload={"Parts": parts}, **target)
        except BaseException:
            self._abort(target)
            raise

    def _send_parts(
        self, path: Path, digest: str, part_size: int, target: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Upload the file part by part (one part in memory at a time), checking the whole hash."""
        whole, parts = hashlib.sha256(), list[dict[str, Any]]()
        with path.open("rb") as handle:
            while data := handle.read(part_size):
                whole.update(data)
                number, checksum = len(parts) + 1, _b64_sha256(data)
                with s3_errors(f"uploading part {number} of {digest} to the object store"):
                    answer = self.client.upload_part(
                        Body=data, PartNumber=number, ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum,
                        **target,
                    )
                parts.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": checksum})
        if whole.hexdigest() != digest:
            raise StorageError(f"{path.name} does not hash to {digest}: the upload was abandoned")
        return parts

    def _abort(self, target: dict[str, Any]) -> None:
        """Abandon an unfinished upload so its parts do not linger (best effort: a lifecycle rule
        on the bucket removes what an abort could not)."""
        try:
            self.client.abort_multipart_upload(**target)
        except (ClientError, BotoCoreError):
            return

    # -- reading -----------------------------------------------------------------------------------

    def _stored_size(self, digest: str) -> int | None:
        try:
            with s3_errors(f"looking for {digest} in the object store"):
                head = self.client.head_object(Bucket=self.bucket, Key=self.key_for(digest))
        except BlobNotFound:
            return None
        return int(head["ContentLength"])

    def exists(self, sha256: str) -> bool:
        """Whether the blob is stored."""
        return self._stored_size(check_sha256(sha256)) is not None

    def size(self, sha256: str) -> int:
        """The blob's size in bytes; BlobNotFound if absent."""
        size = self._stored_size(check_sha256(sha256))
        if size is None:
            raise BlobNotFound(sha256)
        return size

    def read(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Yield the bytes in [start, end) with one ranged GET, streamed in chunks."""
        key = self.key_for(sha256)
        if end is not None and end <= start:
            return
        last = "" if end is None else str(end - 1)
        extra = {} if start == 0 and end is None else {"Range": f"bytes={start}-{last}"}
        with s3_errors(f"reading {sha256} from the object store"):
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=key, **extra)["Body"]
            except ClientError as error:
                if error_code(error) == "InvalidRange":  # start at or past the end: nothing to read
                    return
                raise
            try:
                yield from body.iter_chunks(READ_CHUNK)
            finally:
                body.close()

    def local_path(self, sha256: str) -> Path | None:
        """Objects have no local path."""
        return None

    def listing(self, after: str = "") -> Iterator[StoredObject]:
        """Every object under the prefix (anchor copies aside) in key order, keyed below the prefix."""
        base = self._full("")
        arguments = {"Bucket": self.bucket, "Prefix": base, "StartAfter": base + after if after else base}
        paginator = self.client.get_paginator("list_objects_v2")
        with s3_errors("listing the object store"):
            for page in paginator.paginate(**arguments):
                for entry in page.get("Contents", []):
                    relative = str(entry["Key"])[len(base):]
                    if relative.split("/", 1)[0] in ASIDE:
                        continue
                    yield StoredObject(relative, self._address(relative), int(entry["Size"]))

    def _address(self, relative: str) -> str | None:
        name = relative.rsplit("/", 1)[-1]
        return name if is_sha256(name) and self.relative_key(name) == relative else None

    # -- retention ---------------------------------------------------------------------------------

    def set_legal_hold(self, sha256: str, on: bool) -> None:
        """Put the object's legal hold on or off (PutObjectLegalHold)."""
        with s3_errors(f"{'placing' if on else 'releasing'} the legal hold on {sha256}"):
            self.client.put_object_legal_hold(
                Bucket=self.bucket, Key=self.key_for(sha256), LegalHold={"Status": "ON" if on else "OFF"}
            )

    def delete(self, sha256: str) -> None:
        """Remove every version of a blob whose lock has ended (retention purges only).

        BlobLocked, with nothing removed, while a legal hold is on it or its retention lasts.
        """
        key = self.key_for(sha256)
        versions = self._versions(key)
        for version in versions:
            self._refuse_if_locked(key, version, sha256)
        for version in versions:
            with s3_errors(f"deleting {sha256} from the object store"):
                try:
                    self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=version)
                except ClientError as error:
                    if error_code(error) == "AccessDenied":
                        refused = f"the object store refused to delete {sha256}: it is locked"
                        raise BlobLocked(refused) from error
                    raise

    def _versions(self, key: str) -> list[str]:
        """Every version id (and delete marker) stored under exactly this key."""
        found: list[str] = []
        paginator = self.client.get_paginator("list_object_versions")
        with s3_errors("listing an object's versions"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=key):
                for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                    if entry["Key"] == key:
                        found.append(str(entry["VersionId"]))
        return found

    def _refuse_if_locked(self, key: str, version: str, sha256: str) -> None:
        with s3_errors(f"reading the lock on {sha256}"):
            try:
                head = self.client.head_object(Bucket=self.bucket, Key=key, VersionId=version)
            except ClientError as error:
                if error_code(error) in MISSING or error_code(error) == "405":  # a delete marker
                    return
                raise
        if head.get("ObjectLockLegalHoldStatus") == "ON":
            raise BlobLocked(f"{sha256} is under a legal hold in the object store: release the hold first")
        until = head.get("ObjectLockRetainUntilDate")
        if until is not None and until > self.now():
            raise BlobLocked(
                f"{sha256} is locked in the object store ({head.get('ObjectLockMode')}) until "
                f"{until.isoformat()}: the deletion waits until then",
                until=until,
            )

    def signed_url(
        self, sha256: str, *, expires_s: int, filename: str | None, media_type: str, attachment: bool
    ) -> str | None:
        """A presigned GET that answers with our content type and disposition (ranges work on it)."""
        disposition = "attachment" if attachment else "inline"
        if filename:
            disposition += f"; filename*=UTF-8''{quote(filename, safe='')}"
        with s3_errors(f"signing a URL for {sha256}"):
            return str(
                self.client.generate_presigned_url(
                    "get_object",
                    Params={
                        "Bucket": self.bucket,
                        "Key": self.key_for(sha256),
                        "ResponseContentType": media_type,
                        "ResponseContentDisposition": disposition,
                    },
                    ExpiresIn=expires_s,
                )
            )

    def anchor_objects(self) -> "S3AnchorObjects":
        """The audit anchor copies kept in this bucket, under <prefix>/anchors/."""
        return S3AnchorObjects(self)


class S3AnchorObjects:
    """The audit trail's anchor copies as objects, each locked in the originals' mode for
    `anchor_lock_days` (ten years by default) when written; never overwritten."""

    def __init__(self, store: S3BlobStore) -> None:
        self.store, self.client, self.bucket = store, store.client, store.bucket
        self.base = store.aside_key(ANCHORS, "")

    def names(self) -> set[str]:
        """Every anchor copy's name."""
        found: set[str] = set()
        with s3_errors("listing the audit anchor copies in the object store"):
            paginator = self.client.get_paginator("list_objects_v2")
            pages = paginator.paginate(Bucket=self.bucket, Prefix=self.base)
            for page in pages:
                found.update(str(entry["Key"])[len(self.base):] for entry in page.get("Contents", []))
        return found

    def write_once(self, name: str, data: bytes) -> bool:
        """Store and lock one copy; False when the name is already there."""
        if self.read_if_present(name) is not None:
            return False
        until = self.store.now() + timedelta(days=self.store.options.anchor_lock_days)
        with s3_errors(f"copying the audit anchor {name} to the object store"):
            self.client.put_object(
                Bucket=self.bucket, Key=self.base + name, Body=data, ChecksumAlgorithm="SHA256",
                ChecksumSHA256=_b64_sha256(data), ObjectLockMode=str(self.store.options.lock_mode),
                ObjectLockRetainUntilDate=until,
            )
        return True

    def read_if_present(self, name: str) -> bytes | None:
        """One copy's bytes, or None."""
        try:
            with s3_errors(f"reading the audit anchor {name} from the object store"):
                return bytes(self.client.get_object(Bucket=self.bucket, Key=self.base + name)["Body"].read())
        except BlobNotFound:
            return None
