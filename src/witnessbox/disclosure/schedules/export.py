"""A schedule as files: CSV for the case file and the prosecutor's systems, PDF to read and sign.

The CSV keeps every recording of the case in one file, the schedule (MG6C, MG6D or used) as a
column, with stable column names; the PDF is one schedule (MG6C or MG6D) of unused material, as the
prosecutor receives it. The PDF's built-in fonts are Latin-1: other characters are shown as their
nearest plain letter or "?"; the CSV carries the exact text.
"""

import csv
import io
from collections.abc import Callable
from datetime import datetime

from witnessbox.disclosure.schedules.models import Decision, ScheduleKind
from witnessbox.disclosure.schedules.schemas import EntryOut, EntryStatus, ScheduleOut

CSV_COLUMNS = (
    "case_reference",
    "number",
    "schedule",
    "used",
    "item_id",
    "reference",
    "recorded_start_utc",
    "officer",
    "camera",
    "description",
    "decision",
    "reasons",
    "decided_by",
    "decided_at_utc",
    "status",
)
SCHEDULE_CODES = {ScheduleKind.NON_SENSITIVE: "MG6C", ScheduleKind.SENSITIVE: "MG6D"}
SCHEDULE_TITLES = {
    ScheduleKind.NON_SENSITIVE: "MG6C Schedule of non-sensitive unused material",
    ScheduleKind.SENSITIVE: "MG6D Schedule of sensitive unused material",
}
DECISION_WORDS = {
    Decision.DISCLOSE: "Disclose",
    Decision.DO_NOT_DISCLOSE: "Do not disclose",
    Decision.CLEARLY_NOT_DISCLOSABLE: "Clearly not disclosable",
}
PDF_COLUMNS = (("No.", 10), ("Reference", 30), ("Description", 95), ("Decision", 30), ("Reasons", 95))
Local = Callable[[datetime | None, str], str]


def schedule_csv(schedule: ScheduleOut) -> bytes:
    """Every entry, one row each, in the schedule's order; UTF-8 with a byte-order mark for spreadsheets."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entry in schedule.entries:
        writer.writerow(_csv_row(schedule.case_reference, entry))
    return out.getvalue().encode("utf-8-sig")


def _csv_row(case_reference: str, entry: EntryOut) -> list[str]:
    where = (
        "used"
        if entry.used
        else ""
        if entry.status == EntryStatus.RESTRICTED
        else SCHEDULE_CODES[entry.schedule]
    )
    return [
        case_reference,
        entry.number,
        where,
        "yes" if entry.used else "no",
        entry.item_id,
        entry.reference,
        entry.recorded_start.isoformat() if entry.recorded_start else "",
        entry.officer or "",
        entry.camera or "",
        _safe_cell(entry.description),
        str(entry.decision or ""),
        _safe_cell(entry.reasons),
        entry.decided_by or "",
        entry.decided_at.isoformat() if entry.decided_at else "",
        str(entry.status),
    ]


def _safe_cell(text: str) -> str:
    """Text a spreadsheet shows as text: a leading =, +, - or @ would be run as a formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


def schedule_pdf(
    schedule: ScheduleOut, kind: ScheduleKind, officer: str, now: datetime, local: Local
) -> bytes:
    """One schedule of unused material as a PDF (schedules/pdf.py)."""
    # fpdf costs a server process about 40 MB: it is loaded when the first PDF is asked for
    from witnessbox.disclosure.schedules.pdf import render_schedule  # noqa: PLC0415

    return render_schedule(schedule, kind, officer, now, local)
