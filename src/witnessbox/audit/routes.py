"""The published audit head: public, so anyone can keep a signed checkpoint and hold the force to it."""

import base64
from dataclasses import asdict

from fastapi import APIRouter, Request

from witnessbox.audit.anchoring import AuditAnchoring
from witnessbox.audit.schemas import AuditHeadOut, NoAuditHeadOut

api = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@api.get("/head", response_model=AuditHeadOut | NoAuditHeadOut)
def audit_head(request: Request) -> AuditHeadOut | NoAuditHeadOut:
    """The newest signed checkpoint of the audit trail, its statement, signature, public key and
    time-stamp; no sign-in needed. `{"checkpoint": null}` before the first checkpoint."""
    anchoring: AuditAnchoring = request.app.state.anchoring
    head = anchoring.head()
    if head is None:
        return NoAuditHeadOut()
    stamp = base64.b64encode(head.time_stamp).decode() if head.time_stamp else None
    return AuditHeadOut(
        **asdict(head.anchored), statement=head.statement, public_key=head.public_key, time_stamp=stamp
    )
