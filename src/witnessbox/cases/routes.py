"""Cases in the API: open one, invite colleagues, add items."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from witnessbox.accounts.dependencies import current_actor
from witnessbox.cases.schemas import CaseIn, CaseOut, ItemsIn, MemberIn
from witnessbox.cases.service import CaseService
from witnessbox.core.actor import Actor

api = APIRouter(prefix="/api/v1/cases", tags=["cases"])
pages = APIRouter(tags=["pages"], include_in_schema=False)
Caller = Annotated[Actor, Depends(current_actor)]


def case_service(request: Request) -> CaseService:
    """The CaseService the app was built with."""
    service: CaseService = request.app.state.cases
    return service


Cases = Annotated[CaseService, Depends(case_service)]


@api.post("", response_model=CaseOut, status_code=201)
def create_case(body: CaseIn, actor: Caller, cases: Cases) -> CaseOut:
    """Open a case (complaint cases: professional standards only); you become its first member."""
    case = cases.create(body.reference, body.title, kind=body.kind, actor=actor)
    return CaseOut.model_validate(case, from_attributes=True)


@api.get("/{case_id}", response_model=CaseOut)
def show_case(case_id: str, actor: Caller, cases: Cases) -> CaseOut:
    """A case you work on."""
    return CaseOut.model_validate(cases.get(case_id, actor=actor), from_attributes=True)


@api.post("/{case_id}/members", status_code=204)
def add_member(case_id: str, body: MemberIn, actor: Caller, cases: Cases) -> Response:
    """Invite a colleague: they get every item in the case."""
    cases.add_member(case_id, body.collar_number, actor=actor)
    return Response(status_code=204)


@api.post("/{case_id}/items", status_code=204)
def add_items(case_id: str, body: ItemsIn, actor: Caller, cases: Cases) -> Response:
    """Add items you may see to the case."""
    cases.add_items(case_id, body.item_ids, actor=actor)
    return Response(status_code=204)
