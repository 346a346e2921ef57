"""External shares in the API and in the browser, and the recipient portal (link, code, player).

The portal has its own cookie (`wbx_portal`, path /portal, SameSite=Strict): a recipient never
holds a staff session, so nothing outside /portal knows them.
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import ValidationError
from starlette.responses import Response

from witnessbox.accounts.dependencies import built_with, current_actor, page_templates, request_actor
from witnessbox.core.actor import Actor
from witnessbox.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from witnessbox.disclosure.models import RECIPIENT_KIND_LABELS, RecipientKind
from witnessbox.disclosure.schemas import AccessEntry, ExternalShareCreated, ExternalShareIn, ExternalShareOut
from witnessbox.disclosure.service import ExternalShareService
from witnessbox.evidence.offload import send_blob
from witnessbox.evidence.streaming import is_first_request

api = APIRouter(prefix="/api/v1/external-shares", tags=["external shares"])
pages = APIRouter(tags=["pages"], include_in_schema=False)
portal = APIRouter(prefix="/portal", tags=["portal"], include_in_schema=False)
Caller = Annotated[Actor, Depends(current_actor)]
PORTAL_COOKIE = "wbx_portal"
FormRefusal = (InvalidInput, Conflict, Forbidden, NotFound)

share_service = built_with("external_shares", ExternalShareService)
Shares = Annotated[ExternalShareService, Depends(share_service)]


def portal_url(request: Request) -> str:
    """Where links point: the public address when configured (behind a proxy), else this request's."""
    base = request.app.state.settings.public_url or str(request.base_url)
    return base.rstrip("/") + "/portal/s/"


# --- API ---------------------------------------------------------------------------------------


@api.post("", response_model=ExternalShareCreated, status_code=201)
def create_share(
    body: ExternalShareIn, request: Request, actor: Caller, shares: Shares
) -> ExternalShareCreated:
    """Share a case's items (as they are now) or some items with one outside recipient.

    With mail configured and an e-mail given, the link and the access code go in two messages;
    otherwise they are in this answer, once, to pass on (the code by another route than the link).
    """
    return shares.create(body, actor=actor, portal_url=portal_url(request))


@api.get("", response_model=list[ExternalShareOut])
def list_shares(actor: Caller, shares: Shares) -> list[ExternalShareOut]:
    """The external shares you made, newest first (professional standards: every one)."""
    return shares.shares_by(actor)


@api.get("/{external_share_id}", response_model=ExternalShareOut)
def show_share(external_share_id: str, actor: Caller, shares: Shares) -> ExternalShareOut:
    """One external share you made."""
    return shares.get(external_share_id, actor=actor)


@api.delete("/{external_share_id}", status_code=204)
def revoke_share(external_share_id: str, actor: Caller, shares: Shares) -> Response:
    """Withdraw a share at once: the recipient's next request, even of a playing video, is refused."""
    shares.revoke(external_share_id, actor=actor)
    return Response(status_code=204)


@api.get("/{external_share_id}/access", response_model=list[AccessEntry])
def access_report(external_share_id: str, actor: Caller, shares: Shares) -> list[AccessEntry]:
    """Who opened what, when and from where (sign-ins, views, plays, downloads), from the audit trail."""
    return shares.access_report(external_share_id, actor=actor)


# --- the sharer's pages --------------------------------------------------------------------------


@pages.get("/external-shares", response_class=HTMLResponse)
def shares_page(request: Request, actor: Caller, shares: Shares) -> Response:
    """The external shares you made."""
    return page_templates(request).TemplateResponse(
        request, "external_shares.html", {"actor": actor, "shares": shares.shares_by(actor)}
    )


@pages.get("/external-shares/new", response_class=HTMLResponse)
def new_share_page(
    request: Request,
    actor: Caller,
    shares: Shares,
    case_id: Annotated[str | None, Query()] = None,
    item_id: Annotated[str | None, Query()] = None,
) -> Response:
    """The form to share a case or an item outside the force."""
    if not shares.may_share(actor):
        raise Forbidden("only disclosure officers (and professional standards) share outside the force")
    return _form(request, actor, case_id, item_id)


def _form(
    request: Request,
    actor: Actor,
    case_id: str | None,
    item_id: str | None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    context = {"actor": actor, "case_id": case_id, "item_id": item_id, "error": error,
               "kinds": RECIPIENT_KIND_LABELS}
    templates = page_templates(request)
    return templates.TemplateResponse(request, "external_share_new.html", context, status_code=status)


@pages.post("/external-shares", response_class=HTMLResponse)
def create_share_form(
    request: Request,
    actor: Caller,
    shares: Shares,
    recipient_name: Annotated[str, Form()],
    organisation: Annotated[str, Form()],
    kind: Annotated[RecipientKind, Form()],
    expires: Annotated[str, Form()],
    email: Annotated[str, Form()] = "",
    case_id: Annotated[str, Form()] = "",
    item_id: Annotated[str, Form()] = "",
    allow_original_download: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """The share form: on success the page shows the link and code once (unless they were e-mailed)."""
    try:
        body = ExternalShareIn(
            recipient_name=recipient_name, organisation=organisation, kind=kind,
            email=email.strip() or None, case_id=case_id or None, item_ids=[item_id] if item_id else None,
            allow_original_download=bool(allow_original_download), expires_at=_end_of(expires), note=note,
            reason=reason.strip() or None,
        )
        created = shares.create(body, actor=actor, portal_url=portal_url(request))
    except FormRefusal as refusal:
        return _form(request, actor, case_id or None, item_id or None, refusal.reason, refusal.status)
    except ValidationError as invalid:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in invalid.errors())
        return _form(request, actor, case_id or None, item_id or None, f"please check: {problems}", 400)
    return page_templates(request).TemplateResponse(
        request, "external_share_created.html", {"actor": actor, "share": created}, status_code=201,
        headers={"Cache-Control": "no-store"},  # the one time the code is shown: never kept by a cache
    )


@pages.get("/external-shares/{external_share_id}", response_class=HTMLResponse)
def share_page(external_share_id: str, request: Request, actor: Caller, shares: Shares) -> Response:
    """One share: whom, what, until when, and its access report."""
    context = {
        "actor": actor,
        "share": shares.get(external_share_id, actor=actor),
        "report": shares.access_report(external_share_id, actor=actor),
    }
    return page_templates(request).TemplateResponse(request, "external_share.html", context)


@pages.post("/external-shares/{external_share_id}/revoke")
def revoke_form(external_share_id: str, actor: Caller, shares: Shares) -> Response:
    """The share page's Withdraw button."""
    shares.revoke(external_share_id, actor=actor)
    return RedirectResponse(f"/external-shares/{external_share_id}", status_code=303)


def _end_of(day: str) -> datetime:
    """A date from the form as the end of that day (UTC)."""
    try:
        return datetime.fromisoformat(day.strip()).replace(hour=23, minute=59, tzinfo=UTC)
    except ValueError as error:
        raise InvalidInput("the end date must be a date like 2026-12-31") from error


# --- the recipient portal ------------------------------------------------------------------------


def recipient(request: Request) -> Actor:
    """The signed-in recipient, their share re-checked live on this very request."""
    service: ExternalShareService = request.app.state.external_shares
    return service.portal.recipient(request.cookies.get(PORTAL_COOKIE), request=request_actor(request))


Recipient = Annotated[Actor, Depends(recipient)]
NO_STORE = {"Cache-Control": "no-store"}  # nothing of a share outlives it in a browser cache


@portal.get("/s/{link}", response_class=HTMLResponse)
def sign_in_page(link: str, request: Request, shares: Shares) -> Response:
    """The link a recipient was sent: whom it is for, and the access code box."""
    name, organisation = shares.portal.invitation(link)
    return _sign_in_form(request, link, name, organisation)


def _sign_in_form(
    request: Request, link: str, name: str, organisation: str, error: str | None = None
) -> Response:
    context = {"actor": None, "link": link, "name": name, "organisation": organisation, "error": error}
    return page_templates(request).TemplateResponse(
        request, "portal_sign_in.html", context, status_code=403 if error else 200, headers=NO_STORE
    )


@portal.post("/s/{link}")
def sign_in(link: str, request: Request, shares: Shares, code: Annotated[str, Form()]) -> Response:
    """Check the code (a few wrong ones lock the share's sign-in for a while: 429, Retry-After)."""
    try:
        token = shares.portal.sign_in(link, code, request=request_actor(request))
    except Forbidden as wrong:
        name, organisation = shares.portal.invitation(link)
        return _sign_in_form(request, link, name, organisation, wrong.reason)
    answer = RedirectResponse("/portal", status_code=303)
    answer.set_cookie(PORTAL_COOKIE, token, path="/portal", httponly=True, samesite="strict",
                      secure=request.url.scheme == "https")
    return answer


@portal.get("", response_class=HTMLResponse)
def portal_page(request: Request, actor: Recipient, shares: Shares) -> Response:
    """What was shared with the recipient."""
    context = {"actor": None, "portal": shares.portal.shared_with(actor)}
    return page_templates(request).TemplateResponse(request, "portal.html", context, headers=NO_STORE)


@portal.get("/items/{item_id}", response_class=HTMLResponse)
def portal_item_page(item_id: str, request: Request, actor: Recipient, shares: Shares) -> Response:
    """One shared recording, playing under the recipient's watermark."""
    item = shares.portal.open_item(actor, item_id)
    context = {"actor": None, "item": item, "viewer": actor.name,
               "may_download": "evidence:item:download" in (actor.scopes or ())}
    return page_templates(request).TemplateResponse(request, "portal_item.html", context, headers=NO_STORE)


@portal.get("/items/{item_id}/proxy")
def portal_proxy(item_id: str, request: Request, actor: Recipient, shares: Shares) -> Response:
    """The browser copy, with Range; every range request re-checks the share."""
    access = shares.portal.open_proxy(actor, item_id, first_request=is_first_request(request))
    return send_blob(request, shares.evidence.blobs, access, actor=actor, attachment=False, private=False)


@portal.get("/items/{item_id}/thumbnails")
def portal_thumbnails(item_id: str, request: Request, actor: Recipient, shares: Shares) -> Response:
    """The thumbnail strip of a shared recording."""
    access = shares.portal.open_thumbnails(actor, item_id)
    return send_blob(request, shares.evidence.blobs, access, actor=actor, attachment=False, private=False)


@portal.get("/items/{item_id}/original")
def portal_original(item_id: str, request: Request, actor: Recipient, shares: Shares) -> Response:
    """The original bytes, unwatermarked and bit-identical, only when the share allows downloads."""
    access = shares.portal.open_original(actor, item_id, first_request=is_first_request(request))
    return send_blob(request, shares.evidence.blobs, access, actor=actor, attachment=True, private=False)


@portal.get("/status")
def portal_status(actor: Recipient, shares: Shares) -> JSONResponse:
    """Still live? The player page asks every few seconds and stops when the answer is no."""
    return JSONResponse(shares.portal.status(actor), headers=NO_STORE)


@portal.post("/sign-out", response_class=HTMLResponse)
def portal_sign_out(request: Request, actor: Recipient, shares: Shares) -> Response:
    """End the recipient's session."""
    shares.portal.sign_out(actor)
    answer = page_templates(request).TemplateResponse(request, "portal_signed_out.html", {"actor": None})
    answer.delete_cookie(PORTAL_COOKIE, path="/portal")
    return answer
