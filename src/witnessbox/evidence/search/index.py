"""What an item is found by: its words, bookmark count and places, rewritten on every change."""

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from witnessbox.evidence.models import Annotation, AnnotationKind, Item, ItemPlace, ItemText
from witnessbox.evidence.search.filters import words
from witnessbox.evidence.search.places import cell_of, thinned


def index_item(session: Session, item: Item) -> None:
    """Bring the item's words (title, notes, references, category, bookmark labels, people's notes,
    a handed-in file's description), bookmark count and places up to date, in the caller's transaction."""
    marks = [mark for mark in item.bookmarks or [] if isinstance(mark, dict)]
    notes = session.execute(
        select(Annotation.kind, Annotation.text).where(Annotation.item_id == item.id)
    ).all()
    parts = [item.title, item.notes, item.incident_number, item.crime_reference, item.category]
    parts += [str(mark.get("label") or "") for mark in marks] + [text for _, text in notes]
    parts.append(_handed_in_description(item.camera_metadata))
    body = " ".join(words(" ".join(part for part in parts if part)))
    row = session.scalars(select(ItemText).where(ItemText.item_id == item.id)).first()
    if row is None:
        session.add(ItemText(item_id=item.id, body=body))
    elif row.body != body:
        row.body = body
    item.bookmark_count = len(marks) + sum(1 for kind, _ in notes if kind == AnnotationKind.BOOKMARK)
    session.execute(delete(ItemPlace).where(ItemPlace.item_id == item.id))
    session.add_all(
        ItemPlace(item_id=item.id, lat=lat, lon=lon, cell=cell_of(lat, lon))
        for lat, lon in thinned(item.gps_track)
    )


def _handed_in_description(metadata: dict[str, Any] | None) -> str:
    """Where handed-in footage came from, in its uploader's words ("CCTV from the Co-op, Elm Road")."""
    handed_in = (metadata or {}).get("handed_in")
    return str(handed_in.get("description") or "") if isinstance(handed_in, dict) else ""
