"""Categorising recordings: validated against the force's lists and formats, in bulk, audited before/after."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.factories.ingest import hold_jobs, upload_bytes
from tests.factories.people import ISSUED, Force, make_force
from witnessbox.accounts.roles import Permission
from witnessbox.audit.models import AuditEvent
from witnessbox.bootstrap import Container
from witnessbox.core.actor import SYSTEM
from witnessbox.core.errors import Forbidden, InvalidInput, NotFound
from witnessbox.evidence.categorise import Categorisation


@pytest.fixture
def force(container: Container) -> Iterator[Force]:
    hold_jobs(container)
    yield make_force(container)


def _items(container: Container, count: int) -> list[str]:
    return [upload_bytes(container, f"recording {n}".encode(), filename=f"{n}.mp4",
                         started_at=datetime(2026, 11, 26, 8, n, tzinfo=UTC)) for n in range(count)]


def test_officer_categorises_own_recordings_in_bulk_with_audit(container: Container, force: Force) -> None:
    """GIVEN three of the owner's recordings WHEN categorised at once THEN all change and each audit entry has before and after."""
    ids = _items(container, 3)
    change = Categorisation(evidential=True, category="Domestic abuse", incident_number="26/123456",
                            crime_reference="CR/12345/26", title="Call to Elm Road")
    assert container.categorise.categorise(ids, change, actor=force.actor("owner")) == 3
    for item_id in ids:
        item = container.evidence.get(item_id)
        assert (item.evidential, item.category, item.incident_number) == (True, "Domestic abuse", "26/123456")
        assert item.categorised_by == "1142 Alex Morgan"
    with container.db.read() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.tag == "evidence:item:categorised")).all()
    assert len(events) == 3
    assert events[0].details["before"]["category"] is None
    assert events[0].details["after"]["category"] == "Domestic abuse"


def test_later_change_touches_only_given_fields_and_empty_text_clears(container: Container, force: Force) -> None:
    """GIVEN a categorised recording WHEN only notes change, then the title is cleared THEN other fields stay."""
    [item_id] = _items(container, 1)
    owner = force.actor("owner")
    container.categorise.categorise([item_id], Categorisation(evidential=False, title="Patrol"), actor=owner)
    container.categorise.categorise([item_id], Categorisation(notes="Nothing of note"), actor=owner)
    container.categorise.categorise([item_id], Categorisation(title="  "), actor=owner)
    item = container.evidence.get(item_id)
    assert (item.evidential, item.title, item.notes) == (False, None, "Nothing of note")


@pytest.mark.parametrize(("change", "says"), [
    (Categorisation(category="Jaywalking"), "unknown offence category"),
    (Categorisation(incident_number="123"), "incident number"),
    (Categorisation(crime_reference="12345"), "crime reference"),
    (Categorisation(title="x" * 300), "longer than"),
    (Categorisation(), "nothing to change"),
])
def test_bad_values_change_nothing(container: Container, force: Force, change: Categorisation, says: str) -> None:
    """GIVEN recordings WHEN a value breaks the force's lists or formats THEN a clear error and nothing changes."""
    ids = _items(container, 2)
    with pytest.raises(InvalidInput, match=says):
        container.categorise.categorise(ids, change, actor=force.actor("owner"))
    assert all(container.evidence.get(i).categorised_at is None for i in ids)


def test_bulk_is_all_or_nothing_when_one_item_is_not_yours(container: Container, force: Force) -> None:
    """GIVEN one recording of the owner's and one of the stranger's WHEN the owner categorises both at once THEN nothing changes; their own alone then changes."""
    [first] = _items(container, 1)
    container.devices.register_camera("WBX00002", actor=SYSTEM)
    container.devices.assign("WBX00002", force.collar("stranger"), actor=SYSTEM, starts_at=ISSUED)
    second = upload_bytes(container, b"the stranger's", camera="WBX00002")
    owner = force.actor("owner")
    with pytest.raises(NotFound):
        container.categorise.categorise([first, second], Categorisation(evidential=True), actor=owner)
    assert container.evidence.get(first).evidential is None
    container.categorise.categorise([first], Categorisation(evidential=True), actor=owner)
    assert container.evidence.get(first).evidential is True


def test_a_share_is_read_only(container: Container, force: Force) -> None:
    """GIVEN the owner's recording shared with a stranger WHEN the stranger categorises it or shares it on THEN both are refused as read-only (403 with the reason), and nothing changes."""
    [item_id] = _items(container, 1)
    container.sharing.share(item_id, actor=force.actor("owner"), collar_number=force.collar("stranger"))
    stranger = force.actor("stranger")
    with pytest.raises(Forbidden, match="not describe it or share it on"):
        container.categorise.categorise([item_id], Categorisation(title="Mine now"), actor=stranger)
    with pytest.raises(Forbidden, match="not describe it or share it on"):
        container.sharing.share(item_id, actor=stranger, collar_number=force.collar("teammate"))
    assert container.evidence.get(item_id).title is None
    assert len(container.sharing.shares_of(item_id, actor=force.actor("owner"))) == 1


def test_supervisor_categorises_team_recordings_investigator_without_case_cannot(
        container: Container, force: Force) -> None:
    """GIVEN a team's recording WHEN its supervisor categorises THEN it works; an investigator (reason or not) may not."""
    [item_id] = _items(container, 1)
    container.categorise.categorise([item_id], Categorisation(evidential=False), actor=force.actor("supervisor"))
    investigator = force.actor("investigator")
    container.evidence.authorise(item_id, Permission.ITEM_VIEW, actor=investigator, reason="occurrence 26/1, the arrest")
    with pytest.raises(Forbidden, match="not describe it"):  # a reason opens it read-only
        container.categorise.categorise([item_id], Categorisation(evidential=True), actor=investigator)
