"""Retention through the services on a real database and store, against a clock the tests move:
the schedule and its preview, holds (manual and automatic), the deletion path with dual control,
the recycle window, rescue, purge with a signed certificate, and the audit trail after it all."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.factories.items import ready_item
from tests.factories.people import Force, make_force
from tests.factories.retention import item_with_bytes, records_managers
from witnessbox.accounts.models import Notification
from witnessbox.bootstrap import Container, build
from witnessbox.cases.models import CaseKind
from witnessbox.config import Settings
from witnessbox.core.actor import Actor
from witnessbox.core.clock import FixedClock
from witnessbox.core.errors import Conflict, Forbidden, Gone, NotFound
from witnessbox.evidence.categorise import Categorisation
from witnessbox.evidence.models import Item, ItemState
from witnessbox.retention.models import ClockStart, ItemRetention, Stage
from witnessbox.retention.schedule import RuleSpec
from witnessbox.retention.subject_access import RequestDraft

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass
class Scene:
    """A force with two records managers, and a clock at T0."""

    container: Container
    force: Force
    clock: FixedClock
    managers: list[Actor]

    @property
    def owner(self) -> Actor:
        return self.force.actor("owner")

    def categorise(self, item_id: str, evidential: bool, category: str | None = None) -> None:
        change = Categorisation(evidential=evidential, category=category)
        self.container.categorise.categorise([item_id], change, actor=self.owner)

    def row(self, item_id: str) -> ItemRetention:
        with self.container.db.read() as session:
            return session.get_one(ItemRetention, item_id)

    def after(self, **delta: float) -> None:
        """Move the clock on and sweep."""
        self.clock.advance(**delta)
        self.container.retention.sweep()


@pytest.fixture
def scene(settings: Settings) -> Iterator[Scene]:
    clock = FixedClock(T0)
    container = build(settings, clock=clock)
    try:
        force = make_force(container)
        yield Scene(container, force, clock, records_managers(container))
    finally:
        container.close()


def test_non_evidential_item_is_warned_recycled_and_purged_with_a_signed_certificate(scene: Scene) -> None:
    """GIVEN a non-evidential recording with real bytes and a held one beside it
    WHEN the sweeps run through 31 days, the warning, and the recycle window
    THEN the owner and supervisor were told, the bytes are gone, a signed certificate and a tombstone
    say what went and why, the held recording is untouched, and the audit trail verifies."""
    item_id, blobs = item_with_bytes(scene.container, scene.owner, T0)
    held = ready_item(scene.container, scene.owner, T0, 10.0)
    for each in (item_id, held):
        scene.categorise(each, evidential=False)
    hold = scene.container.holds.place(actor=scene.force.actor("psd"), reason="civil claim expected",
                                       item_id=held)
    scene.container.retention.sweep()
    assert scene.row(item_id).due_at == T0 + timedelta(days=31)

    scene.after(days=18)  # due in 13 days: inside the 14-day warning
    assert scene.row(item_id).stage == Stage.WARNED and scene.row(held).stage == Stage.SCHEDULED
    with scene.container.db.read() as session:
        told = set(session.scalars(select(Notification.user_id).where(Notification.link.contains(item_id))))
    assert told == {scene.force.ids["owner"], scene.force.ids["supervisor"]}

    scene.after(days=14)
    assert scene.row(item_id).stage == Stage.RECYCLED
    assert all(scene.container.retention.blobs.exists(b) for b in blobs)  # kept through the window

    scene.after(days=31)
    assert scene.row(item_id).stage == Stage.PURGED and scene.row(item_id).bytes_removed
    assert not any(scene.container.retention.blobs.exists(b) for b in blobs)
    certificate = scene.container.retention.certificate(item_id, actor=scene.managers[0])
    assert scene.container.retention.verify_certificate(certificate)
    assert certificate.statement["sha256"] == blobs[0] and certificate.statement["rule"]["period_days"] == 31
    assert [d["sha256"] for d in certificate.statement["derivatives"]] == [blobs[1]]
    status = scene.container.retention.status(item_id, actor=scene.managers[0])
    assert status.stage == "purged" and status.certificate_id == certificate.id
    with scene.container.db.read() as session:
        assert session.get_one(Item, item_id).state == ItemState.PURGED
    with pytest.raises(Gone):
        scene.container.evidence.open_original(item_id, actor=scene.owner, first_request=True)
    assert scene.row(held).stage == Stage.SCHEDULED
    assert [h.hold_id for h in scene.container.holds.for_item(held)] == [hold.id]
    assert scene.container.audit.verify().ok


def test_evidential_deletion_needs_two_different_people_and_recovery_needs_two_too(scene: Scene) -> None:
    """GIVEN an evidential theft recording and the schedule shortened for theft (previewed first)
    WHEN its officer, then one records manager twice, then a second approve
    THEN the officer is refused, the repeat is refused, the second person's approval lets the sweep
    recycle it, and two people's recovery brings it back with a later due date."""
    item_id = ready_item(scene.container, scene.owner, T0, 10.0)
    scene.categorise(item_id, evidential=True, category="Theft")
    scene.container.retention.sweep()
    assert scene.row(item_id).retention_class == "evidential"
    change = RuleSpec("evidential:Theft", 20, ClockStart.CATEGORISATION, "force policy")
    effect = scene.container.retention_schedule.preview(change, actor=scene.managers[1])
    assert (effect.items, effect.earlier, effect.later) == (1, 1, 0)
    with pytest.raises(Forbidden):
        scene.container.retention_schedule.change(change, actor=scene.owner)
    scene.container.retention_schedule.change(change, actor=scene.managers[0])
    assert scene.row(item_id).due_at == T0 + timedelta(days=20)

    scene.after(days=7)
    assert scene.row(item_id).stage == Stage.WARNED
    first, second = scene.managers
    with pytest.raises(Forbidden):
        scene.container.retention.approve(item_id, actor=scene.owner)
    with pytest.raises(NotFound):  # a supervisor of another team learns nothing
        scene.container.retention.approve(item_id, actor=scene.force.actor("other_supervisor"))
    assert scene.container.retention.approve(item_id, actor=first) == 1
    with pytest.raises(Conflict):
        scene.container.retention.approve(item_id, actor=first)
    scene.after(days=30)
    assert scene.row(item_id).stage == Stage.WARNED  # one approval is not enough
    assert scene.container.retention.approve(item_id, actor=second) == 2
    scene.after(hours=1)
    assert scene.row(item_id).stage == Stage.RECYCLED

    queue = scene.container.retention.queue(actor=scene.force.actor("supervisor"))
    assert [(e.item_id, e.stage) for e in queue] == [(item_id, "recycled")]
    assert scene.container.retention.recover(item_id, actor=first, reason="CPS asked for it") == 1
    assert scene.container.retention.recover(item_id, actor=scene.force.actor("supervisor"),
                                             reason="agreed") == 2
    row = scene.row(item_id)
    assert row.stage == Stage.SCHEDULED and row.due_at == scene.clock.now() + timedelta(days=90)
    scene.after(days=80)
    assert scene.row(item_id).stage == Stage.WARNED
    assert scene.container.retention.queue(actor=first)[0].approvals == []  # old approvals are spent


def test_automatic_holds_follow_cases_complaints_and_subject_access_requests(scene: Scene) -> None:
    """GIVEN non-evidential recordings in an open case, a complaint case and a subject access request
    WHEN they fall due
    THEN none is warned while the case, complaint or request is open; closing the investigation
    frees its item, the complaint item moves to the complaint rule, and closing the request frees it."""
    in_case, in_complaint, in_request = (ready_item(scene.container, scene.owner, T0, 5.0) for _ in range(3))
    for each in (in_case, in_complaint, in_request):
        scene.categorise(each, evidential=False)
    investigator, psd = scene.force.actor("investigator"), scene.force.actor("psd")
    case = scene.container.cases.create("CR/1/26", "Burglary", actor=investigator)
    scene.container.cases.add_items(case.id, [in_case], actor=investigator, reason="occurrence 26/4411, arrest on Elm Road")
    complaint = scene.container.cases.create("PSD/1/26", "Complaint", actor=psd, kind=CaseKind.COMPLAINT)
    scene.container.cases.add_items(complaint.id, [in_complaint], actor=psd, reason="complaint 26/77 about the arrest on Elm Road")
    with scene.container.db.transaction() as uow:
        uow.session.get_one(Item, in_request).incident_number = "26/1234"
    request, named = scene.container.subject_access.record(
        RequestDraft("SAR/1", "J. Smith", incident_number="26/1234"), actor=scene.managers[0])
    assert named == [in_request]
    assert scene.container.subject_access.items(request.id, actor=scene.managers[1]) == [in_request]
    assert scene.container.subject_access.get(request.id, actor=psd).requester == "J. Smith"
    with pytest.raises(Forbidden):
        scene.container.subject_access.get(request.id, actor=scene.owner)
    kinds = {h.kind for each in (in_case, in_complaint, in_request) for h in scene.container.holds.for_item(each)}
    assert kinds == {"case", "complaint", "subject_access"}

    scene.after(days=60)
    assert {scene.row(i).stage for i in (in_case, in_complaint, in_request)} == {Stage.SCHEDULED}
    scene.container.cases.close(case.id, actor=investigator)
    scene.container.cases.close(complaint.id, actor=psd)
    scene.container.subject_access.close(request.id, actor=scene.managers[0])
    scene.after(hours=1)
    assert scene.row(in_case).stage == Stage.WARNED and scene.row(in_request).stage == Stage.WARNED
    complaint_row = scene.row(in_complaint)
    assert complaint_row.retention_class == "complaint" and complaint_row.stage == Stage.SCHEDULED
    assert complaint_row.due_at == scene.clock.now() - timedelta(hours=1) + timedelta(days=2192)


def test_manual_hold_is_released_only_by_a_permitted_role(scene: Scene) -> None:
    """GIVEN a legal hold on a case
    WHEN its officer, then a records manager release it
    THEN the officer is refused and the release is recorded."""
    investigator = scene.force.actor("investigator")
    case = scene.container.cases.create("CR/2/26", "Robbery", actor=investigator)
    with pytest.raises(Forbidden):
        scene.container.holds.place(actor=investigator, reason="mine", case_id=case.id)
    hold = scene.container.holds.place(actor=scene.managers[0], reason="litigation", case_id=case.id)
    with pytest.raises(Forbidden):
        scene.container.holds.release(hold.id, actor=scene.owner, reason="done")
    released = scene.container.holds.release(hold.id, actor=scene.managers[1], reason="claim settled")
    assert released.released_by_name == scene.managers[1].name
    assert scene.container.holds.active(actor=scene.managers[0]) == []


def test_a_hold_during_the_recycle_window_rescues_the_item_even_if_released_before_the_purge(
    scene: Scene,
) -> None:
    """GIVEN a recycled recording
    WHEN a hold is placed and released within its recycle window, between two sweeps
    THEN the purge does not happen: the item starts again from scheduled."""
    item_id = ready_item(scene.container, scene.owner, T0, 5.0)
    scene.categorise(item_id, evidential=False)
    scene.after(days=18)
    scene.after(days=14)
    assert scene.row(item_id).stage == Stage.RECYCLED
    scene.clock.advance(days=5)
    hold = scene.container.holds.place(actor=scene.managers[0], reason="check", item_id=item_id)
    scene.clock.advance(days=1)
    scene.container.holds.release(hold.id, actor=scene.managers[0], reason="not needed")
    scene.after(days=30)
    assert scene.row(item_id).stage == Stage.SCHEDULED


def test_the_owner_keeps_a_warned_item_with_a_reason(scene: Scene) -> None:
    """GIVEN a warned non-evidential recording
    WHEN its officer keeps it with a reason
    THEN it leaves the queue and is due again 90 days on; a stranger may not keep it."""
    item_id = ready_item(scene.container, scene.owner, T0, 5.0)
    scene.categorise(item_id, evidential=False)
    scene.after(days=18)
    with pytest.raises(NotFound):
        scene.container.retention.keep(item_id, actor=scene.force.actor("stranger"), reason="curious")
    due = scene.container.retention.keep(item_id, actor=scene.owner, reason="suspect identified later")
    assert due == scene.clock.now() + timedelta(days=90)
    assert scene.row(item_id).stage == Stage.SCHEDULED
    scene.after(days=31)
    assert scene.row(item_id).stage == Stage.SCHEDULED


def test_an_external_share_holds_its_item_until_it_expires(scene: Scene) -> None:
    """GIVEN a non-evidential recording shared with a prosecutor for 70 days from a case since closed
    WHEN it falls due
    THEN the share holds it until it expires; then it is warned."""
    from witnessbox.disclosure.models import RecipientKind
    from witnessbox.disclosure.schemas import ExternalShareIn

    item_id = ready_item(scene.container, scene.owner, T0, 5.0)
    scene.categorise(item_id, evidential=False)
    investigator = scene.force.actor("investigator")
    case = scene.container.cases.create("CR/3/26", "Public order", actor=investigator)
    scene.container.cases.add_member(case.id, scene.force.collar("case_member"), actor=investigator)
    scene.container.cases.add_items(case.id, [item_id], actor=investigator,
                                    reason="occurrence 26/4411, arrest on Elm Road")
    scene.container.external_shares.create(ExternalShareIn(
        recipient_name="Priya Shah", organisation="CPS Wessex", kind=RecipientKind.PROSECUTOR,
        item_ids=[item_id], expires_at=T0 + timedelta(days=70)),
        actor=scene.force.actor("case_member"), portal_url="http://127.0.0.1:1/portal/s/")
    scene.container.cases.close(case.id, actor=investigator)
    assert [h.kind for h in scene.container.holds.for_item(item_id)] == ["external_share"]
    scene.after(days=60)
    assert scene.row(item_id).stage == Stage.SCHEDULED
    scene.after(days=11)
    assert scene.container.holds.for_item(item_id) == []
    assert scene.row(item_id).stage == Stage.WARNED


def test_storage_report_counts_kept_held_and_due_footage(scene: Scene) -> None:
    """GIVEN two non-evidential recordings (one held) and an evidential theft recording
    WHEN the report is read after the due dates are computed
    THEN it counts them by category and class, the held one apart, and forecasts the due one's month."""
    free, held, theft = (ready_item(scene.container, scene.owner, T0, 5.0) for _ in range(3))
    for each in (free, held):
        scene.categorise(each, evidential=False)
    scene.categorise(theft, evidential=True, category="Theft")
    scene.container.holds.place(actor=scene.managers[0], reason="claim", item_id=held)
    scene.container.retention.sweep()
    report = scene.container.storage_report.report(actor=scene.managers[0])
    assert {(line.key, line.items) for line in report.by_category} == {("(none)", 2), ("Theft", 1)}
    assert {(line.key, line.items) for line in report.by_class} == {("non_evidential", 2), ("evidential", 1)}
    assert (report.held.items, report.held.bytes) == (1, 1)
    assert [(line.key, line.items) for line in report.due_by_month] == [("2026-02", 1), ("2032-01", 1)]
    with pytest.raises(Forbidden):
        scene.container.storage_report.report(actor=scene.owner)
