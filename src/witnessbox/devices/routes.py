"""Devices in the API and in the browser: an officer signs out a pool camera for a shift;
administrators see the fleet (cameras, docks) and rotate or revoke a dock's token."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel
from starlette.responses import Response

from witnessbox.accounts.dependencies import built_with, current_actor, page_templates
from witnessbox.core.actor import Actor
from witnessbox.core.errors import Conflict, NotFound
from witnessbox.devices.overview import DeviceOverview
from witnessbox.devices.schemas import CameraDetailOut, CameraOut, DockOut
from witnessbox.devices.service import DeviceService, rotate_dock_token

api = APIRouter(prefix="/api/v1/cameras", tags=["devices"])
docks_api = APIRouter(prefix="/api/v1/docks", tags=["devices"])
pages = APIRouter(tags=["pages"], include_in_schema=False)
Caller = Annotated[Actor, Depends(current_actor)]
DOCK_NOTICES = {"revoked": "The dock's token was revoked: it can no longer upload."}


class AssignmentOut(BaseModel):
    """Who has a camera, from when until when."""

    camera_id: str
    user_id: str
    kind: str
    starts_at: str
    ends_at: str | None


device_service = built_with("devices", DeviceService)
fleet_overview = built_with("fleet", DeviceOverview)
Devices = Annotated[DeviceService, Depends(device_service)]
Fleet = Annotated[DeviceOverview, Depends(fleet_overview)]


@api.post("/{serial}/sign-out", response_model=AssignmentOut, status_code=201)
def sign_out(serial: str, actor: Caller, devices: Devices) -> AssignmentOut:
    """Take a pool camera for this shift: its recordings are attributed to you."""
    done = devices.sign_out(serial, actor=actor)
    return AssignmentOut(
        camera_id=done.camera_id,
        user_id=done.user_id,
        kind=done.kind,
        starts_at=done.starts_at.isoformat(),
        ends_at=done.ends_at.isoformat() if done.ends_at else None,
    )


@api.get("", response_model=list[CameraOut])
def cameras(actor: Caller, fleet: Fleet) -> list[CameraOut]:
    """Every camera with its holder now, pool or personal, last docked and recordings (administrators)."""
    return [CameraOut.of(row) for row in fleet.cameras(actor=actor)]


@api.get("/{serial}", response_model=CameraDetailOut)
def camera(serial: str, actor: Caller, fleet: Fleet) -> CameraDetailOut:
    """One camera with its assignment history, newest first (administrators)."""
    return CameraDetailOut.of_detail(fleet.camera(serial, actor=actor))


@docks_api.get("", response_model=list[DockOut])
def docks(actor: Caller, fleet: Fleet) -> list[DockOut]:
    """Every dock with when it was last heard from and whether it is revoked (administrators)."""
    return [DockOut.of(row) for row in fleet.docks(actor=actor)]


# --- pages for administrators ---------------------------------------------------------------------


@pages.get("/admin/cameras", response_class=HTMLResponse)
def cameras_page(request: Request, actor: Caller, fleet: Fleet) -> Response:
    """The fleet of cameras: who holds each now, pool or personal, last docked, recordings."""
    context = {"actor": actor, "cameras": fleet.cameras(actor=actor)}
    return page_templates(request).TemplateResponse(request, "devices/cameras.html", context)


@pages.get("/admin/cameras/{serial}", response_class=HTMLResponse)
def camera_page(request: Request, serial: str, actor: Caller, fleet: Fleet) -> Response:
    """One camera and everyone who has held it."""
    context = {"actor": actor, "detail": fleet.camera(serial, actor=actor)}
    return page_templates(request).TemplateResponse(request, "devices/camera.html", context)


@pages.get("/admin/docks", response_class=HTMLResponse)
def docks_page(request: Request, actor: Caller, fleet: Fleet, done: str = "") -> Response:
    """The docks: last heard from, revoked or not, with their token buttons."""
    return _docks_page(request, actor, fleet, notice=DOCK_NOTICES.get(done))


@pages.post("/admin/docks/{name}/rotate", response_class=HTMLResponse)
def rotate(request: Request, name: str, actor: Caller, devices: Devices, fleet: Fleet) -> Response:
    """Give a dock a new token (shown once on the page that answers); its old one stops working."""
    try:
        token = rotate_dock_token(devices, name, actor=actor)
    except (Conflict, NotFound) as problem:
        return _docks_page(request, actor, fleet, error=problem.reason, status=problem.status)
    return _docks_page(request, actor, fleet, new_token=(name, token))


@pages.post("/admin/docks/{name}/revoke")
def revoke(name: str, actor: Caller, devices: Devices) -> Response:
    """Withdraw a dock's credential (a stolen or retired dock)."""
    devices.revoke_dock(name, actor=actor)
    return RedirectResponse("/admin/docks?done=revoked", status_code=303)


def _docks_page(
    request: Request, actor: Actor, fleet: DeviceOverview, status: int = 200, **extra: object
) -> Response:
    context = {"actor": actor, "docks": fleet.docks(actor=actor), **extra}
    return page_templates(request).TemplateResponse(
        request, "devices/docks.html", context, status_code=status
    )
