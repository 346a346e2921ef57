"""The published audit trail: the head, the feed of every checkpoint and the signing keys; public, so
anyone can keep a signed checkpoint and hold the force to it."""

import base64
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, Request

from witnessbox.audit.anchoring import AuditAnchoring
from witnessbox.audit.schemas import (
    AuditHeadOut,
    CheckpointFeedOut,
    FeedCheckpointOut,
    NoAuditHeadOut,
    SigningKeyOut,
    SigningKeysOut,
)
from witnessbox.core.clock import as_utc

api = APIRouter(prefix="/api/v1/audit", tags=["audit"])
well_known = APIRouter(prefix="/.well-known/witnessbox", tags=["audit"])


@api.get("/head", response_model=AuditHeadOut | NoAuditHeadOut)
def audit_head(request: Request) -> AuditHeadOut | NoAuditHeadOut:
    """The newest signed checkpoint of the audit trail, its statement, signature, public key and
    time-stamp; no sign-in needed. `{"checkpoint": null}` before the first checkpoint."""
    anchoring: AuditAnchoring = request.app.state.anchoring
    head = anchoring.head()
    if head is None:
        return NoAuditHeadOut()
    return AuditHeadOut(
        **asdict(head.anchored),
        statement=head.statement,
        public_key=head.public_key,
        time_stamp=_base64(head.time_stamp),
    )


@api.get("/checkpoints", response_model=CheckpointFeedOut)
def checkpoint_feed(
    request: Request,
    after: Annotated[int, Query(ge=0, description="only checkpoints covering entries after this seq")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> CheckpointFeedOut:
    """The signed feed of every checkpoint, oldest first, each with its statement, signature, key id and
    time-stamp; no sign-in needed. A recipient checks that the head they were given is still in it."""
    anchoring: AuditAnchoring = request.app.state.anchoring
    published = anchoring.published_after(after, limit)
    return CheckpointFeedOut(
        checkpoints=[
            FeedCheckpointOut(
                **asdict(head.anchored), statement=head.statement, time_stamp=_base64(head.time_stamp)
            )
            for head in published
        ],
        next_after=published[-1].anchored.seq if len(published) == limit else None,
    )


def _base64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode() if data else None


@well_known.get("/keys.json", response_model=SigningKeysOut)
def signing_keys(request: Request) -> SigningKeysOut:
    """Every checkpoint and manifest signing key with the period it was in use; no sign-in needed."""
    anchoring: AuditAnchoring = request.app.state.anchoring
    periods = anchoring.audit.key_periods()
    return SigningKeysOut(keys=[
        SigningKeyOut(
            key_id=key_id,
            public_key=period.key.public_pem(),
            in_use_from=as_utc(period.in_use_from).isoformat(),
            in_use_until=as_utc(period.in_use_until).isoformat() if period.in_use_until else None,
        )
        for key_id, period in periods.items()
    ])
