"""The redaction API: the plan, face detection, following a region, the preview, renders, the copy."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from witnessbox.accounts.dependencies import built_with, current_actor
from witnessbox.core.actor import Actor
from witnessbox.evidence.models import DerivativeKind
from witnessbox.evidence.offload import send_blob
from witnessbox.evidence.service import EvidenceService
from witnessbox.evidence.streaming import is_first_request
from witnessbox.redaction.schemas import (
    FollowIn,
    FollowOut,
    JobOut,
    KeyframeOut,
    PlanIn,
    RedactionOut,
    RenderIn,
    RenderStarted,
    SavedOut,
)
from witnessbox.redaction.service import RedactionService

api = APIRouter(prefix="/api/v1/items", tags=["redaction"])
Caller = Annotated[Actor, Depends(current_actor)]
Redaction = Annotated[RedactionService, Depends(built_with("redaction", RedactionService))]
Evidence = Annotated[EvidenceService, Depends(built_with("evidence", EvidenceService))]
JPEG = "image/jpeg"
# A plan the service refuses (the app's Error shape) or a body that does not fit PlanIn (FastAPI's shape).
BAD_PLAN = {
    "description": "the plan breaks a rule (the error names the first fault) or the body is not a PlanIn",
    "content": {"application/json": {"schema": {"anyOf": [
        {"$ref": "#/components/schemas/Error"}, {"$ref": "#/components/schemas/HTTPValidationError"}]}}},
}
MP4 = "video/mp4"


@api.get("/{item_id}/redaction", response_model=RedactionOut)
def show_redaction(item_id: str, actor: Caller, redaction: Redaction) -> RedactionOut:
    """The latest plan and its version, the latest face detection, the renders (newest first)."""
    return redaction.overview(item_id, actor=actor)


@api.put(
    "/{item_id}/redaction/plan",
    response_model=SavedOut,
    responses={409: {"description": "someone saved since base_version"}, 422: BAD_PLAN},
)
def save_plan(item_id: str, body: PlanIn, actor: Caller, redaction: Redaction) -> SavedOut:
    """Save the plan as a new version over `base_version` (409 if that is no longer the latest)."""
    plan = body.plan.model_dump(mode="json", exclude_none=True)
    version = redaction.save_plan(item_id, body.base_version, plan, actor=actor, note=body.note)
    return SavedOut(version=version)


@api.post("/{item_id}/redaction/detect", response_model=JobOut, status_code=202)
def detect_faces(item_id: str, actor: Caller, redaction: Redaction) -> JobOut:
    """Find and track faces (a job); when done they are a new plan version. Follow it on GET .../redaction."""
    return JobOut(job_id=redaction.start_detection(item_id, actor=actor))


@api.post("/{item_id}/redaction/follow", response_model=FollowOut)
def follow_region(item_id: str, body: FollowIn, actor: Caller, redaction: Redaction) -> FollowOut:
    """Follow a box drawn at `t` forward and back; the boxes found, including the one at `t`."""
    found = redaction.follow(item_id, body.t, list(body.box), actor=actor)
    return FollowOut(keyframes=[KeyframeOut(t=key.t, box=list(key.box)) for key in found])


@api.get("/{item_id}/redaction/preview", response_class=Response,
         responses={200: {"content": {JPEG: {"schema": {"type": "string", "format": "binary"}}}}})
def preview(
    item_id: str,
    actor: Caller,
    redaction: Redaction,
    t: Annotated[float, Query(ge=0, description="seconds from the start")],
    version: Annotated[int | None, Query(ge=0, description="plan version (default: the latest)")] = None,
) -> Response:
    """The frame at `t` with the plan version's effect applied, as it will be rendered."""
    image = redaction.preview(item_id, t, version, actor=actor)
    return Response(image, media_type=JPEG, headers={"Cache-Control": "private, no-store"})


@api.post("/{item_id}/redaction/render", response_model=RenderStarted, status_code=202)
def start_render(item_id: str, body: RenderIn, actor: Caller, redaction: Redaction) -> RenderStarted:
    """Render a saved plan version into a redacted copy (a job); follow it on GET .../redaction."""
    return RenderStarted(render_id=redaction.start_render(item_id, body.version, actor=actor))


@api.get("/{item_id}/redacted", response_class=Response,
         responses={200: {"content": {MP4: {"schema": {"type": "string", "format": "binary"}}}},
                    206: {"content": {MP4: {"schema": {"type": "string", "format": "binary"}}}}})
def redacted(item_id: str, request: Request, actor: Caller, evidence: Evidence) -> Response:
    """The latest redacted copy, with Range, as the proxy is served."""
    access = evidence.open_derivative(
        item_id, DerivativeKind.REDACTED, actor=actor, first_request=is_first_request(request)
    )
    return send_blob(request, evidence.blobs, access, actor=actor, attachment=False)
