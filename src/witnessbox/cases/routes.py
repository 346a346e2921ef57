"""Cases in the API and in the browser: open one, invite colleagues, add items, see them on a timeline."""

import math
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import AwareDatetime
from starlette.responses import Response

from witnessbox.accounts.dependencies import built_with, current_actor, page_templates
from witnessbox.cases.models import CaseKind
from witnessbox.cases.schemas import CaseIn, CaseItemOut, CaseMemberOut, CaseOut, ItemsIn, MemberIn
from witnessbox.cases.service import CaseService
from witnessbox.cases.timeline import timeline
from witnessbox.cases.trawl import TRAWL_FURTHEST_M, TRAWL_LONGEST_S, Chosen, IncidentTrawl, TrawlResult
from witnessbox.core.actor import Actor
from witnessbox.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ReasonRequired,
    WitnessboxError,
)

api = APIRouter(prefix="/api/v1/cases", tags=["cases"])
pages = APIRouter(tags=["pages"], include_in_schema=False)
Caller = Annotated[Actor, Depends(current_actor)]
# What a form may be refused for and shown again with the reason (an unknown case is a plain 404).
FormRefusal = (InvalidInput, Conflict, Forbidden, NotFound)
WATCH_TOGETHER = (2, 4)  # how many overlapping recordings the watch page plays side by side
NOTICES = {
    "created": "Case opened. Invite colleagues and add recordings from the library.",
    "member": "Invited: they now have every recording in the case.",
    "items": "Recordings added: every member now has them.",
    "item-removed": "The recording was taken out of the case.",
    "member-removed": "They were taken off the case.",
}


case_service = built_with("cases", CaseService)


Cases = Annotated[CaseService, Depends(case_service)]


# --- API ---------------------------------------------------------------------------------------


@api.get("", response_model=list[CaseOut])
def list_cases(actor: Caller, cases: Cases) -> list[CaseOut]:
    """The cases you work on, newest first (professional standards: every case)."""
    return [CaseOut.model_validate(case, from_attributes=True) for case in cases.cases_for(actor)]


@api.post("", response_model=CaseOut, status_code=201)
def create_case(body: CaseIn, actor: Caller, cases: Cases) -> CaseOut:
    """Open a case (complaint cases: professional standards only); you become its first member."""
    case = cases.create(body.reference, body.title, kind=body.kind, actor=actor)
    return CaseOut.model_validate(case, from_attributes=True)


@api.get("/{case_id}", response_model=CaseOut)
def show_case(case_id: str, actor: Caller, cases: Cases) -> CaseOut:
    """A case you work on."""
    return CaseOut.model_validate(cases.get(case_id, actor=actor), from_attributes=True)


@api.get("/{case_id}/members", response_model=list[CaseMemberOut])
def list_members(case_id: str, actor: Caller, cases: Cases) -> list[CaseMemberOut]:
    """Who works the case, and since when."""
    return cases.members(case_id, actor=actor)


@api.get("/{case_id}/items", response_model=list[CaseItemOut])
def list_case_items(case_id: str, actor: Caller, cases: Cases) -> list[CaseItemOut]:
    """The case's items you may see, in recorded order."""
    return cases.items(case_id, actor=actor)


@api.post("/{case_id}/members", status_code=204)
def add_member(case_id: str, body: MemberIn, actor: Caller, cases: Cases) -> Response:
    """Invite a colleague: they get every item in the case."""
    cases.add_member(case_id, body.collar_number, actor=actor)
    return Response(status_code=204)


@api.post("/{case_id}/items", status_code=204)
def add_items(case_id: str, body: ItemsIn, actor: Caller, cases: Cases) -> Response:
    """Add items you may see to the case (with `reason`, those you may open only with one)."""
    cases.add_items(case_id, body.item_ids, actor=actor, reason=body.reason)
    return Response(status_code=204)


@api.post("/{case_id}/close", response_model=CaseOut)
def close_case(case_id: str, actor: Caller, cases: Cases) -> CaseOut:
    """Close a case: its items' retention clocks that run from case closure start (retention/)."""
    return CaseOut.model_validate(cases.close(case_id, actor=actor), from_attributes=True)


# --- pages ---------------------------------------------------------------------------------------


_templates = page_templates


def _see_case(case_id: str, done: str) -> Response:
    return RedirectResponse(f"/cases/{case_id}?done={done}", status_code=303)


@pages.get("/cases", response_class=HTMLResponse)
def cases_page(request: Request, actor: Caller, cases: Cases) -> Response:
    """The cases you work on, and (for those who may) a form to open one."""
    return _cases_page(request, actor, cases)


def _cases_page(
    request: Request, actor: Actor, cases: CaseService, refused: WitnessboxError | None = None, **form: str
) -> Response:
    context = {
        "actor": actor,
        "cases": cases.cases_for(actor),
        "kinds": cases.kinds_for(actor),
        "error": refused.reason if refused else None,
        "form": form,
    }
    status = refused.status if refused else 200
    return _templates(request).TemplateResponse(request, "cases/list.html", context, status_code=status)


@pages.post("/cases")
def open_case(
    request: Request,
    actor: Caller,
    cases: Cases,
    reference: Annotated[str, Form()],
    title: Annotated[str, Form()],
    kind: Annotated[str, Form()] = CaseKind.INVESTIGATION,
) -> Response:
    """The "New case" form: open the case, then go to it."""
    try:
        case = cases.create(reference, title, kind=_kind(kind), actor=actor)
    except FormRefusal as problem:
        return _cases_page(request, actor, cases, problem, reference=reference, title=title, kind=kind)
    return _see_case(case.id, "created")


def _kind(value: str) -> CaseKind:
    try:
        return CaseKind(value)
    except ValueError as error:
        raise InvalidInput(f"a case is an investigation or a complaint, not {value!r}") from error


@pages.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: str, actor: Caller, cases: Cases, done: str = "") -> Response:
    """One case: its members, its recordings and their timeline."""
    return _case_page(request, actor, cases, case_id, notice=NOTICES.get(done))


def _case_page(
    request: Request,
    actor: Actor,
    cases: CaseService,
    case_id: str,
    refused: WitnessboxError | None = None,
    **extra: object,
) -> Response:
    overview = cases.overview(case_id, actor=actor)  # NotFound (404) for those outside the case
    context = {
        "actor": actor,
        "case": overview.case,
        "members": overview.members,
        "items": overview.items,
        "timeline": timeline(overview.items, request.app.state.local_time.zone),
        "may_manage": cases.may_manage(actor),
        "watch": WATCH_TOGETHER,
        "error": refused.reason if refused else None,
        **extra,
    }
    status = refused.status if refused else 200
    return _templates(request).TemplateResponse(request, "cases/case.html", context, status_code=status)


@pages.post("/cases/add-items")
def add_items_form(
    request: Request,
    actor: Caller,
    cases: Cases,
    case_id: Annotated[str, Form()],
    item_ids: Annotated[list[str], Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    """The library's bulk "Add to case" (and the case page's reason form): add, then show the case.

    Recordings the policy opens only with a reason bring the case page back asking for one.
    """
    chosen = list(dict.fromkeys(i.strip() for i in item_ids if i.strip()))
    try:
        cases.add_items(case_id, chosen, actor=actor, reason=reason or None)
    except ReasonRequired as problem:
        return _case_page(request, actor, cases, case_id, problem, pending=chosen)
    except FormRefusal as problem:
        pending = chosen if reason else None  # a reason too short to accept: ask again
        return _case_page(request, actor, cases, case_id, problem, pending=pending)
    return _see_case(case_id, "items")


@pages.post("/cases/{case_id}/members")
def invite_form(
    request: Request, case_id: str, actor: Caller, cases: Cases, collar_number: Annotated[str, Form()]
) -> Response:
    """The case page's "Invite" form, by collar number."""
    try:
        cases.add_member(case_id, collar_number.strip(), actor=actor)
    except FormRefusal as problem:
        return _case_page(request, actor, cases, case_id, problem, collar_number=collar_number)
    return _see_case(case_id, "member")


@pages.post("/cases/{case_id}/members/{user_id}/remove")
def remove_member_form(request: Request, case_id: str, user_id: str, actor: Caller, cases: Cases) -> Response:
    """Take someone off the case (not its last member)."""
    try:
        cases.remove_member(case_id, user_id, actor=actor)
    except FormRefusal as problem:
        return _case_page(request, actor, cases, case_id, problem)
    if user_id == actor.id:  # you took yourself off: the case is no longer yours to see
        return RedirectResponse("/cases", status_code=303)
    return _see_case(case_id, "member-removed")


@pages.post("/cases/{case_id}/items/{item_id}/remove")
def remove_item_form(request: Request, case_id: str, item_id: str, actor: Caller, cases: Cases) -> Response:
    """Take a recording out of the case."""
    try:
        cases.remove_item(case_id, item_id, actor=actor)
    except FormRefusal as problem:
        return _case_page(request, actor, cases, case_id, problem)
    return _see_case(case_id, "item-removed")


# --- the incident trawl (cases/trawl.py): other cameras at the case's incident -------------------

Trawls = Annotated[IncidentTrawl, Depends(built_with("trawl", IncidentTrawl))]
Latitude = Annotated[float | None, Query(ge=-90, le=90)]
Longitude = Annotated[float | None, Query(ge=-180, le=180)]
Metres = Annotated[float | None, Query(gt=0, le=TRAWL_FURTHEST_M, description="default: the force's rule")]
Seconds = Annotated[float | None, Query(gt=0, le=TRAWL_LONGEST_S, description="default: the force's rule")]


NO_PLACE_TO_START: dict[int | str, dict[str, Any]] = {
    409: {"description": "no place or time given, and no recording of the case has a GPS track"}
}


@api.get("/{case_id}/trawl", response_model=TrawlResult, responses=NO_PLACE_TO_START)
def trawl_case(
    case_id: str,
    actor: Caller,
    trawls: Trawls,
    lat: Latitude = None,
    lon: Longitude = None,
    at: AwareDatetime | None = None,
    distance_m: Metres = None,
    window_s: Seconds = None,
) -> TrawlResult:
    """Every recording you may see listed whose GPS track came near the incident during the window,
    and those that ran then without a fix; place and time default to the case's first GPS fix (409: none)."""
    incident = trawls.incident(case_id, Chosen(lat, lon, at, distance_m, window_s), actor=actor)
    return trawls.trawl(case_id, incident, actor=actor)


@pages.get("/cases/{case_id}/trawl", response_class=HTMLResponse)
def trawl_page(request: Request, case_id: str, actor: Caller, cases: Cases, trawls: Trawls) -> Response:
    """The trawl form (pre-filled from the case) and, once run, what it found, with "Add to case"."""
    query = request.query_params
    context: dict[str, object] = {
        "actor": actor,
        "case": cases.get(case_id, actor=actor),
        "form": dict(query),
    }
    try:
        zone = request.app.state.local_time.zone
        chosen = _chosen(query.get, zone)
        incident = trawls.incident(case_id, chosen, actor=actor)
        context["incident"], context["at_local"] = (
            incident,
            f"{incident.at.astimezone(zone):%Y-%m-%dT%H:%M:%S}",
        )
        if query.get("run"):
            context["result"] = trawls.trawl(case_id, incident, actor=actor)
    except FormRefusal as problem:
        context["error"] = problem.reason
        status = problem.status if query.get("run") else 200  # the empty form, saying what to fill in
    else:
        status = 200
    return _templates(request).TemplateResponse(request, "cases/trawl.html", context, status_code=status)


def _chosen(field: Callable[[str], str | None], zone: tzinfo) -> Chosen:
    """The form's fields (time in the force's zone, window in minutes); blank fields are not chosen."""
    try:
        at = field("at")
        moment = datetime.fromisoformat(at).replace(tzinfo=zone) if at else None
        minutes = _number(field("window_min"))
        return Chosen(
            _number(field("lat")),
            _number(field("lon")),
            moment,
            _number(field("distance_m")),
            minutes * 60 if minutes else None,
        )
    except ValueError as error:
        raise InvalidInput(
            "give the place as latitude and longitude, a time, and positive numbers"
        ) from error


def _number(value: str | None) -> float | None:
    number = float(value) if value and value.strip() else None
    if number is not None and not math.isfinite(number):
        raise ValueError("not a number")
    return number
