"""Shared fixtures for media tests: tiny clips made once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The helpers beside the tests (media_clips.py, malformed.py) are reused by the
# integration tests too; make them importable whatever pytest import mode is used.
sys.path.insert(0, str(Path(__file__).parent))

from media_clips import STARTED, encode_test_clip

from witnessbox.media.simulate import CameraSpec, RecordingSpec, write_recording


@pytest.fixture(scope="session")
def camera_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3 s, 320x240 simulated camera recording (seed 7) with its sidecar."""
    spec = RecordingSpec(STARTED, 3.0, width=320, height=240, bookmarks=2)
    return write_recording(tmp_path_factory.mktemp("camera"), CameraSpec("WBX00001"), spec, seed=7)


@pytest.fixture(scope="session")
def mpeg4_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MPEG-4 Part 2 video with PCM audio in a MOV: needs a full transcode."""
    return encode_test_clip(tmp_path_factory.mktemp("mpeg4") / "clip.mov", codec="mpeg4", gop=75)


@pytest.fixture(scope="session")
def long_gop_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """H.264/AAC MP4 with a keyframe only every 4 s: playable but poorly seekable."""
    return encode_test_clip(
        tmp_path_factory.mktemp("longgop") / "clip.mp4", codec="libx264", gop=100, seconds=5.0
    )
