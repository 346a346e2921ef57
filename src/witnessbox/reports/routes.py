"""The supervisor's compliance page and its reminder button; the administrator's system page."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from witnessbox.accounts.dependencies import built_with, current_actor, page_templates
from witnessbox.core.actor import Actor
from witnessbox.reports.compliance import ComplianceService
from witnessbox.reports.system import SystemOverview

pages = APIRouter(tags=["pages"], include_in_schema=False)
Caller = Annotated[Actor, Depends(current_actor)]


compliance_service = built_with("compliance", ComplianceService)


Compliance = Annotated[ComplianceService, Depends(compliance_service)]


@pages.get("/compliance", response_class=HTMLResponse)
def compliance_page(
    request: Request, actor: Caller, compliance: Compliance, days: int = 3, reminded: int | None = None
) -> Response:
    """Per supervised team: recordings uncategorised after `days`, cameras not docked for `days`."""
    templates = page_templates(request)
    context = {
        "actor": actor,
        "teams": compliance.view(actor=actor, days=days),
        "days": days,
        "reminded": reminded,
    }
    return templates.TemplateResponse(request, "reports/compliance.html", context)


@pages.post("/compliance/remind/{user_id}")
def remind(user_id: str, actor: Caller, compliance: Compliance, days: Annotated[int, Form()] = 3) -> Response:
    """Send one officer a reminder to categorise their old recordings."""
    count = compliance.remind(user_id, actor=actor, days=days)
    return RedirectResponse(f"/compliance?days={days}&reminded={count}", status_code=303)


system_overview = built_with("system", SystemOverview)


@pages.get("/admin", response_class=HTMLResponse)
def system_page(
    request: Request,
    actor: Caller,
    system: Annotated[SystemOverview, Depends(system_overview)],
    days: int = 7,
) -> Response:
    """The administrator's home: jobs, storage, the audit checkpoint, devices silent for `days`."""
    context = {"actor": actor, "state": system.state(actor=actor, silent_days=days)}
    return page_templates(request).TemplateResponse(request, "reports/system.html", context)
