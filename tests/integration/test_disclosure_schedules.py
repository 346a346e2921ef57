"""Disclosure schedules over a real server: every recording of a case listed, decided with reasons, exported.

Items are records made through the evidence service (no bytes needed); the case and its people are
made through the cases service; everything asserted is what the server answers and what the audit
trail holds.
"""

import csv
import io
import re
import threading
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import event, select

from tests.conftest import LiveServer, free_port, fresh_database_url, settings_for
from tests.factories.items import ready_item
from tests.factories.people import PASSWORD, PERSONAS, Force, make_force
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import Container, build
from witnessbox.cases.models import CaseKind
from witnessbox.disclosure.schedules.export import CSV_COLUMNS
from witnessbox.evidence.categorise import Categorisation

START = datetime(2026, 10, 3, 22, 15, tzinfo=UTC)


@dataclass
class World:
    """One server, the force, signed-in people, and a case with two recordings worked by the disclosure officer."""

    server: LiveServer
    container: Container
    force: Force
    clients: dict[str, httpx.Client]
    case_id: str
    items: list[str]

    def record(self, persona: str = "owner", minutes: float = 0, **extra: str) -> str:
        """A ready ten-minute recording by `persona`, `minutes` after the scene's start."""
        start = START + timedelta(minutes=minutes)
        return ready_item(self.container, self.force.actor(persona), start, 600, **extra)

    def add(self, *item_ids: str) -> None:
        """Put recordings in the case, as its lead investigator."""
        self.container.cases.add_items(
            self.case_id, list(item_ids), actor=self.force.actor("investigator"), reason="arrest at the Maltings"
        )

    def schedule(self, persona: str = "case_member") -> dict[str, dict]:
        """The schedule's entries by item id, as the API gives them to `persona`."""
        response = self.clients[persona].get(f"/api/v1/cases/{self.case_id}/schedule")
        assert response.status_code == 200, response.text
        return {entry["item_id"]: entry for entry in response.json()["entries"]}

    def put(self, item_id: str, persona: str = "case_member", **entry: object) -> httpx.Response:
        """Send one entry."""
        return self.clients[persona].put(f"/api/v1/cases/{self.case_id}/schedule/{item_id}", json=entry)

    def audited(self, tag: AuditTag) -> list[AuditEvent]:
        """Entries of one kind, oldest first."""
        with self.container.db.read() as session:
            return list(session.scalars(select(AuditEvent).where(AuditEvent.tag == tag).order_by(AuditEvent.seq)))


def _signed_in(url: str, persona: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    response = client.post("/login", data={"username": PERSONAS[persona][0], "password": PASSWORD})
    assert response.status_code == 303, response.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/cases").text)
    assert token, "a signed-in page carries the session's CSRF token"
    client.headers["x-csrf-token"] = token.group(1)  # the API over the session cookie, as the pages' scripts call it
    return client


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One server and force for the module; the investigator opens the case and invites the disclosure
    officer (case_member) and the teammate (an officer: a member who reads but does not decide)."""
    folder = tmp_path_factory.mktemp("schedules")
    with fresh_database_url(folder) as database_url:
        settings = settings_for(folder, database_url, workers=1)
        container = build(settings)
        server = LiveServer(settings=settings, port=free_port(), log=folder / "server.log")
        server.start()
        try:
            force = make_force(container)
            lead = force.actor("investigator")
            case = container.cases.create("OP-MALTINGS", "Assault at the Maltings", actor=lead)
            for persona in ("case_member", "teammate"):
                container.cases.add_member(case.id, force.collar(persona), actor=lead)
            personas = ("case_member", "teammate", "investigator", "owner", "psd", "stranger")
            clients = {persona: _signed_in(server.url, persona) for persona in personas}
            world = World(server, container, force, clients, case.id, [])
            world.items = [world.record(camera="CAM-1"), world.record("teammate", 2, camera="CAM-2")]
            world.add(*world.items)
            yield world
            for client in clients.values():
                client.close()
        finally:
            server.stop()
            container.close()


def test_every_recording_of_the_case_is_listed_and_a_later_one_appears_undecided(world: World) -> None:
    """GIVEN a case with two recordings WHEN the disclosure officer reads its schedule, and a third
    recording is added to the case THEN each is listed in recorded order on MG6C, unused and undecided,
    described and referenced from its own record; the third appears at once, undecided too."""
    first, second = world.items
    world.container.categorise.categorise(
        [first], Categorisation(crime_reference="NK/0412/26", title="Arrest outside the Maltings"),
        actor=world.force.actor("owner"))
    entries = world.schedule()
    assert list(entries) == [first, second]
    entry = entries[first]
    assert entry["status"] == "undecided" and entry["schedule"] == "mg6c" and entry["used"] is False
    assert entry["number"] == "C1" and entries[second]["number"] == "C2"
    assert entry["reference"] == f"{first[-8:]} / CR NK/0412/26"
    assert entry["description"].startswith("Arrest outside the Maltings: recorded by 1142 Alex Morgan on camera CAM-1")
    assert entry["described_by_default"] is True and entry["decision"] is None

    later = world.record("teammate", 5, camera="CAM-3")
    world.add(later)
    after = world.schedule()
    assert list(after) == [first, second, later] and after[later]["status"] == "undecided"
    response = world.clients["case_member"].get(f"/api/v1/cases/{world.case_id}/schedule").json()
    assert response["undecided"] >= 3 and response["may_decide"] is True


def test_a_decision_is_kept_with_its_reasons_and_audited_with_before_and_after(world: World) -> None:
    """GIVEN an undecided recording WHEN the disclosure officer decides "do not disclose" and then changes
    it to "disclose" THEN each is kept with their name and time, and each is in the audit trail with what
    it was before and after; sending the same entry again changes and audits nothing."""
    item = world.record(minutes=7, camera="CAM-4")
    world.add(item)
    first = world.put(item, decision="do_not_disclose", reasons="Shows only the cordon after the arrest")
    assert first.status_code == 200, first.text
    assert first.json()["decided_by"] == "5121 Ray Wood" and first.json()["status"] == "decided"
    changed = world.put(item, decision="disclose", reasons="Shows the complainant before the arrest",
                        description="Cordon, Maltings car park")
    assert changed.status_code == 200
    again = world.put(item, decision="disclose", reasons="Shows the complainant before the arrest",
                      description="Cordon, Maltings car park")
    assert again.status_code == 200
    entry = world.schedule()[item]
    assert entry["decision"] == "disclose" and entry["description"] == "Cordon, Maltings car park"
    assert entry["described_by_default"] is False

    events = [e for e in world.audited(AuditTag.DISCLOSURE_SCHEDULE_DECIDED) if e.subject_id == item]
    assert len(events) == 2
    assert events[0].details["before"] is None
    assert events[0].details["after"]["decision"] == "do_not_disclose"
    assert events[1].details["before"]["decision"] == "do_not_disclose"
    assert events[1].details["after"] == {"schedule": "mg6c", "used": False, "description": "Cordon, Maltings car park",
                                          "decision": "disclose", "reasons": "Shows the complainant before the arrest"}
    assert events[1].actor_name == "5121 Ray Wood" and events[1].details["case"] == "OP-MALTINGS"


@pytest.mark.parametrize(("entry", "says"), [
    ({"used": True, "decision": "disclose", "reasons": "relied on"}, "no disclosure decision"),
    ({"schedule": "mg6d", "decision": "disclose", "reasons": "informant visible"}, "MG6D"),
    ({"decision": "clearly_not_disclosable"}, "reasons"),
    ({"decision": "do_not_disclose", "reasons": " \u00a0 "}, "reasons"),
])
def test_entries_against_the_rules_are_refused_and_change_nothing(world: World, entry: dict, says: str) -> None:
    """GIVEN an undecided recording WHEN an entry breaks a rule (used with a decision, MG6D disclosed,
    a decision without reasons) THEN 400 saying which, and the recording stays undecided."""
    item = world.items[1]
    response = world.put(item, **entry)
    assert response.status_code in (400, 422), response.text
    assert says in response.text
    assert world.schedule()[item]["status"] == "undecided"


def test_used_and_sensitive_material_is_scheduled_as_such(world: World) -> None:
    """GIVEN recordings of the case WHEN one is marked used and one put on MG6D "do not disclose"
    THEN the used one is numbered U, takes no decision and is not undecided; the sensitive one is D1."""
    used, sensitive = world.record(minutes=20, camera="CAM-U"), world.record(minutes=21, camera="CAM-S")
    world.add(used, sensitive)
    assert world.put(used, used=True).status_code == 200
    assert world.put(sensitive, schedule="mg6d", decision="do_not_disclose",
                     reasons="Shows the observation post").status_code == 200
    entries = world.schedule()
    assert entries[used]["status"] == "used" and entries[used]["number"].startswith("U")
    assert entries[sensitive]["number"] == "D1" and entries[sensitive]["schedule"] == "mg6d"


def test_members_read_those_who_work_the_material_decide_and_outsiders_see_nothing(world: World) -> None:
    """GIVEN the case WHEN a member officer, the lead investigator, PSD, the recording's officer (no
    member) and a stranger read and decide THEN the officer member reads but may not decide (403); the
    investigator and PSD decide; outsiders are told the case is not found (404), and officers, who
    decide no schedule anywhere, are refused deciding (403), as they are managing any case."""
    item = world.items[0]
    assert world.clients["teammate"].get(f"/api/v1/cases/{world.case_id}/schedule").json()["may_decide"] is False
    assert world.put(item, "teammate", decision="disclose", reasons="x y z").status_code == 403
    for persona in ("investigator", "psd"):
        response = world.put(item, persona, decision="clearly_not_disclosable", reasons="Empty stairwell only")
        assert response.status_code == 200, (persona, response.text)
    for persona in ("owner", "stranger"):
        assert world.clients[persona].get(f"/api/v1/cases/{world.case_id}/schedule").status_code == 404
        assert world.put(item, persona, decision="disclose", reasons="a b c").status_code == 403  # no deciding role
    assert world.put("0" * 26, decision="disclose", reasons="not in the case").status_code == 404
    outside = world.record(minutes=90, camera="CAM-OUT")
    assert world.put(outside, decision="disclose", reasons="not in the case").status_code == 404


def test_a_complaint_case_schedule_is_for_professional_standards_only(world: World) -> None:
    """GIVEN a recording of the case that is then added to a complaint case WHEN the disclosure officer
    reads the investigation's schedule THEN it is still listed (nothing missing) but only as restricted,
    with no details, and may not be decided; PSD sees and decides it; the complaint's own schedule is PSD's alone."""
    item = world.record(minutes=40, camera="CAM-C")
    world.add(item)
    psd = world.force.actor("psd")
    complaint = world.container.cases.create("PSD-77", "Complaint: use of force", actor=psd, kind=CaseKind.COMPLAINT)
    world.container.cases.add_items(complaint.id, [item], actor=psd, reason="complaint about the arrest")
    entry = world.schedule()[item]
    assert entry["status"] == "restricted" and entry["officer"] is None and "professional standards" in entry["description"]
    assert world.put(item, decision="disclose", reasons="reason words").status_code == 404
    assert world.schedule("psd")[item]["status"] == "undecided"
    assert world.clients["case_member"].get(f"/api/v1/cases/{complaint.id}/schedule").status_code == 404
    assert world.clients["psd"].get(f"/api/v1/cases/{complaint.id}/schedule").status_code == 200
    inside = world.clients["investigator"].put(f"/api/v1/cases/{complaint.id}/schedule/{item}",
                                               json={"decision": "disclose", "reasons": "not my case"})
    assert inside.status_code == 404


def _pdf_text(body: bytes) -> str:
    """The text drawn on a PDF's pages (its content streams inflated)."""
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", body, re.DOTALL)
    out = []
    for stream in streams:
        try:
            out.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            out.append(stream.decode("latin-1"))
    return "\n".join(out)


def test_exports_list_every_entry_and_are_audited(world: World) -> None:
    """GIVEN the case's schedule WHEN the disclosure officer exports the CSV and the MG6C and MG6D PDFs
    THEN the CSV has the stable columns and one row per recording of the case; each PDF is titled with
    its schedule and case, names the officer, numbers its pages, and lists only its own schedule's unused
    entries; every export is in the audit trail."""
    client = world.clients["case_member"]
    entries = world.schedule()
    csv_response = client.get(f"/api/v1/cases/{world.case_id}/schedule/export.csv")
    assert csv_response.status_code == 200 and csv_response.headers["content-type"].startswith("text/csv")
    assert "OP-MALTINGS-schedules.csv" in csv_response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [row[4] for row in rows[1:]] == list(entries)
    assert {row[2] for row in rows[1:]} <= {"MG6C", "MG6D", "used", ""}

    mg6c = client.get(f"/api/v1/cases/{world.case_id}/schedule/export.pdf", params={"schedule": "mg6c"})
    assert mg6c.status_code == 200 and mg6c.content.startswith(b"%PDF")
    text = _pdf_text(mg6c.content)
    assert "MG6C Schedule of non-sensitive unused material - case OP-MALTINGS" in text
    assert "Disclosure officer: 5121 Ray Wood" in text and "Page 1 of" in text
    assert "D1" not in text
    mg6d = _pdf_text(client.get(f"/api/v1/cases/{world.case_id}/schedule/export.pdf",
                                params={"schedule": "mg6d"}).content)
    assert "MG6D Schedule of sensitive unused material" in mg6d and "observation post" in mg6d
    exports = [e.details["export"] for e in world.audited(AuditTag.DISCLOSURE_SCHEDULE_EXPORTED)]
    assert exports[-3:] == ["csv", "pdf-mg6c", "pdf-mg6d"]


def test_the_page_edits_an_entry_without_script_and_shows_refusals_with_what_was_sent(world: World) -> None:
    """GIVEN the schedule page WHEN the disclosure officer saves a row's form, then sends one without
    reasons THEN the first redirects back to the row with the entry saved; the second shows the page
    again (400) with the reason and the text they typed; a member who may not decide gets no forms."""
    client = world.clients["case_member"]
    page = client.get(f"/cases/{world.case_id}/schedule")
    assert page.status_code == 200 and 'id="schedule"' in page.text and "undecided" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    item = world.record(minutes=60, camera="CAM-P")
    world.add(item)
    saved = client.post(f"/cases/{world.case_id}/schedule/{item}", data={
        "csrf_token": token.group(1), "schedule": "mg6c", "decision": "do_not_disclose",
        "reasons": "Patrol car interior only", "description": ""}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith(f"#entry-{item}")
    assert world.schedule()[item]["reasons"] == "Patrol car interior only"
    assert world.schedule()[item]["described_by_default"] is True
    refused = client.post(f"/cases/{world.case_id}/schedule/{item}", data={
        "csrf_token": token.group(1), "schedule": "mg6c", "decision": "disclose", "reasons": "",
        "description": "My own words"})
    assert refused.status_code == 400 and "give the reasons" in refused.text and "My own words" in refused.text
    reader = world.clients["teammate"].get(f"/cases/{world.case_id}/schedule")
    assert reader.status_code == 200 and "<textarea" not in reader.text


def test_exports_keep_text_safe_for_spreadsheets_and_drawable_in_the_pdf(world: World) -> None:
    """GIVEN an entry whose description starts like a spreadsheet formula and whose reasons hold letters
    outside Latin-1 WHEN exported THEN the CSV keeps the exact text but defuses the formula with a leading
    quote, and the PDF draws Latin-1 as it is, other letters bare of accents, the rest as "?", instead of failing."""
    item = world.record(minutes=70, camera="CAM-X")
    world.add(item)
    sent = world.put(item, description='=HYPERLINK("http://example.invalid","click")', decision="do_not_disclose",
                     reasons="Witness Łukasz Żółć named; 東京 sign visible")
    assert sent.status_code == 200, sent.text
    client = world.clients["case_member"]
    body = client.get(f"/api/v1/cases/{world.case_id}/schedule/export.csv").content.decode("utf-8-sig")
    row = next(r for r in csv.DictReader(io.StringIO(body)) if r["item_id"] == item)
    assert row["description"].startswith("'=HYPERLINK(") and row["reasons"] == "Witness Łukasz Żółć named; 東京 sign visible"
    pdf = client.get(f"/api/v1/cases/{world.case_id}/schedule/export.pdf")
    assert pdf.status_code == 200
    assert "(Witness ?ukasz Zó?c named; ?? sign visible)" in _pdf_text(pdf.content)  # Ż bare, ó kept, Ł has no bare form


def test_decisions_sent_at_once_keep_one_entry_and_never_crash(world: World) -> None:
    """GIVEN an undecided recording WHEN eight decisions for it arrive at the same moment THEN each is kept
    or refused as a clash (409), never a crash, and the recording has one entry holding one of them."""
    item = world.record(minutes=80, camera="CAM-RACE")
    world.add(item)
    start = threading.Barrier(8)

    def send(n: int) -> int:
        with httpx.Client(base_url=world.server.url, cookies=world.clients["case_member"].cookies,
                          headers=world.clients["case_member"].headers, timeout=30) as client:
            start.wait()
            return client.put(f"/api/v1/cases/{world.case_id}/schedule/{item}",
                              json={"decision": "do_not_disclose", "reasons": f"reviewed by desk {n}"}).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(send, range(8)))
    assert set(statuses) <= {200, 409} and 200 in statuses, statuses
    assert world.schedule()[item]["reasons"].startswith("reviewed by desk ")


def _queries(world: World, read: Callable[[], object]) -> int:
    """How many SQL statements one read sends."""
    sent: list[str] = []

    def count(*args: object) -> None:
        sent.append(str(args[2]))

    event.listen(world.container.db.engine, "before_cursor_execute", count)
    try:
        read()
    finally:
        event.remove(world.container.db.engine, "before_cursor_execute", count)
    return len(sent)


def test_reading_a_schedule_costs_the_same_however_many_recordings(world: World) -> None:
    """GIVEN a case's schedule WHEN six more recordings join it THEN reading it sends no more queries (no
    query per entry)."""
    actor = world.force.actor("case_member")

    def read() -> object:
        return world.container.schedules.schedule(world.case_id, actor=actor)

    before = _queries(world, read)
    assert before > 0
    world.add(*[world.record(minutes=100 + n, camera=f"CAM-Q{n}") for n in range(6)])
    assert _queries(world, read) == before
