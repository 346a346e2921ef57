"""Parsing and checking what a dock declares when it creates an upload."""

import base64
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeGuard

from witnessbox.core.errors import InvalidInput
from witnessbox.storage.base import check_sha256

REQUIRED_KEYS = ("filename", "sha256", "camera", "started_at")
# Bounds on what a client may declare: far above what a camera or the upload page sends,
# far below what would cost the server memory, stack depth or a database error.
MAX_KEYS = 32
MAX_KEY_LENGTH = 64
CAMERA_SERIAL_LIMIT = 64
MAX_JSON_DEPTH = 8
MAX_JSON_MEMBERS = 256  # keys of one object
MAX_JSON_VALUES = 50_000  # values in the whole document (a long GPS track: thousands of points)


@dataclass(frozen=True)
class Declaration:
    """The validated Upload-Metadata of a new upload."""

    filename: str
    sha256: str
    camera: str
    started_at: datetime
    extra: dict[str, str]
    camera_metadata: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        """JSON form, as kept on the upload row and returned by HEAD."""
        return {
            "filename": self.filename,
            "sha256": self.sha256,
            "camera": self.camera,
            "started_at": self.started_at.isoformat(),
            **self.extra,
        }


def parse_upload_metadata(header: str | None, *, limit: int) -> dict[str, str]:
    """Decode a tus Upload-Metadata header: comma-separated `key base64value` pairs."""
    if not header:
        return {}
    if len(header) > limit:
        raise InvalidInput(f"Upload-Metadata is larger than {limit} bytes")
    parts = header.split(",")
    if len(parts) > MAX_KEYS:
        raise InvalidInput(f"Upload-Metadata has more than {MAX_KEYS} keys")
    pairs: dict[str, str] = {}
    for part in parts:
        key, _, encoded = part.strip().partition(" ")
        if not key or key in pairs:
            raise InvalidInput(f"Upload-Metadata has an empty or repeated key: {key[:MAX_KEY_LENGTH]!r}")
        if len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
            raise InvalidInput(f"Upload-Metadata keys must be 1-{MAX_KEY_LENGTH} printable ASCII characters")
        pairs[key] = _decode(key, encoded.strip())
    return pairs


def _decode(key: str, encoded: str) -> str:
    try:
        value = base64.b64decode(encoded, validate=True).decode("utf-8")
    except ValueError as error:  # binascii.Error, UnicodeDecodeError, and non-ASCII "base64"
        raise InvalidInput(f"Upload-Metadata value for {key!r} is not base64 UTF-8") from error
    if "\x00" in value:
        raise InvalidInput(f"Upload-Metadata value for {key!r} contains a NUL character")
    return value


def declaration_from(pairs: dict[str, str]) -> Declaration:
    """Check the required keys and shapes; InvalidInput says exactly what is wrong.

    Handed-in footage (a `source` key) has no camera: it is listed under its source's label.
    """
    if pairs.get("source") and not pairs.get("camera"):
        pairs = {**pairs, "camera": HANDED_IN_SOURCES.get(pairs["source"], pairs["source"])}
    missing = [key for key in REQUIRED_KEYS if not pairs.get(key)]
    if missing:
        raise InvalidInput(f"Upload-Metadata lacks required keys: {', '.join(missing)}")
    try:
        sha256 = check_sha256(pairs["sha256"])
    except ValueError as error:
        raise InvalidInput(f"sha256 is not 64 hex characters: {pairs['sha256'][:80]!r}") from error
    extra = {k: v for k, v in pairs.items() if k not in REQUIRED_KEYS and k != "camera_metadata"}
    return Declaration(
        filename=_filename(pairs["filename"]),
        sha256=sha256,
        camera=_camera(pairs["camera"]),
        started_at=_utc_time(pairs["started_at"]),
        extra=extra,
        camera_metadata=_camera_metadata(pairs.get("camera_metadata")),
    )


def _filename(value: str) -> str:
    name = value.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name or len(name) > 255 or any(ord(ch) < 32 for ch in name):
        raise InvalidInput("filename must be 1-255 printable characters")
    return name


def _camera(value: str) -> str:
    serial = value.strip()
    if len(serial) > CAMERA_SERIAL_LIMIT or not serial.isprintable():
        raise InvalidInput(f"camera must be a serial of at most {CAMERA_SERIAL_LIMIT} printable characters")
    return serial


def _utc_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise InvalidInput(f"started_at is not an ISO 8601 time: {value[:40]!r}") from error
    if moment.tzinfo is None:
        raise InvalidInput("started_at must carry a time zone (UTC, e.g. 2026-11-26T08:30:00Z)")
    return moment.astimezone(UTC)


def _camera_metadata(value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    parsed = strict_json(value, what="camera_metadata")
    if not isinstance(parsed, dict):
        raise InvalidInput("camera_metadata must be a JSON object")
    return parsed


def strict_json(text: str, *, what: str) -> Any:
    """Parse JSON a client sent, refusing what a database or a person could not use.

    Refused, with the reason: nesting deeper than MAX_JSON_DEPTH (checked before parsing,
    so no recursion limit is reached), more than MAX_JSON_VALUES values, an object with
    more than MAX_JSON_MEMBERS or repeated keys, NaN or Infinity, NUL characters and
    unpaired surrogates (neither can be stored as text).
    """
    _check_depth(text, what)
    try:
        parsed = json.loads(text, object_pairs_hook=_object(what), parse_constant=_no_constant(what))
    except (ValueError, RecursionError) as error:  # ValueError: also an integer of thousands of digits
        raise InvalidInput(f"{what} is not valid JSON") from error
    _check_values(parsed, what)
    return parsed


def _check_depth(text: str, what: str) -> None:
    depth, in_string, escaped = 0, False, False
    for char in text:
        if escaped:
            escaped = False
        elif in_string:
            escaped, in_string = char == "\\", char != '"'
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise InvalidInput(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels")
        elif char in "]}":
            depth -= 1


def _object(what: str) -> Any:
    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if len(pairs) > MAX_JSON_MEMBERS:
            raise InvalidInput(f"{what} has an object with more than {MAX_JSON_MEMBERS} keys")
        built = dict(pairs)
        if len(built) != len(pairs):
            raise InvalidInput(f"{what} has an object with a repeated key")
        return built

    return build


def _no_constant(what: str) -> Any:
    def refuse(name: str) -> None:
        raise InvalidInput(f"{what} contains {name}, which is not a number")

    return refuse


def _check_values(document: Any, what: str) -> None:
    pending, seen = [document], 0
    while pending:
        value = pending.pop()
        seen += 1
        if seen > MAX_JSON_VALUES:
            raise InvalidInput(f"{what} has more than {MAX_JSON_VALUES} values")
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str) and not _storable(value):
            raise InvalidInput(f"{what} contains a NUL character or an unpaired surrogate")
        elif isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput(f"{what} contains a number out of range")


def _storable(text: str) -> bool:
    return "\x00" not in text and not any("\ud800" <= char <= "\udfff" for char in text)


def gps_track(camera_metadata: dict[str, Any] | None) -> list[Any] | None:
    """The GPS points from the camera's metadata, keeping only well-formed ones."""
    points = (camera_metadata or {}).get("gps")
    if not isinstance(points, list):
        return None
    kept = [p for p in points if isinstance(p, dict) and _is_point(p)]
    return kept or None


def _is_point(point: dict[str, Any]) -> bool:
    lat, lon = point.get("lat"), point.get("lon")
    return _is_number(lat) and _is_number(lon) and -90 <= lat <= 90 and -180 <= lon <= 180


def _is_number(value: object) -> TypeGuard[int | float]:
    """A finite JSON number; true and false are not numbers, nor are numbers written as text."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def bookmarks(camera_metadata: dict[str, Any] | None) -> list[Any] | None:
    """The camera's bookmarks, keeping only well-formed ones."""
    marks = (camera_metadata or {}).get("bookmarks")
    if not isinstance(marks, list):
        return None
    kept = [m for m in marks if isinstance(m, dict) and _is_number(m.get("t")) and m["t"] >= 0
            and isinstance(m.get("label", ""), str)]
    return kept or None


# Footage handed in rather than docked (CCTV, a witness's phone video): the kind of source
# the uploader chose, and the label it is listed under where a camera serial would be.
HANDED_IN_SOURCES = {"cctv": "CCTV", "phone": "Phone video", "other": "Handed in"}
DESCRIPTION_LIMIT = 1000


@dataclass(frozen=True)
class HandedIn:
    """Where footage that is not from one of our cameras came from, in the uploader's words."""

    source: str
    description: str
    declared_camera: str | None = None

    @property
    def label(self) -> str:
        """How the source is listed (in place of a camera serial)."""
        return HANDED_IN_SOURCES[self.source]

    def as_metadata(self, uploader: str) -> dict[str, Any]:
        """What is kept on the item (its camera_metadata) about where the footage came from."""
        handed = {"source": self.source, "description": self.description, "uploaded_by": uploader}
        if self.declared_camera:
            handed["declared_camera"] = self.declared_camera  # what the uploader said; never attributed
        return {"handed_in": handed}


def handed_in(metadata: Mapping[str, Any]) -> HandedIn | None:
    """The declared source of handed-in footage (the `source` key), or None for a camera's recording."""
    source = metadata.get("source")
    if source is None:
        return None
    if source not in HANDED_IN_SOURCES:
        raise InvalidInput(f"source must be one of {', '.join(HANDED_IN_SOURCES)}, not {str(source)[:40]!r}")
    description = " ".join(str(metadata.get("description", "")).split())
    if len(description) > DESCRIPTION_LIMIT:
        raise InvalidInput(f"description must be at most {DESCRIPTION_LIMIT} characters")
    declared = metadata.get("declared_camera")
    return HandedIn(source, description, str(declared)[:64] if declared else None)


def as_handed_in(declaration: Declaration) -> Declaration:
    """A person's upload as handed-in footage: a declared source is kept, otherwise it is "other".

    Only a dock registered for a camera attributes a recording to it, so the camera a
    person's metadata names is kept as what they declared and nothing more.
    """
    if handed_in(declaration.extra) is not None:
        return declaration
    extra = {**declaration.extra, "source": "other", "declared_camera": declaration.camera}
    return replace(declaration, extra=extra)
