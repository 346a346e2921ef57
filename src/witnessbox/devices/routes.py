"""Devices in the API: an officer signs out a pool camera for a shift."""

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from witnessbox.accounts.dependencies import built_with, current_actor
from witnessbox.core.actor import Actor
from witnessbox.devices.service import DeviceService

api = APIRouter(prefix="/api/v1/cameras", tags=["devices"])
Caller = Annotated[Actor, Depends(current_actor)]


class AssignmentOut(BaseModel):
    """Who has a camera, from when until when."""

    camera_id: str
    user_id: str
    kind: str
    starts_at: str
    ends_at: str | None


device_service = built_with("devices", DeviceService)


@api.post("/{serial}/sign-out", response_model=AssignmentOut, status_code=201)
def sign_out(
    serial: str, actor: Caller, devices: Annotated[DeviceService, Depends(device_service)]
) -> AssignmentOut:
    """Take a pool camera for this shift: its recordings are attributed to you."""
    done = devices.sign_out(serial, actor=actor)
    return AssignmentOut(
        camera_id=done.camera_id,
        user_id=done.user_id,
        kind=done.kind,
        starts_at=done.starts_at.isoformat(),
        ends_at=done.ends_at.isoformat() if done.ends_at else None,
    )
