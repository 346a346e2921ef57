"""Anchor copies kept in two places at once (the anchor directory and the object store)."""

from pathlib import Path

from witnessbox.audit.anchors import AnchorDirectory, BothAnchors


def test_both_copies_are_written_and_a_missed_one_is_written_later(tmp_path: Path) -> None:
    """GIVEN a directory and a second copy that missed one name WHEN listed and written again THEN the name
    counts as anchored only once both hold it, and writing it again fills only the gap."""
    first, second = AnchorDirectory(tmp_path / "dir"), AnchorDirectory(tmp_path / "bucket")
    both = BothAnchors(first, second)
    assert both.write_once("checkpoint-000000000001.json", b"{}")
    assert first.write_once("checkpoint-000000000002.json", b"{}")  # the store was out of reach
    assert both.names() == {"checkpoint-000000000001.json"}
    assert both.write_once("checkpoint-000000000002.json", b"{}")
    assert second.read("checkpoint-000000000002.json") == b"{}"
    assert not both.write_once("checkpoint-000000000002.json", b"changed")
    assert both.read("checkpoint-000000000002.json") == b"{}"
