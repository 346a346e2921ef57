"""Streaming benchmark: serving a stored original with HTTP Range, against nginx in the same run.

A ~--size-gb GiB simulated 1080p recording (cached in bench/out) is uploaded
with tuspy to a fresh `witnessbox serve` (no job workers, so nothing else runs
while timing) and then served two ways from the very same stored file:

* ours: `GET /api/v1/items/{id}/original`, authenticated with the `wbx_session`
  cookie from one `POST /login` as the officer whose camera made the recording
  (administrators see no footage; never HTTP Basic: it runs argon2 per request);
* nginx (Debian's, started here in the foreground on a free loopback port with a
  minimal config: one worker, `sendfile on`, root at the stored file's folder; no
  `tcp_nopush`, which on loopback holds a 64 KiB answer's last segment ~40 ms).

For each it prints:

(a) full-file GET throughput (body read and discarded by a raw-socket client), best and median of --runs;
(b) small Range requests per second: 4 KiB at random offsets from --clients concurrent keep-alive
    connections for --seconds, driven by wrk with a Lua script (wrk's latency p50/p99 too);
(c) a seek: time to first byte (and to the last) of a 64 KiB Range in the middle of the file on a
    keep-alive connection, median and p95 over --seeks requests.

Targets for ours: >= 400 MB/s full-file, a mid-file seek answered in < 5 ms.
MB = 10^6 bytes. Run: `python bench/stream.py [--size-gb 2] [--keep]`.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from _common import (
    BENCH,
    MiB,
    clear_status,
    fmt,
    free_port,
    load_average,
    mbps,
    median,
    percentile,
    recording_of_size,
    session_cookie,
    sha256_plain,
    status,
    stop_process,
    temp_dir,
    tus_upload,
    wait_http,
    witnessbox_server,
)
from rich.console import Console
from rich.table import Table

SMALL_RANGE = 4096
SEEK_RANGE = 64 * 1024
TARGET_FULL_MBPS = 400.0
TARGET_SEEK_MS = 5.0
RECV_BUFFER = 1024 * 1024
WRK_SCRIPT = BENCH / "_random_range.lua"


@dataclass(frozen=True)
class Target:
    """Where and how to ask for the file."""

    name: str
    port: int
    path: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Figures:
    """Everything measured for one server."""

    full_mbps: list[float]
    ranges_per_s: float
    range_p50_ms: float
    range_p99_ms: float
    range_errors: int
    seek_ttfb_ms: list[float]
    seek_total_ms: list[float]


# --------------------------------------------------------------------------
# A raw HTTP/1.1 client: no library between the socket and the timer
# --------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.sock = socket.create_connection(("127.0.0.1", target.port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = bytearray(RECV_BUFFER)
        self.view = memoryview(self.buffer)

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()

    def get(self, headers: dict[str, str] | None = None, *, keep: bool = False
            ) -> tuple[int, int, float, float, bytes]:
        """GET the target: (status, body length, seconds to first byte, to last byte, body if `keep`)."""
        lines = [f"GET {self.target.path} HTTP/1.1", "Host: 127.0.0.1"]
        lines += [f"{k}: {v}" for k, v in {**self.target.headers, **(headers or {})}.items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        start = time.perf_counter()
        self.sock.sendall(request)
        head = bytearray()
        first = 0.0
        while b"\r\n\r\n" not in head:
            n = self.sock.recv_into(self.buffer)
            if n == 0:
                raise ConnectionError("connection closed before the response headers")
            if not head:
                first = time.perf_counter() - start
            head += self.view[:n]
        raw, _, rest = bytes(head).partition(b"\r\n\r\n")
        status_code = int(raw.split(b" ", 2)[1])
        match = re.search(rb"(?im)^content-length:\s*(\d+)", raw)
        if match is None:
            raise ConnectionError(f"no Content-Length in {raw[:300]!r}")
        remaining = int(match.group(1)) - len(rest)
        body = bytearray(rest) if keep else bytearray()
        received = len(rest)
        while remaining > 0:
            n = self.sock.recv_into(self.buffer, min(RECV_BUFFER, remaining))
            if n == 0:
                raise ConnectionError("connection closed mid-body")
            if keep:
                body += self.view[:n]
            remaining -= n
            received += n
        return status_code, received, first, time.perf_counter() - start, bytes(body)


def full_get(target: Target) -> float:
    """One whole-file GET on a fresh connection; MB/s from the request to the last byte."""
    connection = Connection(target)
    try:
        code, size, _first, seconds, _ = connection.get()
    finally:
        connection.close()
    if code != 200:
        raise RuntimeError(f"{target.name}: full GET answered {code}")
    return mbps(size, seconds)


def check_range(target: Target, original: Path) -> None:
    """A Range answer must be 206 with exactly the stored bytes."""
    size = original.stat().st_size
    offset = random.randrange(0, size - SEEK_RANGE)
    connection = Connection(target)
    try:
        code, length, _f, _t, body = connection.get(
            {"Range": f"bytes={offset}-{offset + SEEK_RANGE - 1}"}, keep=True)
    finally:
        connection.close()
    with original.open("rb") as handle:
        handle.seek(offset)
        expected = handle.read(SEEK_RANGE)
    if code != 206 or length != SEEK_RANGE or body != expected:
        raise RuntimeError(f"{target.name}: Range answer wrong (status {code}, {length} bytes)")


def seeks(target: Target, size: int, count: int) -> tuple[list[float], list[float]]:
    """64 KiB Range requests around the middle of the file on one keep-alive connection (ms)."""
    rng = random.Random(1)
    spread = min(32 * MiB, size // 4)
    connection = Connection(target)
    ttfb, total = [], []
    try:
        for index in range(count + 5):
            offset = size // 2 + rng.randrange(-spread, spread)
            code, length, first, seconds, _ = connection.get(
                {"Range": f"bytes={offset}-{offset + SEEK_RANGE - 1}"})
            if code != 206 or length != SEEK_RANGE:
                raise RuntimeError(f"{target.name}: seek answered {code} with {length} bytes")
            if index >= 5:  # the first few warm the connection and the server's caches
                ttfb.append(first * 1000)
                total.append(seconds * 1000)
    finally:
        connection.close()
    return ttfb, total


# --------------------------------------------------------------------------
# wrk for many small ranges (bench/_random_range.lua makes the requests)
# --------------------------------------------------------------------------

def small_ranges(target: Target, size: int, clients: int, seconds: int) -> tuple[float, float, float, int]:
    """Requests/s, p50 ms, p99 ms, errors for 4 KiB random Range GETs (wrk, one thread)."""
    cookie = target.headers.get("Cookie", "-")
    url = f"http://127.0.0.1:{target.port}{target.path}"
    result = subprocess.run(
        ["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s", "-s", str(WRK_SCRIPT), url,
         "--", str(size), str(SMALL_RANGE), cookie],
        check=True, capture_output=True, text=True, timeout=seconds + 60,
    )
    match = re.search(r"WRKRESULT (\d+) (\d+) (\d+) (\d+) (\d+)", result.stdout)
    if match is None:
        raise RuntimeError(f"wrk printed no result: {result.stdout[-2000:]} {result.stderr[-2000:]}")
    requests, duration_us, errors, p50_us, p99_us = (int(g) for g in match.groups())
    return requests / (duration_us / 1e6), p50_us / 1000, p99_us / 1000, errors


# --------------------------------------------------------------------------
# nginx in the foreground
# --------------------------------------------------------------------------


@contextmanager
def nginx(root: Path) -> Iterator[int]:
    """Debian's nginx, one worker, sendfile on, serving `root` on a free loopback port."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise SystemExit("nginx is not installed: apt-get install nginx-light")
    port = free_port()
    with temp_dir("nginx-") as prefix:
        user = "user root root;" if os.geteuid() == 0 else ""  # the store keeps blobs owner-read-only
        temp_paths = "\n".join(f"    {kind}_temp_path {prefix / kind};"
                               for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (prefix / "nginx.conf").write_text(f"""
daemon off;
{user}
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    default_type application/octet-stream;
{temp_paths}
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
""")
        log = prefix / "stdout.log"
        with log.open("ab") as sink:
            command = [binary, "-p", str(prefix), "-e", str(prefix / "error.log"),
                       "-c", str(prefix / "nginx.conf")]
            process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
        try:
            wait_http(f"http://127.0.0.1:{port}/", process, prefix / "error.log", timeout_s=15)
            yield port
        finally:
            stop_process(process, grace_s=5)


# --------------------------------------------------------------------------
# Running it all
# --------------------------------------------------------------------------


def measure(target: Target, original: Path, args: argparse.Namespace) -> Figures:
    """(a), (b) and (c) for one server."""
    size = original.stat().st_size
    check_range(target, original)
    status(f"{target.name}: full-file GETs")
    full = [full_get(target) for _ in range(args.runs)]
    status(f"{target.name}: mid-file seeks")
    ttfb, total = seeks(target, size, args.seeks)  # before (b), so no backlog from the load test lingers
    status(f"{target.name}: {SMALL_RANGE // 1024} KiB ranges, {args.clients} clients, {args.seconds} s")
    rate, p50, p99, errors = small_ranges(target, size, args.clients, args.seconds)
    return Figures(full, rate, p50, p99, errors, ttfb, total)


def verdict(ok: bool) -> str:
    """PASS/FAIL, coloured."""
    return "[green]PASS[/green]" if ok else "[red]FAIL[/red]"


def report(name: str, size: int, args: argparse.Namespace, ours: Figures, theirs: Figures,
           load: tuple[float, float]) -> None:
    """The final table on stdout."""
    console = Console(width=160)
    table = Table(title=f"Streaming {name}, {size:,} B ({size / 1e9:.2f} GB), same stored file, "
                        f"MB = 10^6 B; load average {load[0]:.1f} at start, {load[1]:.1f} at end "
                        f"({os.cpu_count()} CPUs)", title_justify="left")
    for column in ("measure", "witnessbox", "nginx", "witnessbox / nginx"):
        table.add_column(column, justify="left" if column == "measure" else "right")

    def row(label: str, a: float, b: float, digits: int = 1) -> None:
        table.add_row(label, fmt(a, digits), fmt(b, digits), f"{a / b:.2f}" if b else "-")

    def p95(values: list[float]) -> float:
        return percentile(values, 0.95)

    row(f"(a) full-file GET MB/s, best of {args.runs}", max(ours.full_mbps), max(theirs.full_mbps))
    row(f"(a) full-file GET MB/s, median of {args.runs}", median(ours.full_mbps), median(theirs.full_mbps))
    row(f"(b) {SMALL_RANGE // 1024} KiB random Range req/s, {args.clients} keep-alive clients, "
        f"{args.seconds} s", ours.ranges_per_s, theirs.ranges_per_s, 0)
    row("(b)   latency p50 ms (wrk)", ours.range_p50_ms, theirs.range_p50_ms, 2)
    row("(b)   latency p99 ms (wrk)", ours.range_p99_ms, theirs.range_p99_ms, 2)
    table.add_row("(b)   errors (non-2xx, socket)", str(ours.range_errors), str(theirs.range_errors), "")
    row(f"(c) 64 KiB mid-file seek, first byte ms, median of {args.seeks}",
        median(ours.seek_ttfb_ms), median(theirs.seek_ttfb_ms), 2)
    row("(c)   first byte ms, p95", p95(ours.seek_ttfb_ms), p95(theirs.seek_ttfb_ms), 2)
    row("(c)   last byte ms, median", median(ours.seek_total_ms), median(theirs.seek_total_ms), 2)
    row("(c)   last byte ms, p95", p95(ours.seek_total_ms), p95(theirs.seek_total_ms), 2)
    console.print(table)

    targets = Table(title="targets (witnessbox)", title_justify="left")
    for column in ("target", "measured", ""):
        targets.add_column(column)
    best = max(ours.full_mbps)
    seek_median, seek_p95 = median(ours.seek_total_ms), percentile(ours.seek_total_ms, 0.95)
    targets.add_row(f"full-file GET >= {TARGET_FULL_MBPS:.0f} MB/s (best run)", f"{fmt(best)} MB/s",
                    verdict(best >= TARGET_FULL_MBPS))
    targets.add_row(f"mid-file 64 KiB seek answered < {TARGET_SEEK_MS:.0f} ms (median, to last byte)",
                    f"{fmt(seek_median, 2)} ms", verdict(seek_median < TARGET_SEEK_MS))
    targets.add_row(f"mid-file 64 KiB seek answered < {TARGET_SEEK_MS:.0f} ms (p95, to last byte)",
                    f"{fmt(seek_p95, 2)} ms", verdict(seek_p95 < TARGET_SEEK_MS))
    console.print(targets)


def main() -> int:
    """Parse arguments, upload once, measure ours then nginx, print, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=2.0, help="size of the recording in GiB")
    parser.add_argument("--runs", type=int, default=5, help="full-file GETs per server")
    parser.add_argument("--clients", type=int, default=8, help="concurrent keep-alive connections for (b)")
    parser.add_argument("--seconds", type=int, default=10, help="duration of (b) per server")
    parser.add_argument("--seeks", type=int, default=200, help="mid-file seeks per server for (c)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the recording in bench/out for the next run")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")

    source = recording_of_size(args.size_gb)
    name, size = source.name, source.stat().st_size
    load_at_start = load_average()
    try:
        status("SHA-256 at the source")
        sha256 = sha256_plain(source)
        with witnessbox_server(workers=0) as server:
            status("uploading the recording to witnessbox")
            upload = tus_upload(f"{server.url}/api/v1/uploads/", source, sha256, 256 * MiB,
                                {"Authorization": f"Bearer {server.token}"})
            stored = server.data_dir / "blobs" / "sha256" / sha256[:2] / sha256[2:4] / sha256
            assert upload.item_id and stored.is_file()
            cookie = session_cookie(server.url)
            ours = measure(Target("witnessbox", server.port, f"/api/v1/items/{upload.item_id}/original",
                                  {"Cookie": f"wbx_session={cookie}"}), stored, args)
            with nginx(stored.parent) as port:
                theirs = measure(Target("nginx", port, f"/{sha256}", {}), stored, args)
    finally:
        clear_status()
        if not args.keep:
            shutil.rmtree(source.parent, ignore_errors=True)
    report(name, size, args, ours, theirs, (load_at_start, load_average()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
