"""The unattributed queue in the API and in the browser: recordings whose camera had no holder."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.responses import Response

from witnessbox.accounts.dependencies import built_with
from witnessbox.core.actor import Actor
from witnessbox.core.errors import Conflict, InvalidInput, NotFound, WitnessboxError
from witnessbox.evidence.routes._shared import Caller, templates
from witnessbox.evidence.unattributed import Unattributed, UnattributedService

api = APIRouter(prefix="/api/v1/unattributed", tags=["items"])
pages = APIRouter(tags=["pages"], include_in_schema=False)
Queue = Annotated[UnattributedService, Depends(built_with("unattributed", UnattributedService))]
# What the attribution form may be refused for and shown again with the reason.
FormRefusal = (InvalidInput, Conflict, NotFound)


class UnattributedOut(BaseModel):
    """A recording with no officer: its record only, never its footage."""

    id: str
    camera: str | None
    filename: str
    recorded_start: datetime
    recorded_end: datetime | None
    uploaded_at: datetime
    state: str


class AttributionIn(BaseModel):
    """Whom the recording is given to: the officer who held the camera when it was made."""

    collar_number: str = Field(min_length=1, max_length=32)


class AttributionOut(BaseModel):
    """The recording and the officer it now belongs to."""

    id: str
    officer: str


@api.get("", response_model=list[UnattributedOut])
def list_unattributed(actor: Caller, queue: Queue) -> list[UnattributedOut]:
    """Camera recordings no officer held the camera for, oldest first (supervisors, administrators)."""
    return [UnattributedOut.model_validate(entry, from_attributes=True) for entry in queue.queue(actor=actor)]


@api.post("/{item_id}/attribution", response_model=AttributionOut)
def attribute(item_id: str, body: AttributionIn, actor: Caller, queue: Queue) -> AttributionOut:
    """Give the recording to the officer who held its camera (audited); it is theirs from then on."""
    item = queue.attribute(item_id, body.collar_number, actor=actor)
    return AttributionOut(id=item.id, officer=item.officer or "")


@pages.get("/unattributed", response_class=HTMLResponse)
def unattributed_page(request: Request, actor: Caller, queue: Queue, done: str = "") -> Response:
    """The queue, each recording with a form to name the officer who held the camera."""
    notice = f"The recording now belongs to {done}." if done else None
    return _page(request, actor, queue.queue(actor=actor), notice=notice)


@pages.post("/unattributed/{item_id}/attribute")
def attribute_form(
    request: Request, item_id: str, actor: Caller, queue: Queue, collar_number: Annotated[str, Form()]
) -> Response:
    """The queue's form: attribute, then show the queue again with what was done."""
    try:
        item = queue.attribute(item_id, collar_number, actor=actor)
    except FormRefusal as problem:
        return _page(request, actor, queue.queue(actor=actor), refused=problem)
    return RedirectResponse(f"/unattributed?done={item.officer}", status_code=303)


def _page(
    request: Request,
    actor: Actor,
    entries: list[Unattributed],
    *,
    refused: WitnessboxError | None = None,
    notice: str | None = None,
) -> Response:
    context = {
        "actor": actor,
        "entries": entries,
        "error": refused.reason if refused else None,
        "notice": notice,
    }
    status = refused.status if refused else 200
    return templates(request).TemplateResponse(
        request, "evidence/unattributed.html", context, status_code=status
    )
