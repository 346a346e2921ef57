"""The redaction plan as data: strict checking of what the editor sends, and merging in detected faces.

A plan (decision 0026, docs/user-guide.md "Redacting a recording"):

    {"effect": "pixelate" | "box",
     "regions": [{"id", "source": "auto" | "manual", "enabled", "label",
                  "keyframes": [{"t": seconds, "box": [x, y, w, h] as fractions of the frame}]}],
     "audio": [{"start", "end", "mode": "mute" | "bleep"}]}

`checked` returns the plan as it is kept (keyframes sorted by time, numbers as floats) or raises
InvalidPlan naming the first thing wrong, so nothing half-valid is ever saved or rendered.
"""

import math
import re
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

from witnessbox.core.errors import WitnessboxError
from witnessbox.media.redact import AUDIO_MODES, EFFECTS

SOURCES = ("auto", "manual")
MAX_REGIONS = 500
MAX_KEYFRAMES = 200_000  # over all regions: a face in every frame of an hour at 25 fps is 90,000
MAX_AUDIO_RANGES = 500
MAX_LABEL = 120
SLACK_S = 1.0  # times may run this far past the recorded duration (rounding, a last frame's length)
_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_PLAN_KEYS = frozenset({"effect", "regions", "audio"})
_REGION_KEYS = frozenset({"id", "source", "enabled", "label", "keyframes"})
_KEYFRAME_KEYS = frozenset({"t", "box", "score"})
_AUDIO_KEYS = frozenset({"start", "end", "mode"})


class InvalidPlan(WitnessboxError):
    """A redaction plan that cannot be saved or rendered; `reason` names what is wrong and where."""

    status = 422


def empty_plan() -> dict[str, Any]:
    """The plan of an item nobody has worked on: nothing covered, nothing silenced."""
    return {"effect": "pixelate", "regions": [], "audio": []}


def checked(plan: object, *, duration_s: float | None) -> dict[str, Any]:
    """The plan as kept, or InvalidPlan naming the first fault."""
    data = _mapping(plan, "the plan", _PLAN_KEYS, required=frozenset({"regions"}))
    effect = data.get("effect", "pixelate")
    if effect not in EFFECTS:
        raise InvalidPlan(f"effect must be one of {', '.join(EFFECTS)}, not {effect!r}")
    limit = None if duration_s is None else duration_s + SLACK_S
    regions = _list(data["regions"], "regions", MAX_REGIONS)
    kept_regions = [_region(region, f"regions[{n}]", limit) for n, region in enumerate(regions)]
    ids = [region["id"] for region in kept_regions]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate is not None:
        raise InvalidPlan(f"region id {duplicate!r} is used twice: each region needs its own id")
    if sum(len(region["keyframes"]) for region in kept_regions) > MAX_KEYFRAMES:
        raise InvalidPlan(f"a plan holds at most {MAX_KEYFRAMES} keyframes in all")
    audio = _list(data.get("audio", []), "audio", MAX_AUDIO_RANGES)
    kept_audio = [_sound(item, f"audio[{n}]", limit) for n, item in enumerate(audio)]
    return {"effect": effect, "regions": kept_regions, "audio": kept_audio}


def _mapping(
    value: object, where: str, allowed: frozenset[str], required: frozenset[str]
) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidPlan(f"{where} must be an object")
    unknown = sorted(set(map(str, value)) - allowed)
    if unknown:
        raise InvalidPlan(f"{where} has unknown field {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    missing = sorted(required - set(value))
    if missing:
        raise InvalidPlan(f"{where} lacks {missing[0]!r}")
    return value


def _list(value: object, where: str, most: int) -> Sequence[Any]:
    if not isinstance(value, list):
        raise InvalidPlan(f"{where} must be a list")
    if len(value) > most:
        raise InvalidPlan(f"{where} holds at most {most} entries, not {len(value)}")
    return value


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidPlan(f"{where} must be a finite number")
    return float(value)


def _time(value: object, where: str, limit: float | None) -> float:
    t = _number(value, where)
    if t < 0:
        raise InvalidPlan(f"{where} is {t}: times are seconds from the start, never negative")
    if limit is not None and t > limit:
        raise InvalidPlan(f"{where} is {t} s, past the end of the recording ({limit - SLACK_S:.2f} s)")
    return t


def _region(value: object, where: str, limit: float | None) -> dict[str, Any]:
    data = _mapping(value, where, _REGION_KEYS, required=frozenset({"id", "keyframes"}))
    region_id = data["id"]
    if not isinstance(region_id, str) or not _ID.match(region_id):
        raise InvalidPlan(f"{where}.id must be 1 to 40 letters, digits, '-' or '_'")
    source = data.get("source", "manual")
    if source not in SOURCES:
        raise InvalidPlan(f"{where}.source must be auto or manual, not {source!r}")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidPlan(f"{where}.enabled must be true or false")
    label = data.get("label") or ""
    if not isinstance(label, str) or len(label) > MAX_LABEL:
        raise InvalidPlan(f"{where}.label must be text of at most {MAX_LABEL} characters")
    frames = _list(data["keyframes"], f"{where}.keyframes", MAX_KEYFRAMES)
    if not frames:
        raise InvalidPlan(f"{where}.keyframes is empty: a region needs at least one box")
    keyframes = sorted(
        (_keyframe(frame, f"{where}.keyframes[{n}]", limit) for n, frame in enumerate(frames)),
        key=lambda k: float(k["t"]),
    )
    for before, after in pairwise(keyframes):
        if before["t"] == after["t"]:
            raise InvalidPlan(f"{where} has two boxes at {after['t']} s: one box per moment")
    return {"id": region_id, "source": source, "enabled": enabled, "label": label, "keyframes": keyframes}


def _keyframe(value: object, where: str, limit: float | None) -> dict[str, Any]:
    data = _mapping(value, where, _KEYFRAME_KEYS, required=frozenset({"t", "box"}))
    t = _time(data["t"], f"{where}.t", limit)
    box = data["box"]
    if not isinstance(box, list) or len(box) != 4:
        raise InvalidPlan(f"{where}.box must be [x, y, width, height]")
    x, y, w, h = (_number(v, f"{where}.box") for v in box)
    if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 and 0 < h <= 1):
        raise InvalidPlan(
            f"{where}.box {box} must be fractions of the frame: x, y in [0, 1), width, height in (0, 1]"
        )
    if x + w > 1 + 1e-6 or y + h > 1 + 1e-6:
        raise InvalidPlan(f"{where}.box {box} reaches past the edge of the frame")
    kept: dict[str, Any] = {"t": t, "box": [x, y, w, h]}
    if data.get("score") is not None:
        kept["score"] = _number(data["score"], f"{where}.score")
    return kept


def _sound(value: object, where: str, limit: float | None) -> dict[str, Any]:
    data = _mapping(value, where, _AUDIO_KEYS, required=frozenset({"start", "end", "mode"}))
    start, end = _time(data["start"], f"{where}.start", limit), _time(data["end"], f"{where}.end", limit)
    if end <= start:
        raise InvalidPlan(f"{where} ends ({end} s) before it starts ({start} s)")
    mode = data["mode"]
    if mode not in AUDIO_MODES:
        raise InvalidPlan(f"{where}.mode must be one of {', '.join(AUDIO_MODES)}, not {mode!r}")
    return {"start": start, "end": end, "mode": mode}


def with_detected(plan: Mapping[str, Any], regions: list[dict[str, Any]]) -> dict[str, Any]:
    """The plan with its automatic regions replaced by newly detected ones; manual regions, sound kept."""
    manual = [region for region in plan.get("regions", []) if region.get("source") != "auto"]
    taken = {region["id"] for region in manual}
    fresh = []
    for region in regions:  # a manual region that happens to hold a track's id keeps it; the track is renamed
        region_id, n = region["id"], 2
        while region_id in taken:
            region_id, n = f"{region['id']}-{n}", n + 1
        taken.add(region_id)
        fresh.append({**region, "id": region_id})
    effect = plan.get("effect", "pixelate")
    return {"effect": effect, "regions": fresh + manual, "audio": list(plan.get("audio", []))}
