"""Sharing outside the force, through the service: who may share what, secrets kept only as
hashes, the access code's throttle, e-mail through a real SMTP server, the access report."""

import email
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from tests.conftest import free_port, fresh_database_url, settings_for
from tests.factories.items import ready_item
from tests.factories.people import PERSONAS, Force, make_force
from witnessbox.accounts.policy import RECIPIENT_PERMISSIONS, Access, ItemFacts, decide
from witnessbox.accounts.roles import Permission
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import Container, build
from witnessbox.cases.models import CaseKind
from witnessbox.config import Settings
from witnessbox.core.actor import Actor, ActorKind
from witnessbox.core.clock import FixedClock
from witnessbox.core.errors import Conflict, Forbidden, Gone, NotFound, TooManyAttempts
from witnessbox.disclosure.models import ExternalShare, RecipientKind, RecipientSession
from witnessbox.disclosure.portal import digest
from witnessbox.disclosure.schemas import ExternalShareIn

PORTAL = "http://127.0.0.1:1/portal/s/"
FROM_BROWSER = Actor(kind=ActorKind.USER, id="anonymous", name="anonymous", request_id="r1",
                     source_address="192.0.2.7")


@dataclass
class Scene:
    """A force, a clock the tests move, two of the owner's items in a case the disclosure officer works."""

    settings: Settings
    container: Container
    force: Force
    clock: FixedClock
    case_id: str
    items: list[str]

    def share(self, persona: str = "case_member", *, container: Container | None = None, **change: Any) -> Any:
        """Share the case (or what `change` says) as `persona`, with a prosecutor, for a week."""
        values: dict[str, Any] = {
            "recipient_name": "Priya Shah", "organisation": "CPS Wessex", "kind": RecipientKind.PROSECUTOR,
            "case_id": self.case_id, "expires_at": self.clock.now() + timedelta(days=7)}
        values.update(change)
        return (container or self.container).external_shares.create(
            ExternalShareIn(**values), actor=self.force.actor(persona), portal_url=PORTAL)

    @contextmanager
    def configured(self, **settings: Any) -> Iterator[Container]:
        """The same system on the same database, built with other settings (mail, who may share)."""
        other = build(self.settings.model_copy(update=settings), clock=self.clock)
        try:
            yield other
        finally:
            other.close()


def _scene(settings: Settings) -> Iterator[Scene]:
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    container = build(settings, clock=clock)
    try:
        force = make_force(container)
        owner = force.actor("owner")
        items = [ready_item(container, owner, clock.now() - timedelta(hours=h), 30.0) for h in (2, 1)]
        investigator = force.actor("investigator")
        case = container.cases.create("CR/10001/26", "Assault at the bus station", actor=investigator)
        container.cases.add_member(case.id, PERSONAS["case_member"][0], actor=investigator)
        for item_id in items:
            container.evidence.authorise(item_id, Permission.ITEM_VIEW, actor=investigator,
                                         reason="building the case file for court")
        container.cases.add_items(case.id, items, actor=investigator)
        yield Scene(settings, container, force, clock, case.id, items)
    finally:
        container.close()


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    """One scene for the module (tests make their own shares; the clock only moves forward)."""
    folder = tmp_path_factory.mktemp("external-shares")
    with fresh_database_url(folder) as database_url:
        yield from _scene(settings_for(folder, database_url, workers=0))


def test_a_disclosure_officer_shares_a_case_and_the_secrets_are_kept_only_as_hashes(scene: Scene) -> None:
    """GIVEN a case the disclosure officer works WHEN they share it with a prosecutor (no mail configured) THEN the case's items are shared, the link (>= 128 bits) and code are shown once, and the database holds only their hashes."""
    created = scene.share()
    assert created.delivery == "shown" and created.link and created.code
    assert set(created.item_ids) == set(scene.items)
    link = created.link.removeprefix(PORTAL)
    assert len(link) >= 43  # token_urlsafe(32): 256 random bits
    with scene.container.db.read() as session:
        row = session.get(ExternalShare, created.id)
        assert row is not None
        assert row.link_token_hash == hashlib.sha256(link.encode()).hexdigest()
        assert row.code_hash.startswith("$argon2") and created.code.replace("-", "") not in row.code_hash
        stored = " ".join(str(v) for v in row.__dict__.values())
        assert link not in stored and created.code not in stored
    again = scene.container.external_shares.get(created.id, actor=scene.force.actor("case_member"))
    assert "link" not in again.model_dump() and "code" not in again.model_dump()


def test_a_recipient_session_token_is_kept_as_its_hash(scene: Scene) -> None:
    """GIVEN a share WHEN the recipient signs in THEN the session token is random (>= 128 bits) and stored as its SHA-256 only."""
    created = scene.share()
    token = scene.container.external_shares.portal.sign_in(created.link.removeprefix(PORTAL), created.code,
                                                    request=FROM_BROWSER)
    assert len(token) >= 43
    with scene.container.db.read() as session:
        [row] = session.scalars(select(RecipientSession).where(RecipientSession.share_id == created.id)).all()
        assert row.token_hash == digest(token) and row.source_address == "192.0.2.7"


@pytest.mark.parametrize("persona", ["owner", "supervisor", "investigator", "trainer", "auditor", "sysadmin"])
def test_only_disclosure_officers_and_professional_standards_share_outside(scene: Scene, persona: str) -> None:
    """GIVEN people who may see items but do not disclose WHEN they share outside the force THEN they are refused."""
    with pytest.raises(Forbidden):
        scene.share(persona, case_id=None, item_ids=scene.items[:1])


def test_investigators_share_where_the_force_allows_it(scene: Scene) -> None:
    """GIVEN WITNESSBOX_INVESTIGATORS_MAY_DISCLOSE on WHEN an investigator shares an item they gave a reason for THEN it is shared."""
    with scene.configured(investigators_may_disclose=True) as allowing:
        created = allowing.external_shares.create(ExternalShareIn(
            recipient_name="Tom Price", organisation="Price & Co", kind=RecipientKind.DEFENCE,
            item_ids=scene.items[:1], expires_at=scene.clock.now() + timedelta(days=1)),
            actor=scene.force.actor("investigator"), portal_url=PORTAL)
        assert created.item_ids == scene.items[:1]
        assert allowing.external_shares.may_share(scene.force.actor("investigator"))
        assert not scene.container.external_shares.may_share(scene.force.actor("investigator"))


def test_a_restricted_item_is_shared_by_professional_standards_only(scene: Scene) -> None:
    """GIVEN an item of the case that then joins a complaint case WHEN the disclosure officer shares it THEN it is not found, and sharing the case leaves it out; WHEN professional standards share it with a complaints body THEN the recipient may open it."""
    psd, investigator = scene.force.actor("psd"), scene.force.actor("investigator")
    complained = ready_item(scene.container, scene.force.actor("owner"), scene.clock.now() - timedelta(hours=3), 9.0)
    scene.container.evidence.authorise(complained, Permission.ITEM_VIEW, actor=investigator,
                                       reason="building the case file for court")
    scene.container.cases.add_items(scene.case_id, [complained], actor=investigator)
    complaint = scene.container.cases.create("PSD/1/26", "Complaint", actor=psd, kind=CaseKind.COMPLAINT)
    scene.container.evidence.authorise(complained, Permission.ITEM_VIEW, actor=psd,
                                       reason="complaint received about the arrest")
    scene.container.cases.add_items(complaint.id, [complained], actor=psd)
    with pytest.raises(NotFound):
        scene.share(case_id=None, item_ids=[complained])
    assert set(scene.share().item_ids) == set(scene.items)  # the case shares only what is unrestricted
    created = scene.share("psd", case_id=None, item_ids=[complained], kind=RecipientKind.COMPLAINTS_BODY,
                          organisation="IOPC")
    shares = scene.container.external_shares
    token = shares.portal.sign_in(created.link.removeprefix(PORTAL), created.code, request=FROM_BROWSER)
    recipient = shares.portal.recipient(token, request=FROM_BROWSER)
    assert shares.portal.open_item(recipient, complained).id == complained


def test_a_share_needs_a_future_end_and_one_selection(scene: Scene) -> None:
    """GIVEN the disclosure officer WHEN the end is past, or both a case and items are named THEN refused, nothing shared."""
    before = len(scene.container.external_shares.shares_by(scene.force.actor("case_member")))
    with pytest.raises(Conflict):
        scene.share(expires_at=scene.clock.now() - timedelta(minutes=1))
    with pytest.raises(Exception, match="not both"):
        scene.share(item_ids=scene.items)
    assert len(scene.container.external_shares.shares_by(scene.force.actor("case_member"))) == before


def test_wrong_codes_lock_the_share_for_a_while_and_are_audited(scene: Scene) -> None:
    """GIVEN a share WHEN five wrong codes are tried THEN the fifth locks sign-in (429 with a wait), even the right code is refused until the lock ends, and every failure is audited with its address."""
    created = scene.share()
    shares, link = scene.container.external_shares, created.link.removeprefix(PORTAL)
    for _ in range(4):
        with pytest.raises(Forbidden):
            shares.portal.sign_in(link, "AAAAA-AAAAA", request=FROM_BROWSER)
    with pytest.raises(TooManyAttempts) as locked:
        shares.portal.sign_in(link, "AAAAA-AAAAA", request=FROM_BROWSER)
    assert 0 < locked.value.retry_after_s <= 15 * 60
    with pytest.raises(TooManyAttempts):
        shares.portal.sign_in(link, created.code, request=FROM_BROWSER)
    scene.clock.current += timedelta(minutes=15, seconds=1)
    assert shares.portal.sign_in(link, created.code.lower().replace("-", " "), request=FROM_BROWSER)
    with scene.container.db.read() as session:
        tags = [e.tag for e in session.scalars(select(AuditEvent).where(AuditEvent.subject_id == created.id))]
        addresses = {e.source_address for e in session.scalars(select(AuditEvent).where(
            AuditEvent.tag == AuditTag.DISCLOSURE_PORTAL_SIGNIN_FAILED, AuditEvent.subject_id == created.id))}
    assert tags.count(AuditTag.DISCLOSURE_PORTAL_SIGNIN_FAILED) == 6
    assert tags.count(AuditTag.DISCLOSURE_PORTAL_LOCKED) == 1 and addresses == {"192.0.2.7"}


def test_one_address_guessing_across_many_links_is_stopped(scene: Scene) -> None:
    """GIVEN the limit of wrong codes per address set to 3 WHEN one address tries wrong codes on two shares THEN its next try on a third share is refused (429) even with the right code, and another address still signs in."""
    guesser = replace(FROM_BROWSER, source_address="198.51.100.9")
    with scene.configured(portal_address_attempts=3) as strict:
        portal = strict.external_shares.portal
        first, second, third = (scene.share(container=strict) for _ in range(3))
        for share, tries in ((first, 2), (second, 1)):
            for _ in range(tries):
                with pytest.raises(Forbidden):
                    portal.sign_in(share.link.removeprefix(PORTAL), "AAAAA-AAAAA", request=guesser)
        with pytest.raises(TooManyAttempts):
            portal.sign_in(third.link.removeprefix(PORTAL), third.code, request=guesser)
        other = replace(FROM_BROWSER, source_address="203.0.113.5")
        assert portal.sign_in(third.link.removeprefix(PORTAL), third.code, request=other)


def test_revoked_and_expired_shares_refuse_the_next_request(scene: Scene) -> None:
    """GIVEN a signed-in recipient WHEN the share is revoked (or another one expires) THEN their next request is refused as gone, and so is signing in again."""
    shares = scene.container.external_shares
    created = scene.share()
    link = created.link.removeprefix(PORTAL)
    token = shares.portal.sign_in(link, created.code, request=FROM_BROWSER)
    shares.revoke(created.id, actor=scene.force.actor("case_member"))
    with pytest.raises(Gone):
        shares.portal.recipient(token, request=FROM_BROWSER)
    with pytest.raises(Gone):
        shares.portal.sign_in(link, created.code, request=FROM_BROWSER)
    short = scene.share(expires_at=scene.clock.now() + timedelta(minutes=5))
    token = shares.portal.sign_in(short.link.removeprefix(PORTAL), short.code, request=FROM_BROWSER)
    recipient = shares.portal.recipient(token, request=FROM_BROWSER)
    scene.clock.current += timedelta(minutes=5)
    with pytest.raises(Gone):
        shares.portal.open_proxy(recipient, scene.items[0], first_request=False)
    with pytest.raises(Gone):
        shares.portal.recipient(token, request=FROM_BROWSER)


def test_only_the_sharer_and_overseers_see_or_revoke_a_share(scene: Scene) -> None:
    """GIVEN the disclosure officer's share WHEN others look at or revoke it THEN it is not found for them; professional standards and administrators may."""
    created = scene.share()
    shares = scene.container.external_shares
    for persona in ("owner", "investigator", "auditor"):
        with pytest.raises(NotFound):
            shares.get(created.id, actor=scene.force.actor(persona))
        with pytest.raises(NotFound):
            shares.revoke(created.id, actor=scene.force.actor(persona))
    assert shares.get(created.id, actor=scene.force.actor("psd")).live
    assert not shares.revoke(created.id, actor=scene.force.actor("sysadmin")).live


def test_the_access_report_reads_the_recipients_accesses_from_the_audit_trail(scene: Scene) -> None:
    """GIVEN a recipient who signs in and views one item WHEN the sharer reads the access report THEN it lists the share, the sign-in and the view, with the recipient's name and address."""
    created = scene.share()
    shares = scene.container.external_shares
    token = shares.portal.sign_in(created.link.removeprefix(PORTAL), created.code, request=FROM_BROWSER)
    recipient = shares.portal.recipient(token, request=FROM_BROWSER)
    shares.portal.open_item(recipient, scene.items[1])
    report = shares.access_report(created.id, actor=scene.force.actor("case_member"))
    assert [e.action for e in report] == [AuditTag.DISCLOSURE_SHARE_CREATED, AuditTag.DISCLOSURE_PORTAL_SIGNED_IN,
                                          AuditTag.EVIDENCE_ITEM_VIEWED]
    assert report[-1].actor == "Priya Shah, CPS Wessex" and report[-1].actor_kind == "recipient"
    assert report[-1].item_id == scene.items[1] and report[-1].source_address == "192.0.2.7"


# --- e-mail through a real SMTP server ---------------------------------------------------------------


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        """Keep the message."""
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on loopback for this test."""
    handler, port = Inbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def test_with_smtp_the_link_and_the_code_go_in_two_messages(scene: Scene, inbox: tuple[Inbox, int]) -> None:
    """GIVEN SMTP configured WHEN a share names an e-mail address THEN two messages arrive, one with the link and one with the code, the answer holds neither, and the code from the mail signs in."""
    handler, port = inbox
    with scene.configured(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
                          smtp_from="disclosure@force.example") as mailing:
        created = scene.share(container=mailing, email="priya.shah@cps.example")
        assert created.delivery == "email" and created.link is None and created.code is None
        assert [m["To"] for m in handler.messages] == ["priya.shah@cps.example"] * 2
        link_mail, code_mail = (m.get_payload(decode=True).decode() for m in handler.messages)  # type: ignore[union-attr]
        link = next(w for w in link_mail.split() if w.startswith(PORTAL)).removeprefix(PORTAL)
        code = code_mail.split("is:")[1].split()[0]
        assert code not in link_mail and link not in code_mail
        assert scene.container.external_shares.portal.sign_in(link, code, request=FROM_BROWSER)
        report = scene.container.external_shares.access_report(created.id, actor=scene.force.actor("case_member"))
        assert AuditTag.DISCLOSURE_SHARE_SENT in [e.action for e in report]
        assert handler.messages[0]["From"] == "disclosure@force.example"


def test_when_the_mail_server_refuses_the_sharer_is_shown_the_secrets(scene: Scene) -> None:
    """GIVEN SMTP configured but nothing listening WHEN a share names an e-mail address THEN the share stands and the answer shows the link and code with the reason."""
    with scene.configured(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_starttls=False) as broken:
        created = scene.share(container=broken, email="priya.shah@cps.example")
        assert created.link and created.code and created.mail_error
        assert scene.container.external_shares.get(created.id, actor=scene.force.actor("case_member")).live


# --- the policy's rule for recipients ---------------------------------------------------------------


@pytest.mark.parametrize(("facts", "permission", "scopes", "allowed"), [
    ({"granted": True}, Permission.ITEM_PLAY, {Permission.ITEM_VIEW, Permission.ITEM_PLAY}, True),
    ({"granted": True}, Permission.ITEM_DOWNLOAD, {Permission.ITEM_VIEW, Permission.ITEM_PLAY}, False),
    ({"granted": True}, Permission.ITEM_DOWNLOAD, set(RECIPIENT_PERMISSIONS), True),
    ({"granted": False}, Permission.ITEM_VIEW, set(RECIPIENT_PERMISSIONS), False),
    ({"granted": True, "restricted": True}, Permission.ITEM_VIEW, set(RECIPIENT_PERMISSIONS), False),
    ({"granted": True, "quarantined": True}, Permission.ITEM_VIEW, set(RECIPIENT_PERMISSIONS), False),
    ({"granted": True}, Permission.ITEM_SHARE, set(Permission), False),
    ({"granted": True}, Permission.ITEM_CATEGORISE, set(Permission), False),
])
def test_the_policy_lets_a_recipient_only_view_play_and_download_their_share(
        facts: dict[str, bool], permission: Permission, scopes: set[Permission], allowed: bool) -> None:
    """GIVEN a recipient actor WHEN the policy is asked about an item THEN only viewing, playing and (when the share's scopes say so) downloading an unrestricted, unquarantined item of their share is allowed."""
    actor = Actor(kind=ActorKind.RECIPIENT, id="r", name="Priya Shah, CPS Wessex",
                  scopes=frozenset(str(s) for s in scopes))
    item = ItemFacts(officer_id="o", team_id="t", restricted=facts.get("restricted", False),
                     granted=facts["granted"], quarantined=facts.get("quarantined", False))
    assert (decide(actor, permission, item) == Access.ALLOW) is allowed
    for other in (Permission.ITEM_LIST, Permission.CASE_CREATE, Permission.EXTERNAL_SHARE_CREATE,
                  Permission.UPLOAD_CREATE, Permission.AUDIT_VERIFY):
        assert decide(actor, other) == Access.DENY
