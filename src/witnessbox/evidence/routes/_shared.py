"""What the evidence routes share: the services the app was built with, the caller, templates."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from witnessbox.accounts.dependencies import current_actor
from witnessbox.core.actor import Actor
from witnessbox.evidence.categorise import CategorisationService
from witnessbox.evidence.service import EvidenceService

API = "/api/v1/items"
Caller = Annotated[Actor, Depends(current_actor)]


def evidence_service(request: Request) -> EvidenceService:
    """The EvidenceService the app was built with."""
    service: EvidenceService = request.app.state.evidence
    return service


def categorisation_service(request: Request) -> CategorisationService:
    """The CategorisationService the app was built with."""
    service: CategorisationService = request.app.state.categorise
    return service


def templates(request: Request) -> Jinja2Templates:
    """The page templates the app was built with."""
    found: Jinja2Templates = request.app.state.templates
    return found


Evidence = Annotated[EvidenceService, Depends(evidence_service)]
Categorise = Annotated[CategorisationService, Depends(categorisation_service)]
