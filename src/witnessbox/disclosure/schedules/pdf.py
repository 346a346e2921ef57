"""One schedule of unused material (MG6C or MG6D) as a landscape A4 PDF, as the prosecutor receives it.

Loaded only when a PDF is asked for (export.schedule_pdf): fpdf is large and most processes never draw one.
"""

import unicodedata
from datetime import datetime

from fpdf import FPDF
from fpdf.fonts import FontFace

from witnessbox.disclosure.schedules.export import DECISION_WORDS, PDF_COLUMNS, SCHEDULE_TITLES, Local
from witnessbox.disclosure.schedules.models import ScheduleKind
from witnessbox.disclosure.schedules.schemas import EntryOut, EntryStatus, ScheduleOut


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


def render_schedule(
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
