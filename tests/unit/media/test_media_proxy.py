"""Browser proxies: remux when possible, transcode otherwise, always faststart."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import av
import pytest
from media_clips import STARTED, top_level_box_types

from witnessbox.media import MediaError, MediaFacts, make_proxy, needs_transcode, probe
from witnessbox.media.simulate import CameraSpec, RecordingSpec, write_recording

CAMERA_LIKE = MediaFacts(
    container="mp4",
    video_codec="h264",
    audio_codec="aac",
    width=1280,
    height=720,
    fps=25.0,
    duration_s=60.0,
    bit_rate=4_000_000,
    pixel_format="yuv420p",
    max_keyframe_interval_s=1.0,
)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, False),
        ({"pixel_format": "yuvj420p"}, False),
        ({"audio_codec": None}, False),
        ({"max_keyframe_interval_s": 2.0}, False),
        ({"video_codec": "hevc"}, True),
        ({"video_codec": "mpeg4"}, True),
        ({"pixel_format": "yuv422p"}, True),
        ({"pixel_format": "yuv420p10le"}, True),
        ({"audio_codec": "pcm_s16le"}, True),
        ({"max_keyframe_interval_s": 2.5}, True),
        ({"max_keyframe_interval_s": None}, True),
    ],
)
def test_needs_transcode_decision(change: dict[str, object], expected: bool) -> None:
    """GIVEN facts differing from a typical camera file in one respect
    WHEN needs_transcode is asked
    THEN only browser-incompatible codecs/formats or sparse keyframes need a transcode."""
    assert needs_transcode(dataclasses.replace(CAMERA_LIKE, **change)) is expected  # type: ignore[arg-type]


def test_keyframe_limit_is_configurable() -> None:
    """GIVEN keyframes 2.5 s apart
    WHEN the allowed interval is raised to 3 s
    THEN a remux is enough."""
    facts = dataclasses.replace(CAMERA_LIKE, max_keyframe_interval_s=2.5)

    assert not needs_transcode(facts, max_keyframe_interval_s=3.0)


def test_camera_file_is_remuxed_with_index_first(camera_clip: Path, tmp_path: Path) -> None:
    """GIVEN a simulated camera recording (H.264/AAC, 1 s keyframes, moov at the end)
    WHEN a proxy is made
    THEN it is a remux with the moov before mdat, the same duration and codecs, and progress reaches 1."""
    facts = probe(camera_clip)
    dest = tmp_path / "proxy.mp4"
    seen: list[float] = []

    result = make_proxy(camera_clip, dest, facts, progress=seen.append)

    kinds = top_level_box_types(dest)
    out = probe(dest)
    assert result.method == "remux"
    assert kinds.index("moov") < kinds.index("mdat")
    assert out.duration_s == facts.duration_s
    assert (out.video_codec, out.audio_codec, out.width, out.height) == ("h264", "aac", 320, 240)
    assert seen and seen[-1] == 1.0 and seen == sorted(seen) and all(0 <= f <= 1 for f in seen)
    assert result.parameters["faststart"] is True
    assert {"pyav", "ffmpeg"} <= set(result.parameters["software"])  # type: ignore[arg-type]


def _packet_counts(path: Path) -> dict[str, int]:
    """Packets per stream type."""
    counts: dict[str, int] = {}
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.size:
                counts[packet.stream.type] = counts.get(packet.stream.type, 0) + 1
    return counts


def test_remux_copies_every_packet(camera_clip: Path, tmp_path: Path) -> None:
    """GIVEN a camera recording
    WHEN it is remuxed
    THEN the proxy holds the same number of video and audio packets."""
    dest = tmp_path / "proxy.mp4"
    make_proxy(camera_clip, dest, probe(camera_clip))

    assert _packet_counts(dest) == _packet_counts(camera_clip)


def test_mpeg4_is_transcoded_to_seekable_h264(mpeg4_clip: Path, tmp_path: Path) -> None:
    """GIVEN an MPEG-4 Part 2 + PCM MOV with one keyframe in 3 s
    WHEN a proxy is made
    THEN it is transcoded to H.264 yuv420p + AAC, faststart, keyframes at most 2 s apart, same length."""
    facts = probe(mpeg4_clip)
    dest = tmp_path / "proxy.mp4"

    result = make_proxy(mpeg4_clip, dest, facts)

    out = probe(dest)
    kinds = top_level_box_types(dest)
    assert result.method == "transcode"
    assert (out.video_codec, out.pixel_format, out.audio_codec) == ("h264", "yuv420p", "aac")
    assert out.max_keyframe_interval_s is not None and out.max_keyframe_interval_s <= 2.0
    assert kinds.index("moov") < kinds.index("mdat")
    assert out.duration_s == pytest.approx(facts.duration_s, abs=0.1)
    params = result.parameters
    assert (params["encoder"], params["preset"], params["crf"], params["gop"]) == (
        "libx264",
        "veryfast",
        23,
        50,
    )
    assert params["audio_bitrate"] == 128_000 and params["reasons"]


def test_long_gop_h264_is_transcoded(long_gop_clip: Path, tmp_path: Path) -> None:
    """GIVEN H.264/AAC with keyframes 4 s apart
    WHEN a proxy is made
    THEN it is transcoded and the result has keyframes at most 2 s apart."""
    dest = tmp_path / "proxy.mp4"

    result = make_proxy(long_gop_clip, dest, probe(long_gop_clip))

    assert result.method == "transcode"
    assert probe(dest).max_keyframe_interval_s <= 2.0  # type: ignore[operator]


def test_broken_input_is_a_media_error(camera_clip: Path, tmp_path: Path) -> None:
    """GIVEN facts from a good recording but a source file since cut in half
    WHEN a proxy is made
    THEN MediaError is raised (neither remux nor transcode can read it)."""
    src = tmp_path / "cut.mp4"
    src.write_bytes(camera_clip.read_bytes()[: camera_clip.stat().st_size // 2])

    with pytest.raises(MediaError):
        make_proxy(src, tmp_path / "proxy.mp4", probe(camera_clip))


def test_remux_of_a_minute_of_1080p_is_fast(tmp_path: Path) -> None:
    """GIVEN 60 s of 1080p camera footage
    WHEN it is remuxed
    THEN it takes well under the time a transcode would (bounded loosely for slow CI)."""
    spec = RecordingSpec(STARTED, 60.0, width=1920, height=1080, video_bitrate=2_000_000, unique_seconds=1)
    src = write_recording(tmp_path, CameraSpec("WBX00006"), spec)

    started = time.monotonic()
    result = make_proxy(src, tmp_path / "proxy.mp4", probe(src))

    assert result.method == "remux"
    assert time.monotonic() - started < 3.0
