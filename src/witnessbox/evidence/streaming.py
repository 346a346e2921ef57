"""Sending stored bytes with HTTP Range, a content-addressed ETag and the right lengths."""

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from witnessbox.core.errors import NotFound
from witnessbox.evidence.service import BlobAccess
from witnessbox.storage import BlobStore


class EvidenceFileResponse(FileResponse):
    """A FileResponse that sends in 1 MiB pieces (64 KiB halves throughput on large files)."""

    chunk_size = 1024 * 1024


def is_first_request(request: Request) -> bool:
    """Whether this request starts a play or download (no Range, or a Range from byte 0).

    A player issues many Range requests while seeking; only the first is audited as
    a play or download, the rest are the same viewing.
    """
    header = request.headers.get("range", "")
    return not header or header.replace(" ", "").startswith("bytes=0-")


def blob_response(blobs: BlobStore, access: BlobAccess, *, attachment: bool) -> Response:
    """A response that serves the blob from local disk with Range support."""
    path = blobs.local_path(access.sha256)
    if path is None:
        raise NotFound("this store serves bytes through signed URLs, not through the app")
    return EvidenceFileResponse(
        path,
        media_type=access.media_type,
        filename=access.filename if attachment else None,
        content_disposition_type="attachment" if attachment else "inline",
        headers={
            "ETag": f'"{access.sha256}"',
            "Cache-Control": "private, max-age=3600",
            "X-Content-SHA256": access.sha256,
        },
    )
