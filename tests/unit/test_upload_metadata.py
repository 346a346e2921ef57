"""What a client declares when it creates an upload is bounded: hostile input is a clear InvalidInput."""

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from witnessbox.core.errors import InvalidInput
from witnessbox.ingest.metadata import (
    MAX_JSON_DEPTH,
    MAX_JSON_VALUES,
    MAX_KEYS,
    bookmarks,
    declaration_from,
    gps_track,
    parse_upload_metadata,
    strict_json,
)
from witnessbox.media.errors import MediaError
from witnessbox.media.simulate import read_sidecar

LIMIT = 1024 * 1024  # a generous operator setting: the bounds below must hold on their own
REQUIRED = {"filename": "a.mp4", "sha256": "a" * 64, "camera": "WBX00001", "started_at": "2026-11-26T08:30:00Z"}


def _header(pairs: dict[str, str]) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode('utf-8', 'surrogatepass')).decode()}" for k, v in pairs.items())


def _declare(camera_metadata: str) -> object:
    return declaration_from(parse_upload_metadata(_header({**REQUIRED, "camera_metadata": camera_metadata}),
                                                  limit=LIMIT))


@pytest.mark.parametrize(("camera_metadata", "says"), [
    ("[" * 5000 + "]" * 5000, "nested deeper"),
    ('{"a":' * 5000 + "1" + "}" * 5000, "nested deeper"),
    (json.dumps({"gps": [0] * (MAX_JSON_VALUES + 1)}), "more than"),
    (json.dumps({f"k{i}": i for i in range(300)}), "more than 256 keys"),
    ('{"gps": [], "gps": [1]}', "repeated key"),
    ('{"duration_s": NaN}', "NaN"),
    ('{"duration_s": -Infinity}', "Infinity"),
    ('{"duration_s": 1e999}', "out of range"),
    ('{"model": "a\\u0000b"}', "NUL"),
    ('{"model": "\\ud800"}', "surrogate"),
    ('{"n": ' + "9" * 5000 + "}", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ("{", "not valid JSON"),
])
def test_hostile_camera_metadata_is_refused_with_the_reason(camera_metadata: str, says: str) -> None:
    """GIVEN camera_metadata built to exhaust the server WHEN the declaration is checked THEN InvalidInput names the problem."""
    with pytest.raises(InvalidInput, match=says):
        _declare(camera_metadata)


def test_a_real_camera_metadata_document_passes() -> None:
    """GIVEN a camera's metadata with a long GPS track and bookmarks WHEN checked THEN it is kept whole."""
    document = {"model": "RS2-RX", "gps": [{"t": t, "lat": 51.5, "lon": -0.1} for t in range(3000)],
                "bookmarks": [{"t": 12.5, "label": "arrest"}]}
    declaration = _declare(json.dumps(document))
    assert declaration.camera_metadata == document  # type: ignore[attr-defined]


@pytest.mark.parametrize(("header", "says"), [
    (",".join(f"k{i} YQ==" for i in range(MAX_KEYS + 1)), "more than"),
    ("k" * 100 + " YQ==", "printable ASCII"),
    ("clé YQ==", "printable ASCII"),
    ("a YQ==,a YQ==", "repeated"),
    ("a /w==", "UTF-8"),
    ("a AA==", "NUL"),
    ("a !!!", "base64"),
])
def test_hostile_upload_metadata_header_is_refused(header: str, says: str) -> None:
    """GIVEN a malformed Upload-Metadata header WHEN parsed THEN InvalidInput says what is wrong."""
    with pytest.raises(InvalidInput, match=says):
        parse_upload_metadata(header, limit=LIMIT)


def test_overlong_camera_serial_is_refused() -> None:
    """GIVEN a camera serial longer than a serial can be WHEN declared THEN InvalidInput, not a database error."""
    with pytest.raises(InvalidInput, match="camera must be"):
        declaration_from({**REQUIRED, "camera": "W" * 65})


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=40,
)


@given(json_values)
def test_any_json_is_kept_or_refused_never_crashes(value: object) -> None:
    """GIVEN any JSON document (NaN and surrogates included) WHEN parsed strictly THEN it parses or InvalidInput."""
    try:
        strict_json(json.dumps(value), what="camera_metadata")
    except InvalidInput:
        pass


@given(st.text(max_size=300))
def test_any_text_is_kept_or_refused_never_crashes(text: str) -> None:
    """GIVEN any text as camera_metadata or as the header WHEN parsed THEN it parses or InvalidInput."""
    for attempt in (lambda: _declare(text), lambda: parse_upload_metadata(text, limit=LIMIT)):
        try:
            attempt()
        except InvalidInput:
            pass


@pytest.mark.parametrize("content", ["[" * 100_000, '{"format": NaN}'])
def test_hostile_sidecar_on_the_camera_is_a_media_error(tmp_path: Path, content: str) -> None:
    """GIVEN a camera metadata file nested 100,000 deep or carrying NaN WHEN the dock reads it THEN MediaError, not a crash."""
    (tmp_path / "clip.mp4").write_bytes(b"")
    (tmp_path / "clip.json").write_text(content)
    with pytest.raises(MediaError, match="not readable JSON"):
        read_sidecar(tmp_path / "clip.mp4")


def test_depth_limit_allows_what_cameras_write() -> None:
    """GIVEN nesting at the limit, with brackets inside strings WHEN parsed THEN accepted."""
    text = "[" * MAX_JSON_DEPTH + '"]]]]]]]]]][[[[[[[[\\""' + "]" * MAX_JSON_DEPTH
    assert strict_json("{\"a\": " + text[1:-1] + "}", what="x") is not None


def test_only_well_formed_gps_points_and_bookmarks_are_kept() -> None:
    """GIVEN camera metadata mixing good points and bookmarks with text, booleans, infinities and a label that is not text WHEN read THEN only the well-formed ones are kept."""
    metadata = {
        "gps": [{"t": 0, "lat": 51.5, "lon": -0.1}, {"t": 1, "lat": "51.5", "lon": 0}, {"t": 2, "lat": True, "lon": 0},
                {"t": 3, "lat": float("inf"), "lon": 0}, {"t": 4, "lat": 91, "lon": 0}, "x"],
        "bookmarks": [{"t": 1.5, "label": "arrest"}, {"t": True}, {"t": -1}, {"t": 2, "label": {"x": 1}}, []],
    }
    assert gps_track(metadata) == [{"t": 0, "lat": 51.5, "lon": -0.1}]
    assert bookmarks(metadata) == [{"t": 1.5, "label": "arrest"}]
