"""The quick start's demo data: people, docked footage, a morning's review, through the real server."""

import time

from sqlalchemy import func, select

from tests.conftest import LiveServer
from witnessbox.accounts.models import User
from witnessbox.accounts.service import actor_for
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import Container, build
from witnessbox.cases.models import Case, CaseMember
from witnessbox.core.actor import SYSTEM
from witnessbox.dock.demo import load_demo
from witnessbox.evidence.models import Annotation, Item
from witnessbox.evidence.search import Filters


def test_demo_loads_footage_categorises_it_and_opens_a_case(live_server: LiveServer) -> None:
    """GIVEN an empty system WHEN the demo loads (short, small clips) THEN six recordings were docked
    through the dock agent, two are one categorised incident in case OP-KESTREL with a bookmark, the
    search finds them by words of their title, each proposes the other as the same incident, and a
    the disclosure officer works the case, and a second load changes
    nothing."""
    container = build(live_server.settings)
    try:
        load_demo(container, live_server.url, seconds=12, size=(320, 240))
        with container.db.read() as session:
            items = list(session.scalars(select(Item).order_by(Item.recorded_start)))
            case = session.scalars(select(Case)).one()
            marks = list(session.scalars(select(Annotation)))
            members = set(session.scalars(select(User.collar_number).join(CaseMember, CaseMember.user_id == User.id)))
            docked = session.scalar(select(func.count()).where(AuditEvent.tag == AuditTag.EVIDENCE_ITEM_CREATED))
        assert len(items) == 6 and docked == 6
        assert [i.incident_number for i in items[:2]] == ["26/004512", "26/004512"]
        assert all(i.evidential is False for i in items[2:])
        assert case.reference == "OP-KESTREL"
        assert members == {"5120", "7002"}  # the investigator and the case's disclosure officer
        assert [m.text for m in marks] == ["Suspect leaves the doorway"]
        found = container.search.search(SYSTEM, Filters(text="bell hotel"))
        assert {i.id for i in found.items} == {i.id for i in items[:2]}
        assert _proposed(container, items[0].id) == [items[1].id]

        load_demo(container, live_server.url, seconds=12, size=(320, 240))
        with container.db.read() as session:
            assert session.scalar(select(func.count()).select_from(Item)) == 6
    finally:
        container.close()


def _proposed(container: Container, item_id: str, timeout_s: float = 60) -> list[str]:
    """What the supervisor is proposed for the item, once the worker has made the others ready."""
    supervisor = container.users.by_collar_number("4410")
    assert supervisor is not None
    deadline = time.monotonic() + timeout_s
    while True:
        proposed = [p.id for p in container.incidents.proposals(item_id, actor=actor_for(supervisor)).items]
        if proposed or time.monotonic() > deadline:
            return proposed
        time.sleep(0.5)
