"""Simulated body-worn camera recordings and their sidecars."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest
from media_clips import STARTED, top_level_box_types

from witnessbox.media import MediaError, probe, read_sidecar
from witnessbox.media.simulate import CameraSpec, RecordingSpec, write_camera_folders, write_recording


def test_simulated_recording_probes_like_camera_footage(camera_clip: Path) -> None:
    """GIVEN a 3 s 320x240 simulated recording
    WHEN it is probed
    THEN it is H.264/AAC MP4 at the requested size, rate and length with 1 s keyframes."""
    facts = probe(camera_clip)

    assert (facts.container, facts.video_codec, facts.audio_codec) == ("mp4", "h264", "aac")
    assert (facts.width, facts.height, facts.fps) == (320, 240, 25.0)
    assert facts.duration_s == pytest.approx(3.0, abs=0.05)
    assert facts.max_keyframe_interval_s == pytest.approx(1.0, abs=0.05)
    assert facts.pixel_format == "yuv420p"
    assert facts.has_audio


def test_simulated_recording_is_laid_out_like_a_camera_file(camera_clip: Path) -> None:
    """GIVEN a simulated recording
    WHEN its name and top-level boxes are read
    THEN it is named <SERIAL>_<date>_<time>.MP4 and the moov comes after mdat (no faststart)."""
    kinds = top_level_box_types(camera_clip)

    assert camera_clip.name == "WBX00001_20261126_083000.MP4"
    assert kinds.index("mdat") < kinds.index("moov")


def test_sidecar_round_trips(camera_clip: Path) -> None:
    """GIVEN the sidecar written beside a recording
    WHEN it is read back with read_sidecar
    THEN it equals the JSON on disk and has the documented shape."""
    on_disk = json.loads(camera_clip.with_suffix(".json").read_text())

    sidecar = read_sidecar(camera_clip)

    assert sidecar == on_disk
    assert sidecar["format"] == "witnessbox-camera/1"
    assert (sidecar["camera"], sidecar["model"], sidecar["firmware"]) == ("WBX00001", "RS2-RX", "4.2.1")
    assert sidecar["file"] == camera_clip.name
    assert sidecar["started_at"] == "2026-11-26T08:30:00Z"
    assert sidecar["duration_s"] == 3.0 and sidecar["pre_record_s"] == 30
    assert [b["label"] for b in sidecar["bookmarks"]] == ["Bookmark 1", "Bookmark 2"]
    assert sidecar["gps"][0]["t"] == 0.0


def test_gps_track_is_a_plausible_uk_walk_or_drive(tmp_path: Path) -> None:
    """GIVEN a 60 s recording with GPS
    WHEN its sidecar is read
    THEN there is one fix every 5 s, inside Great Britain, moving at most at driving speed."""
    spec = RecordingSpec(STARTED, 60.0, width=64, height=48, unique_seconds=1)
    gps = read_sidecar(write_recording(tmp_path, CameraSpec("WBX00009"), spec, seed=3))["gps"]  # type: ignore[index]

    assert [p["t"] for p in gps] == [5.0 * i for i in range(13)]
    assert all(49.8 < p["lat"] < 59 and -6.5 < p["lon"] < 2 for p in gps)
    steps = [abs(a["lat"] - b["lat"]) + abs(a["lon"] - b["lon"]) for a, b in itertools.pairwise(gps)]
    assert max(steps) < 0.003  # < ~100 m per 5 s in degrees


def _metadata(folder: Path, seed: int, started: datetime = STARTED) -> tuple[object, object]:
    """GPS and bookmarks of a tiny recording made with ``seed``."""
    spec = RecordingSpec(started, 12.0, width=64, height=48, bookmarks=3, unique_seconds=1)
    sidecar = read_sidecar(write_recording(folder, CameraSpec("WBX00005"), spec, seed=seed))
    assert sidecar is not None
    return sidecar["gps"], sidecar["bookmarks"]


def test_same_seed_gives_same_tracks_and_bookmarks(tmp_path: Path) -> None:
    """GIVEN three recordings: two with seed 1 (different start times) and one with seed 2
    WHEN their sidecars are compared
    THEN the seed-1 tracks and bookmarks are identical and the seed-2 ones differ."""
    first = _metadata(tmp_path / "a", 1)
    again = _metadata(tmp_path / "b", 1, STARTED + timedelta(days=3))
    other = _metadata(tmp_path / "c", 2)

    assert first == again
    assert first != other


def _luma_at(path: Path, seconds: float) -> np.ndarray:
    """Luma plane of the frame at ``seconds``."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= seconds - 0.01:
                return frame.to_ndarray(format="gray")
    raise AssertionError("frame not found")


def test_overlay_is_burned_in_and_shows_a_running_clock(camera_clip: Path) -> None:
    """GIVEN a simulated recording
    WHEN the top-left label area is decoded at 0 s and 1 s
    THEN it is a dark box with light text, unlike the picture behind it, and the clock text changes."""
    at_zero, at_one = _luma_at(camera_clip, 0.0), _luma_at(camera_clip, 1.0)
    label = at_zero[6:16, 6:170]
    background = at_zero[120:200, 6:170]

    assert (label < 50).mean() > 0.4 and (label > 180).sum() > 30
    assert (background < 50).mean() < 0.4 or (background > 180).sum() < 30
    clock = slice(100, 170)  # the seconds digits sit at the right of the label
    assert np.abs(at_zero[6:16, clock].astype(int) - at_one[6:16, clock].astype(int)).max() > 100


def test_unique_seconds_fill_makes_a_valid_long_file(tmp_path: Path) -> None:
    """GIVEN a 7 s recording built from 2 s of unique frames repeated with shifted timestamps
    WHEN it is probed, demuxed and fully decoded
    THEN it lasts 7 s, keeps 1 s keyframes, has strictly increasing dts and decodes every frame."""
    spec = RecordingSpec(STARTED, 7.0, width=160, height=120, unique_seconds=2)
    path = write_recording(tmp_path, CameraSpec("WBX00003"), spec)

    facts = probe(path)
    last_dts: dict[int, int] = {}
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.dts is not None:
                assert packet.dts > last_dts.get(packet.stream.index, -(2**62))
                last_dts[packet.stream.index] = packet.dts
        container.seek(0)
        frames = sum(1 for _ in container.decode(video=0))

    assert facts.duration_s == pytest.approx(7.0, abs=0.05)
    assert facts.max_keyframe_interval_s == pytest.approx(1.0, abs=0.05)
    assert frames == 7 * 25


def test_camera_folders_layout(tmp_path: Path) -> None:
    """GIVEN two cameras with two 3 s recordings each
    WHEN write_camera_folders runs
    THEN each camera has its own folder of MP4s with sidecars and progress counts up to 4."""
    seen: list[tuple[int, int]] = []

    paths = write_camera_folders(
        tmp_path,
        cameras=2,
        minutes=0.05,
        recordings_per_camera=2,
        width=64,
        height=48,
        start=STARTED,
        progress=lambda done, total: seen.append((done, total)),
    )

    assert [p.parent.name for p in paths] == ["WBX00001", "WBX00001", "WBX00002", "WBX00002"]
    assert len({p.name for p in paths}) == 4
    assert all(p.with_suffix(".json").is_file() for p in paths)
    assert paths[0].name == "WBX00001_20261126_083000.MP4"
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_recording_spec_needs_an_aware_start() -> None:
    """GIVEN a naive start time
    WHEN a RecordingSpec is made
    THEN it is refused (camera clocks are UTC)."""
    with pytest.raises(ValueError):
        RecordingSpec(datetime(2026, 11, 26, 8, 30), 3.0)


def test_missing_sidecar_reads_as_none(tmp_path: Path) -> None:
    """GIVEN a recording without a metadata file
    WHEN read_sidecar is called
    THEN it returns None."""
    assert read_sidecar(tmp_path / "WBX00001_20261126_083000.MP4") is None


GOOD = {
    "format": "witnessbox-camera/1",
    "camera": "WBX00001",
    "model": "RS2-RX",
    "firmware": "4.2.1",
    "file": "X.MP4",
    "started_at": "2026-11-26T08:30:00Z",
    "duration_s": 60.0,
    "pre_record_s": 30,
    "gps": [{"t": 0.0, "lat": 52.6309, "lon": 1.2974}],
    "bookmarks": [{"t": 12.0, "label": "Bookmark 1"}],
}
BROKEN: dict[str, object] = {
    "not_an_object": [1, 2],
    "wrong_format": {**GOOD, "format": "other/2"},
    "missing_camera": {k: v for k, v in GOOD.items() if k != "camera"},
    "other_file": {**GOOD, "file": "Y.MP4"},
    "naive_time": {**GOOD, "started_at": "2026-11-26T08:30:00"},
    "garbage_time": {**GOOD, "started_at": "yesterday"},
    "bool_duration": {**GOOD, "duration_s": True},
    "negative_duration": {**GOOD, "duration_s": -1},
    "gps_out_of_range": {**GOOD, "gps": [{"t": 0, "lat": 952.6, "lon": 1.3}]},
    "gps_not_numbers": {**GOOD, "gps": [{"t": 0, "lat": "52.6", "lon": 1.3}]},
    "bookmark_label_int": {**GOOD, "bookmarks": [{"t": 1, "label": 5}]},
}


@pytest.mark.parametrize(
    "content", [*BROKEN.values(), "{not json", b"\xff\xfe\x00"], ids=[*BROKEN, "not_json", "not_utf8"]
)
def test_malformed_sidecar_is_rejected(tmp_path: Path, content: object) -> None:
    """GIVEN a malformed sidecar beside X.MP4
    WHEN read_sidecar is called
    THEN MediaError with a reason is raised."""
    sidecar = tmp_path / "X.json"
    if isinstance(content, bytes):
        sidecar.write_bytes(content)
    else:
        sidecar.write_text(content if isinstance(content, str) else json.dumps(content))

    with pytest.raises(MediaError) as caught:
        read_sidecar(tmp_path / "X.MP4")
    assert caught.value.reason


def test_valid_sidecar_is_accepted(tmp_path: Path) -> None:
    """GIVEN a well-formed sidecar beside X.MP4
    WHEN read_sidecar is called
    THEN the document comes back unchanged."""
    (tmp_path / "X.json").write_text(json.dumps(GOOD))

    assert read_sidecar(tmp_path / "X.MP4") == GOOD
