"""Retention in the API and in the browser: the review queue, approvals, keeps and recoveries,
an item's retention and certificate, the schedule with its preview, holds, subject access requests."""

from datetime import date, datetime, time, timedelta, tzinfo
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from witnessbox.accounts.dependencies import built_with, current_actor, page_templates
from witnessbox.core.actor import Actor
from witnessbox.core.errors import Conflict, Forbidden, InvalidInput, NotFound, WitnessboxError
from witnessbox.retention.holds import HoldService
from witnessbox.retention.models import ClockStart, SubjectAccessRequest
from witnessbox.retention.report import StorageReport, StorageReports
from witnessbox.retention.schedule import RetentionSchedule, RuleSpec
from witnessbox.retention.schemas import (
    CertificateOut,
    EffectOut,
    HoldIn,
    HoldRecord,
    ItemRetentionOut,
    QueueEntry,
    ReasonIn,
    RequiredReasonIn,
    RuleIn,
    RuleOut,
    SubjectAccessIn,
    SubjectAccessOut,
)
from witnessbox.retention.service import RetentionService
from witnessbox.retention.subject_access import RequestDraft, SubjectAccessService

api = APIRouter(prefix="/api/v1/retention", tags=["retention"])
pages = APIRouter(tags=["pages"], include_in_schema=False)
Caller = Annotated[Actor, Depends(current_actor)]
Retention = Annotated[RetentionService, Depends(built_with("retention", RetentionService))]
Schedule = Annotated[RetentionSchedule, Depends(built_with("retention_schedule", RetentionSchedule))]
Holds = Annotated[HoldService, Depends(built_with("holds", HoldService))]
Requests = Annotated[SubjectAccessService, Depends(built_with("subject_access", SubjectAccessService))]
Reports = Annotated[StorageReports, Depends(built_with("storage_report", StorageReports))]
FormRefusal = (InvalidInput, Conflict, Forbidden, NotFound)
NOTICES = {
    "approved": "Approval recorded.",
    "kept": "Kept: the recording is due again later.",
    "recovered": "Recovery approval recorded.",
    "saved": "Schedule saved; due dates recomputed.",
    "held": "Hold placed.",
    "released": "Hold released.",
    "recorded": "Request recorded; its recordings are held until it is closed.",
    "closed": "Request closed; its recordings are no longer held for it.",
}

# --- API ---------------------------------------------------------------------------------------


@api.get("/queue", response_model=list[QueueEntry])
def review_queue(actor: Caller, retention: Retention) -> list[QueueEntry]:
    """Items warned for deletion, and those in the recycle window, that you review."""
    return retention.queue(actor=actor)


@api.get("/items/{item_id}", response_model=ItemRetentionOut)
def item_retention(item_id: str, actor: Caller, retention: Retention) -> ItemRetentionOut:
    """An item's retention class, due date, stage, holds, and (once purged) why it went."""
    return retention.status(item_id, actor=actor)


@api.post("/items/{item_id}/approve")
def approve(item_id: str, body: ReasonIn, actor: Caller, retention: Retention) -> dict[str, int]:
    """Approve a warned item's deletion (evidential items need two different people)."""
    return {"approvals": retention.approve(item_id, actor=actor, reason=body.reason)}


@api.post("/items/{item_id}/keep")
def keep(item_id: str, body: RequiredReasonIn, actor: Caller, retention: Retention) -> dict[str, str]:
    """Keep an item past its due date, with a reason."""
    return {"due_at": retention.keep(item_id, actor=actor, reason=body.reason).isoformat()}


@api.post("/items/{item_id}/recover")
def recover(item_id: str, body: RequiredReasonIn, actor: Caller, retention: Retention) -> dict[str, int]:
    """Approve recovering an item from the recycle window (two different people bring it back)."""
    return {"approvals": retention.recover(item_id, actor=actor, reason=body.reason)}


@api.get("/items/{item_id}/certificate", response_model=CertificateOut)
def certificate(item_id: str, actor: Caller, retention: Retention) -> CertificateOut:
    """A purged item's signed deletion certificate (reviewers and auditors)."""
    found = retention.certificate(item_id, actor=actor)
    return CertificateOut(
        id=found.id,
        item_id=found.item_id,
        statement=found.statement,
        signature=found.signature,
        key_id=found.key_id,
        signature_valid=retention.verify_certificate(found),
    )


@api.get("/schedule", response_model=list[RuleOut])
def schedule(actor: Caller, rules: Schedule) -> list[RuleOut]:
    """The schedule in force."""
    return [RuleOut(**vars(spec)) for spec in rules.rules_for(actor=actor)]


@api.post("/schedule/preview", response_model=EffectOut)
def preview(body: RuleIn, actor: Caller, rules: Schedule) -> EffectOut:
    """What saving this line would do: how many items' due dates move, earlier or later."""
    return EffectOut(**vars(rules.preview(RuleSpec(**body.model_dump()), actor=actor)))


@api.put("/schedule", response_model=EffectOut)
def change_schedule(body: RuleIn, actor: Caller, rules: Schedule) -> EffectOut:
    """Save one line of the schedule (audited with its effect)."""
    return EffectOut(**vars(rules.change(RuleSpec(**body.model_dump()), actor=actor)))


@api.get("/holds", response_model=list[HoldRecord])
def holds(actor: Caller, service: Holds) -> list[HoldRecord]:
    """Legal holds in force."""
    return [HoldRecord.model_validate(h, from_attributes=True) for h in service.active(actor=actor)]


@api.post("/holds", response_model=HoldRecord, status_code=201)
def place_hold(body: HoldIn, actor: Caller, service: Holds) -> HoldRecord:
    """Place a legal hold on an item or a case."""
    hold = service.place(
        actor=actor, reason=body.reason, item_id=body.item_id, case_id=body.case_id, until=body.until
    )
    return HoldRecord.model_validate(hold, from_attributes=True)


@api.post("/holds/{hold_id}/release", response_model=HoldRecord)
def release_hold(hold_id: str, body: RequiredReasonIn, actor: Caller, service: Holds) -> HoldRecord:
    """Release a legal hold, with a reason."""
    return HoldRecord.model_validate(
        service.release(hold_id, actor=actor, reason=body.reason), from_attributes=True
    )


@api.post("/subject-access", response_model=SubjectAccessOut, status_code=201)
def record_request(body: SubjectAccessIn, actor: Caller, service: Requests) -> SubjectAccessOut:
    """Record a subject access request: its items are held until it is closed."""
    request, item_ids = service.record(RequestDraft(**body.model_dump()), actor=actor)
    return _request_out(request, item_ids)


@api.get("/subject-access", response_model=list[SubjectAccessOut])
def list_requests(actor: Caller, service: Requests) -> list[SubjectAccessOut]:
    """Subject access requests, open ones first, each with the items it names for review."""
    return [_request_out(r, service.items(r.id, actor=actor)) for r in service.requests(actor=actor)]


@api.get("/subject-access/{request_id}", response_model=SubjectAccessOut)
def show_request(request_id: str, actor: Caller, service: Requests) -> SubjectAccessOut:
    """One subject access request and the items it names (held while it is open)."""
    return _request_out(service.get(request_id, actor=actor), service.items(request_id, actor=actor))


@api.post("/subject-access/{request_id}/close", response_model=SubjectAccessOut)
def close_request(request_id: str, actor: Caller, service: Requests) -> SubjectAccessOut:
    """Close a subject access request: its items are no longer held for it."""
    request = service.close(request_id, actor=actor)
    return _request_out(request, service.items(request_id, actor=actor))


def _request_out(request: SubjectAccessRequest, item_ids: list[str]) -> SubjectAccessOut:
    return SubjectAccessOut(
        id=request.id,
        reference=request.reference,
        requester=request.requester,
        received_at=request.received_at,
        closed_at=request.closed_at,
        item_ids=item_ids,
    )


@api.get("/report", response_model=StorageReport)
def storage_report(actor: Caller, reports: Reports) -> StorageReport:
    """Kept footage by category and retention class, held footage, and what falls due month by month."""
    return reports.report(actor=actor)


# --- pages ---------------------------------------------------------------------------------------


@pages.get("/retention", response_class=HTMLResponse)
def queue_page(request: Request, actor: Caller, retention: Retention, done: str = "") -> Response:
    """The review queue: approve deletions, keep what is needed, recover from the recycle window."""
    return _queue_page(request, actor, retention, notice=NOTICES.get(done))


def _queue_page(
    request: Request,
    actor: Actor,
    retention: RetentionService,
    refused: WitnessboxError | None = None,
    **extra: object,
) -> Response:
    context = {
        "actor": actor,
        "entries": retention.queue(actor=actor),
        **extra,
    }
    return _form_page(request, "retention/queue.html", context, refused)


@pages.post("/retention/items/{item_id}/{decision}")
def decide_form(
    request: Request,
    item_id: str,
    decision: str,
    actor: Caller,
    retention: Retention,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """The queue's buttons: approve, keep or recover, then back to the queue."""
    actions = {"approve": retention.approve, "keep": retention.keep, "recover": retention.recover}
    if decision not in actions:
        raise NotFound(f"no decision {decision!r}")
    try:
        actions[decision](item_id, actor=actor, reason=reason)
    except FormRefusal as problem:
        return _queue_page(request, actor, retention, problem)
    done = {"approve": "approved", "keep": "kept", "recover": "recovered"}[decision]
    return RedirectResponse(f"/retention?done={done}", status_code=303)


@pages.get("/retention/items/{item_id}", response_class=HTMLResponse)
def item_page(request: Request, item_id: str, actor: Caller, retention: Retention) -> Response:
    """One item's retention: class, due date, holds, and its certificate once purged."""
    context = {"actor": actor, "status": retention.status(item_id, actor=actor)}
    return page_templates(request).TemplateResponse(request, "retention/item.html", context)


@pages.get("/retention/schedule", response_class=HTMLResponse)
def schedule_page(request: Request, actor: Caller, rules: Schedule, done: str = "") -> Response:
    """The schedule in force, and a form to preview and save a change."""
    return _schedule_page(request, actor, rules, notice=NOTICES.get(done))


def _schedule_page(
    request: Request,
    actor: Actor,
    rules: RetentionSchedule,
    refused: WitnessboxError | None = None,
    **extra: object,
) -> Response:
    context = {
        "actor": actor,
        "rules": rules.rules_for(actor=actor),
        "starts": list(ClockStart),
        **extra,
    }
    return _form_page(request, "retention/schedule.html", context, refused)


@pages.post("/retention/schedule")
def schedule_form(
    request: Request,
    actor: Caller,
    rules: Schedule,
    retention_class: Annotated[str, Form()],
    period_days: Annotated[int, Form()],
    clock_start: Annotated[str, Form()],
    source: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "preview",
) -> Response:
    """Preview a change first (how many due dates move), then save it."""
    try:
        spec = RuleSpec(retention_class.strip(), period_days, _clock_start(clock_start), source.strip())
        if action == "save":
            rules.change(spec, actor=actor)
            return RedirectResponse("/retention/schedule?done=saved", status_code=303)
        effect = rules.preview(spec, actor=actor)
    except FormRefusal as problem:
        return _schedule_page(request, actor, rules, problem)
    return _schedule_page(request, actor, rules, effect=effect, proposed=spec)


def _clock_start(value: str) -> ClockStart:
    try:
        return ClockStart(value)
    except ValueError as error:
        raise InvalidInput(
            f"a retention clock starts at recording, categorisation or case closure, not {value!r}"
        ) from error


# --- holds and subject access requests (pages) ------------------------------------------------------


@pages.get("/retention/holds", response_class=HTMLResponse)
def holds_page(request: Request, actor: Caller, service: Holds, done: str = "") -> Response:
    """Legal holds in force, a form to place one on an item or a case, and a release form per hold."""
    return _holds_page(request, actor, service, notice=NOTICES.get(done))


def _holds_page(
    request: Request,
    actor: Actor,
    service: HoldService,
    refused: WitnessboxError | None = None,
    **extra: object,
) -> Response:
    live = service.active(actor=actor)
    context = {
        "actor": actor,
        "holds": live,
        "case_references": service.case_references(live),
        **extra,
    }
    return _form_page(request, "retention/holds.html", context, refused)


@pages.post("/retention/holds")
def place_hold_form(
    request: Request,
    actor: Caller,
    service: Holds,
    reason: Annotated[str, Form()] = "",
    item_id: Annotated[str, Form()] = "",
    case_reference: Annotated[str, Form()] = "",
    until: Annotated[str, Form()] = "",
) -> Response:
    """Place a hold on one item (by id) or one case (by reference), then back to the list."""
    try:
        end = _end_of_day(until, request.app.state.local_time.zone)
        if case_reference.strip():
            service.place_on_reference(
                actor=actor, reason=reason, case_reference=case_reference, until=end, item_id=item_id.strip()
            )
        else:
            service.place(actor=actor, reason=reason, item_id=item_id.strip() or None, until=end)
    except FormRefusal as problem:
        return _holds_page(request, actor, service, problem)
    return RedirectResponse("/retention/holds?done=held", status_code=303)


@pages.post("/retention/holds/{hold_id}/release")
def release_hold_form(
    request: Request, hold_id: str, actor: Caller, service: Holds, reason: Annotated[str, Form()] = ""
) -> Response:
    """Release one hold with a reason, then back to the list."""
    try:
        service.release(hold_id, actor=actor, reason=reason)
    except FormRefusal as problem:
        return _holds_page(request, actor, service, problem)
    return RedirectResponse("/retention/holds?done=released", status_code=303)


@pages.get("/retention/subject-access", response_class=HTMLResponse)
def requests_page(request: Request, actor: Caller, service: Requests, done: str = "") -> Response:
    """Subject access requests with the recordings each names, a form to record one, a close form each."""
    return _requests_page(request, actor, service, notice=NOTICES.get(done))


def _requests_page(
    request: Request,
    actor: Actor,
    service: SubjectAccessService,
    refused: WitnessboxError | None = None,
    **extra: object,
) -> Response:
    listed = [r for r in service.requests(actor=actor) if r.closed_at is None]
    context = {
        "actor": actor,
        "requests": [(r, service.items(r.id, actor=actor)) for r in listed],
        "time_zone": request.app.state.local_time.zone,
        **extra,
    }
    return _form_page(request, "retention/subject_access.html", context, refused)


@pages.post("/retention/subject-access")
def record_request_form(
    request: Request,
    actor: Caller,
    service: Requests,
    reference: Annotated[str, Form()] = "",
    requester: Annotated[str, Form()] = "",
    incident_number: Annotated[str, Form()] = "",
    from_at: Annotated[str, Form()] = "",
    to_at: Annotated[str, Form()] = "",
    place: Annotated[str, Form()] = "",
) -> Response:
    """Record a request (times in the force's zone), then back to the list."""
    zone = request.app.state.local_time.zone
    try:
        draft = RequestDraft(
            reference=reference[:64],
            requester=requester[:255],
            incident_number=incident_number.strip()[:64] or None,
            from_at=_moment(from_at, zone),
            to_at=_moment(to_at, zone),
            place=place.strip()[:255] or None,
        )
        service.record(draft, actor=actor)
    except FormRefusal as problem:
        return _requests_page(request, actor, service, problem)
    return RedirectResponse("/retention/subject-access?done=recorded", status_code=303)


@pages.post("/retention/subject-access/{request_id}/close")
def close_request_form(request: Request, request_id: str, actor: Caller, service: Requests) -> Response:
    """Close one request, then back to the list."""
    try:
        service.close(request_id, actor=actor)
    except FormRefusal as problem:
        return _requests_page(request, actor, service, problem)
    return RedirectResponse("/retention/subject-access?done=closed", status_code=303)


def _end_of_day(value: str, zone: tzinfo) -> datetime | None:
    """A form's "until" date: the hold lasts through that whole day in the force's zone."""
    if not value.strip():
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError as error:
        raise InvalidInput(f"give the hold's end as a date, not {value!r}") from error
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)


def _moment(value: str, zone: tzinfo) -> datetime | None:
    """A form's date and time, read in the force's zone; blank is none."""
    if not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip()).replace(tzinfo=zone)
    except ValueError as error:
        raise InvalidInput(f"give a date and time, not {value!r}") from error


def _form_page(
    request: Request, template: str, context: dict[str, object], refused: WitnessboxError | None
) -> Response:
    """A retention page, with a refused form's reason and status when there was one."""
    context["error"] = refused.reason if refused else None
    status = refused.status if refused else 200
    return page_templates(request).TemplateResponse(request, template, context, status_code=status)
