"""A reason for opening someone else's footage must be a real reason (`policy.meaningful_reason`)."""

import pytest

from witnessbox.accounts.policy import meaningful_reason
from witnessbox.core.errors import InvalidInput

ZERO_WIDTH = "\u200b"


@pytest.mark.parametrize("text", [
    "", "     ", "x", "x x x", "aaaaaaaa", "aaaa bbbb cccc", "ab ab ab ab ab ab", "complaint received",
    "1234567890 26/4411", "...... ?????? !!!!!!", "checking" + ZERO_WIDTH * 40,
    ZERO_WIDTH.join("investigating"),  # letters held apart by invisible characters are still one word
    "\u2060\u200d\ufeff\u00ad \u200e\u200f",  # nothing but format characters
])
def test_padding_and_junk_are_refused(text: str) -> None:
    """GIVEN a reason made of padding, repeated letters, digits or invisible characters WHEN it is checked THEN it is refused, and the refusal says what a reason needs."""
    with pytest.raises(InvalidInput, match="at least 3 different words and 12 letters"):
        meaningful_reason(text)


@pytest.mark.parametrize(("text", "kept"), [
    ("occurrence 26/4411: the arrest", "occurrence 26/4411: the arrest"),
    ("  checking   the\taccess\nmatrix ", "checking the access matrix"),
    ("\uff4f\uff43\uff43\uff55\uff52\uff52\uff45\uff4e\uff43\uff45 of the arrest", "occurrence of the arrest"),
    (f"complaint{ZERO_WIDTH} about the{ZERO_WIDTH} stop", "complaint about the stop"),
    ("Ermittlung wegen Körperverletzung", "Ermittlung wegen Körperverletzung"),
])
def test_real_reasons_are_kept_normalised(text: str, kept: str) -> None:
    """GIVEN a reason in words (full-width letters, stray spaces and zero-width characters included) WHEN it is checked THEN it is accepted and kept NFKC-normalised, invisible characters dropped, spaces collapsed."""
    assert meaningful_reason(text) == kept


def test_an_overlong_reason_is_refused_not_cut() -> None:
    """GIVEN a reason of more than 1000 characters WHEN it is checked THEN it is refused (never silently shortened)."""
    with pytest.raises(InvalidInput, match="at most 1000"):
        meaningful_reason("occurrence of the arrest " * 50)
