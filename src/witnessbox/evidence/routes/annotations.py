"""People's bookmarks and notes at a timecode: API for the player page."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from witnessbox.accounts.dependencies import built_with
from witnessbox.accounts.roles import Permission
from witnessbox.core.actor import Actor
from witnessbox.evidence.annotations import AnnotationService
from witnessbox.evidence.models import DerivativeKind, Item
from witnessbox.evidence.routes._shared import API, Caller
from witnessbox.evidence.schemas import AnnotationIn, AnnotationOut
from witnessbox.evidence.service import EvidenceService

api = APIRouter(prefix=API, tags=["annotations"])


annotation_service = built_with("annotations", AnnotationService)


Annotations = Annotated[AnnotationService, Depends(annotation_service)]


@api.get("/{item_id}/annotations", response_model=list[AnnotationOut])
def list_annotations(item_id: str, actor: Caller, annotations: Annotations) -> list[AnnotationOut]:
    """Everyone's bookmarks and notes on an item, in timeline order (needs access to the item)."""
    return [AnnotationOut.of(a, actor.id) for a in annotations.list_for(item_id, actor=actor)]


@api.post("/{item_id}/annotations", response_model=AnnotationOut, status_code=201)
def add_annotation(
    item_id: str, body: AnnotationIn, actor: Caller, annotations: Annotations
) -> AnnotationOut:
    """Place a bookmark or note at a time of the recording (needs leave to play the footage)."""
    added = annotations.add(item_id, body.kind, body.at_s, body.text, actor=actor)
    return AnnotationOut.of(added, actor.id)


@api.delete("/{item_id}/annotations/{annotation_id}", status_code=204)
def remove_annotation(item_id: str, annotation_id: str, actor: Caller, annotations: Annotations) -> Response:
    """Remove one of your own bookmarks or notes."""
    annotations.remove(item_id, annotation_id, actor=actor)
    return Response(status_code=204)


def player_data(request: Request, item: Item, actor: Actor) -> dict[str, Any]:
    """What the player page's script needs, as JSON: times, scrub strip, every mark, what the actor may do."""
    evidence: EvidenceService = request.app.state.evidence
    # the thumbnails show the original: none for those who see redacted copies only (decision 0026)
    strip = item.derivative(DerivativeKind.THUMBNAIL_STRIP) if evidence.sees_unredacted(actor) else None
    marks = annotation_service(request).list_for(item.id, actor=actor)
    return {
        "api": f"{API}/{item.id}",
        "recordedStart": item.recorded_start.isoformat(),
        "duration": item.duration_s,
        "fps": item.fps or 25,
        "strip": {**strip.parameters, "url": f"{API}/{item.id}/thumbnails"} if strip else None,
        "cameraBookmarks": item.bookmarks or [],
        "annotations": [AnnotationOut.of(a, actor.id).model_dump(mode="json") for a in marks],
        "mayAnnotate": evidence.may(actor, item, Permission.ITEM_PLAY),
    }
