"""The redaction plan's strict check (redaction/plans.py) and the merging of detected faces into a plan."""

from typing import Any

import pytest

from witnessbox.redaction.plans import InvalidPlan, checked, with_detected

REGION = {"id": "m1", "source": "manual", "enabled": True, "label": "Plate",
          "keyframes": [{"t": 1.0, "box": [0.1, 0.2, 0.3, 0.4]}, {"t": 0.5, "box": [0.1, 0.2, 0.3, 0.4]}]}
PLAN = {"effect": "box", "regions": [REGION], "audio": [{"start": 1, "end": 2, "mode": "bleep"}]}


def test_a_good_plan_is_kept_with_its_keyframes_in_time_order() -> None:
    """GIVEN a valid plan with keyframes out of order WHEN checked THEN it is kept, keyframes sorted, numbers as floats."""
    kept = checked(PLAN, duration_s=10.0)
    assert [k["t"] for k in kept["regions"][0]["keyframes"]] == [0.5, 1.0]
    assert kept["audio"] == [{"start": 1.0, "end": 2.0, "mode": "bleep"}]
    assert checked({"regions": []}, duration_s=None) == {"effect": "pixelate", "regions": [], "audio": []}


def _with(**change: Any) -> dict[str, Any]:
    return {**PLAN, **change}


@pytest.mark.parametrize(("plan", "says"), [
    pytest.param([], "must be an object", id="not an object"),
    pytest.param({"effect": "box"}, "lacks 'regions'", id="no regions"),
    pytest.param(_with(colour="red"), "unknown field 'colour'", id="unknown field"),
    pytest.param(_with(effect="blur"), "effect must be one of pixelate, box", id="unknown effect"),
    pytest.param(_with(regions=[REGION, REGION]), "used twice", id="duplicate id"),
    pytest.param(_with(regions=[{**REGION, "id": "a b"}]), "letters, digits", id="bad id"),
    pytest.param(_with(regions=[{**REGION, "keyframes": []}]), "at least one box", id="no keyframes"),
    pytest.param(_with(regions=[{**REGION, "enabled": "yes"}]), "true or false", id="enabled not a bool"),
    pytest.param(_with(regions=[{**REGION, "keyframes": [{"t": 1, "box": [0.8, 0.1, 0.3, 0.1]}]}]),
                 "past the edge", id="box past the edge"),
    pytest.param(_with(regions=[{**REGION, "keyframes": [{"t": 1, "box": [0.1, 0.1, 0, 0.1]}]}]),
                 "fractions of the frame", id="empty box"),
    pytest.param(_with(regions=[{**REGION, "keyframes": [{"t": 1, "box": [0.1, 0.1, 0.1]}]}]),
                 "[x, y, width, height]", id="three numbers"),
    pytest.param(_with(regions=[{**REGION, "keyframes": [{"t": float("nan"), "box": [0.1, 0.1, 0.1, 0.1]}]}]),
                 "finite number", id="not a number"),
    pytest.param(_with(regions=[{**REGION, "keyframes": [{"t": 1, "box": [0.1] * 4}, {"t": 1, "box": [0.2] * 4}]}]),
                 "two boxes at 1.0 s", id="two boxes at one moment"),
    pytest.param(_with(audio=[{"start": 2, "end": 1, "mode": "mute"}]), "before it starts", id="backwards range"),
    pytest.param(_with(audio=[{"start": 1, "end": 99, "mode": "mute"}]), "past the end", id="past the end"),
    pytest.param(_with(audio=[{"start": -1, "end": 1, "mode": "mute"}]), "never negative", id="negative time"),
    pytest.param(_with(audio=[{"start": 1, "end": 2, "mode": "beep"}]), "mute, bleep", id="unknown mode"),
])
def test_a_bad_plan_is_refused_naming_the_fault(plan: object, says: str) -> None:
    """GIVEN a plan breaking one rule WHEN checked THEN InvalidPlan (422) says what is wrong and where."""
    with pytest.raises(InvalidPlan) as refused:
        checked(plan, duration_s=10.0)
    assert refused.value.status == 422 and says in refused.value.reason


def test_detected_faces_replace_automatic_regions_and_keep_the_rest() -> None:
    """GIVEN a plan with an old automatic region, a manual region holding id f1, sound ranges and an effect
    WHEN new tracks f1 and f2 are merged THEN the old automatic region is gone, the tracks come in
    (f1 renamed so the manual region keeps its id) and the manual work is kept."""
    old = {"id": "f9", "source": "auto", "enabled": False, "keyframes": REGION["keyframes"]}
    manual = {**REGION, "id": "f1"}
    plan = {**PLAN, "regions": [old, manual]}
    tracks = [{"id": "f1", "source": "auto", "enabled": True, "keyframes": REGION["keyframes"]},
              {"id": "f2", "source": "auto", "enabled": True, "keyframes": REGION["keyframes"]}]
    merged = with_detected(plan, tracks)
    assert [r["id"] for r in merged["regions"]] == ["f1-2", "f2", "f1"]
    assert merged["regions"][2] == manual and merged["audio"] == PLAN["audio"] and merged["effect"] == "box"
