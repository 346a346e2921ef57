"""The redaction editor page: one item's plan drawn over its browser copy (the API does the work)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from witnessbox.accounts.dependencies import built_with, current_actor, page_templates
from witnessbox.core.actor import Actor
from witnessbox.core.errors import ReasonRequired
from witnessbox.redaction.service import RedactionService

API = "/api/v1/items"
pages = APIRouter(tags=["pages"], include_in_schema=False)
Caller = Annotated[Actor, Depends(current_actor)]
Redaction = Annotated[RedactionService, Depends(built_with("redaction", RedactionService))]


@pages.get("/items/{item_id}/redaction", response_class=HTMLResponse)
def editor_page(item_id: str, request: Request, actor: Caller, redaction: Redaction) -> Response:
    """The editor, for those who may edit this item's redaction plan (others are refused as by the API);
    those who must first say why they open the item get the item page's form for it."""
    templates = page_templates(request)
    try:
        item = redaction.authorise(item_id, actor=actor)
    except ReasonRequired as ask:
        context = {"item_id": item_id, "actor": actor, "why": ask.reason}
        return templates.TemplateResponse(request, "evidence/reason.html", context, status_code=403)
    context = {"item": item, "actor": actor, "api": f"{API}/{item.id}"}
    return templates.TemplateResponse(request, "redaction/editor.html", context)
