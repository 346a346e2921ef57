"""Footage that is not from our cameras: a phone held on its side, CCTV with sparse keyframes, sound alone."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from tests.factories.media import (
    HEIGHT,
    WIDTH,
    audio_recording,
    cut_before_keyframe_clip,
    phone_clip,
    sparse_keyframe_clip,
)
from tests.factories.mutations import other_format_clip

from witnessbox.media import MediaError, make_proxy, probe, thumbnail_strip
from witnessbox.media import thumbnails as thumbnails_module


def _first_picture(path: Path) -> av.VideoFrame:
    with av.open(str(path)) as container:
        return next(container.decode(video=0))


def _red_side(tile: Image.Image) -> str:
    """Which edge of a tile the red band of the test picture lies along."""
    pixels = np.asarray(tile.convert("RGB")).astype(int)
    redness = pixels[:, :, 0] - pixels[:, :, 1]
    edges = {"top": redness[:4].mean(), "bottom": redness[-4:].mean(),
             "left": redness[:, :4].mean(), "right": redness[:, -4:].mean()}
    return max(edges, key=lambda edge: edges[edge])


@pytest.mark.parametrize(("codec", "gop", "method"), [("libx264", 25, "remux"), ("mpeg4", 100, "transcode")])
def test_phone_rotation_is_kept_in_the_proxy(tmp_path: Path, codec: str, gop: int, method: str) -> None:
    """GIVEN a phone clip with a display matrix turning it 90°
    WHEN probed and its proxy made (remuxed for H.264, transcoded otherwise)
    THEN probe reports the rotation and the proxy keeps the same display matrix over the same pixels."""
    clip = phone_clip(tmp_path / f"phone.{'mp4' if codec == 'libx264' else 'mov'}", codec=codec, gop=gop)
    facts = probe(clip)
    assert facts.rotation == 90

    made = make_proxy(clip, tmp_path / "proxy.mp4", facts)

    assert made.method == method
    picture = _first_picture(tmp_path / "proxy.mp4")
    assert (picture.rotation, picture.width, picture.height) == (90, WIDTH, HEIGHT)
    assert probe(tmp_path / "proxy.mp4").rotation == 90


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_thumbnails_are_upright(tmp_path: Path, rotation: int) -> None:
    """GIVEN a phone clip turned by 0, 90, 180 or 270° whose picture has a red band along its top
    WHEN its thumbnail strip is made with the rotation probe found
    THEN each tile has the shape the viewer sees and the band where a player shows it."""
    clip = phone_clip(tmp_path / "phone.mp4", rotation=rotation)
    facts = probe(clip)

    strip = thumbnail_strip(clip, tmp_path / "strip.jpg", count=3, rotation=facts.rotation)

    portrait = rotation in (90, 270)
    assert strip.tile_width == round(90 * (HEIGHT / WIDTH if portrait else WIDTH / HEIGHT))
    first = Image.open(tmp_path / "strip.jpg").crop((0, 0, strip.tile_width, 90))
    # A counter-clockwise quarter turn carries the top edge to the left.
    assert _red_side(first) == {0: "top", 90: "left", 180: "bottom", 270: "right"}[rotation]


def test_sparse_keyframes_get_thumbnails_in_one_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN CCTV-like footage with a single keyframe for 8 s
    WHEN its strip is made with the keyframe gap probe found
    THEN every tile is a different moment, and the file is decoded once (no seeking back per tile)."""
    clip = sparse_keyframe_clip(tmp_path / "cctv.mp4")
    facts = probe(clip)
    assert facts.max_keyframe_interval_s == pytest.approx(8.0, abs=0.1)
    seeks: list[int] = []
    seek_each = thumbnails_module._seek_each
    monkeypatch.setattr(thumbnails_module, "_seek_each", lambda *a: seeks.append(1) or seek_each(*a))

    strip = thumbnail_strip(clip, tmp_path / "strip.jpg", count=8,
                            keyframe_interval_s=facts.max_keyframe_interval_s)

    assert seeks == []
    assert len(set(strip.timestamps_s)) == 8
    assert strip.timestamps_s == pytest.approx([0.5 + n for n in range(8)], abs=0.05)


def test_sparse_keyframes_get_a_proxy_with_regular_keyframes(tmp_path: Path) -> None:
    """GIVEN footage with one keyframe for the whole file
    WHEN its proxy is made
    THEN it is transcoded, with keyframes at most 2 s apart, and lasts as long."""
    clip = sparse_keyframe_clip(tmp_path / "cctv.mp4")
    facts = probe(clip)

    made = make_proxy(clip, tmp_path / "proxy.mp4", facts)

    proxy = probe(tmp_path / "proxy.mp4")
    assert made.method == "transcode" and any("keyframes" in r for r in made.parameters["reasons"])  # type: ignore[attr-defined]
    assert proxy.max_keyframe_interval_s is not None and proxy.max_keyframe_interval_s <= 2.0
    assert proxy.duration_s == pytest.approx(facts.duration_s, abs=0.1)


@pytest.mark.parametrize(("suffix", "codec", "method"),
                         [(".m4a", "aac", "remux"), (".mp3", "mp3float", "transcode"),
                          (".wav", "pcm_s16le", "transcode")])
def test_sound_alone_is_probed_and_gets_an_audio_proxy(
        tmp_path: Path, suffix: str, codec: str, method: str) -> None:
    """GIVEN a call recording as m4a (AAC), mp3 or wav
    WHEN probed and proxied
    THEN it is described as sound alone and its proxy is an audio-only MP4 with AAC of the same length."""
    recording = audio_recording(tmp_path / f"call{suffix}")

    facts = probe(recording)
    made = make_proxy(recording, tmp_path / "proxy.mp4", facts)

    assert (facts.has_video, facts.audio_codec) == (False, codec)
    assert facts.duration_s == pytest.approx(2.0, abs=0.1)
    assert made.method == method
    proxy = probe(tmp_path / "proxy.mp4")
    assert (proxy.container, proxy.video_codec, proxy.audio_codec) == ("mp4", None, "aac")
    assert proxy.duration_s == pytest.approx(facts.duration_s, abs=0.1)


@pytest.mark.parametrize(("keep", "reason"), [(60, "not a media file"), (100_000, "truncated: the WAV file ends")])
def test_cut_call_recording_is_refused(tmp_path: Path, keep: int, reason: str) -> None:
    """GIVEN a wav call recording cut off after its header, or halfway through its samples
    WHEN probed
    THEN it is refused with the reason, not accepted as (shorter) sound."""
    recording = audio_recording(tmp_path / "call.wav")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(recording.read_bytes()[:keep])

    with pytest.raises(MediaError, match=reason):
        probe(cut)


def test_cctv_cut_between_keyframes_is_accepted_and_keeps_its_timeline(tmp_path: Path) -> None:
    """GIVEN CCTV exported mid-minute: 70 s of pictures before the first keyframe, then 10 s
    WHEN probed, thumbnailed and proxied
    THEN it is accepted with the 70 s gap reported, and the proxy is as long as the original, black until
    the first picture that can be decoded, with keyframes at most 2 s apart."""
    clip = cut_before_keyframe_clip(tmp_path / "cctv.mp4")

    facts = probe(clip)
    strip = thumbnail_strip(clip, tmp_path / "strip.jpg", keyframe_interval_s=facts.max_keyframe_interval_s)
    made = make_proxy(clip, tmp_path / "proxy.mp4", facts)

    assert facts.duration_s == pytest.approx(80.0, abs=0.5)
    assert facts.max_keyframe_interval_s == pytest.approx(70.0, abs=0.5)
    assert strip.timestamps_s[-1] > 70.0
    proxy = probe(tmp_path / "proxy.mp4")
    assert proxy.duration_s == pytest.approx(facts.duration_s, abs=0.5)
    assert proxy.max_keyframe_interval_s is not None and proxy.max_keyframe_interval_s <= 2.0
    assert made.parameters["black_lead_in_frames"] == 350  # 70 s at 5 fps


def test_sound_in_an_unknown_format_is_left_out_of_the_proxy(tmp_path: Path) -> None:
    """GIVEN a MOV whose sound track is in a format FFmpeg cannot name (found by bench/fuzz_media.py)
    WHEN probed and proxied
    THEN the facts say no audio, and the proxy is the picture alone rather than an error."""
    clip = other_format_clip(tmp_path / "clip.mov", "mov", "mpeg4", "pcm_s16le")
    unknown = tmp_path / "unknown-sound.mov"
    unknown.write_bytes(clip.read_bytes().replace(b"sowt", b"zq9x", 1))

    facts = probe(unknown)
    made = make_proxy(unknown, tmp_path / "proxy.mp4", facts)

    assert (facts.video_codec, facts.audio_codec) == ("mpeg4", None)
    assert made.method == "transcode"
    proxy = probe(tmp_path / "proxy.mp4")
    assert (proxy.video_codec, proxy.audio_codec) == ("h264", None)
