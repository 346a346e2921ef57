"""What the evidence routes share: the services the app was built with, the caller, templates."""

from typing import Annotated

from fastapi import Depends

from witnessbox.accounts.dependencies import built_with, current_actor, page_templates
from witnessbox.core.actor import Actor
from witnessbox.evidence.categorise import CategorisationService
from witnessbox.evidence.service import EvidenceService

API = "/api/v1/items"
Caller = Annotated[Actor, Depends(current_actor)]


evidence_service = built_with("evidence", EvidenceService)


categorisation_service = built_with("categorise", CategorisationService)


templates = page_templates


Evidence = Annotated[EvidenceService, Depends(evidence_service)]
Categorise = Annotated[CategorisationService, Depends(categorisation_service)]
