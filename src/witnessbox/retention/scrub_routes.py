"""The administrator's "Storage integrity" page: the scrub's findings and the form that answers one."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from witnessbox.accounts.dependencies import built_with, current_actor, page_templates
from witnessbox.core.actor import Actor
from witnessbox.core.errors import Conflict, InvalidInput, WitnessboxError
from witnessbox.retention.scrub import ScrubService

pages = APIRouter(tags=["pages"], include_in_schema=False)
Caller = Annotated[Actor, Depends(current_actor)]
Scrub = Annotated[ScrubService, Depends(built_with("scrub", ScrubService))]
FormRefusal = (InvalidInput, Conflict)  # shown again on the page with the reason


@pages.get("/admin/storage", response_class=HTMLResponse)
def storage_page(request: Request, actor: Caller, scrub: Scrub, closed: bool = False) -> Response:
    """Open findings (or, with `closed`, every one), the last whole pass and the one under way."""
    return _page(request, actor, scrub, closed=closed)


@pages.post("/admin/storage/findings/{finding_id}/acknowledge")
def acknowledge_form(
    request: Request, finding_id: str, actor: Caller, scrub: Scrub, reason: Annotated[str, Form()] = ""
) -> Response:
    """Answer a finding with what was done about it; the stored bytes stay as they were found."""
    try:
        scrub.acknowledge(finding_id, reason=reason, actor=actor)
    except FormRefusal as problem:
        return _page(request, actor, scrub, problem=problem, failed=finding_id, status=422)
    return RedirectResponse("/admin/storage?acknowledged=1", status_code=303)


def _page(
    request: Request,
    actor: Actor,
    scrub: ScrubService,
    *,
    closed: bool = False,
    problem: WitnessboxError | None = None,
    failed: str | None = None,
    status: int = 200,
) -> Response:
    context = {
        "actor": actor,
        "summary": scrub.summary(actor=actor),
        "findings": scrub.findings(actor=actor, closed=closed),
        "closed": closed,
        "problem": str(problem) if problem else None,
        "failed": failed,
        "acknowledged": request.query_params.get("acknowledged") == "1",
    }
    templates = page_templates(request)
    return templates.TemplateResponse(request, "retention/scrub.html", context, status_code=status)
