"""Disclosure schedules in the API and in the browser: read, decide an entry, export CSV and PDF."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.responses import Response

from witnessbox.accounts.dependencies import built_with, current_actor, page_templates
from witnessbox.core.actor import Actor
from witnessbox.core.errors import Conflict, InvalidInput, NotFound, WitnessboxError
from witnessbox.disclosure.schedules.models import Decision, ScheduleKind
from witnessbox.disclosure.schedules.schemas import EntryIn, EntryOut, ScheduleOut
from witnessbox.disclosure.schedules.service import ExportFile, ScheduleService

api = APIRouter(prefix="/api/v1/cases/{case_id}/schedule", tags=["disclosure"])
pages = APIRouter(tags=["pages"], include_in_schema=False)
Caller = Annotated[Actor, Depends(current_actor)]
Schedules = Annotated[ScheduleService, Depends(built_with("schedules", ScheduleService))]
FormRefusal = (InvalidInput, NotFound, Conflict)
CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "the schedule as CSV"}
}
PDF: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        "description": "one schedule of unused material as PDF",
    }
}


# --- API ---------------------------------------------------------------------------------------


@api.get("", response_model=ScheduleOut)
def show_schedule(case_id: str, actor: Caller, schedules: Schedules) -> ScheduleOut:
    """Every recording in the case with its schedule entry (members of the case; complaints: PSD)."""
    return schedules.schedule(case_id, actor=actor)


@api.put("/{item_id}", response_model=EntryOut)
def decide_entry(case_id: str, item_id: str, body: EntryIn, actor: Caller, schedules: Schedules) -> EntryOut:
    """Record the entry for one recording of the case (disclosure officers, investigators, PSD)."""
    return schedules.decide_entry(case_id, item_id, body, actor=actor)


@api.get("/export.csv", response_class=Response, responses=CSV)
def export_csv(case_id: str, actor: Caller, schedules: Schedules) -> Response:
    """Every entry as CSV, the schedule (MG6C, MG6D, used) a column; the export is audited."""
    return _file(schedules.export_csv(case_id, actor=actor))


@api.get("/export.pdf", response_class=Response, responses=PDF)
def export_pdf(
    case_id: str, actor: Caller, schedules: Schedules, schedule: ScheduleKind = ScheduleKind.NON_SENSITIVE
) -> Response:
    """One schedule of unused material (MG6C or MG6D) as PDF; the export is audited."""
    return _file(schedules.export_pdf(case_id, schedule, actor=actor))


def _file(export: ExportFile) -> Response:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in export.filename)
    disposition = {"Content-Disposition": f'attachment; filename="{safe}"'}
    return Response(export.body, media_type=export.media_type, headers=disposition)


# --- pages ---------------------------------------------------------------------------------------


@pages.get("/cases/{case_id}/schedule", response_class=HTMLResponse)
def schedule_page(
    request: Request, case_id: str, actor: Caller, schedules: Schedules, done: str = ""
) -> Response:
    """The case's schedules as an editable table: one form per recording, no script needed."""
    notice = "Entry saved." if done == "saved" else None
    return _page(request, actor, schedules, case_id, notice=notice)


def _page(
    request: Request,
    actor: Actor,
    schedules: ScheduleService,
    case_id: str,
    refused: WitnessboxError | None = None,
    **extra: object,
) -> Response:
    context = {
        "actor": actor,
        "schedule": schedules.schedule(case_id, actor=actor),  # NotFound (404) for those outside the case
        "kinds": list(ScheduleKind),
        "decisions": list(Decision),
        "error": refused.reason if refused else None,
        **extra,
    }
    status = refused.status if refused else 200
    return page_templates(request).TemplateResponse(
        request, "disclosure/schedule.html", context, status_code=status
    )


@pages.post("/cases/{case_id}/schedule/{item_id}")
def decide_form(
    request: Request,
    case_id: str,
    item_id: str,
    actor: Caller,
    schedules: Schedules,
    schedule: Annotated[str, Form()] = ScheduleKind.NON_SENSITIVE,
    used: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    decision: Annotated[str, Form()] = "",
    reasons: Annotated[str, Form()] = "",
) -> Response:
    """One row's "Save": record the entry, then show the schedule at that row."""
    try:
        entry = _entry(schedule, used, description, decision, reasons)
        schedules.decide_entry(case_id, item_id, entry, actor=actor)
    except FormRefusal as problem:
        sent = {
            "schedule": schedule,
            "used": bool(used),
            "description": description,
            "decision": decision,
            "reasons": reasons,
        }
        return _page(request, actor, schedules, case_id, problem, failed=item_id, sent=sent)
    return RedirectResponse(f"/cases/{case_id}/schedule?done=saved#entry-{item_id}", status_code=303)


def _entry(schedule: str, used: str, description: str, decision: str, reasons: str) -> EntryIn:
    """The form's fields as an entry; a default description sent back unchanged stays the default."""
    try:
        return EntryIn(
            schedule=ScheduleKind(schedule),
            used=bool(used),
            description=description or None,
            decision=Decision(decision) if decision else None,
            reasons=reasons,
        )
    except (ValueError, ValidationError) as error:
        raise InvalidInput(f"that entry cannot be kept: {error}") from error
