"""Continuity statements: every audit entry about an item from upload to export, with its proof.

The JSON statement is what the verifier checks; the HTML and PDF render the same entries for a
reader. Entries under a version 2 checkpoint carry an RFC 9162 inclusion proof to the signed
Merkle root; entries under an older checkpoint cite it by number (the verifier says so).
"""

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from witnessbox.audit.chain import canonical_time, entry_fields
from witnessbox.audit.models import AuditCheckpoint, AuditEvent, AuditTimeStamp
from witnessbox.audit.service import statement_of
from witnessbox.audit.tags import AuditTag
from witnessbox.disclosure.packages.contents import CONTINUITY_FORMAT, Exhibit, iso

if TYPE_CHECKING:
    from fpdf import FPDF

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
Inclusion = Callable[[list[int]], dict[int, dict[str, Any]]]


@dataclass(frozen=True)
class Statement:
    """One item's statement in its three forms."""

    json: bytes
    html: bytes
    pdf: bytes


def entries_about(session: Session, exhibit: Exhibit, up_to: int) -> list[AuditEvent]:
    """The entries about an item (and the uploads that brought its bytes), up to a sealed seq."""
    uploads = select(AuditEvent.subject_id).where(
        AuditEvent.tag == str(AuditTag.INGEST_UPLOAD_CREATED),
        AuditEvent.details["sha256"].as_string() == exhibit.sha256,
    )
    about = or_(
        and_(AuditEvent.subject_type == "item", AuditEvent.subject_id == exhibit.item_id),
        and_(AuditEvent.subject_type == "upload", AuditEvent.subject_id.in_(uploads)),
    )
    query = select(AuditEvent).where(about, AuditEvent.seq <= up_to).order_by(AuditEvent.seq)
    return list(session.scalars(query))


def cite(
    session: Session, events: list[AuditEvent], inclusion: Inclusion
) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]:
    """Each entry with the checkpoint that covers it and (version 2) its inclusion proof."""
    proven = inclusion([event.seq for event in events])
    entries, checkpoints = [], {}
    for event in events:
        proof = proven.get(event.seq)
        if proof is not None:
            mark = {"version": 2, **proof["checkpoint"]}
            entry_proof: dict[str, Any] | None = {
                key: proof[key] for key in ("leaf_index", "tree_size", "path")
            }
        else:
            mark, entry_proof = _covering(session, event.seq), None
        if int(mark["seq"]) not in checkpoints:
            checkpoints[int(mark["seq"])] = {**mark, **_time_stamp(session, int(mark["seq"]))}
        entries.append(
            {
                "seq": event.seq,
                "entry_hash": event.entry_hash,
                "fields": entry_fields(event),
                "checkpoint": int(mark["seq"]),
                "proof": entry_proof,
            }
        )
    return entries, checkpoints


def _time_stamp(session: Session, seq: int) -> dict[str, Any]:
    """The RFC 3161 authority's answer over a checkpoint's statement, when one was obtained."""
    stamp = session.scalars(
        select(AuditTimeStamp).join(AuditCheckpoint, AuditTimeStamp.checkpoint_id == AuditCheckpoint.id)
        .where(AuditCheckpoint.seq == seq)
    ).first()
    if stamp is None:
        return {}
    return {
        "time_stamp": {
            "authority": stamp.authority,
            "stamped_at": canonical_time(stamp.stamped_at),
            "response": base64.b64encode(stamp.response).decode(),  # the DER TimeStampResp
        }
    }


def _covering(session: Session, seq: int) -> dict[str, Any]:
    """The first signed checkpoint at or after an entry (one signed before version 2: no Merkle root)."""
    mark = session.scalars(
        select(AuditCheckpoint).where(AuditCheckpoint.seq >= seq).order_by(AuditCheckpoint.seq).limit(1)
    ).first()
    if mark is None:
        raise RuntimeError(f"audit entry {seq} is not sealed by any checkpoint; seal before citing it")
    return {
        "version": 1,
        "seq": mark.seq,
        "head_hash": mark.entry_hash,
        "signed_at": canonical_time(mark.signed_at),
        "key_id": mark.key_id,
        "signature": mark.signature,
        "statement": statement_of(mark).decode(),
    }


def statement(
    exhibit: Exhibit, package_id: str, exported_at: datetime, cited: tuple[list[Any], dict[int, Any]]
) -> Statement:
    """Build the JSON statement and render it as HTML and PDF."""
    entries, checkpoints = cited
    body = {
        "format": CONTINUITY_FORMAT,
        "package_id": package_id,
        "exported_at": iso(exported_at),
        "item": exhibit.facts(),
        "entries": entries,
        "checkpoints": [checkpoints[seq] for seq in sorted(checkpoints)],
    }
    return Statement(
        json=(json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode(),
        html=render_html(body).encode(),
        pdf=render_pdf(body),
    )


_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)


def render_html(body: dict[str, Any]) -> str:
    """The statement as a standalone page (no scripts, no outside resources)."""
    return _env.get_template("continuity.html").render(statement=body, describe=describe)


def describe(entry: dict[str, Any]) -> str:
    """One entry's details in words a reader can follow."""
    details = entry["fields"]["details"] or {}
    return "; ".join(f"{key}: {value}" for key, value in sorted(details.items()) if value not in (None, ""))


def render_pdf(body: dict[str, Any]) -> bytes:
    """The statement as a PDF (the core fonts: characters outside Latin-1 are shown as '?')."""
    from fpdf import FPDF  # noqa: PLC0415 - about 40 MB: loaded by the package job, not by every server

    pdf = FPDF(orientation="landscape")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_page()
    item = body["item"]
    _line(pdf, "Continuity statement", size=15, style="B")
    for label, key in (
        ("Recording", "path"),
        ("SHA-256", "sha256"),
        ("Camera", "camera"),
        ("Officer", "officer"),
        ("Recorded", "recorded_start"),
        ("Uploaded", "uploaded_at"),
    ):
        _line(pdf, f"{label}: {item.get(key) or '-'}")
    _line(pdf, f"Package {body['package_id']}, exported {body['exported_at']}")
    pdf.ln(3)
    for entry in body["entries"]:
        fields = entry["fields"]
        _line(pdf, f"#{fields['seq']}  {fields['at']}  {fields['tag']}  by {fields['actor'][2]}", style="B")
        _line(pdf, f"{describe(entry)}  entry hash {entry['entry_hash']}", size=8)
    pdf.ln(3)
    for mark in body["checkpoints"]:
        _line(pdf, f"Checkpoint {mark['seq']} signed {mark['signed_at']} by key {mark['key_id']}", style="B")
        _line(pdf, f"signature {mark['signature']}", size=7)
    return bytes(pdf.output())


def _line(pdf: "FPDF", text: str, *, size: int = 10, style: str = "") -> None:
    pdf.set_font("Helvetica", style=style, size=size)
    safe = text.encode("latin-1", "replace").decode("latin-1")
    pdf.multi_cell(0, size * 0.5, safe, new_x="LMARGIN", new_y="NEXT")


def last_checkpoint_seq(session: Session) -> int:
    """The seq the newest checkpoint seals (0 before the first)."""
    return session.scalar(select(AuditCheckpoint.seq).order_by(AuditCheckpoint.seq.desc()).limit(1)) or 0
