"""The dock's question before it wipes a camera: does the server hold these bytes, verified?"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel

from witnessbox.accounts.dependencies import device_or_person
from witnessbox.core.actor import Actor
from witnessbox.evidence.routes._shared import Evidence
from witnessbox.storage.base import check_sha256

api = APIRouter(prefix="/api/v1/held", tags=["items"])


class HeldOut(BaseModel):
    """Held and verified: all a dock learns about the item holding its bytes."""

    sha256: str
    held: bool
    verified: bool


@api.get("/{sha256}", response_model=HeldOut)
def held(
    sha256: Annotated[str, Path(description="SHA-256 of the whole recording, 64 hex",
                                pattern=r"^[0-9a-fA-F]{64}$")],
    actor: Annotated[Actor, Depends(device_or_person)],
    evidence: Evidence,
) -> HeldOut:
    """Whether these bytes are held and verified; a dock wipes the camera only on `verified: true`."""
    answer = evidence.held(check_sha256(sha256), actor=actor)
    return HeldOut(sha256=answer.sha256, held=answer.held, verified=answer.verified)
