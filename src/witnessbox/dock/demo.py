"""The demo data set: simulated cameras docked through the real upload path."""

import contextlib
import logging
import time

import httpx

from witnessbox.bootstrap import Container
from witnessbox.core.actor import Actor, ActorKind
from witnessbox.core.errors import Conflict
from witnessbox.dock.agent import DockAgent
from witnessbox.media.simulate import CameraSpec, write_camera_folders

log = logging.getLogger(__name__)
DEMO = Actor(kind=ActorKind.SYSTEM, id="demo", name="demo data loader", is_admin=True)
OFFICERS = ("PC 1142", "PC 2087", "PCSO 3310")


def load_demo(container: Container, base_url: str) -> None:
    """Once the server answers: register demo cameras and a dock, simulate footage, dock it."""
    if container.evidence.list_items(actor=DEMO, limit=1):
        log.info("demo: items already present, nothing to load")
        return
    _wait_until_up(base_url)
    for number, officer in enumerate(OFFICERS, start=1):
        serial = f"WBX{number:05d}"
        with contextlib.suppress(Conflict):
            container.devices.register_camera(serial, model=CameraSpec(serial).model,
                                              officer=officer, actor=DEMO)
    _dock, token = container.devices.register_dock(f"demo-dock-{int(time.time())}", actor=DEMO)
    cameras = container.settings.data_dir.resolve() / "demo-cameras"
    write_camera_folders(cameras, cameras=len(OFFICERS), minutes=0.5, recordings_per_camera=2,
                         width=1280, height=720)
    agent = DockAgent(server=base_url, token=token, wipe=True)
    agent.run(sorted(p for p in cameras.iterdir() if p.is_dir()), watch=False)
    log.info("demo: docked simulated cameras from %s", cameras)


def _wait_until_up(base_url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base_url}/healthz", timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
