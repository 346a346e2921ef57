"""A schedule as files: CSV for the case file and the prosecutor's systems, PDF to read and sign.

The CSV keeps every recording of the case in one file, the schedule (MG6C, MG6D or used) as a
column, with stable column names; the PDF is one schedule (MG6C or MG6D) of unused material, as the
prosecutor receives it. The PDF's built-in fonts are Latin-1: other characters are shown as their
nearest plain letter or "?"; the CSV carries the exact text.
"""

import csv
import io
import unicodedata
from collections.abc import Callable
from datetime import datetime

from fpdf import FPDF
from fpdf.fonts import FontFace

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


class _SchedulePdf(FPDF):
    """A landscape A4 schedule with its title on every page and "page n of m" at the foot."""

    heading = ""

    def header(self) -> None:
        self.set_font("Helvetica", "B", 12)
        self.cell(0, 8, self.heading, new_x="LMARGIN", new_y="NEXT")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.cell(0, 6, f"Page {self.page_no()} of {{nb}}", align="C")


def schedule_pdf(
    schedule: ScheduleOut, kind: ScheduleKind, officer: str, now: datetime, local: Local
) -> bytes:
    """One schedule of unused material: case, schedule, its entries, the disclosure officer and the date."""
    pdf = _SchedulePdf(orientation="L", format="A4")
    pdf.heading = _latin1(f"{SCHEDULE_TITLES[kind]} - case {schedule.case_reference}")
    pdf.set_title(pdf.heading)
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(0, 5, _latin1(f"Case: {schedule.case_reference} {schedule.case_title}"), new_x="LMARGIN")
    pdf.multi_cell(
        0, 5, _latin1(f"Disclosure officer: {officer}    Date: {local(now, 'minute')}"), new_x="LMARGIN"
    )
    entries = [
        e
        for e in schedule.entries
        if not e.used and e.status != EntryStatus.RESTRICTED and e.schedule == kind
    ]
    pdf.ln(2)
    if not entries:
        pdf.cell(0, 6, "No material on this schedule.", new_x="LMARGIN", new_y="NEXT")
    else:
        _table(pdf, entries)
    pending = sum(e.status == EntryStatus.UNDECIDED for e in entries)
    if pending:
        pdf.ln(2)
        pdf.cell(0, 6, f"DRAFT: {pending} entr{'y' if pending == 1 else 'ies'} not yet decided.")
    return bytes(pdf.output())


def _table(pdf: FPDF, entries: list[EntryOut]) -> None:
    widths = tuple(width for _title, width in PDF_COLUMNS)
    with pdf.table(col_widths=widths, headings_style=FontFace(emphasis="BOLD"), text_align="LEFT") as table:
        table.row([title for title, _width in PDF_COLUMNS])
        for entry in entries:
            decision = DECISION_WORDS[entry.decision] if entry.decision else "Undecided"
            table.row(
                [
                    _latin1(text)
                    for text in (entry.number, entry.reference, entry.description, decision, entry.reasons)
                ]
            )


def _latin1(text: str) -> str:
    """Text the PDF's built-in fonts draw: Latin-1 kept, other letters bare of accents, else '?'."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        if ch.encode("latin-1", "ignore"):
            out.append(ch)
            continue
        bare = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode("latin-1")
        out.append(bare or "?")
    return "".join(out)
