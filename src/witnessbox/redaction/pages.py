"""The redaction editor page: one item's plan drawn over its browser copy (the API does the work)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from witnessbox.accounts.roles import Permission
from witnessbox.evidence.routes._shared import API, Caller, Evidence, templates

pages = APIRouter(tags=["pages"], include_in_schema=False)


@pages.get("/items/{item_id}/redaction", response_class=HTMLResponse)
def editor_page(item_id: str, request: Request, actor: Caller, evidence: Evidence) -> Response:
    """The editor, for those who may edit this item's redaction plan (others are refused as by the API)."""
    item = evidence.authorise(item_id, Permission.REDACTION_PLAN_EDIT, actor=actor)
    context = {"item": item, "actor": actor, "api": f"{API}/{item.id}"}
    return templates(request).TemplateResponse(request, "redaction/editor.html", context)
