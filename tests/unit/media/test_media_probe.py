"""probe(): describe good recordings, reject broken ones with a reason and nothing else."""

from __future__ import annotations

import json
import time
from pathlib import Path

import av
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from malformed import VARIANT_COUNT, malformed_variants

from witnessbox.media import MediaError, MediaFacts, probe

QUICK_S = 5.0  # generous: each variant takes milliseconds


@pytest.fixture(scope="session")
def variants(camera_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Path, bool]]:
    """The 100 malformed variants of the simulated clip."""
    return malformed_variants(camera_clip, tmp_path_factory.mktemp("malformed"))


def _probe_outcome(path: Path) -> MediaFacts | MediaError:
    """probe's result or its MediaError; any other exception fails the test."""
    try:
        return probe(path)
    except MediaError as error:
        return error


def test_facts_serialise_to_json(camera_clip: Path) -> None:
    """GIVEN a good recording
    WHEN its facts are turned into a dict
    THEN the dict is JSON-serialisable and carries every field."""
    facts = probe(camera_clip).as_dict()

    assert json.loads(json.dumps(facts)) == facts
    assert facts["has_audio"] is True and facts["bit_rate"] > 0


def test_variant_set_is_complete(variants: list[tuple[str, Path, bool]]) -> None:
    """GIVEN the shared malformed-variant generator
    WHEN it runs on one clip
    THEN it yields 100 distinct files and every truncation is marked must-reject."""
    names = [name for name, _, _ in variants]

    assert len(variants) == VARIANT_COUNT and len(set(names)) == VARIANT_COUNT
    assert all(reject for name, _, reject in variants if name.startswith("truncated"))
    assert sum(name.startswith("truncated") for name in names) >= 40


@pytest.mark.parametrize("index", range(VARIANT_COUNT))
def test_malformed_variant_gives_media_error_or_facts(
    variants: list[tuple[str, Path, bool]], index: int
) -> None:
    """GIVEN one of 100 truncated/garbled/foreign variants of a recording
    WHEN it is probed
    THEN probe raises MediaError with a reason (always, for must-reject variants) or returns facts,
    never any other exception, and quickly."""
    name, path, must_reject = variants[index]

    started = time.monotonic()
    outcome = _probe_outcome(path)

    assert time.monotonic() - started < QUICK_S, name
    if must_reject:
        assert isinstance(outcome, MediaError), f"{name} was accepted"
    if isinstance(outcome, MediaError):
        assert len(outcome.reason) > 10, name


@settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fraction=st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_any_truncation_is_rejected(camera_clip: Path, tmp_path: Path, fraction: float) -> None:
    """GIVEN the recording cut short at an arbitrary byte
    WHEN it is probed
    THEN MediaError is raised."""
    data = camera_clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * fraction)])

    with pytest.raises(MediaError):
        probe(cut)


@settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    position=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    junk=st.binary(min_size=1, max_size=600),
)
def test_garbled_bytes_never_raise_anything_but_media_error(
    camera_clip: Path, tmp_path: Path, position: float, junk: bytes
) -> None:
    """GIVEN the recording with a run of arbitrary bytes written over it anywhere
    WHEN it is probed
    THEN the result is facts or MediaError, nothing else."""
    data = camera_clip.read_bytes()
    at = int(len(data) * position)
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes((data[:at] + junk + data[at + len(junk) :])[: len(data)])

    assert isinstance(_probe_outcome(damaged), MediaFacts | MediaError)


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_missing_or_non_file_path_is_rejected(tmp_path: Path, kind: str) -> None:
    """GIVEN a path that is missing or a directory
    WHEN it is probed
    THEN MediaError is raised."""
    path = tmp_path / "nothing.mp4"
    if kind == "directory":
        path.mkdir()

    with pytest.raises(MediaError):
        probe(path)


def test_long_gop_keyframe_interval_is_measured(long_gop_clip: Path) -> None:
    """GIVEN a 5 s H.264 clip with keyframes 4 s apart
    WHEN it is probed
    THEN max_keyframe_interval_s is 4 s."""
    facts = probe(long_gop_clip)

    assert facts.max_keyframe_interval_s == pytest.approx(4.0, abs=0.05)
    assert facts.duration_s == pytest.approx(5.0, abs=0.05)


def _remux(src: Path, dest: Path, fmt: str) -> Path:
    """Copy src's streams into another container format."""
    with av.open(str(src)) as inp, av.open(str(dest), "w", format=fmt) as out:
        targets = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is not None:
                packet.stream = targets[packet.stream.index]
                out.mux(packet)
    return dest


def test_matroska_is_described_and_its_truncation_detected(camera_clip: Path, tmp_path: Path) -> None:
    """GIVEN the recording remuxed into Matroska, whole and cut in half
    WHEN both are probed
    THEN the whole one is described as matroska and the cut one is rejected as truncated."""
    whole = _remux(camera_clip, tmp_path / "clip.mkv", "matroska")
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])

    assert probe(whole).container == "matroska"
    with pytest.raises(MediaError, match="truncated"):
        probe(cut)
