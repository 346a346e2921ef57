"""The redaction editor in a browser: detect faces in a clip with a real face, turn a track off, draw and
follow a box, mute a range, save, preview, render and play the redacted copy; a stale save is refused."""

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import pytest

from tests.browser.conftest import browser_missing
from tests.conftest import LiveServer, free_port, fresh_database_url, settings_for
from tests.factories.ingest import upload_bytes
from tests.factories.media import tiny_recording
from tests.factories.people import PASSWORD, PERSONAS, make_force
from witnessbox.bootstrap import build
from witnessbox.media.face_scenes import Scene, Walker, write_scene
from witnessbox.media.facetracks import Keyframe, box_at

if TYPE_CHECKING:
    from playwright.sync_api import Page

if (missing := browser_missing()) is not None:
    pytest.skip(f"browser tests skipped: {missing}", allow_module_level=True)

EDITOR = PERSONAS["supervisor"][0]  # supervises the owner's team and may redact its recordings
OFFICER = PERSONAS["owner"][0]  # recorded it, but does not do disclosure work
INVESTIGATOR = PERSONAS["investigator"][0]  # may redact, but opens another team's recording with a reason
PHONE = {"width": 390, "height": 844}
# A region with keyframes close together, a gap longer than box_at bridges, and a lone keyframe.
KEYFRAMES = ((0.0, (0.1, 0.1, 0.2, 0.2)), (0.04, (0.12, 0.1, 0.2, 0.22)), (0.5, (0.3, 0.2, 0.1, 0.1)),
             (2.0, (0.5, 0.5, 0.2, 0.2)), (2.8, (0.6, 0.5, 0.2, 0.2)))
MOMENTS = (-0.06, -0.05, -0.01, 0.0, 0.02, 0.04, 0.3, 0.5, 0.54, 0.56, 1.2, 1.96, 2.0, 2.4, 2.8, 2.85, 2.86)
SECONDS = 2.0
SLOW_MS = 90_000  # detection and rendering run as jobs on a shared two-core machine


@dataclass
class Site:
    """A running server with one recording of a face moving across a scene."""

    server: LiveServer
    item_id: str
    faces: list[list[tuple[float, float, float, float]]]  # per frame: ground-truth face boxes in fractions
    fps: float


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One server (with job workers) for the module and a ready 2 s clip of a real face, uploaded by a dock."""
    folder = tmp_path_factory.mktemp("redaction-editor")
    clip, faces, fps = face_clip(folder)
    with fresh_database_url(folder) as url:
        settings = settings_for(folder, url, workers=1)
        container = build(settings)
        make_force(container)
        server = LiveServer(settings=settings, port=free_port(), log=folder / "server.log")
        server.start()
        try:
            item_id = upload_bytes(container, clip.read_bytes())
            _wait_until_ready(server, item_id)
            yield Site(server, item_id, faces, fps)
        finally:
            server.stop()
            container.close()


def face_clip(folder: Path) -> tuple[Path, list[list[tuple[float, float, float, float]]], float]:
    """A 2 s 320x240 clip of a real face crossing a scene, with a camera's sound; the face's box in every
    frame (fractions of the frame) and the frame rate."""
    walker = Walker("astronaut", (0.3, 0.4), (0.6, 0.45), (0.4, 0.36))
    scene = Scene(320, 240, 25, SECONDS, (walker,), seed=7)
    truth = write_scene(scene, folder / "scene.mp4")
    sound = tiny_recording(folder / "camera", seconds=SECONDS)
    clip = folder / "face.mp4"
    with av.open(str(folder / "scene.mp4")) as picture, av.open(str(sound)) as audio, av.open(str(clip), "w") as out:
        streams = {id(picture.streams.video[0]): out.add_stream_from_template(picture.streams.video[0]),
                   id(audio.streams.audio[0]): out.add_stream_from_template(audio.streams.audio[0])}
        for source, stream in ((picture, picture.streams.video[0]), (audio, audio.streams.audio[0])):
            for packet in source.demux(stream):
                if packet.dts is not None:
                    packet.stream = streams[id(stream)]
                    out.mux(packet)
    faces = [[(x / 320, y / 240, w / 320, h / 240) for x, y, w, h in frame] for frame in truth.faces]
    return clip, faces, float(truth.fps)


def _wait_until_ready(server: LiveServer, item_id: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    with server.signed_in(EDITOR, PASSWORD) as editor:
        while time.monotonic() < deadline:
            item = editor.get(f"/api/v1/items/{item_id}").json()
            if item["state"] != "processing":
                assert item["state"] == "ready", item
                return
            time.sleep(0.2)
    raise AssertionError("the uploaded clip did not become ready")


def _sign_in(page: "Page", base: str, username: str = EDITOR) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _status(page: "Page", text: str, timeout: int = 15_000) -> None:
    """Wait until the editor's status line says `text` (failing with the error line when it never does)."""
    try:
        page.wait_for_function(
            "(text) => document.getElementById('status').textContent.includes(text)", arg=text, timeout=timeout)
    except Exception as error:
        raise AssertionError(f"status {page.inner_text('#status')!r}, error {page.inner_text('#error')!r}") from error


def _seek(page: "Page", seconds: float) -> None:
    """Pause at `seconds` and wait until the video shows that frame."""
    page.evaluate("""(t) => new Promise((done) => {
        const video = document.getElementById('video');
        video.pause();
        video.addEventListener('seeked', () => requestAnimationFrame(() => done()), {once: true});
        video.currentTime = t;
      })""", seconds)


def _boxes(page: "Page") -> list[dict[str, Any]]:
    """The boxes drawn over the picture now: region id, on or off, and where, as fractions of the picture."""
    found: list[dict[str, Any]] = page.evaluate("""() => {
        const frame = document.getElementById('overlay').getBoundingClientRect();
        return [...document.querySelectorAll('#overlay .box[data-id]')].map((el) => {
          const r = el.getBoundingClientRect();
          return {id: el.dataset.id, off: el.classList.contains('off'),
                  box: [(r.left - frame.left) / frame.width, (r.top - frame.top) / frame.height,
                        r.width / frame.width, r.height / frame.height]};
        });
      }""")
    return found


def _overlap(a: tuple[float, ...] | list[float], b: tuple[float, ...] | list[float]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inner = max(0.0, right - left) * max(0.0, bottom - top)
    return inner / (a[2] * a[3] + b[2] * b[3] - inner)


def _drag(page: "Page", start: tuple[float, float], end: tuple[float, float]) -> None:
    """Drag with the mouse across the picture between two points given as fractions of it."""
    frame = page.locator("#overlay").bounding_box()
    assert frame is not None
    page.mouse.move(frame["x"] + start[0] * frame["width"], frame["y"] + start[1] * frame["height"])
    page.mouse.down()
    page.mouse.move(frame["x"] + end[0] * frame["width"], frame["y"] + end[1] * frame["height"], steps=5)
    page.mouse.up()


def _plan(site: Site) -> dict[str, Any]:
    with site.server.signed_in(EDITOR, PASSWORD) as editor:
        state: dict[str, Any] = editor.get(f"/api/v1/items/{site.item_id}/redaction").json()
    return state


def test_detect_correct_save_preview_render_and_play_the_redacted_copy(
        site: Site, page: "Page", artifacts: Path) -> None:
    """GIVEN a ready clip with a real face WHEN the editor detects faces, turns the track off, draws a box and follows it, corrects it with the keyboard and a corner handle, mutes a range, saves, previews and renders THEN the boxes sit on the face in step with the video, the saved plan holds every change, the preview is a picture and the redacted copy plays in the page."""
    base = site.server.url
    _sign_in(page, base)
    page.goto(f"{base}/items/{site.item_id}")
    page.click("#redact")
    page.wait_for_url(f"{base}/items/{site.item_id}/redaction")
    _status(page, "No plan yet")
    page.wait_for_function("() => document.getElementById('video').readyState >= 2")

    page.click("#detect")
    _status(page, "Detection finished", timeout=SLOW_MS)
    detected = [r for r in _plan(site)["plan"]["regions"] if r["source"] == "auto"]
    assert detected, "the face in the clip was not detected"
    page.screenshot(path=str(artifacts / "detected.png"))

    # The box drawn over the frame covers the face where the ground truth puts it, at two moments.
    for frame in (len(site.faces) // 4, 3 * len(site.faces) // 4):
        _seek(page, (frame + 0.5) / site.fps)
        shown = [b for b in _boxes(page) if not b["off"]]
        truth = site.faces[frame][0]
        assert max(_overlap(b["box"], truth) for b in shown) > 0.4, (frame, shown, truth)

    track = detected[0]
    page.focus(f"#region-{track['id']}")
    page.keyboard.press("Space")  # off, from the keyboard; the list is drawn again and keeps the focus
    assert not page.is_checked(f"#region-{track['id']}")
    assert page.evaluate("() => document.activeElement.id") == f"region-{track['id']}"
    assert all(b["off"] for b in _boxes(page) if b["id"] == track["id"])

    _seek(page, 1.0)
    page.click("#draw")
    _drag(page, (0.05, 0.70), (0.25, 0.90))
    _status(page, "Drawn box 1 added")
    page.click("#follow")
    _status(page, "Drawn box 1 followed from", timeout=SLOW_MS)
    before = next(b for b in _boxes(page) if b["id"] == "m1")["box"]
    page.focus("#stage")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowDown")
    after = next(b for b in _boxes(page) if b["id"] == "m1")["box"]
    assert after[0] > before[0] and after[3] > before[3], (before, after)
    corner = page.locator('#overlay .box[data-id="m1"] .handle.se').bounding_box()
    assert corner is not None
    page.mouse.move(corner["x"] + 7, corner["y"] + 7)
    page.mouse.down()
    page.mouse.move(corner["x"] + 37, corner["y"] + 27, steps=3)
    page.mouse.up()
    _status(page, "Drawn box 1 corrected at 0:01.00")
    resized = next(b for b in _boxes(page) if b["id"] == "m1")["box"]
    assert resized[2] > after[2] and resized[3] > after[3], (after, resized)
    assert max(abs(resized[0] - after[0]), abs(resized[1] - after[1])) < 0.005, (after, resized)  # corner held

    page.fill("#audio-start", "0.5")
    page.fill("#audio-end", "1.25")
    page.select_option("#audio-mode", "mute")
    page.click("#audio-add")
    page.check("input[name=effect][value=box]")
    page.click("#save")
    _status(page, "Saved as version")
    saved = _plan(site)
    plan = saved["plan"]
    regions = {r["id"]: r for r in plan["regions"]}
    assert regions[track["id"]]["enabled"] is False
    drawn = regions["m1"]
    assert drawn["source"] == "manual" and drawn["enabled"] and len(drawn["keyframes"]) > 2
    assert any(abs(k["t"] - 1.0) < 0.05 for k in drawn["keyframes"])
    assert plan["audio"] == [{"start": 0.5, "end": 1.25, "mode": "mute"}]
    assert plan["effect"] == "box"
    assert page.inner_text("#version") == str(saved["version"])

    page.click("#preview")
    _status(page, "Preview of version")
    assert page.evaluate("() => document.getElementById('preview-image').naturalWidth") > 0

    page.click("#render")
    _status(page, "redacted copy", timeout=SLOW_MS)
    page.wait_for_function("() => document.getElementById('redacted').readyState >= 2")
    assert "/api/v1/items/" + site.item_id + "/redacted" in page.evaluate(
        "() => document.getElementById('redacted').currentSrc")
    renders = _plan(site)["renders"]
    assert [r["plan_version"] for r in renders if r["state"] == "done"] == [saved["version"]]
    page.screenshot(path=str(artifacts / "rendered.png"), full_page=True)


def test_a_stale_save_is_refused_and_the_newer_plan_reloads_on_a_phone(
        site: Site, page: "Page", artifacts: Path) -> None:
    """GIVEN the editor open on a phone WHEN a colleague saves a newer plan and the editor then saves theirs THEN the save is refused with a way to reload, reloading shows the colleague's version, the page never scrolls sideways, its boxes follow the renderer's box_at rule; an officer without the role gets no editor, and an investigator is asked why first."""
    base = site.server.url
    page.set_viewport_size(PHONE)
    _sign_in(page, base)
    page.goto(f"{base}/items/{site.item_id}/redaction")
    page.wait_for_function("() => /loaded|No plan yet/.test(document.getElementById('status').textContent)")
    opened = int(page.inner_text("#version"))
    widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], widths

    with site.server.signed_in(EDITOR, PASSWORD) as colleague:
        state = colleague.get(f"/api/v1/items/{site.item_id}/redaction").json()
        plan = state["plan"] or {"effect": "pixelate", "regions": [], "audio": []}
        newer = {**plan, "audio": [*plan["audio"], {"start": 1.5, "end": 1.75, "mode": "bleep"}]}
        colleague.headers["X-CSRF-Token"] = str(colleague.get("/api/v1/me").json()["csrf_token"])
        answer = colleague.put(f"/api/v1/items/{site.item_id}/redaction/plan",
                               json={"base_version": opened, "plan": newer})
        assert answer.status_code == 200, answer.text

    page.check("input[name=effect][value=pixelate]")
    page.click("#save")
    page.wait_for_selector("#conflict", state="visible")
    page.screenshot(path=str(artifacts / "conflict.png"), full_page=True)
    page.click("#reload")
    _status(page, "Reloaded version")
    assert int(page.inner_text("#version")) == answer.json()["version"]
    assert "Bleep 0:01.50" in page.inner_text("#ranges")

    # The boxes over the picture follow the rule the renderer follows.
    drawn = page.evaluate("""async ([keyframes, moments]) => {
        const {boxAt} = await import('/static/js/redaction-plan.js');
        return moments.map((t) => boxAt(keyframes.map(([k, box]) => ({t: k, box})), t));
      }""", [KEYFRAMES, MOMENTS])
    rendered = [box_at([Keyframe(t, box) for t, box in KEYFRAMES], t) for t in MOMENTS]
    for t, ours, theirs in zip(MOMENTS, drawn, rendered, strict=True):
        assert (ours is None) == (theirs is None), (t, ours, theirs)
        assert ours is None or theirs is None or max(abs(a - b) for a, b in zip(ours, theirs, strict=True)) < 1e-9, (t, ours)

    with site.server.signed_in(OFFICER, PASSWORD) as officer:
        assert officer.get(f"/items/{site.item_id}/redaction").status_code in (403, 404)
        assert 'id="redact"' not in officer.get(f"/items/{site.item_id}").text
    with site.server.signed_in(INVESTIGATOR, PASSWORD) as investigator:
        asked = investigator.get(f"/items/{site.item_id}/redaction")
        assert asked.status_code == 403 and "Why are you opening this recording?" in asked.text
        csrf = str(investigator.get("/api/v1/me").json()["csrf_token"])
        given = investigator.post(f"/items/{site.item_id}/reason", data={
            "csrf_token": csrf, "reason": "Disclosure for occurrence 26/123456: hiding bystanders"})
        assert given.status_code == 303, given.text
        assert investigator.get(f"/items/{site.item_id}/redaction").status_code == 200
