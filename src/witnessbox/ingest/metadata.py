"""Parsing and checking what a dock declares when it creates an upload."""

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from witnessbox.core.errors import InvalidInput
from witnessbox.storage.base import check_sha256

REQUIRED_KEYS = ("filename", "sha256", "camera", "started_at")


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
    pairs: dict[str, str] = {}
    for part in header.split(","):
        key, _, encoded = part.strip().partition(" ")
        if not key or key in pairs:
            raise InvalidInput(f"Upload-Metadata has an empty or repeated key: {key!r}")
        pairs[key] = _decode(key, encoded.strip())
    return pairs


def _decode(key: str, encoded: str) -> str:
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise InvalidInput(f"Upload-Metadata value for {key!r} is not base64 UTF-8") from error


def declaration_from(pairs: dict[str, str]) -> Declaration:
    """Check the required keys and shapes; InvalidInput says exactly what is wrong."""
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
        camera=pairs["camera"].strip(),
        started_at=_utc_time(pairs["started_at"]),
        extra=extra,
        camera_metadata=_camera_metadata(pairs.get("camera_metadata")),
    )


def _filename(value: str) -> str:
    name = value.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name or len(name) > 255 or any(ord(ch) < 32 for ch in name):
        raise InvalidInput("filename must be 1-255 printable characters")
    return name


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
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as error:
        raise InvalidInput("camera_metadata is not valid JSON") from error
    if not isinstance(parsed, dict):
        raise InvalidInput("camera_metadata must be a JSON object")
    return parsed


def gps_track(camera_metadata: dict[str, Any] | None) -> list[Any] | None:
    """The GPS points from the camera's metadata, keeping only well-formed ones."""
    points = (camera_metadata or {}).get("gps")
    if not isinstance(points, list):
        return None
    kept = [p for p in points if isinstance(p, dict) and _is_point(p)]
    return kept or None


def _is_point(point: dict[str, Any]) -> bool:
    try:
        return -90 <= float(point["lat"]) <= 90 and -180 <= float(point["lon"]) <= 180
    except (KeyError, TypeError, ValueError):
        return False


def bookmarks(camera_metadata: dict[str, Any] | None) -> list[Any] | None:
    """The camera's bookmarks, keeping only well-formed ones."""
    marks = (camera_metadata or {}).get("bookmarks")
    if not isinstance(marks, list):
        return None
    kept = [m for m in marks if isinstance(m, dict) and isinstance(m.get("t"), int | float)]
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
