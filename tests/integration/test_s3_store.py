"""The S3 blob store against a real S3 server with Object Lock (SeaweedFS on loopback)."""

import base64
import hashlib
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.factories.s3 import S3Endpoint
from witnessbox.storage.base import BlobKind, BlobLocked, BlobNotFound, StorageError, StoreUnreachable, rehash
from witnessbox.storage.factory import blob_store_from_url
from witnessbox.storage.s3 import S3BlobStore
from witnessbox.storage.s3_options import MIB, S3Options

pytestmark = pytest.mark.backend_free

PART = 5 * MIB


def store_for(endpoint: S3Endpoint, bucket: str, **options: object) -> S3BlobStore:
    """An S3 store on a bucket of the test server, built the way bootstrap builds it."""
    settings = S3Options(
        endpoint_url=endpoint.url, access_key_id=endpoint.access_key, secret_access_key=endpoint.secret_key,
        part_size=PART, **options,  # type: ignore[arg-type]
    )
    store = blob_store_from_url(f"s3://{bucket}/evidence", s3=settings)
    assert isinstance(store, S3BlobStore)
    return store


@pytest.fixture(scope="module")
def store(s3_endpoint: S3Endpoint) -> S3BlobStore:
    """A store on its own Object Lock bucket."""
    return store_for(s3_endpoint, s3_endpoint.make_bucket())


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, str]:
    """Eleven and a half MiB of random bytes: three parts of 5 MiB."""
    data = os.urandom(11 * MIB + MIB // 2)
    return data, hashlib.sha256(data).hexdigest()


def write(folder: Path, data: bytes) -> Path:
    path = folder / "upload.bin"
    path.write_bytes(data)
    return path


def test_adopt_multipart_round_trip(store: S3BlobStore, big: tuple[bytes, str], tmp_path: Path) -> None:
    """GIVEN a file of three parts WHEN adopted THEN it is stored under its content address, locked
    COMPLIANCE, the file is gone, and every range reads back exactly."""
    data, digest = big
    path = write(tmp_path, data)
    info = store.adopt(path, digest)
    assert (info.sha256, info.size) == (digest, len(data))
    assert not path.exists()
    assert store.exists(digest) and store.size(digest) == len(data)
    assert store.key_for(digest) == f"evidence/{digest[:2]}/{digest[2:4]}/{digest}"
    head = store.client.head_object(Bucket=store.bucket, Key=store.key_for(digest))
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=30)
    assert head["ETag"].strip('"').endswith("-3")  # three parts, each checked by the server
    assert rehash(store, digest) == digest
    for start, end in [(0, 10), (PART - 3, PART + 3), (len(data) - 7, None), (4 * MIB, 9 * MIB)]:
        assert b"".join(store.read(digest, start, end)) == data[start:end]
    assert b"".join(store.read(digest, len(data), None)) == b""
    assert store.local_path(digest) is None


def test_put_is_write_once_and_idempotent(store: S3BlobStore, big: tuple[bytes, str], tmp_path: Path) -> None:
    """GIVEN bytes already stored WHEN put again as a stream THEN nothing new is uploaded (one version)."""
    data, digest = big
    if not store.exists(digest):
        store.adopt(write(tmp_path, data), digest)
    chunks: Iterator[bytes] = (data[i : i + MIB] for i in range(0, len(data), MIB))
    assert store.put(chunks).sha256 == digest
    versions = store.client.list_object_versions(Bucket=store.bucket, Prefix=store.key_for(digest))
    assert len(versions["Versions"]) == 1


def test_a_file_not_matching_its_hash_is_refused(store: S3BlobStore, tmp_path: Path) -> None:
    """GIVEN a declared hash the bytes do not have WHEN adopted THEN nothing is written or locked."""
    wrong = hashlib.sha256(b"other").hexdigest()
    with pytest.raises(StorageError, match="does not hash to"):
        store.adopt(write(tmp_path, b"evidence bytes"), wrong)
    assert not store.exists(wrong)


def test_derivatives_are_locked_in_governance(store: S3BlobStore) -> None:
    """GIVEN a derivative WHEN stored THEN its lock is GOVERNANCE (it can be made again from the original)."""
    info = store.put([b"thumbnail strip ", os.urandom(64)], kind=BlobKind.DERIVATIVE)
    head = store.client.head_object(Bucket=store.bucket, Key=store.key_for(info.sha256))
    assert head["ObjectLockMode"] == "GOVERNANCE"


def test_listing_in_key_order_and_resumable(s3_endpoint: S3Endpoint) -> None:
    """GIVEN several blobs and a stray object WHEN listed from the start and after a key THEN keys come
    in order below the prefix, blobs mapped to their hashes and the stray to none."""
    store = store_for(s3_endpoint, s3_endpoint.make_bucket())
    digests = sorted(store.put([os.urandom(100)]).sha256 for _ in range(5))
    store.client.put_object(Bucket=store.bucket, Key="evidence/zz/stray.bin", Body=b"x")
    store.client.put_object(Bucket=store.bucket, Key=store.aside_key("anchors", "checkpoint-1.json"), Body=b"{}")
    listed = list(store.listing())
    assert [o.key for o in listed] == sorted(o.key for o in listed)
    assert [o.sha256 for o in listed] == [*digests, None]
    assert listed[-1].key == "zz/stray.bin"
    rest = list(store.listing(after=listed[1].key))
    assert [o.sha256 for o in rest] == [*digests[2:], None]


def test_missing_blob(store: S3BlobStore) -> None:
    """GIVEN a hash never stored WHEN asked THEN it does not exist and reading it is BlobNotFound."""
    digest = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(digest)
    with pytest.raises(BlobNotFound):
        store.size(digest)
    with pytest.raises(BlobNotFound):
        list(store.read(digest))


def test_the_lock_holds(store: S3BlobStore) -> None:
    """GIVEN an original under COMPLIANCE WHEN deleted through the store, by version, or overwritten
    THEN the server refuses, and the bytes read back unchanged."""
    data = os.urandom(1000)
    info = store.put([data])
    with pytest.raises(BlobLocked, match="until"):
        store.delete(info.sha256)
    key = store.key_for(info.sha256)
    version = store.client.head_object(Bucket=store.bucket, Key=key)["VersionId"]
    with pytest.raises(ClientError, match="AccessDenied"):
        store.client.delete_object(Bucket=store.bucket, Key=key, VersionId=version)
    store.client.put_object(Bucket=store.bucket, Key=key, Body=b"forged")
    kept = store.client.get_object(Bucket=store.bucket, Key=key, VersionId=version)["Body"].read()
    assert kept == data


def test_legal_hold_blocks_deletion_after_the_lock_ends(s3_endpoint: S3Endpoint) -> None:
    """GIVEN a blob whose retention has ended (the store's clock moved on) WHEN a legal hold is on it
    THEN delete is refused; WHEN the hold is released THEN every version is deleted."""
    later = datetime.now(UTC) + timedelta(days=1, seconds=5)
    bucket = s3_endpoint.make_bucket()
    store = store_for(s3_endpoint, bucket, lock_days=1)
    info = store.put([os.urandom(500)])
    store.now = lambda: later  # what a purge a day later sees; the server's own lock still holds
    store.set_legal_hold(info.sha256, True)
    head = store.client.head_object(Bucket=bucket, Key=store.key_for(info.sha256))
    assert head["ObjectLockLegalHoldStatus"] == "ON"
    with pytest.raises(BlobLocked, match="legal hold"):
        store.delete(info.sha256)
    store.set_legal_hold(info.sha256, False)
    with pytest.raises(BlobLocked, match="refused"):  # the server's clock: the day has not passed
        store.delete(info.sha256)
    assert store.exists(info.sha256)


def test_delete_after_the_lock_ends(s3_endpoint: S3Endpoint) -> None:
    """GIVEN a blob whose retain-until date has passed WHEN deleted THEN it is gone for good."""
    store = store_for(s3_endpoint, s3_endpoint.make_bucket())
    data = os.urandom(300)
    digest = hashlib.sha256(data).hexdigest()
    store.client.put_object(
        Bucket=store.bucket, Key=store.key_for(digest), Body=data, ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(seconds=1),
    )
    store.now = lambda: datetime.now(UTC) + timedelta(seconds=2)
    import time

    time.sleep(1.2)
    store.delete(digest)
    assert not store.exists(digest)
    assert not store.client.list_object_versions(Bucket=store.bucket, Prefix=store.key_for(digest)).get("Versions")
    store.delete(digest)  # absent: no error


def test_signed_url_serves_ranges(store: S3BlobStore) -> None:
    """GIVEN a stored blob WHEN a signed URL is fetched with a Range THEN the server answers 206 with those
    bytes and our content type and disposition; a tampered URL is refused."""
    data = os.urandom(4096)
    info = store.put([data])
    url = store.signed_url(info.sha256, expires_s=60, filename="clip one.mp4", media_type="video/mp4",
                           attachment=True)
    assert url is not None
    answer = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert answer.status_code == 206
    assert answer.content == data[100:200]
    assert answer.headers["content-type"] == "video/mp4"
    assert "attachment" in answer.headers["content-disposition"]
    assert "clip%20one.mp4" in answer.headers["content-disposition"]
    assert httpx.get(url.replace("Signature=", "Signature=0")).status_code == 403


def test_unreachable_store_fails_clearly(tmp_path: Path) -> None:
    """GIVEN an endpoint nobody listens on WHEN the store is used THEN StoreUnreachable says so after retries."""
    from tests.factories.s3 import free_port

    options = S3Options(endpoint_url=f"http://127.0.0.1:{free_port()}", access_key_id="k", secret_access_key="s",
                        max_attempts=2, connect_timeout_s=0.5, read_timeout_s=0.5)
    store = blob_store_from_url("s3://nowhere/x", s3=options)
    with pytest.raises(StoreUnreachable, match="did not answer"):
        store.exists(hashlib.sha256(b"").hexdigest())


def test_the_server_checks_each_part_checksum(store: S3BlobStore) -> None:
    """GIVEN a multipart upload as the store starts it WHEN a part arrives whose bytes do not match its
    SHA-256 checksum (damaged on the way) THEN the server refuses the part."""
    digest = hashlib.sha256(b"whole").hexdigest()
    key = store.key_for(digest)
    upload = store.client.create_multipart_upload(Bucket=store.bucket, Key=key, ChecksumAlgorithm="SHA256")
    target = {"Bucket": store.bucket, "Key": key, "UploadId": upload["UploadId"]}
    wrong = base64.b64encode(hashlib.sha256(b"what was sent").digest()).decode()
    try:
        with pytest.raises(ClientError) as refused:
            store.client.upload_part(Body=b"what arrived", PartNumber=1, ChecksumAlgorithm="SHA256",
                                     ChecksumSHA256=wrong, **target)
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    finally:
        store.client.abort_multipart_upload(**target)


class _Failing(BaseHTTPRequestHandler):
    """An S3 endpoint that answers every request 503 SlowDown, counting them."""

    seen = 0

    def _fail(self) -> None:
        type(self).seen += 1
        body = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
        self.send_response(503)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = do_POST = _fail

    def log_message(self, format: str, *args: object) -> None:
        return


def test_retries_with_back_off_then_a_clear_error(tmp_path: Path) -> None:
    """GIVEN an object store that answers 503 to everything WHEN the store reads and writes THEN each
    request is tried max_attempts times and then fails with StoreUnreachable saying why; the local
    file being adopted is kept for the next try."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        options = S3Options(endpoint_url=f"http://127.0.0.1:{server.server_port}", access_key_id="k",
                            secret_access_key="s", max_attempts=3, connect_timeout_s=1, read_timeout_s=1)
        store = blob_store_from_url("s3://busy/x", s3=options)
        with pytest.raises(StoreUnreachable, match="kept failing .*SlowDown.* after every retry"):
            list(store.read(hashlib.sha256(b"a").hexdigest()))
        assert _Failing.seen == 3
        path = write(tmp_path, b"recording")
        with pytest.raises(StoreUnreachable):
            store.adopt(path, hashlib.sha256(b"recording").hexdigest())
        assert path.exists()
    finally:
        server.shutdown()
        server.server_close()
