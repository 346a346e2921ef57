"""Ingest benchmark: how fast a dock's tus upload becomes verified, playable evidence.

Measures, on one simulated 1080p recording of about --size-gb GiB (cached in bench/out):

* the machine's bound, in the same run on the same file: `openssl dgst -sha256`
  and `dd bs=8M conv=fsync` throughput; the bound is the slower of the two,
  because an ideal ingest overlaps hashing with writing;
* a real `witnessbox serve` (2 job workers) taking the file from the real tuspy
  client with 64 MiB and 256 MiB chunks: end-to-end MB/s from the first request
  to the last PATCH's answer (durable, whole-file SHA-256 checked, item created),
  and to `GET /api/v1/held/{sha256}` saying `verified: true` (stored copy re-read),
  each as a ratio to the bound (target >= 0.5);
* the server's peak RSS during the upload (VmRSS every 50 ms; target < 300 MB
  whatever the size) and its VmHWM over the whole run;
* a bare uvicorn endpoint (bench/_bare_upload.py: hash, write, fsync, nothing
  else) fed by the same client and file, as the in-run HTTP baseline;
* upload end -> playable proxy (state ready, proxy present) for a 10-minute 1080p
  recording whose 1 s GOPs need only a remux (target < 5 s), and for the big file,
  with the server's own timestamps saying where the time went.

The SHA-256 a dock computes at the source is timed separately and not included.
Each upload is compared with the bound measured in the same round (--rounds, interleaved),
because this disk's speed wanders. MB = 10^6 bytes.
Run: `python bench/ingest.py [--size-gb 2] [--rounds 2] [--keep]`.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from _common import (
    OUT,
    PROXY_TEST_SECONDS,
    MiB,
    PipelineTimes,
    RssSampler,
    bare_server,
    clear_status,
    fmt,
    load_average,
    mbps,
    median,
    pipeline_times,
    proc_status_kb,
    recording,
    recording_of_size,
    session_cookie,
    sha256_at_source,
    status,
    temp_dir,
    tus_upload,
    wait_ready,
    wait_verified,
    witnessbox_server,
)
from rich.console import Console
from rich.table import Table

CHUNKS = (64 * MiB, 256 * MiB)
CONFIGS = [(endpoint, chunk) for chunk in CHUNKS for endpoint in ("witnessbox", "bare uvicorn")]
TARGET_RATIO = 0.5
TARGET_RSS_MB = 300.0
TARGET_PROXY_S = 5.0


@dataclass(frozen=True)
class Bound:
    """The machine's limits on this file."""

    openssl_mbps: float
    dd_mbps: float

    @property
    def mbps(self) -> float:
        """The slower of hashing and durable writing."""
        return min(self.openssl_mbps, self.dd_mbps)


@dataclass(frozen=True)
class Trial:
    """One upload of the big file."""

    endpoint: str
    chunk: int
    upload_s: float
    verified_s: float | None
    rss_idle_mb: float
    rss_peak_mb: float
    hwm_mb: float


@dataclass(frozen=True)
class Round:
    """The bound and every upload, measured back to back."""

    bound: Bound
    trials: list[Trial]


@dataclass(frozen=True)
class ProxyTrial:
    """Upload end -> playable proxy for one recording."""

    label: str
    size: int
    upload_s: float
    ready_s: float
    times: PipelineTimes


def measure_bound(path: Path) -> Bound:
    """openssl's SHA-256 and dd's fsynced copy of the same file, timed here."""
    size = path.stat().st_size
    status("bound: openssl dgst -sha256")
    start = time.perf_counter()
    subprocess.run(["openssl", "dgst", "-sha256", str(path)], check=True, capture_output=True)
    openssl_s = time.perf_counter() - start
    status("bound: dd bs=8M conv=fsync")
    target = OUT / "dd.tmp"
    try:
        start = time.perf_counter()
        subprocess.run(["dd", f"if={path}", f"of={target}", "bs=8M", "conv=fsync"], check=True,
                       capture_output=True)
        dd_s = time.perf_counter() - start
    finally:
        target.unlink(missing_ok=True)
    return Bound(mbps(size, openssl_s), mbps(size, dd_s))


def witnessbox_trial(path: Path, sha256: str, chunk: int, *,
                     ready_timeout_s: float | None) -> tuple[Trial, ProxyTrial | None]:
    """Upload to a fresh server; wait for verified and (when asked) for the proxy."""
    with witnessbox_server(workers=2, grace_s=2) as server:
        headers = {"Authorization": f"Bearer {server.token}"}
        cookie = {"Cookie": f"wbx_session={session_cookie(server.url)}"}  # signed in before timing
        idle = proc_status_kb(server.pid, "VmRSS") * 1024 / 1e6
        with RssSampler(server.pid) as rss:
            result = tus_upload(f"{server.url}/api/v1/uploads/", path, sha256, chunk, headers)
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as dock:
            _item, verified_at = wait_verified(dock, sha256, timeout_s=300)
        proxy = None
        if ready_timeout_s is not None:
            assert result.item_id
            with httpx.Client(base_url=server.url, headers=cookie, timeout=30) as officer:
                _item, ready_at = wait_ready(officer, result.item_id, timeout_s=ready_timeout_s)
            proxy = ProxyTrial(f"{path.stat().st_size / 1e9:.2f} GB", path.stat().st_size,
                               result.seconds, ready_at - result.started - result.seconds,
                               pipeline_times(server.data_dir, result.item_id))
        hwm = proc_status_kb(server.pid, "VmHWM") * 1024 / 1e6
    trial = Trial("witnessbox", chunk, result.seconds, verified_at - result.started, idle, rss.peak_mb, hwm)
    return trial, proxy


def bare_trial(path: Path, sha256: str, chunk: int) -> Trial:
    """Upload to bench/_bare_upload.py under uvicorn."""
    with temp_dir("bare-") as directory, bare_server(directory) as (url, process):
        idle = proc_status_kb(process.pid, "VmRSS") * 1024 / 1e6
        with RssSampler(process.pid) as rss:
            result = tus_upload(url, path, sha256, chunk)
        hwm = proc_status_kb(process.pid, "VmHWM") * 1024 / 1e6
    return Trial("bare uvicorn", chunk, result.seconds, None, idle, rss.peak_mb, hwm)


def short_proxy_trial(path: Path, sha256: str) -> ProxyTrial:
    """The 10-minute recording: upload with 64 MiB chunks, then time until it plays."""
    trial, proxy = witnessbox_trial(path, sha256, CHUNKS[0], ready_timeout_s=120)
    assert proxy is not None
    return ProxyTrial(f"{PROXY_TEST_SECONDS // 60}-min 1080p", proxy.size, trial.upload_s,
                      proxy.ready_s, proxy.times)


def verdict(ok: bool) -> str:
    """PASS/FAIL, coloured."""
    return "[green]PASS[/green]" if ok else "[red]FAIL[/red]"


def report(name: str, size: int, source_s: float, rounds: list[Round], proxies: list[ProxyTrial],
           load: tuple[float, float]) -> None:
    """Print the figures as tables on stdout."""
    console = Console(width=160)
    bounds = Table(title=f"Ingest: {name}, {size:,} B ({size / 1e9:.2f} GB); MB = 10^6 B; "
                         f"{len(rounds)} interleaved rounds; load average {load[0]:.1f} at start, "
                         f"{load[1]:.1f} at end ({os.cpu_count()} CPUs)", title_justify="left")
    for column in ("machine bound (same file, same round)", "openssl dgst -sha256 MB/s",
                   "dd bs=8M conv=fsync MB/s", "bound MB/s (slower)"):
        bounds.add_column(column, justify="left" if column.startswith("machine") else "right")
    for index, r in enumerate(rounds, start=1):
        bounds.add_row(f"round {index}", fmt(r.bound.openssl_mbps), fmt(r.bound.dd_mbps), fmt(r.bound.mbps))
    bounds.add_row("[bold]median[/bold]", fmt(median([r.bound.openssl_mbps for r in rounds])),
                   fmt(median([r.bound.dd_mbps for r in rounds])),
                   f"[bold]{fmt(median([r.bound.mbps for r in rounds]))}[/bold]")
    bounds.add_row("dock SHA-256 at the source (dock.agent.sha256_of; not in the timings below)",
                   fmt(mbps(size, source_s)), "", f"{fmt(source_s, 2)} s")
    console.print(bounds)

    table = Table(title="tus upload with tuspy: first request -> last PATCH answered (durable, hash checked, "
                        "item created); -> /held says verified: true.  x bound = MB/s / that round's "
                        "bound, median", title_justify="left")
    for column in ("endpoint", "chunk", "upload MB/s median", "best", "per round", "x bound",
                   "verified MB/s median", "best", "x bound", "RSS idle MB", "RSS peak MB", "VmHWM MB"):
        table.add_column(column, justify="left" if column in ("endpoint", "per round") else "right")
    for endpoint, chunk in CONFIGS:
        trials = [(r, t) for r in rounds for t in r.trials if (t.endpoint, t.chunk) == (endpoint, chunk)]
        uploads = [mbps(size, t.upload_s) for _r, t in trials]
        ratios = [mbps(size, t.upload_s) / r.bound.mbps for r, t in trials]
        verified = ["-", "-", "-"]
        if endpoint == "witnessbox":
            speeds = [mbps(size, t.verified_s or math.inf) for _r, t in trials]
            ratio = median([mbps(size, t.verified_s or math.inf) / r.bound.mbps for r, t in trials])
            verified = [fmt(median(speeds)), fmt(max(speeds)), f"{ratio:.2f}"]
        table.add_row(endpoint, f"{chunk // MiB} MiB", fmt(median(uploads)), fmt(max(uploads)),
                      " / ".join(f"{u:.0f}" for u in uploads), f"{median(ratios):.2f}", *verified,
                      fmt(median([t.rss_idle_mb for _r, t in trials])),
                      fmt(max(t.rss_peak_mb for _r, t in trials)), fmt(max(t.hwm_mb for _r, t in trials)))
    console.print(table)

    ready = Table(title="upload end -> playable proxy (state ready, proxy present); the server's own "
                        "timestamps split it", title_justify="left")
    for column in ("recording", "size MB", "upload s", "-> ready s", "queue wait", "re-read", "probe+thumbs",
                   "proxy", "finish"):
        ready.add_column(column, justify="left" if column == "recording" else "right")
    for p in proxies:
        ready.add_row(p.label, fmt(p.size / 1e6, 0), fmt(p.upload_s, 2),
                      f"[bold]{fmt(p.ready_s, 2)}[/bold]", fmt(p.times.queue_wait_s, 2),
                      fmt(p.times.verify_s, 2), fmt(p.times.probe_thumbs_s, 2), fmt(p.times.proxy_s, 2),
                      fmt(p.times.finish_s, 2))
    console.print(ready)

    def best_median(attribute: str) -> float:
        return max(median([mbps(size, getattr(t, attribute) or math.inf) / r.bound.mbps
                           for r in rounds for t in r.trials
                           if (t.endpoint, t.chunk) == ("witnessbox", chunk)])
                   for chunk in CHUNKS)
    upload_ratio, verified_ratio = best_median("upload_s"), best_median("verified_s")
    worst_rss = max(t.rss_peak_mb for r in rounds for t in r.trials if t.endpoint == "witnessbox")
    short = proxies[0]
    targets = Table(title="targets (witnessbox; ratios: median over rounds, better chunk size)",
                    title_justify="left")
    for column in ("target", "measured", ""):
        targets.add_column(column)
    targets.add_row(f"upload >= {TARGET_RATIO} x bound", f"{upload_ratio:.2f} x",
                    verdict(upload_ratio >= TARGET_RATIO))
    targets.add_row(f"to verified >= {TARGET_RATIO} x bound", f"{verified_ratio:.2f} x",
                    verdict(verified_ratio >= TARGET_RATIO))
    targets.add_row(f"server RSS during upload < {TARGET_RSS_MB:.0f} MB", f"{fmt(worst_rss)} MB",
                    verdict(worst_rss < TARGET_RSS_MB))
    targets.add_row(f"10-min 1080p upload end -> proxy < {TARGET_PROXY_S:.0f} s",
                    f"{fmt(short.ready_s, 2)} s", verdict(short.ready_s < TARGET_PROXY_S))
    console.print(targets)


def main() -> int:
    """Parse arguments, run every measurement, print the tables, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=2.0, help="size of the big recording in GiB")
    parser.add_argument("--rounds", type=int, default=2,
                        help="interleaved rounds of bound + every upload (this disk's speed wanders)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the big recording in bench/out for the next run "
                             "(the 10-minute one is always kept)")
    args = parser.parse_args()

    short = recording(PROXY_TEST_SECONDS)
    big = recording_of_size(args.size_gb)
    name, size = big.name, big.stat().st_size
    load_at_start = load_average()
    try:
        status("SHA-256 at the source")
        sha_short, _ = sha256_at_source(short)
        sha_big, source_s = sha256_at_source(big)
        rounds: list[Round] = []
        big_proxy: ProxyTrial | None = None
        for index in range(args.rounds):
            bound = measure_bound(big)
            trials: list[Trial] = []
            for endpoint, chunk in CONFIGS:
                status(f"round {index + 1}/{args.rounds}: {endpoint}, {chunk // MiB} MiB chunks")
                if endpoint == "witnessbox":
                    wait = 600 if index == 0 and chunk == CHUNKS[0] else None
                    trial, proxy = witnessbox_trial(big, sha_big, chunk, ready_timeout_s=wait)
                    big_proxy = big_proxy or proxy
                else:
                    trial = bare_trial(big, sha_big, chunk)
                trials.append(trial)
            rounds.append(Round(bound, trials))
        assert big_proxy is not None
        proxies = [short_proxy_trial(short, sha_short), big_proxy]
    finally:
        clear_status()
        if not args.keep and big != short:
            _drop_recording(big)
    report(name, size, source_s, rounds, proxies, (load_at_start, load_average()))
    return 0


def _drop_recording(path: Path) -> None:
    for sibling in path.parent.iterdir():
        sibling.unlink()
    path.parent.rmdir()


if __name__ == "__main__":
    sys.exit(main())
