"""Items in the API and in the browser: list, show, categorise, play, download (with Range)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from witnessbox.accounts.dependencies import device_or_person
from witnessbox.accounts.roles import Permission
from witnessbox.core.actor import Actor, ActorKind
from witnessbox.core.errors import Forbidden, InvalidInput, ReasonRequired
from witnessbox.core.urls import local_target
from witnessbox.evidence.categorise import Categorisation
from witnessbox.evidence.models import DerivativeKind, ItemState
from witnessbox.evidence.offload import send_blob
from witnessbox.evidence.routes._shared import API, Caller, Categorise, Evidence, bytes_served, templates
from witnessbox.evidence.routes.annotations import player_data
from witnessbox.evidence.schemas import BulkCategorisationIn, CategorisationIn, ItemOut
from witnessbox.evidence.streaming import is_first_request
from witnessbox.storage.base import check_sha256

api = APIRouter(prefix=API, tags=["items"])
pages = APIRouter(tags=["pages"], include_in_schema=False)


@api.get("", response_model=list[ItemOut])
def list_items(
    actor: Annotated[Actor, Depends(device_or_person)],
    evidence: Evidence,
    sha256: Annotated[
        str | None, Query(description="find the item holding these bytes", pattern=r"^[0-9a-fA-F]{64}$")
    ] = None,
    state: ItemState | None = None,
    before: Annotated[str | None, Query(description="id of the last item of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[ItemOut]:
    """Items newest first (with `sha256`: the one holding those bytes). Docks ask `/api/v1/held` instead."""
    if actor.kind == ActorKind.DOCK:
        raise Forbidden("a dock asks GET /api/v1/held/{sha256}: held and verified, nothing about the item")
    if sha256 is not None:
        try:
            items = evidence.confirm(check_sha256(sha256), actor=actor)
        except ValueError as error:
            raise InvalidInput(str(error)) from error
    else:
        items = evidence.list_items(actor=actor, state=state, before=before, limit=limit)
    return [ItemOut.of(item, API) for item in items]


Reason = Annotated[
    str | None,
    Query(description="why you are opening an item that is not yours, your team's or shared with you"),
]


@api.get("/{item_id}", response_model=ItemOut)
def show_item(item_id: str, actor: Caller, evidence: Evidence, reason: Reason = None) -> ItemOut:
    """One item with its media facts and derivatives (403 `reason required` until a reason is given)."""
    return ItemOut.of(evidence.view_item(item_id, actor=actor, reason=reason), API)


def _change(body: CategorisationIn) -> Categorisation:
    given = body.model_fields_set - {"item_ids"}
    return Categorisation(**{name: getattr(body, name) for name in given})


@api.patch("/{item_id}", response_model=ItemOut)
def categorise_item(
    item_id: str, body: CategorisationIn, actor: Caller, evidence: Evidence, categorise: Categorise
) -> ItemOut:
    """Categorise one item: evidential, offence category, references, title, notes (audited before/after)."""
    categorise.categorise([item_id], _change(body), actor=actor)
    return ItemOut.of(evidence.get(item_id), API)


@api.post("/categorise")
def categorise_items(body: BulkCategorisationIn, actor: Caller, categorise: Categorise) -> dict[str, int]:
    """Categorise many items at once: all or nothing."""
    return {"changed": categorise.categorise(body.item_ids, _change(body), actor=actor)}


@api.get("/{item_id}/original", response_class=Response, responses=bytes_served("video/mp4"))
def original(item_id: str, request: Request, actor: Caller, evidence: Evidence) -> Response:
    """The original bytes exactly as uploaded; Range requests seek without downloading all."""
    access = evidence.open_original(item_id, actor=actor, first_request=is_first_request(request))
    return send_blob(request, evidence.blobs, access, actor=actor, attachment=True)


@api.get("/{item_id}/proxy", response_class=Response, responses=bytes_served("video/mp4"))
def proxy(item_id: str, request: Request, actor: Caller, evidence: Evidence) -> Response:
    """The browser-playable copy (faststart, keyframes ≤ 2 s apart)."""
    access = evidence.open_derivative(
        item_id, DerivativeKind.PROXY, actor=actor, first_request=is_first_request(request)
    )
    return send_blob(request, evidence.blobs, access, actor=actor, attachment=False)


@api.get("/{item_id}/thumbnails", response_class=Response, responses=bytes_served("image/jpeg"))
def thumbnails(item_id: str, request: Request, actor: Caller, evidence: Evidence) -> Response:
    """The thumbnail strip: one JPEG of evenly spaced frames side by side."""
    access = evidence.open_derivative(
        item_id, DerivativeKind.THUMBNAIL_STRIP, actor=actor, first_request=False
    )
    return send_blob(request, evidence.blobs, access, actor=actor, attachment=False)


@pages.get("/items/{item_id}", response_class=HTMLResponse)
def item_page(item_id: str, request: Request, actor: Caller, evidence: Evidence) -> Response:
    """One recording, playing in the browser (after asking why, when the policy wants a reason)."""
    try:
        item = evidence.view_item(item_id, actor=actor)
    except ReasonRequired as ask:
        return templates(request).TemplateResponse(
            request,
            "evidence/reason.html",
            {"item_id": item_id, "actor": actor, "why": ask.reason},
            status_code=403,
        )
    shares = request.app.state.sharing.shares_of(item.id, actor=actor)
    return templates(request).TemplateResponse(
        request,
        "evidence/item.html",
        {
            "item": item,
            "actor": actor,
            "api": f"{API}/{item.id}",
            "shares": shares,
            "categories": request.app.state.categorise.rules.categories,
            "player": player_data(request, item, actor),
            "may_download": evidence.may(actor, item, Permission.ITEM_DOWNLOAD),
        },
    )


@pages.post("/items/categorise")
async def categorise_form(request: Request, actor: Caller, categorise: Categorise) -> Response:
    """The library's bulk form and the item page's form (same fields; `item_ids` repeated)."""
    form = await request.form()
    ids = [str(value) for value in form.getlist("item_ids")]
    fields = {
        name: str(form[name])
        for name in ("category", "incident_number", "crime_reference", "title", "notes")
        if name in form and str(form[name]).strip()
    }
    evidential = {"yes": True, "no": False}.get(str(form.get("evidential", "")))
    extra = {"evidential": evidential} if evidential is not None else {}
    categorise.categorise(ids, Categorisation(**fields, **extra), actor=actor)
    back = str(form.get("back") or "/")
    return RedirectResponse(local_target(back), status_code=303)


@pages.post("/items/{item_id}/reason")
def give_reason(item_id: str, actor: Caller, evidence: Evidence, reason: Annotated[str, Form()]) -> Response:
    """Record why the actor is opening the item, then show it."""
    evidence.view_item(item_id, actor=actor, reason=reason)
    return RedirectResponse(f"/items/{item_id}", status_code=303)
