"""Footage not from our cameras through the real ingest path: a phone on its side, sparse-keyframe CCTV, sound alone."""

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import av
import pytest
from sqlalchemy import select

from tests.conftest import LiveServer
from tests.factories.ingest import hold_jobs, upload_bytes
from tests.factories.media import audio_recording, phone_clip, sparse_keyframe_clip
from tests.factories.mutations import make_seeds, mutate
from tests.factories.people import make_force
from witnessbox.bootstrap import Container
from witnessbox.evidence.models import DerivativeKind, Item
from witnessbox.jobs.models import JobRecord, JobState
from witnessbox.media import probe

pytestmark = pytest.mark.backend_free  # the camera side, media and files: the same on any database

MakeClip = Callable[[Path], Path]
SOURCES: dict[str, tuple[str, MakeClip]] = {
    "phone, remuxed": ("phone.mp4", phone_clip),
    "phone, transcoded": ("phone.mov", partial(phone_clip, codec="mpeg4", gop=100)),
    "cctv, one keyframe": ("cctv.mp4", sparse_keyframe_clip),
    "call, m4a": ("call.m4a", audio_recording),
    "call, mp3": ("call.mp3", audio_recording),
    "call, wav": ("call.wav", audio_recording),
}


def _processed(container: Container, path: Path) -> Item:
    """Upload through the ingest service, run the item's job as a worker would, return the item."""
    item_id = upload_bytes(container, path.read_bytes(), filename=path.name)
    for job_id, _delay in container.jobs.queue.sent:  # type: ignore[union-attr]
        container.jobs.run(job_id)
    return container.evidence.get(item_id)


def _stored(container: Container, item: Item, kind: DerivativeKind) -> Path:
    derivative = item.derivative(kind)
    assert derivative is not None, f"no {kind}"
    local = container.evidence.blobs.local_path(derivative.sha256)
    assert local is not None
    return local


@pytest.mark.parametrize("source", list(SOURCES))
def test_other_sources_become_playable_items(container: Container, tmp_path: Path, source: str) -> None:
    """GIVEN a phone clip turned 90°, CCTV with one keyframe, or a call recording (m4a, mp3, wav)
    WHEN uploaded and processed by the ingest job
    THEN the item is ready (not quarantined); the proxy keeps the way up and has keyframes at most 2 s
    apart, thumbnails exist for pictures only, and sound alone gets an audio-only AAC proxy."""
    make_force(container)
    hold_jobs(container)
    name, make = SOURCES[source]

    item = _processed(container, make(tmp_path / name))

    assert (item.state, item.state_reason) == ("ready", None)
    proxy = item.derivative(DerivativeKind.PROXY)
    assert proxy is not None
    facts = probe(_stored(container, item, DerivativeKind.PROXY))
    if source.startswith("call"):
        assert (item.video_codec, item.has_audio, proxy.media_type) == (None, True, "audio/mp4")
        assert (facts.video_codec, facts.audio_codec) == (None, "aac")
        assert item.derivative(DerivativeKind.THUMBNAIL_STRIP) is None
        return
    assert proxy.media_type == "video/mp4"
    assert facts.max_keyframe_interval_s is not None and facts.max_keyframe_interval_s <= 2.0
    assert facts.rotation == (90 if source.startswith("phone") else 0)
    strip = item.derivative(DerivativeKind.THUMBNAIL_STRIP)
    assert strip is not None and len(set(strip.parameters["timestamps_s"])) == 12
    with av.open(str(_stored(container, item, DerivativeKind.THUMBNAIL_STRIP))) as sprite:
        picture = next(sprite.decode(video=0))
    portrait = source.startswith("phone")
    assert strip.parameters["tile_width"] == (60 if portrait else 135)  # 96x64 pictures, 90 px high tiles
    assert picture.width == strip.parameters["tile_width"] * 12


def test_call_recording_page_plays_with_an_audio_player(live_server: LiveServer, container: Container,
                                                         tmp_path: Path) -> None:
    """GIVEN a call recording (m4a) processed by the server's worker
    WHEN its owner opens the item page and fetches the proxy
    THEN the page has an audio player (no video element) and the proxy is served as audio/mp4."""
    make_force(container)
    item_id = upload_bytes(container, audio_recording(tmp_path / "call.m4a").read_bytes(), filename="call.m4a")
    deadline = time.monotonic() + 60
    while container.evidence.get(item_id).state == "processing":
        assert time.monotonic() < deadline, "not processed"
        time.sleep(0.2)
    with live_server.owner() as officer:
        page = officer.get(f"/items/{item_id}")
        proxy = officer.get(f"/api/v1/items/{item_id}/proxy")
    assert page.status_code == 200, page.text
    assert f'<audio id="player" preload="auto" src="/api/v1/items/{item_id}/proxy"></audio>' in page.text
    assert "<video" not in page.text and "Sound only" in page.text
    assert proxy.status_code == 200 and proxy.headers["content-type"] == "audio/mp4"
    assert proxy.content[4:8] == b"ftyp"


def test_damaged_files_of_every_format_are_ready_or_quarantined_with_a_reason(
        container: Container, tmp_path: Path) -> None:
    """GIVEN three fuzz cases of each seed format (simulator MP4, phone, CCTV, mkv, webm, mov, avi, mpegts,
    m4a, mp3, wav), as bench/fuzz_media.py makes them
    WHEN each is uploaded and processed by the real ingest job
    THEN every job ends (none fails), and every item is ready or quarantined with a reason, its original kept."""
    make_force(container)
    hold_jobs(container)
    seeds = make_seeds(tmp_path / "seeds")
    items: dict[str, str] = {}
    for case in range(3 * len(seeds)):
        seed = seeds[case % len(seeds)]
        data, mutation = mutate(seed.read_bytes(), case, run_seed=8)
        path = tmp_path / f"case{case}{seed.suffix.lower()}"
        path.write_bytes(data)
        items[_processed(container, path).id] = f"case {case} ({seed.name}, {mutation})"
    with container.db.read() as session:
        failed = session.scalars(select(JobRecord).where(JobRecord.state == JobState.FAILED)).all()
    assert failed == [], [job.error for job in failed]
    states = set()
    for item_id, case in items.items():
        item = container.evidence.get(item_id)
        states.add(item.state)
        assert item.state in ("ready", "quarantined"), case
        if item.state == "quarantined":
            assert item.state_reason and len(item.state_reason) > 10, case
            assert container.evidence.blobs.exists(item.sha256), f"{case}: original not kept"
    assert states == {"ready", "quarantined"}, "the cases should include both usable and unusable files"
