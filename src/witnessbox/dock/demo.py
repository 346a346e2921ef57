"""The demo data set: a small force, simulated cameras docked through the real upload path."""

import contextlib
import json
import logging
import secrets
import time
from datetime import timedelta
from pathlib import Path

import httpx

from witnessbox.accounts.roles import Role
from witnessbox.accounts.service import NewUser, actor_for
from witnessbox.bootstrap import Container
from witnessbox.core.actor import Actor, ActorKind
from witnessbox.core.errors import Conflict
from witnessbox.dock.agent import DockAgent
from witnessbox.evidence.categorise import Categorisation
from witnessbox.evidence.models import AnnotationKind
from witnessbox.media.simulate import CameraSpec, write_camera_folders

log = logging.getLogger(__name__)
DEMO = Actor(kind=ActorKind.SYSTEM, id="demo", name="demo data loader")
TEAM = "Response Team A"
OFFICERS = (("1142", "Alex Morgan", "PC"), ("2087", "Sam Patel", "PC"), ("3310", "Jo Clarke", "PCSO"))
OTHERS = (
    ("4410", "Chris Evans", "PS", Role.SUPERVISOR),
    ("5120", "Dana Reid", "DC", Role.INVESTIGATOR),
    ("6001", "Lee Carter", "Insp", Role.PROFESSIONAL_STANDARDS),
    ("7002", "Robin Shaw", "Mr", Role.DISCLOSURE_OFFICER),
)


def load_demo(
    container: Container, base_url: str, *, seconds: float = 30, size: tuple[int, int] = (1280, 720)
) -> None:
    """Once the server answers: create people, cameras and a dock, simulate footage, dock it, review it."""
    if container.evidence.list_items(actor=DEMO, limit=1):
        log.info("demo: items already present, nothing to load")
        return
    _wait_until_up(base_url)
    password = _demo_password(container.settings.data_dir.resolve() / "demo-password")
    _people(container, password)
    issued = container.clock.now() - timedelta(days=7)  # before the simulated footage was "recorded"
    serials = [f"WBX{number:05d}" for number in range(1, len(OFFICERS) + 1)]
    for serial, (collar, _name, _rank) in zip(serials, OFFICERS, strict=True):
        with contextlib.suppress(Conflict):
            container.devices.register_camera(serial, model=CameraSpec("x").model, actor=DEMO)
            container.devices.assign(serial, collar, actor=DEMO, starts_at=issued)
    _dock, token = container.devices.register_dock(
        f"demo-dock-{int(time.time())}", cameras=serials, actor=DEMO
    )
    cameras = container.settings.data_dir.resolve() / "demo-cameras"
    width, height = size
    write_camera_folders(
        cameras,
        cameras=len(OFFICERS),
        minutes=seconds / 60,
        recordings_per_camera=2,
        width=width,
        height=height,
    )
    _meet_at_the_bell(cameras)
    agent = DockAgent(server=base_url, token=token, wipe=True)
    agent.run(sorted(p for p in cameras.iterdir() if p.is_dir()), watch=False)
    _review(container)
    log.info(
        "demo: sign in as 1142 (officer), 4410 (supervisor), 5120 (investigator), 6001 "
        "(professional standards) or 7002 (disclosure officer) with the password in %s",
        cameras.parent / "demo-password",
    )


BELL_HOTEL = (52.6277, 1.2923)  # Norwich


def _meet_at_the_bell(cameras: Path) -> None:
    """Put the first recordings of cameras 1 and 2 (seven seconds apart) at one doorway, a few metres
    apart, so they are proposed as one incident and can be watched together."""
    for offset, serial in ((0.00002, "WBX00001"), (-0.00002, "WBX00002")):
        sidecar = min((cameras / serial).glob("*.json"))
        document = json.loads(sidecar.read_text(encoding="utf-8"))
        lat, lon = BELL_HOTEL
        document["gps"] = [
            {"t": point["t"], "lat": round(lat + offset, 6), "lon": round(lon + offset * index, 6)}
            for index, point in enumerate(document["gps"])
        ]
        sidecar.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def _review(container: Container) -> None:
    """What a morning's review leaves behind: categorised footage, a case, a bookmark."""
    items = sorted(container.evidence.list_items(actor=DEMO, limit=50), key=lambda i: i.recorded_start)
    first_two = [i.id for i in items[:2]]  # cameras 1 and 2, seven seconds apart: one incident
    supervisor, investigator = _actor(container, "4410"), _actor(container, "5120")
    container.categorise.categorise(first_two, INCIDENT, actor=supervisor)
    container.categorise.categorise([i.id for i in items[2:]], ROUTINE, actor=supervisor)
    case = container.cases.create("OP-KESTREL", "Disturbance outside the Bell Hotel", actor=investigator)
    container.cases.add_items(
        case.id, first_two, actor=investigator, reason="Investigating the disturbance, 26/004512"
    )
    container.cases.add_member(case.id, "7002", actor=investigator)  # the case's disclosure officer
    duration = _duration(container, first_two[0])
    if duration is not None:
        at_s = min(10.0, duration / 2)
        container.annotations.add(
            first_two[0], AnnotationKind.BOOKMARK, at_s, "Suspect leaves the doorway", actor=investigator
        )


INCIDENT = Categorisation(
    evidential=True,
    category="Violence against the person",
    incident_number="26/004512",
    title="Disturbance outside the Bell Hotel",
    notes="Two officers attended; male detained for assault.",
)
ROUTINE = Categorisation(evidential=False, title="Routine patrol")


def _actor(container: Container, collar_number: str) -> Actor:
    user = container.users.by_collar_number(collar_number)
    assert user is not None, collar_number
    return actor_for(user)


def _duration(container: Container, item_id: str, timeout_s: float = 60) -> float | None:
    """Wait for the worker to probe the item (a bookmark needs its duration)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        duration = container.evidence.get(item_id).duration_s
        if duration is not None:
            return duration
        time.sleep(0.5)
    return None


def _people(container: Container, password: str) -> None:
    with contextlib.suppress(Conflict):
        container.users.create_team(TEAM, station="Norwich Bethel Street", actor=DEMO)
    for collar, name, rank in OFFICERS:
        _add(
            container,
            NewUser(collar, name, frozenset({Role.OFFICER}), rank=rank, password=password, teams=(TEAM,)),
        )
    for collar, name, rank, role in OTHERS:
        supervises = (TEAM,) if role == Role.SUPERVISOR else ()
        _add(
            container,
            NewUser(collar, name, frozenset({role}), rank=rank, password=password, supervises=supervises),
        )


def _add(container: Container, new: NewUser) -> None:
    with contextlib.suppress(Conflict):
        container.users.create_user(new, actor=DEMO)


def _demo_password(path: Path) -> str:
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12) + "\n", encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def _wait_until_up(base_url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base_url}/healthz", timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
