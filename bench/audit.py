"""Audit benchmark: entries per second appended to the hash chain, anchoring off and on, in the same run.

For each database (a SQLite file; PostgreSQL too when --pg, or WITNESSBOX_TEST_DATABASE_URL, names one:
a schema of our own is made there and dropped) it builds the system in this process and has --writers
threads append audit entries, one per transaction (an item viewed, as every page view records), for
--seconds, in interleaved --rounds of:

* **off**: the hash chain alone (no checkpoint is signed during the run: nothing seals, nothing anchors);
* **on**: everything anchoring does while writers write: a checkpoint signed in the write that makes
  --every entries unsealed (Ed25519 over the v2 statement and the Merkle root of those entries), and the
  sealer thread time-stamping each at a real RFC 3161 authority on loopback (`openssl ts -reply` behind
  http.server, tests/factories/tsa.py) and copying it to an anchor directory.

It prints entries/s for each, the on/off ratio (target >= 0.8), this process's CPU time per 1000 entries
(all threads; less moved than wall time by other work on a shared machine), the checkpoints made, the most
entries one covered, and how long `audit verify` (chain, Merkle roots, signatures, time-stamps, anchors)
took afterwards.
Run: `python bench/audit.py [--seconds 10] [--writers 4] [--every 1000] [--rounds 2] [--pg URL]`.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from _common import clear_status, load_average, median, status, temp_dir
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test authority in tests/factories

from tests.factories.tsa import running_authority

from witnessbox.audit.service import Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import Container, build
from witnessbox.config import Settings
from witnessbox.core.actor import Actor, ActorKind

TARGET_RATIO = 0.8
NEVER = 10**12  # audit_seal_entries that no run reaches: "off"


@dataclass(frozen=True)
class Trial:
    """One timed run of the writers."""

    mode: str
    entries: int
    seconds: float
    cpu_s: float  # this process's CPU time while writing (all threads): less moved by a busy machine
    checkpoints: int
    widest: int
    verify_s: float

    @property
    def per_second(self) -> float:
        """Entries appended per second."""
        return self.entries / self.seconds

    @property
    def cpu_ms_per_1000(self) -> float:
        """This process's CPU milliseconds per 1000 entries."""
        return self.cpu_s * 1e6 / self.entries


def write_for(container: Container, seconds: float, writers: int) -> tuple[int, float, float]:
    """Writers append one entry per transaction until the time is up; entries written, seconds taken and
    this process's CPU seconds meanwhile."""
    counts = [0] * writers

    def write(number: int) -> None:
        actor = Actor(kind=ActorKind.USER, id=f"user-{number}", name=f"PC Bench {number}",
                      request_id=None, source_address="127.0.0.1")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with container.db.transaction() as uow:
                item = Subject("item", secrets.token_hex(8))
                container.audit.record(uow.session, AuditTag.EVIDENCE_ITEM_VIEWED, actor=actor, subject=item,
                                       details={"page": "item"})
            counts[number] += 1

    threads = [threading.Thread(target=write, args=(number,)) for number in range(writers)]
    start, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts), time.perf_counter() - start, time.process_time() - cpu


def trial(mode: str, settings: Settings, args: argparse.Namespace, authority_url: str, roots: Path) -> Trial:
    """One run on a fresh database and data directory (or schema) in the given mode."""
    changes: dict[str, object] = {"audit_seal_entries": NEVER}
    if mode == "on":
        changes = {"audit_seal_entries": args.every, "audit_tsa_url": authority_url,
                   "audit_tsa_certificate": roots, "audit_anchor_dir": settings.data_dir.parent / "anchors"}
    container = build(settings.model_copy(update=changes))
    sealer = container.sealer.start() if mode == "on" else None
    try:
        entries, seconds, cpu_s = write_for(container, args.seconds, args.writers)
        if sealer is not None:
            sealer.stop()  # anchors what the last seal left
        container.anchoring.seal_and_anchor(actor=Actor(kind=ActorKind.SYSTEM, id="bench", name="bench"))
        start = time.perf_counter()
        result = container.anchoring.verify()
        verify_s = time.perf_counter() - start
        assert result.ok and not result.warnings, (result.broken, result.warnings)
        checkpoints, widest = result.checkpoints, _widest(container)
    finally:
        container.close()
    return Trial(mode, entries, seconds, cpu_s, checkpoints, widest, verify_s)


def _widest(container: Container) -> int:
    """The most entries one checkpoint sealed (the last, closing seal excluded)."""
    from sqlalchemy import select

    from witnessbox.audit.models import AuditCheckpoint

    with container.db.read() as session:
        spans = [seq - (first or 1) + 1 for seq, first in session.execute(
            select(AuditCheckpoint.seq, AuditCheckpoint.first_seq).order_by(AuditCheckpoint.id))]
    return max(spans[:-1], default=0)


@contextmanager
def database(kind: str, folder: Path, pg_url: str | None) -> Iterator[str]:
    """A fresh SQLite file, or a fresh schema on the PostgreSQL database, dropped afterwards."""
    if kind == "SQLite":
        yield f"sqlite:///{folder / 'witnessbox.db'}"
        return
    assert pg_url is not None
    schema = f"wbx_bench_audit_{secrets.token_hex(4)}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{pg_url}{'&' if '?' in pg_url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def run(kind: str, args: argparse.Namespace, authority_url: str, roots: Path) -> list[Trial]:
    """Interleaved rounds of off and on, each on its own fresh database."""
    trials = []
    for round_number in range(1, args.rounds + 1):
        for mode in ("off", "on"):
            status(f"{kind}: round {round_number}, anchoring {mode}")
            with temp_dir(f"wbx-audit-{mode}-") as folder, database(kind, folder, args.pg) as url:
                settings = Settings(data_dir=folder / "data", database_url=url,
                                    queue_url=f"sqlite:///{folder / 'queue.db'}")  # type: ignore[arg-type]
                trials.append(trial(mode, settings, args, authority_url, roots))
    clear_status()
    return trials


def report(kind: str, trials: list[Trial], args: argparse.Namespace) -> None:
    """One table per database: every trial, then the medians and the ratio."""
    table = Table(title=f"Audit entries appended, {kind}: {args.writers} writers for {args.seconds:.0f} s, "
                        f"one entry per transaction; on = a checkpoint every {args.every} entries, "
                        f"time-stamped and anchored; load average {load_average():.1f} "
                        f"({os.cpu_count()} CPUs)",
                  title_justify="left")
    columns = ("anchoring", "entries", "entries/s", "CPU ms / 1000 entries", "checkpoints",
               "most entries in one", "verify s")
    for column in columns:
        table.add_column(column, justify="left" if column == "anchoring" else "right")
    for t in trials:
        table.add_row(t.mode, f"{t.entries:,}", f"{t.per_second:,.0f}", f"{t.cpu_ms_per_1000:,.0f}",
                      str(t.checkpoints), str(t.widest), f"{t.verify_s:.2f}")
    def median_of(mode: str, figure: str) -> float:
        return median([getattr(t, figure) for t in trials if t.mode == mode])

    off, on = median_of("off", "per_second"), median_of("on", "per_second")
    cpu_off, cpu_on = median_of("off", "cpu_ms_per_1000"), median_of("on", "cpu_ms_per_1000")
    ratio = on / off
    verdict = "[green]PASS[/green]" if ratio >= TARGET_RATIO else "[red]FAIL[/red]"
    table.add_row("[bold]median off[/bold]", "", f"{off:,.0f}", f"{cpu_off:,.0f}", "", "", "")
    table.add_row("[bold]median on[/bold]", "", f"{on:,.0f}", f"{cpu_on:,.0f}", "", "", "")
    table.add_row(f"[bold]on / off[/bold] (target >= {TARGET_RATIO})", "", f"{ratio:.2f} {verdict}",
                  f"{cpu_on / cpu_off:.2f}x CPU", "", "", "")
    Console(width=160).print(table)


def main() -> None:
    """Parse arguments and run on each database."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--every", type=int, default=1000, help="audit_seal_entries when anchoring is on")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pg", default=os.environ.get("WITNESSBOX_TEST_DATABASE_URL"),
                        help="a PostgreSQL database to make a throwaway schema in (default: SQLite only)")
    args = parser.parse_args()
    print(f"audit benchmark; load average {load_average():.2f}")
    with temp_dir("wbx-audit-tsa-") as folder, running_authority(folder / "tsa") as authority:
        for kind in ("SQLite", "PostgreSQL") if args.pg else ("SQLite",):
            report(kind, run(kind, args, authority.url, authority.ca_certificate), args)


if __name__ == "__main__":
    main()
