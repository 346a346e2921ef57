"""Incidents seen by several cameras: proposals, and the synchronised multi-camera page."""

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from starlette.responses import Response

from witnessbox.core.errors import WitnessboxError
from witnessbox.evidence.models import DerivativeKind, Item
from witnessbox.evidence.proposals import IncidentFinder, IncidentProposals
from witnessbox.evidence.routes._shared import API, Caller, templates

api = APIRouter(prefix=API, tags=["incidents"])
pages = APIRouter(tags=["pages"], include_in_schema=False)


def incident_finder(request: Request) -> IncidentFinder:
    """The IncidentFinder the app was built with."""
    finder: IncidentFinder = request.app.state.incidents
    return finder


Incidents = Annotated[IncidentFinder, Depends(incident_finder)]


class ProposalOut(BaseModel):
    """Another camera's recording proposed as the same incident."""

    id: str
    recorded_start: datetime
    recorded_end: datetime
    camera: str | None
    officer: str | None
    distance_m: float | None = Field(
        description="closest approach to this item, in metres; null when joined through another camera"
    )


class IncidentOut(BaseModel):
    """The recordings proposed with one item, and why there are none when that has a reason."""

    item_id: str
    items: list[ProposalOut]
    reason: str | None = Field(None, description="why nothing could be proposed (no GPS, not yet measured)")

    @classmethod
    def of(cls, found: IncidentProposals) -> "IncidentOut":
        """The API shape of a finder's answer."""
        items = [ProposalOut.model_validate(p, from_attributes=True) for p in found.items]
        return cls(item_id=found.item_id, items=items, reason=found.reason)


@api.get("/{item_id}/incident", response_model=IncidentOut)
def incident(item_id: str, actor: Caller, finder: Incidents) -> IncidentOut:
    """Other cameras' recordings of the same incident that the caller may see, earliest first."""
    return IncidentOut.of(finder.proposals(item_id, actor=actor))


@pages.get("/watch", response_class=HTMLResponse)
def watch(
    request: Request,
    actor: Caller,
    finder: Incidents,
    items: Annotated[list[str] | None, Query(description="two to four item ids, repeated")] = None,
) -> Response:
    """Two to four recordings side by side on one shared clock (a clear page when that cannot be)."""
    try:
        chosen = finder.watch(items or [], actor=actor)
    except WitnessboxError as refused:
        context = {"actor": actor, "problem": refused.reason, "asked": items or []}
        return templates(request).TemplateResponse(
            request, "evidence/watch.html", context, status_code=refused.status
        )
    context = {"actor": actor, "tiles": [_tile(item) for item in chosen], "api": API}
    return templates(request).TemplateResponse(request, "evidence/watch.html", context)


def _tile(item: Item) -> dict[str, object]:
    """What the page shows of one recording and what its script needs to place it on the clock."""
    seconds = item.duration_s or 0.0
    end = item.recorded_end or item.recorded_start + timedelta(seconds=seconds)
    return {
        "id": item.id,
        "camera": item.camera_serial or "unknown camera",
        "officer": item.officer or "unknown officer",
        "start": item.recorded_start.isoformat(),
        "end": end.isoformat(),
        "from_to": f"{item.recorded_start:%Y-%m-%d %H:%M:%S} to {end:%H:%M:%S} UTC",
        "playable": item.derivative(DerivativeKind.PROXY) is not None,
    }
