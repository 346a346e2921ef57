"""Redaction over a real server: plans saved in versions (409 on a stale base, 422 on a bad plan),
renders made by the server's workers into a "redacted" derivative streamed with Range, the recorded
recipe rendering the same bytes again, the original untouched, the training officer given only
redacted copies, and every change in the audit trail."""

import hashlib
import json
import re
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import LiveServer, free_port, fresh_database_url, settings_for
from tests.factories.ingest import upload_bytes
from tests.factories.media import tiny_recording
from tests.factories.people import PASSWORD, PERSONAS, Force, make_force
from witnessbox.audit.models import AuditEvent
from witnessbox.bootstrap import Container, build
from witnessbox.core.errors import Conflict
from witnessbox.disclosure import verifier
from witnessbox.disclosure.packages.models import DisclosurePackage
from witnessbox.evidence.models import DerivativeKind, ItemState
from witnessbox.media.face_scenes import Scene, Walker, write_scene
from witnessbox.media.faces import FaceDetector
from witnessbox.media.redact import render
from witnessbox.storage.base import rehash

BOX = [0.25, 0.25, 0.25, 0.3]
PLAN: dict[str, Any] = {
    "effect": "pixelate",
    "regions": [{"id": "m1", "source": "manual", "enabled": True, "label": "Number plate",
                 "keyframes": [{"t": 0.0, "box": BOX}, {"t": 0.8, "box": [0.35, 0.3, 0.25, 0.3]},
                               {"t": 1.6, "box": BOX}]}],
    "audio": [{"start": 0.4, "end": 0.9, "mode": "mute"}],
}


FACES = Scene(320, 240, 25, 2.0, (Walker("astronaut", (0.3, 0.45), (0.6, 0.5), (0.35, 0.3)),))


@dataclass
class World:
    """A server, its force, a recording shared with the training officer, and one more without a copy."""

    container: Container
    server: LiveServer
    force: Force
    item_id: str
    bare_item_id: str
    face_item_id: str
    data: bytes
    tokens: dict[str, str]

    def client(self, persona: str) -> httpx.Client:
        """An API client for a persona (bearer token)."""
        return httpx.Client(base_url=self.server.url, timeout=30,
                            headers={"Authorization": f"Bearer {self.tokens[persona]}"})


def _wait_ready(container: Container, item_id: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if container.evidence.get(item_id).state != ItemState.PROCESSING:
            assert container.evidence.get(item_id).state == ItemState.READY
            return
        time.sleep(0.1)
    raise AssertionError("not processed")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Two recordings of the owner's, processed by the server's workers, shared with the training officer."""
    folder = tmp_path_factory.mktemp("redaction")
    with fresh_database_url(folder) as url:
        settings = settings_for(folder, url)
        container = build(settings)
        server = LiveServer(settings=settings, port=free_port(), log=folder / "server.log")
        server.start()
        try:
            force = make_force(container)
            data = tiny_recording(folder / "camera", seconds=2.0).read_bytes()
            bare = tiny_recording(folder / "other", seconds=1.0, seed=3).read_bytes()
            item_id, bare_id = upload_bytes(container, data), upload_bytes(container, bare, filename="b.mp4")
            for each in (item_id, bare_id):
                _wait_ready(container, each)
                container.sharing.share(each, actor=force.actor("owner"), collar_number=force.collar("trainer"))
            write_scene(FACES, folder / "faces.mp4")
            face_id = upload_bytes(container, (folder / "faces.mp4").read_bytes(), filename="faces.mp4")
            _wait_ready(container, face_id)
            tokens = {
                persona: container.tokens.issue_user_token("tests", actor=force.actor(persona))[1]
                for persona in ("supervisor", "owner", "trainer", "other_supervisor")
            }
            yield World(container, server, force, item_id, bare_id, face_id, data, tokens)
        finally:
            server.stop()
            container.close()


def _redaction(world: World, persona: str = "supervisor") -> dict[str, Any]:
    with world.client(persona) as client:
        response = client.get(f"/api/v1/items/{world.item_id}/redaction")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def rendered(world: World) -> dict[str, Any]:
    """PLAN saved by the team's supervisor and rendered by the server's workers; the render as listed."""
    base = _redaction(world)["version"]
    with world.client("supervisor") as client:
        saved = client.put(f"/api/v1/items/{world.item_id}/redaction/plan", json={"base_version": base, "plan": PLAN})
        assert saved.status_code == 200, saved.text
        version = saved.json()["version"]
        started = client.post(f"/api/v1/items/{world.item_id}/redaction/render", json={"version": version})
        assert started.status_code == 202, started.text
        render_id = started.json()["render_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        made = next(r for r in _redaction(world)["renders"] if r["id"] == render_id)
        if made["state"] in ("done", "failed"):
            assert made["state"] == "done", made
            assert made["plan_version"] == version and made["progress"] == 1.0
            return made  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError("the render did not finish")


def test_plans_are_saved_in_versions_and_a_stale_or_bad_save_changes_nothing(world: World) -> None:
    """GIVEN the item's plan at some version WHEN saved over it THEN the version goes up by one; a save
    over an older version is 409, a bad plan is 422 with a sentence naming the fault, and neither saves."""
    before = _redaction(world)
    assert before["media"] == {"width": 320, "height": 240, "fps": 25.0, "duration_s": pytest.approx(2.0, abs=0.1)}
    path = f"/api/v1/items/{world.item_id}/redaction/plan"
    with world.client("supervisor") as client:
        saved = client.put(path, json={"base_version": before["version"], "plan": PLAN, "note": "plate"})
        assert saved.status_code == 200, saved.text
        assert saved.json() == {"version": before["version"] + 1}
        stale = client.put(path, json={"base_version": before["version"], "plan": PLAN})
        assert stale.status_code == 409 and "reload" in stale.json()["error"]
        bad_box = {**PLAN, "regions": [{**PLAN["regions"][0], "keyframes": [{"t": 0.1, "box": [0.9, 0.1, 0.5, 0.1]}]}]}
        refused = client.put(path, json={"base_version": before["version"] + 1, "plan": bad_box})
        assert refused.status_code == 422 and "past the edge" in refused.json()["error"], refused.text
        late = {**PLAN, "audio": [{"start": 1.0, "end": 99.0, "mode": "mute"}]}
        refused = client.put(path, json={"base_version": before["version"] + 1, "plan": late})
        assert refused.status_code == 422 and "past the end" in refused.json()["error"]
        unknown = {**PLAN, "effect": "blur"}
        assert client.put(path, json={"base_version": before["version"] + 1, "plan": unknown}).status_code == 422
    after = _redaction(world)
    assert after["version"] == before["version"] + 1
    assert after["plan"]["regions"][0]["keyframes"][1] == {"t": 0.8, "box": [0.35, 0.3, 0.25, 0.3]}


def test_a_render_makes_a_redacted_copy_streamed_with_range(world: World, rendered: dict[str, Any]) -> None:
    """GIVEN a finished render WHEN /redacted is fetched THEN it is the rendered MP4 (its SHA-256), served
    whole or in ranges like the proxy, and recorded as a "redacted" derivative of the original."""
    with world.client("supervisor") as client:
        whole = client.get(f"/api/v1/items/{world.item_id}/redacted")
        part = client.get(f"/api/v1/items/{world.item_id}/redacted", headers={"Range": "bytes=100-199"})
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert hashlib.sha256(whole.content).hexdigest() == rendered["sha256"] == whole.headers["x-content-sha256"]
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    item = world.container.evidence.get(world.item_id)
    made = item.derivative(DerivativeKind.REDACTED)
    assert made is not None and made.sha256 == rendered["sha256"]
    assert made.source_sha256 == item.sha256 == hashlib.sha256(world.data).hexdigest()
    assert made.parameters["plan_version"] == rendered["plan_version"] and made.parameters["plan"] == PLAN
    assert made.parameters["effect"] == "pixelate" and made.parameters["padding"] > 0
    assert {"pyav", "libavcodec", "libx264", "numpy", "witnessbox"} <= set(made.parameters["software"])


def test_the_recorded_recipe_renders_the_same_bytes_and_the_original_is_untouched(
    world: World, rendered: dict[str, Any], tmp_path: Path
) -> None:
    """GIVEN the derivative's recorded plan WHEN rendered again from the stored original THEN the bytes are
    the same (same SHA-256); the original still reads back as its recorded hash, byte for byte."""
    item = world.container.evidence.get(world.item_id)
    made = item.derivative(DerivativeKind.REDACTED)
    assert made is not None
    original = world.container.evidence.blobs.local_path(item.sha256)
    assert original is not None
    render(original, tmp_path / "again.mp4", made.parameters["plan"])
    assert hashlib.sha256((tmp_path / "again.mp4").read_bytes()).hexdigest() == made.sha256
    assert rehash(world.container.evidence.blobs, item.sha256) == item.sha256
    assert b"".join(world.container.evidence.blobs.read(item.sha256)) == world.data


def test_the_training_officer_gets_only_redacted_copies(world: World, rendered: dict[str, Any]) -> None:
    """GIVEN two recordings shared with the training officer, one with a redacted copy WHEN they list, open,
    play, download and look at thumbnails THEN only the redacted one is listed or opened, playing gives
    the redacted copy, and the original and thumbnails are refused with a 403 that says why."""
    item = f"/api/v1/items/{world.item_id}"
    with world.client("trainer") as trainer:
        listed = [found["id"] for found in trainer.get("/api/v1/items").json()]
        assert listed == [world.item_id]
        assert trainer.get(f"/api/v1/items/{world.bare_item_id}").status_code == 404
        assert trainer.get(f"/api/v1/items/{world.bare_item_id}/proxy").status_code == 404
        assert trainer.get(item).status_code == 200
        played = trainer.get(f"{item}/proxy")
        assert played.status_code == 200 and hashlib.sha256(played.content).hexdigest() == rendered["sha256"]
        assert trainer.get(f"{item}/redacted").status_code == 200
        for refused in (trainer.get(f"{item}/original"), trainer.get(f"{item}/thumbnails")):
            assert refused.status_code == 403 and "only redacted copies" in refused.json()["error"]
        assert trainer.get(f"{item}/redaction").status_code == 403  # editing is not theirs
        page = trainer.get(f"/items/{world.item_id}")
        assert page.status_code == 200 and f"{item}/original" not in page.text
        assert f"{item}/thumbnails" not in page.text and f"{item}/proxy" in page.text
    with world.client("owner") as owner:  # the officer who recorded it still gets the original
        assert owner.get(f"{item}/original").status_code == 200


def test_redaction_is_for_those_who_may_edit_it_and_see_the_item(world: World) -> None:
    """GIVEN the item WHEN its officer (no redaction role) or another team's supervisor asks for its
    redaction THEN the officer is refused (403) and the other supervisor told it does not exist (404)."""
    with world.client("owner") as owner:
        assert owner.get(f"/api/v1/items/{world.item_id}/redaction").status_code == 403
    with world.client("other_supervisor") as other:
        assert other.get(f"/api/v1/items/{world.item_id}/redaction").status_code == 404
        assert other.post(f"/api/v1/items/{world.item_id}/redaction/render", json={"version": 1}).status_code == 404


def test_preview_is_a_jpeg_of_the_frame_with_the_plan_applied(world: World, rendered: dict[str, Any]) -> None:
    """GIVEN a saved version WHEN previewed at 0.8 s THEN a JPEG comes back, different from version 0's frame."""
    path = f"/api/v1/items/{world.item_id}/redaction/preview"
    with world.client("supervisor") as client:
        planned = client.get(path, params={"t": 0.8, "version": rendered["plan_version"]})
        bare = client.get(path, params={"t": 0.8, "version": 0})
        missing = client.get(path, params={"t": 0.8, "version": 999})
    assert planned.status_code == bare.status_code == 200 and planned.headers["content-type"] == "image/jpeg"
    assert planned.content[:2] == b"\xff\xd8" and planned.content != bare.content
    assert missing.status_code == 404


def test_every_change_is_audited(world: World, rendered: dict[str, Any]) -> None:
    """GIVEN the saves and the render WHEN the audit trail is read THEN each is there, naming the plan's hash."""
    with world.container.db.read() as session:
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.subject_id == world.item_id)))
    tags = [event.tag for event in events]
    for tag in ("redaction:plan:saved", "redaction:render:started", "redaction:render:completed",
                "evidence:derivative:created", "redaction:preview:shown"):
        assert tag in tags, tag
    done = next(e for e in events if e.tag == "redaction:render:completed")
    assert done.details["sha256"] == rendered["sha256"]
    refused = [e for e in events if e.tag == "accounts:access:denied"]
    assert any(e.details.get("permission") == "evidence:item:view_unredacted" for e in refused)


def _wait(world: World, item_id: str, done: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with world.client("supervisor") as client:
            shown = client.get(f"/api/v1/items/{item_id}/redaction").json()
        if done(shown):
            return shown  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError(f"not finished: {shown}")


def test_detected_faces_become_a_plan_version_that_keeps_manual_work(world: World) -> None:
    """GIVEN a recording of a real face with a manual region and a muted range saved WHEN faces are detected
    (a job) THEN a new plan version holds enabled automatic regions over the face beside the manual
    region and the muted range; rendering it records the face model's hash."""
    path = f"/api/v1/items/{world.face_item_id}/redaction"
    manual = {"id": "m1", "source": "manual", "enabled": True, "label": "Sign",
              "keyframes": [{"t": 0.5, "box": [0.05, 0.05, 0.1, 0.1]}]}
    mine = {"effect": "box", "regions": [manual], "audio": [{"start": 0.2, "end": 0.6, "mode": "bleep"}]}
    with world.client("supervisor") as client:
        assert client.put(f"{path}/plan", json={"base_version": 0, "plan": mine}).status_code == 200
        started = client.post(f"{path}/detect")
        assert started.status_code == 202 and started.json()["job_id"]
    shown = _wait(world, world.face_item_id, lambda r: r["detection"]["state"] in ("done", "failed"))
    assert shown["detection"]["state"] == "done", shown["detection"]
    assert shown["detection"]["model_sha256"] == FaceDetector().model_sha256
    assert shown["version"] == 2
    plan = shown["plan"]
    auto = [region for region in plan["regions"] if region["source"] == "auto"]
    assert auto and all(region["enabled"] for region in auto)
    assert manual in plan["regions"] and plan["audio"] == mine["audio"] and plan["effect"] == "box"
    first = auto[0]["keyframes"][0]
    assert 0.1 < first["box"][0] + first["box"][2] / 2 < 0.5  # the face starts left of centre
    with world.client("supervisor") as client:
        render_id = client.post(f"{path}/render", json={"version": 2}).json()["render_id"]
    _wait(world, world.face_item_id,
          lambda r: next(x for x in r["renders"] if x["id"] == render_id)["state"] in ("done", "failed"))
    made = world.container.evidence.get(world.face_item_id).derivative(DerivativeKind.REDACTED)
    assert made is not None and made.parameters["model_sha256"] == shown["detection"]["model_sha256"]
    assert made.parameters["detection"]["versions"]["onnxruntime"]


def test_a_disclosure_package_can_carry_the_redacted_copy_instead_of_the_original(
    world: World, rendered: dict[str, Any], tmp_path: Path
) -> None:
    """GIVEN a rendered item WHEN a package is asked for with it chosen as a redacted copy THEN the ZIP holds
    the redacted copy (not the original) under redacted/, the manifest gives its hash, its original's hash
    and its recipe, and the package still verifies; an item without a copy cannot be chosen so."""
    packages, officer = world.container.packages, world.force.actor("case_member")  # a disclosure officer
    why = "freedom of information release to the public"
    with pytest.raises(Conflict, match="no redacted copy"):
        packages.request(actor=officer, server_url="https://bwv.example", item_ids=[world.bare_item_id],
                         redacted_item_ids=[world.bare_item_id], reason=why)
    package = packages.request(actor=officer, server_url="https://bwv.example", item_ids=[world.item_id],
                               redacted_item_ids=[world.item_id], reason=why)
    zip_path = packages.path_of(package.id)
    deadline = time.monotonic() + 60
    while not zip_path.exists():
        assert time.monotonic() < deadline, "the package was not built"
        time.sleep(0.2)
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
        [copy] = [name for name in names if name.startswith("redacted/")]
        assert hashlib.sha256(archive.read(copy)).hexdigest() == rendered["sha256"]
    assert not any(name.startswith("originals/") for name in names)
    [item] = manifest["items"]
    assert item["path"] == copy and item["sha256"] == hashlib.sha256(world.data).hexdigest()
    assert item["derivative"]["sha256"] == rendered["sha256"]
    assert item["derivative"]["source_sha256"] == item["sha256"]
    assert item["derivative"]["recipe"]["plan"] == PLAN
    assert verifier.verify(zip_path).ok


def test_the_package_form_offers_each_redacted_copy_and_sends_the_ticked_one(
    world: World, rendered: dict[str, Any]
) -> None:
    """GIVEN a case holding a rendered item and one without a copy WHEN its investigator opens the package
    form THEN only the rendered item can be ticked, and ticking it asks for a package carrying its copy."""
    investigator = world.force.actor("investigator")
    case = world.container.cases.create("CR/77/26", "Public order", actor=investigator)
    world.container.cases.add_items(case.id, [world.item_id, world.bare_item_id], actor=investigator,
                                    reason="occurrence 26/7781, disorder on Mill Street")
    with httpx.Client(base_url=world.server.url, timeout=30) as client:
        signed_in = client.post("/login", data={"username": PERSONAS["investigator"][0], "password": PASSWORD})
        assert signed_in.status_code == 303, signed_in.text
        page = client.get(f"/cases/{case.id}/packages")
        assert page.status_code == 200
        assert f'name="redacted" value="{world.item_id}"' in page.text
        assert f'value="{world.bare_item_id}"' not in page.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf is not None
        sent = client.post(f"/cases/{case.id}/packages",
                           data={"csrf_token": csrf.group(1), "reason": "release to the complaints panel",
                                 "redacted": world.item_id})
    assert sent.status_code == 303, sent.text
    package_id = sent.headers["location"].rsplit("/", 1)[1]
    with world.container.db.read() as session:
        package = session.get(DisclosurePackage, package_id)
        assert package is not None and set(package.redacted_copies or {}) == {world.item_id}
