"""Ingest benchmark: how fast a dock's tus upload becomes verified, playable evidence.

Measures, on one simulated 1080p recording of about --size-gb GiB (cached in bench/out):

* the machine's bound, in the same run on the same file: `openssl dgst -sha256`
  and `dd bs=8M conv=fsync` throughput; the bound is the slower of the two,
  because an ideal ingest overlaps hashing with writing;
* a real `witnessbox serve` (2 job workers) taking the file from the real tuspy
  client with 64 MiB and 256 MiB chunks: end-to-end MB/s from the first request
  to the last PATCH's answer (durable, whole-file SHA-256 checked, item created),
  and to `GET /api/v1/items?sha256=` saying `verified: true` (stored copy re-read),
  each as a ratio to the bound (target >= 0.5);
* the server's peak RSS during the upload (VmRSS every 50 ms; target < 300 MB
  whatever the size) and its VmHWM over the whole run;
* a bare uvicorn endpoint (bench/_bare_upload.py: hash, write, fsync, nothing
  else) fed by the same client and file, as the in-run HTTP baseline;
* upload end -> playable proxy (state ready, proxy present) for a 10-minute 1080p
  recording whose 1 s GOPs need only a remux (target < 5 s), and for the big file,
  with the server's own timestamps saying where the time went.

The SHA-256 a dock computes at the source is timed separately and not included.
MB = 10^6 bytes. Run: `python bench/ingest.py [--size-gb 2] [--keep]`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from _common import (
    MiB,
    OUT,
    PROXY_TEST_SECONDS,
    PipelineTimes,
    RssSampler,
    bare_server,
    clear_status,
    fmt,
    mbps,
    pipeline_times,
    proc_status_kb,
    recording,
    recording_of_size,
    sha256_at_source,
    status,
    temp_dir,
    tus_upload,
    wait_ready,
    wait_verified,
    witnessbox_server,
)

CHUNKS = (64 * MiB, 256 * MiB)
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
    label = f"witnessbox, {chunk // MiB} MiB chunks"
    with witnessbox_server(workers=2) as server:
        headers = {"Authorization": f"Bearer {server.token}"}
        status(f"upload: {label}")
        idle = proc_status_kb(server.pid, "VmRSS") * 1024 / 1e6
        with RssSampler(server.pid) as rss:
            result = tus_upload(f"{server.url}/api/v1/uploads/", path, sha256, chunk, headers)
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            status(f"waiting for verified: {label}")
            _item, verified_at = wait_verified(client, sha256, timeout_s=300)
            proxy = None
            if ready_timeout_s is not None:
                status(f"waiting for the proxy: {label}")
                assert result.item_id
                _item, ready_at = wait_ready(client, result.item_id, timeout_s=ready_timeout_s)
                proxy = ProxyTrial(f"{path.stat().st_size / 1e9:.2f} GB", path.stat().st_size,
                                   result.seconds, ready_at - result.started - result.seconds,
                                   pipeline_times(server.data_dir, result.item_id))
        hwm = proc_status_kb(server.pid, "VmHWM") * 1024 / 1e6
    trial = Trial("witnessbox", chunk, result.seconds, verified_at - result.started, idle, rss.peak_mb, hwm)
    return trial, proxy


def bare_trial(path: Path, sha256: str, chunk: int) -> Trial:
    """Upload to bench/_bare_upload.py under uvicorn."""
    with temp_dir("bare-") as directory, bare_server(directory) as (url, process):
        status(f"upload: bare uvicorn, {chunk // MiB} MiB chunks")
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


def report(name: str, size: int, source_s: float, bound: Bound, trials: list[Trial],
           proxies: list[ProxyTrial]) -> None:
    """Print the figures as tables on stdout."""
    console = Console(width=160)
    head = Table(title=f"Ingest: {name}, {size:,} B ({size / 1e9:.2f} GB), MB = 10^6 B",
                 show_header=True, title_justify="left")
    head.add_column("machine bound, same file, same run")
    head.add_column("MB/s", justify="right")
    head.add_column("s", justify="right")
    head.add_row("openssl dgst -sha256", fmt(bound.openssl_mbps), fmt(size / 1e6 / bound.openssl_mbps, 2))
    head.add_row("dd bs=8M conv=fsync", fmt(bound.dd_mbps), fmt(size / 1e6 / bound.dd_mbps, 2))
    head.add_row("[bold]bound = slower of the two[/bold]", f"[bold]{fmt(bound.mbps)}[/bold]", "")
    head.add_row("dock SHA-256 at the source (not in the timings below)", fmt(mbps(size, source_s)),
                 fmt(source_s, 2))
    console.print(head)

    table = Table(title="tus upload with tuspy (first request -> last PATCH answered; -> verified: true)",
                  title_justify="left")
    for name in ("endpoint", "chunk", "upload s", "upload MB/s", "x bound", "verified s", "verified MB/s",
                 "x bound", "RSS idle MB", "RSS peak MB", "VmHWM MB"):
        table.add_column(name, justify="left" if name == "endpoint" else "right")
    for t in trials:
        verified = (["-", "-", "-"] if t.verified_s is None else
                    [fmt(t.verified_s, 2), fmt(mbps(size, t.verified_s)),
                     f"{mbps(size, t.verified_s) / bound.mbps:.2f}"])
        table.add_row(t.endpoint, f"{t.chunk // MiB} MiB", fmt(t.upload_s, 2), fmt(mbps(size, t.upload_s)),
                      f"{mbps(size, t.upload_s) / bound.mbps:.2f}", *verified, fmt(t.rss_idle_mb), fmt(t.rss_peak_mb),
                      fmt(t.hwm_mb))
    console.print(table)

    ready = Table(title="upload end -> playable proxy (state ready, proxy present); server timestamps split it",
                  title_justify="left")
    for name in ("recording", "size MB", "upload s", "-> ready s", "queue wait", "re-read", "probe+thumbs",
                 "proxy", "finish"):
        ready.add_column(name, justify="left" if name == "recording" else "right")
    for p in proxies:
        ready.add_row(p.label, fmt(p.size / 1e6, 0), fmt(p.upload_s, 2), f"[bold]{fmt(p.ready_s, 2)}[/bold]",
                      fmt(p.times.queue_wait_s, 2), fmt(p.times.verify_s, 2), fmt(p.times.probe_thumbs_s, 2),
                      fmt(p.times.proxy_s, 2), fmt(p.times.finish_s, 2))
    console.print(ready)

    ours = [t for t in trials if t.endpoint == "witnessbox"]
    best_upload = max(mbps(size, t.upload_s) for t in ours) / bound.mbps
    best_verified = max(mbps(size, t.verified_s or float("inf")) for t in ours) / bound.mbps
    worst_rss = max(t.rss_peak_mb for t in ours)
    short = proxies[0]
    targets = Table(title="targets (witnessbox, best chunk size)", title_justify="left")
    for name in ("target", "measured", ""):
        targets.add_column(name)
    targets.add_row(f"upload >= {TARGET_RATIO} x bound", f"{best_upload:.2f} x", verdict(best_upload >= TARGET_RATIO))
    targets.add_row(f"to verified >= {TARGET_RATIO} x bound", f"{best_verified:.2f} x",
                    verdict(best_verified >= TARGET_RATIO))
    targets.add_row(f"server RSS during upload < {TARGET_RSS_MB:.0f} MB", f"{fmt(worst_rss)} MB",
                    verdict(worst_rss < TARGET_RSS_MB))
    targets.add_row(f"10-min 1080p upload end -> proxy < {TARGET_PROXY_S:.0f} s", f"{fmt(short.ready_s, 2)} s",
                    verdict(short.ready_s < TARGET_PROXY_S))
    console.print(targets)


def main() -> int:
    """Parse arguments, run every measurement, print the tables, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=2.0, help="size of the big recording in GiB")
    parser.add_argument("--keep", action="store_true",
                        help="keep the big recording in bench/out for the next run (the 10-minute one is always kept)")
    args = parser.parse_args()

    short = recording(PROXY_TEST_SECONDS)
    big = recording_of_size(args.size_gb)
    name, size = big.name, big.stat().st_size
    try:
        status("SHA-256 at the source")
        sha_short, _ = sha256_at_source(short)
        sha_big, source_s = sha256_at_source(big)
        bound = measure_bound(big)
        trials: list[Trial] = []
        first, big_proxy = witnessbox_trial(big, sha_big, CHUNKS[0], ready_timeout_s=600)
        trials.append(first)
        trials.append(witnessbox_trial(big, sha_big, CHUNKS[1], ready_timeout_s=None)[0])
        trials.extend(bare_trial(big, sha_big, chunk) for chunk in CHUNKS)
        assert big_proxy is not None
        proxies = [short_proxy_trial(short, sha_short), big_proxy]
    finally:
        clear_status()
        if not args.keep and big != short:
            _drop_recording(big)
    report(name, size, source_s, bound, trials, proxies)
    return 0


def _drop_recording(path: Path) -> None:
    for sibling in path.parent.iterdir():
        sibling.unlink()
    path.parent.rmdir()


if __name__ == "__main__":
    sys.exit(main())
