"""What the evidence routes share: the services the app was built with, the caller, templates."""

from typing import Annotated, Any

from fastapi import Depends

from witnessbox.accounts.dependencies import built_with, current_actor, page_templates
from witnessbox.core.actor import Actor
from witnessbox.evidence.categorise import CategorisationService
from witnessbox.evidence.service import EvidenceService

API = "/api/v1/items"
Caller = Annotated[Actor, Depends(current_actor)]


evidence_service = built_with("evidence", EvidenceService)


categorisation_service = built_with("categorise", CategorisationService)


templates = page_templates


Evidence = Annotated[EvidenceService, Depends(evidence_service)]
Categorise = Annotated[CategorisationService, Depends(categorisation_service)]


def bytes_served(media_type: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI answers of a route that serves stored bytes with Range (evidence/streaming.py)."""
    body = {media_type: {"schema": {"type": "string", "format": "binary"}}}
    etag = {"ETag": {"description": "the SHA-256 of the bytes, quoted", "schema": {"type": "string"}}}
    ranges = {"Accept-Ranges": {"schema": {"type": "string", "enum": ["bytes"]}}}
    part = {"Content-Range": {"description": "bytes START-END/SIZE", "schema": {"type": "string"}}}
    return {
        200: {"description": "all the bytes", "content": body, "headers": {**etag, **ranges}},
        206: {"description": "the bytes asked for with `Range: bytes=START-END`", "content": body,
              "headers": {**etag, **ranges, **part}},
        416: {"description": "the Range asked for lies outside the bytes",
              "content": {"text/plain": {"schema": {"type": "string"}}},
              "headers": {"Content-Range": {"description": "bytes */SIZE", "schema": {"type": "string"}}}},
    }
