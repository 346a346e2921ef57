"""The case pages over a real server: open a case, add recordings in bulk, invite, see the timeline;
who may not, and what the audit trail keeps."""

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import LiveServer, free_port, fresh_database_url, settings_for
from tests.factories.items import ready_item
from tests.factories.people import PASSWORD, PERSONAS, Force, make_force
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import Container, build

HTML = {"Accept": "text/html"}
MORNING = datetime(2026, 11, 26, 8, 30, tzinfo=UTC)
BAR = re.compile(
    r'class="tl-bar" href="/items/(\w+)" data-item="\w+" data-left="([\d.]+)" data-width="([\d.]+)"'
)


@dataclass
class Site:
    """A running server, its force, and three recordings of one incident by two officers."""

    server: LiveServer
    container: Container
    force: Force
    items: list[str]  # in recorded order: owner 08:30, teammate 08:31, owner 08:40

    def client(self, persona: str) -> httpx.Client:
        """A signed-in browser session of a persona, with its CSRF token in the header."""
        client = httpx.Client(base_url=self.server.url, timeout=30, headers=HTML)
        response = client.post("/login", data={"username": PERSONAS[persona][0], "password": PASSWORD})
        assert response.status_code == 303, response.text
        client.headers["X-CSRF-Token"] = client.get("/api/v1/me").json()["csrf_token"]
        return client

    def audited(self, tag: AuditTag, subject_id: str) -> list[AuditEvent]:
        """The audit entries of one kind about one thing."""
        with self.container.db.read() as session:
            return list(
                session.scalars(
                    select(AuditEvent).where(AuditEvent.tag == str(tag), AuditEvent.subject_id == subject_id)
                )
            )


def _recording(container: Container, force: Force, persona: str, start: datetime, seconds: float) -> str:
    """A ready item recorded by a persona, its length known (as probing would record it)."""
    return ready_item(
        container, force.actor(persona), start, seconds, camera=f"CAM-{persona}", filename=f"{persona}-{start:%H%M}.mp4"
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One server and one force for the module (starting a server takes seconds)."""
    folder: Path = tmp_path_factory.mktemp("case-pages")
    with fresh_database_url(folder) as database_url:
        settings = settings_for(folder, database_url, workers=0)
        container = build(settings)
        force = make_force(container, camera=None)
        items = [
            _recording(container, force, "owner", MORNING, 120),
            _recording(container, force, "teammate", MORNING + timedelta(minutes=1), 90),
            _recording(container, force, "owner", MORNING + timedelta(minutes=10), 60),
        ]
        server = LiveServer(settings=settings, port=free_port(), log=folder / "server.log")
        server.start()
        try:
            yield Site(server, container, force, items)
        finally:
            server.stop()
            container.close()


def _open(client: httpx.Client, reference: str, kind: str = "investigation") -> httpx.Response:
    return client.post(
        "/cases", data={"reference": reference, "title": "Disorder on Bridge Street", "kind": kind}
    )


def _new_case(client: httpx.Client) -> str:
    opened = _open(client, f"CR/{secrets.token_hex(3)}/26")
    assert opened.status_code == 303, opened.text
    return opened.headers["location"].split("/")[-1].split("?")[0]


def _add(client: httpx.Client, case_id: str, item_ids: list[str], reason: str = "") -> httpx.Response:
    return client.post("/cases/add-items", data={"case_id": case_id, "item_ids": item_ids, "reason": reason})


def test_an_investigator_builds_a_case_and_an_invited_officer_sees_it(site: Site) -> None:
    """GIVEN three recordings by two officers WHEN an investigator opens a case, adds all three in one
    bulk form (giving the reason the policy asks for) and invites an officer THEN the case page lists
    them with one timeline bar each, in time order, one lane per officer and camera; the invited
    officer sees the case and every recording in it; and the audit trail has each step."""
    lead = site.client("investigator")
    assert 'id="new-case-form"' in lead.get("/cases").text
    case_id = _new_case(lead)
    assert site.audited(AuditTag.CASE_CASE_CREATED, case_id)

    asked = _add(lead, case_id, site.items)
    assert asked.status_code == 403 and 'id="reason-form"' in asked.text, asked.text[:300]
    assert all(f'name="item_ids" value="{item_id}"' in asked.text for item_id in site.items)
    added = _add(lead, case_id, site.items, reason="footage of the disorder on Bridge Street")
    assert added.status_code == 303 and added.headers["location"] == f"/cases/{case_id}?done=items"
    invited = lead.post(f"/cases/{case_id}/members", data={"collar_number": PERSONAS["teammate"][0]})
    assert invited.status_code == 303

    page = lead.get(f"/cases/{case_id}").text
    bars = [(item, float(left), float(width)) for item, left, width in BAR.findall(page)]
    assert sorted(bars, key=lambda bar: bar[1]) == sorted(bars, key=lambda bar: site.items.index(bar[0]))
    assert {bar[0] for bar in bars} == set(site.items)
    assert bars[0][1] == 0 and max(left + width for _item, left, width in bars) == pytest.approx(100)
    assert page.count('class="tl-row tl-lane"') == 2 and page.count('class="tl-tick"') >= 3
    assert PERSONAS["teammate"][1] in page and 'href="/"' in page

    officer = site.client("teammate")
    assert f'href="/cases/{case_id}"' in officer.get("/cases").text
    listed = officer.get(f"/api/v1/cases/{case_id}/items").json()
    assert [item["id"] for item in listed] == site.items  # the owner's too, through the case
    assert officer.get(f"/api/v1/items/{site.items[0]}").status_code == 200
    assert 'id="invite-form"' not in officer.get(f"/cases/{case_id}").text  # officers do not manage cases

    for item_id in site.items:
        assert site.audited(AuditTag.CASE_ITEM_ADDED, item_id)
        assert site.audited(AuditTag.EVIDENCE_ITEM_REASON_GIVEN, item_id)
    [member] = site.audited(AuditTag.CASE_MEMBER_ADDED, case_id)
    assert PERSONAS["teammate"][1] in member.details["member"]


def test_refusals_are_shown_on_the_page(site: Site) -> None:
    """GIVEN an investigator's case WHEN they reuse its reference, invite an unknown collar number or
    open a complaint case, and an officer tries to open a case THEN each page says why, with the
    refusal's status, and nothing is changed."""
    lead = site.client("investigator")
    case_id = _new_case(lead)
    reference = re.search(r'class="case-ref">([^<]+)<', lead.get(f"/cases/{case_id}").text)
    assert reference
    again = _open(lead, reference.group(1))
    assert again.status_code == 409 and "already exists" in again.text and 'role="alert"' in again.text
    unknown = lead.post(f"/cases/{case_id}/members", data={"collar_number": "0000"})
    assert unknown.status_code == 404 and "no user with collar number" in unknown.text
    complaint = _open(lead, "PSD/not-mine", kind="complaint")
    assert complaint.status_code == 403 and "only professional standards" in complaint.text
    assert 'value="complaint"' not in lead.get("/cases").text
    officer = site.client("owner")
    assert 'id="new-case-form"' not in officer.get("/cases").text
    refused = _open(officer, "CR/officer/26")
    assert refused.status_code == 403 and "you may not" in refused.text
    mine = [case.id for case in site.container.cases.cases_for(site.force.actor("investigator"))]
    assert mine.count(case_id) == 1


def test_outsiders_and_complaints(site: Site) -> None:
    """GIVEN an investigation and a complaint case WHEN someone outside them asks for, adds to or
    invites to them THEN 404, as if they did not exist; the complaint case is listed to professional
    standards only and its recordings become theirs alone."""
    lead = site.client("investigator")
    case_id = _new_case(lead)
    for persona in ("stranger", "case_member", "sysadmin"):
        outsider = site.client(persona)
        assert outsider.get(f"/cases/{case_id}").status_code == 404, persona
        assert outsider.get(f"/api/v1/cases/{case_id}/items").status_code == 404, persona
        assert _add(outsider, case_id, site.items[:1]).status_code in (403, 404), persona
        invite = outsider.post(f"/cases/{case_id}/members", data={"collar_number": PERSONAS[persona][0]})
        assert invite.status_code in (403, 404), persona
        assert case_id not in outsider.get("/cases").text, persona

    psd = site.client("psd")
    assert 'value="complaint"' in psd.get("/cases").text
    opened = _open(psd, f"PSD/{secrets.token_hex(3)}", kind="complaint")
    assert opened.status_code == 303
    complaint_id = opened.headers["location"].split("/")[-1].split("?")[0]
    extra = _recording(site.container, site.force, "stranger", MORNING + timedelta(hours=2), 30)
    assert _add(psd, complaint_id, [extra], reason="complaint about the stop, ref 26/991").status_code == 303
    assert 'data-item="' + extra in psd.get(f"/cases/{complaint_id}").text
    assert complaint_id in psd.get("/cases").text and complaint_id not in lead.get("/cases").text
    assert site.client("stranger").get(f"/api/v1/items/{extra}").status_code == 404  # restricted now


def test_taking_items_and_members_off_a_case(site: Site) -> None:
    """GIVEN a case with a recording and an invited officer WHEN the investigator removes the recording
    and then the officer THEN the officer loses the access the case gave, both are audited, and the
    last member cannot be removed."""
    lead = site.client("investigator")
    case_id = _new_case(lead)
    item_id = site.items[0]
    assert _add(lead, case_id, [item_id], reason="the first officer's view of the arrest").status_code == 303
    invited = lead.post(f"/cases/{case_id}/members", data={"collar_number": PERSONAS["stranger"][0]})
    assert invited.status_code == 303
    stranger = site.client("stranger")
    assert stranger.get(f"/api/v1/items/{item_id}").status_code == 200

    assert lead.post(f"/cases/{case_id}/items/{item_id}/remove").status_code == 303
    assert stranger.get(f"/api/v1/items/{item_id}").status_code == 404
    assert stranger.get(f"/api/v1/cases/{case_id}/items").json() == []
    assert [e.details["case"] for e in site.audited(AuditTag.CASE_ITEM_REMOVED, item_id)]

    stranger_id = site.force.ids["stranger"]
    assert lead.post(f"/cases/{case_id}/members/{stranger_id}/remove").status_code == 303
    assert stranger.get(f"/cases/{case_id}").status_code == 404
    assert site.audited(AuditTag.CASE_MEMBER_REMOVED, case_id)
    lead_id = site.force.ids["investigator"]
    last = lead.post(f"/cases/{case_id}/members/{lead_id}/remove")
    assert last.status_code == 400 and "at least one member" in last.text
