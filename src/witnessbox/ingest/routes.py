"""The tus 1.0 endpoint: core, creation, creation-with-upload, checksum, termination, expiration.

Routes parse headers, call IngestService, and write tus headers; every decision
is the service's.
"""

import asyncio
import base64
import binascii
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse
from starlette.requests import ClientDisconnect

from witnessbox.accounts.dependencies import built_with, current_actor, device_or_person, page_templates
from witnessbox.accounts.roles import Permission
from witnessbox.accounts.service import require
from witnessbox.core.actor import Actor
from witnessbox.core.errors import InvalidInput, PreconditionFailed, UnsupportedMedia
from witnessbox.ingest.metadata import HANDED_IN_SOURCES, declaration_from, parse_upload_metadata
from witnessbox.ingest.service import IngestService, UploadStatus
from witnessbox.ingest.staging import ChunkChecksum

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,creation-with-upload,termination,checksum,expiration"
CHECKSUM_ALGORITHMS = ("sha256", "sha1")
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
BODY_IDLE_S = 30.0
MAX_NUMBER_DIGITS = 19  # a 64-bit byte count
BROWSER_CHUNK_KIB = 8 * 1024  # what the upload page sends per PATCH

# The tus protocol's own refusals (the app's Error shape is added to each by web/openapi.py).
TUS_ERRORS: dict[int | str, dict[str, Any]] = {
    410: {"description": "the upload expired, was terminated or was refused"},
    412: {"description": "Tus-Resumable is not 1.0.0 (Tus-Version lists what is)"},
    413: {"description": "Upload-Length is above the configured maximum"},
    415: {"description": "PATCH needs Content-Type: application/offset+octet-stream"},
    422: {"description": "the whole file does not match its declared SHA-256: nothing was stored"},
    460: {"description": "Upload-Checksum does not match the chunk"},
    503: {"description": "the disk failed to read or write (I/O error): try again after Retry-After"},
    507: {"description": "the disk is full: HEAD still answers the offset; resume after Retry-After"},
}
router = APIRouter(prefix="/api/v1/uploads", tags=["uploads (tus 1.0)"], responses=TUS_ERRORS)
pages = APIRouter(tags=["pages"], include_in_schema=False)  # the browser upload page
Caller = Annotated[Actor, Depends(device_or_person)]
Person = Annotated[Actor, Depends(current_actor)]
ChunkKiB = Annotated[int, Query(ge=16, le=64 * 1024, description="bytes per PATCH, in KiB")]


ingest_service = built_with("ingest", IngestService)


def require_tus(request: Request) -> None:
    """Refuse requests that do not speak tus 1.0.0."""
    if request.headers.get("tus-resumable") != TUS_VERSION:
        raise PreconditionFailed(f"Tus-Resumable: {TUS_VERSION} is required")


Ingest = Annotated[IngestService, Depends(ingest_service)]
Tus = Depends(require_tus)


@pages.get("/upload", response_class=HTMLResponse)
def upload_page(
    request: Request,
    actor: Person,
    ingest: Ingest,
    chunk_kib: ChunkKiB = BROWSER_CHUNK_KIB,
) -> Response:
    """Upload footage handed in (CCTV, a witness's phone video) from the browser, resumably, over tus."""
    require(actor, Permission.UPLOAD_CREATE)
    templates = page_templates(request)
    context = {
        "actor": actor,
        "sources": HANDED_IN_SOURCES,
        "chunk_size": chunk_kib * 1024,
        "max_bytes": ingest.limits.max_bytes,
    }
    return templates.TemplateResponse(request, "ingest/upload.html", context)


@router.options("/", status_code=204)
def discover(request: Request) -> Response:
    """What this server supports (no credential needed: it reveals nothing)."""
    ingest: IngestService = request.app.state.ingest
    return Response(
        status_code=204,
        headers={
            "Tus-Resumable": TUS_VERSION,
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": TUS_EXTENSIONS,
            "Tus-Max-Size": str(ingest.limits.max_bytes),
            "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
        },
    )


@router.post("/", status_code=201, dependencies=[Tus])
async def create(request: Request, actor: Caller, ingest: Ingest) -> Response:
    """Create an upload from Upload-Length and Upload-Metadata; optionally take the first bytes."""
    limit = request.app.state.settings.max_metadata_bytes
    declaration = declaration_from(parse_upload_metadata(request.headers.get("upload-metadata"), limit=limit))
    status = await asyncio.to_thread(ingest.create, declaration, _length(request), actor=actor)
    if request.headers.get("content-type") == OFFSET_CONTENT_TYPE:
        status = await ingest.append(status.id, 0, _body(request), actor=actor, checksum=_checksum(request))
    response = _tus_response(201, status)
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{status.id}"
    return response


@router.head("/{upload_id}", dependencies=[Tus])
def head(upload_id: str, actor: Caller, ingest: Ingest) -> Response:
    """Report how many bytes the server holds, so the client can resume from there."""
    status = ingest.status(upload_id, actor=actor)
    response = _tus_response(200, status)
    response.headers["Upload-Length"] = str(status.length)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Upload-Metadata"] = ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in status.metadata.items()
    )
    return response


@router.patch("/{upload_id}", status_code=204, dependencies=[Tus])
async def append(upload_id: str, request: Request, actor: Caller, ingest: Ingest) -> Response:
    """Append the body at Upload-Offset; the last byte triggers verification."""
    if request.headers.get("content-type") != OFFSET_CONTENT_TYPE:
        raise UnsupportedMedia(f"Content-Type must be {OFFSET_CONTENT_TYPE}")
    offset = _number(request, "upload-offset")
    status = await ingest.append(upload_id, offset, _body(request), actor=actor, checksum=_checksum(request))
    return _tus_response(204, status)


@router.delete("/{upload_id}", status_code=204, dependencies=[Tus])
def terminate(upload_id: str, actor: Caller, ingest: Ingest) -> Response:
    """Abandon an upload and delete its bytes."""
    ingest.terminate(upload_id, actor=actor)
    return Response(status_code=204, headers={"Tus-Resumable": TUS_VERSION})


def _tus_response(status_code: int, status: UploadStatus) -> Response:
    headers = {
        "Tus-Resumable": TUS_VERSION,
        "Upload-Offset": str(status.offset),
        "Upload-Expires": status.expires_at,
    }
    if status.item_id:
        headers["Witnessbox-Item"] = status.item_id
    return Response(status_code=status_code, headers=headers)


async def _body(request: Request) -> AsyncIterator[bytes]:
    # A cut or stalled connection ends the body; what arrived is kept so the client
    # resumes after it, and a half-dead connection cannot hold the upload's lock.
    chunks = request.stream().__aiter__()
    while True:
        try:
            async with asyncio.timeout(BODY_IDLE_S):
                chunk = await anext(chunks)
        except (StopAsyncIteration, ClientDisconnect, TimeoutError):
            return
        if chunk:
            yield chunk


def _length(request: Request) -> int:
    if request.headers.get("upload-defer-length"):
        raise InvalidInput("Upload-Defer-Length is not supported: declare Upload-Length")
    return _number(request, "upload-length")


def _number(request: Request, header: str) -> int:
    value = request.headers.get(header, "")
    if not (value.isascii() and value.isdigit()) or len(value) > MAX_NUMBER_DIGITS:
        raise InvalidInput(f"{header} must be a non-negative integer of at most {MAX_NUMBER_DIGITS} digits")
    return int(value)


def _checksum(request: Request) -> ChunkChecksum | None:
    header = request.headers.get("upload-checksum")
    if not header:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    if algorithm.lower() not in CHECKSUM_ALGORITHMS:
        raise InvalidInput(f"Upload-Checksum algorithm must be one of {CHECKSUM_ALGORITHMS}")
    try:
        return ChunkChecksum(algorithm.lower(), base64.b64decode(encoded, validate=True))
    except binascii.Error as error:
        raise InvalidInput("Upload-Checksum digest is not base64") from error
