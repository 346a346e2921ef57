"""Sharing items with colleagues: API and the item page's form."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from witnessbox.accounts.dependencies import built_with, current_actor
from witnessbox.core.actor import Actor
from witnessbox.core.errors import InvalidInput
from witnessbox.sharing.schemas import ShareIn, ShareOut
from witnessbox.sharing.service import SharingService

api = APIRouter(prefix="/api/v1", tags=["sharing"])
pages = APIRouter(tags=["pages"], include_in_schema=False)
Caller = Annotated[Actor, Depends(current_actor)]


sharing_service = built_with("sharing", SharingService)


Sharing = Annotated[SharingService, Depends(sharing_service)]


@api.post("/items/{item_id}/shares", response_model=ShareOut, status_code=201)
def share_item(item_id: str, body: ShareIn, actor: Caller, sharing: Sharing) -> ShareOut:
    """Share an item you may see with a colleague or a team; they are notified."""
    share = sharing.share(
        item_id,
        actor=actor,
        collar_number=body.collar_number,
        team=body.team,
        expires_at=body.expires_at,
        note=body.note,
    )
    return ShareOut.model_validate(share, from_attributes=True)


@api.get("/items/{item_id}/shares", response_model=list[ShareOut])
def list_shares(item_id: str, actor: Caller, sharing: Sharing) -> list[ShareOut]:
    """The live shares of an item."""
    return [ShareOut.model_validate(s, from_attributes=True) for s in sharing.shares_of(item_id, actor=actor)]


@api.delete("/shares/{share_id}", status_code=204)
def revoke_share(share_id: str, actor: Caller, sharing: Sharing) -> Response:
    """Withdraw a share you made."""
    sharing.revoke(share_id, actor=actor)
    return Response(status_code=204)


@pages.post("/items/{item_id}/share")
def share_form(
    item_id: str,
    actor: Caller,
    sharing: Sharing,
    recipient: Annotated[str, Form()],
    kind: Annotated[str, Form()] = "person",
    expires: Annotated[str, Form()] = "",
) -> Response:
    """The item page's share form."""
    until = _date(expires)
    if kind == "team":
        sharing.share(item_id, actor=actor, team=recipient, expires_at=until)
    else:
        sharing.share(item_id, actor=actor, collar_number=recipient, expires_at=until)
    return RedirectResponse(f"/items/{item_id}", status_code=303)


def _date(value: str) -> datetime | None:
    if not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip()).replace(hour=23, minute=59, tzinfo=UTC)
    except ValueError as error:
        raise InvalidInput("expiry must be a date like 2026-12-31") from error
