"""Integrity scrub benchmark: the scrub's read rate, and what it costs ingest.

In one run, on one real `witnessbox serve` (no job workers, so only uploads use the disk):

* the store is seeded with --seed-files recordings of about --seconds seconds each (1080p,
  ~1 MB/s of video; each copy made unique by a few trailing bytes);
* `witnessbox storage scrub` re-reads the store with no limit and at the default rate
  (WITNESSBOX_SCRUB_RATE_MBPS, 50 MB/s): the scrub's own read rate from its pass records;
* ingest throughput (tuspy, 64 MiB chunks, to the last PATCH's answer: durable, hashed, item
  created) with and without a worker process running the periodic job's scrub slices back to back
  at the default rate (a new pass as soon as one ends: the heaviest the scrub can be), in
  --rounds interleaved rounds (this disk's speed wanders), and the ratio of the medians.

Before every scrub run the stored files are dropped from the page cache (posix_fadvise
DONTNEED), so the scrub reads the disk as it would for footage nobody has touched in weeks.
Target: ingest with the scrub >= 0.5 x ingest without. MB = 10^6 bytes.
Run: `python bench/scrub.py [--seconds 120] [--seed-files 6] [--uploads 2] [--rounds 2]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from _common import (
    OUT,
    MiB,
    Server,
    clean_env,
    clear_status,
    fmt,
    load_average,
    mbps,
    median,
    recording,
    sha256_plain,
    status,
    stop_process,
    tus_upload,
    witnessbox_server,
)
from rich.console import Console
from rich.table import Table

CHUNK = 64 * MiB
DEFAULT_RATE_MBPS = 50.0
TARGET_RATIO = 0.5


@dataclass(frozen=True)
class ScrubRun:
    """One `witnessbox storage scrub` over the seeded store."""

    label: str
    exit_code: int
    bytes_read: int
    read_seconds: float
    wall_s: float

    @property
    def mbps(self) -> float:
        """Its re-read rate, pauses for the rate limit included."""
        return mbps(self.bytes_read, self.read_seconds) if self.read_seconds else 0.0


def unique_copies(base: Path, count: int, tag: str) -> Iterator[tuple[Path, str]]:
    """`count` copies of `base` that differ in their last bytes (so each is a new original)."""
    folder = OUT / "scrub-copies"
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        path = folder / f"{tag}-{n}.mp4"
        shutil.copyfile(base, path)
        with path.open("ab") as handle:
            handle.write(f"\n{tag}-{n}-{time.time_ns()}".encode())
        try:
            yield path, sha256_plain(path)
        finally:
            path.unlink(missing_ok=True)


def upload(server: Server, path: Path, sha256: str) -> float:
    """One upload by the dock; its MB/s to the last PATCH's answer."""
    result = tus_upload(f"{server.url}/api/v1/uploads/", path, sha256, CHUNK,
                        {"Authorization": f"Bearer {server.token}"})
    return mbps(path.stat().st_size, result.seconds)


def drop_store_cache(server: Server) -> None:
    """Evict the stored originals from the page cache so the scrub reads the disk."""
    drop_cache(server.data_dir)


def drop_cache(data_dir: Path) -> None:
    """posix_fadvise(DONTNEED) on every stored file under a data directory."""
    for folder, _dirs, files in os.walk(data_dir / "blobs" / "sha256"):
        for name in files:
            fd = os.open(Path(folder) / name, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def scrub_env(server: Server) -> dict[str, str]:
    """The scrub command pointed at the server's data directory."""
    env = clean_env()
    env.update({
        "WITNESSBOX_DATA_DIR": str(server.data_dir),
        "WITNESSBOX_DATABASE_URL": f"sqlite:///{server.data_dir / 'witnessbox.db'}",
        "WITNESSBOX_STORAGE_URL": (server.data_dir / "blobs").as_uri(),
        "WITNESSBOX_QUEUE_URL": f"sqlite:///{server.data_dir / 'queue.db'}",
    })
    return env


def scrub_command(server: Server, rate: float) -> subprocess.Popen[bytes]:
    drop_store_cache(server)
    return subprocess.Popen([sys.executable, "-m", "witnessbox", "storage", "scrub", "--rate", str(rate)],
                            env=scrub_env(server), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def pass_totals(server: Server) -> tuple[int, float]:
    """Bytes re-read and seconds spent by every scrub pass so far (from the pass records)."""
    with sqlite3.connect(server.data_dir / "witnessbox.db") as db:
        read, seconds = db.execute(
            "SELECT coalesce(sum(bytes_read), 0), coalesce(sum(read_seconds), 0) FROM scrub_passes"
        ).fetchone()
    return int(read), float(seconds)


def timed_scrub(server: Server, label: str, rate: float) -> ScrubRun:
    """One whole scrub pass, alone on the machine."""
    status(f"scrub alone: {label}")
    before = pass_totals(server)
    start = time.perf_counter()
    process = scrub_command(server, rate)
    code = process.wait(timeout=900)
    after = pass_totals(server)
    return ScrubRun(label, code, after[0] - before[0], after[1] - before[1], time.perf_counter() - start)


def wait_reading(server: Server, timeout_s: float = 60.0) -> None:
    """Until a scrub pass has saved progress (it saves every ~2 s while re-reading)."""
    before = pass_totals(server)[0]
    deadline = time.monotonic() + timeout_s
    while pass_totals(server)[0] == before:
        if time.monotonic() > deadline:
            raise RuntimeError("the scrub did not start reading")
        time.sleep(0.05)


@contextmanager
def scrub_worker(server: Server, rate: float) -> Iterator[None]:
    """A worker process running the periodic job's slices back to back (as a busy worker would), pass
    after pass at `rate`, for as long as the block runs."""
    process = subprocess.Popen([sys.executable, __file__, "--worker", str(rate)], env=scrub_env(server),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_reading(server)  # past the worker's start-up, so the uploads meet a scrub that is reading
        yield
    finally:
        stop_process(process, grace_s=5)


def worker(rate: float) -> None:
    """The --worker mode: `ScrubService.run_slice` in a loop, a new pass as soon as one ends."""
    from witnessbox.bootstrap import build
    from witnessbox.config import load_settings
    from witnessbox.retention.scrub import ScrubRules, ScrubService

    container = build(load_settings())
    rules = ScrubRules(rate_mbps=rate, interval=timedelta(0), slice_seconds=60)
    scrub = ScrubService(container.db, container.audit, container.clock, container.scrub.blobs, rules)
    data_dir = container.settings.data_dir
    while True:
        drop_cache(data_dir)
        while (row := scrub.run_slice()) is not None and row.finished_at is None:
            pass


def report(size: int, alone: list[ScrubRun], loaded: tuple[int, float], without: list[float],
           with_scrub: list[float], load: tuple[float, float]) -> bool:
    console = Console()
    console.print(f"load average (1 min): {load[0]:.2f} at start, {load[1]:.2f} at end")
    table = Table(title="Scrub read rate (whole passes over the seeded store, page cache dropped)")
    for column in ("run", "exit", "MB re-read", "MB/s", "wall s"):
        table.add_column(column, justify="right" if column != "run" else "left")
    for run in alone:
        table.add_row(run.label, str(run.exit_code), fmt(run.bytes_read / 1e6), fmt(run.mbps),
                      fmt(run.wall_s))
    loaded_rate = mbps(loaded[0], loaded[1]) if loaded[1] else 0.0
    table.add_row(f"worker at {DEFAULT_RATE_MBPS:g} MB/s during the uploads", "-",
                  fmt(loaded[0] / 1e6), fmt(loaded_rate), "-")
    console.print(table)
    ingest = Table(title=f"Ingest of {size / 1e6:,.0f} MB recordings (tuspy, 64 MiB chunks), MB/s")
    for column in ("scrub", "uploads", "median MB/s", "each"):
        ingest.add_column(column)
    ingest.add_row("none", str(len(without)), fmt(median(without)), " ".join(fmt(v) for v in without))
    ingest.add_row(f"worker at {DEFAULT_RATE_MBPS:g} MB/s", str(len(with_scrub)), fmt(median(with_scrub)),
                   " ".join(fmt(v) for v in with_scrub))
    console.print(ingest)
    ratio = median(with_scrub) / median(without)
    ok = ratio >= TARGET_RATIO and all(r.exit_code == 0 for r in alone)
    verdict = "PASS" if ok else "FAIL"
    console.print(f"ingest with scrub / without: {ratio:.2f} (target >= {TARGET_RATIO}): {verdict}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=120, help="length of each recording (~1 MB a second)")
    parser.add_argument("--seed-files", type=int, default=6, help="recordings stored before measuring")
    parser.add_argument("--uploads", type=int, default=3, help="uploads per round and mode")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--worker", type=float, help=argparse.SUPPRESS)  # the scrub worker process
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker)
        return 0
    start_load = load_average()
    base = recording(args.seconds)
    size = base.stat().st_size
    with witnessbox_server(workers=0, grace_s=2) as server:
        status(f"seeding the store with {args.seed_files} recordings")
        for path, sha256 in unique_copies(base, args.seed_files, "seed"):
            upload(server, path, sha256)
        alone = [timed_scrub(server, "no limit", 0),
                 timed_scrub(server, f"{DEFAULT_RATE_MBPS:g} MB/s", DEFAULT_RATE_MBPS)]
        without: list[float] = []
        with_scrub: list[float] = []
        loaded_before = pass_totals(server)
        for round_ in range(args.rounds):
            status(f"round {round_ + 1}: ingest alone")
            without += [upload(server, *copy) for copy in unique_copies(base, args.uploads, f"r{round_}a")]
            status(f"round {round_ + 1}: ingest beside the scrub")
            with scrub_worker(server, DEFAULT_RATE_MBPS):
                copies = unique_copies(base, args.uploads, f"r{round_}b")
                with_scrub += [upload(server, *copy) for copy in copies]
        loaded_after = pass_totals(server)
    clear_status()
    loaded = (loaded_after[0] - loaded_before[0], loaded_after[1] - loaded_before[1])
    ok = report(size, alone, loaded, without, with_scrub, (start_load, load_average()))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
