"""Streaming benchmark: the embedded byte path, the offloaded one (nginx in front), and nginx alone.

A ~--size-gb GiB simulated 1080p recording (cached in bench/out) is uploaded with
tuspy to a fresh `witnessbox serve` (no job workers, so nothing else runs while
timing) and registered as its own browser copy, so `/proxy` (the player's path)
and `/original` (the download path) serve the very same stored file three ways:

* embedded: byte_path "app" (the default), one app process, signed in with the
  `wbx_session` cookie of one `POST /login` as the recording's officer. The first
  range of a play is authorised and audited; repeat ranges ride on the process's
  short-lived grant (decision 0029).
* offloaded: a second app process on the same data directory with byte_path
  "nginx", behind Debian's nginx running the configuration `witnessbox nginx-config`
  prints (one worker, access log off as for direct). Downloads go through the app
  (authorised, audited) and are sent by nginx (X-Accel-Redirect); a play's first
  request is answered with a signed /bytes/ grant that nginx serves on its own.
* nginx direct: the same nginx build, one worker, `sendfile on`, root at the
  stored file's folder, no authentication at all.

For each it prints:

(a) full-file GET throughput (offloaded: the download `/original`), best and median of --runs;
(b) 4 KiB Range requests per second at random offsets from --clients keep-alive connections for
    --seconds (wrk, one thread, bench/_random_range.lua);
(c) a seek: time to first and last byte of a 64 KiB Range in the middle of the file;

and the price of authorising a play: the first request of a playback (authorised and audited:
embedded, it also sends 4 KiB; offloaded, it answers the grant redirect), and an authorised
range without a grant (every layer: authentication, policy, database, answer).

Targets: offloaded >= 0.8x nginx direct on (a), (b) and (c); embedded >= 1,000 small ranges
a second per process and a mid-file seek < 5 ms. MB = 10^6 bytes.
Run: `python bench/stream.py [--size-gb 2] [--keep]`.
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from _common import (
    BENCH,
    MiB,
    Server,
    _urls,
    clean_env,
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
TARGET_RANGES_PER_S = 1000.0
TARGET_RATIO = 0.8
PLAYS = 40  # first requests timed for the price of a play
GRANT_S = 300  # the offloaded grants outlive the run (the default bound, 10 s, would renew mid-test)
RECV_BUFFER = 1024 * 1024
WRK_SCRIPT = BENCH / "_random_range.lua"


@dataclass(frozen=True)
class Target:
    """Where and how to ask for the file."""

    name: str
    port: int
    path: str
    headers: dict[str, str]
    full_path: str | None = None  # where (a) asks for the whole file, when not `path`


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
    if target.full_path:
        target = Target(target.name, target.port, target.full_path, target.headers)
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
def nginx_running(config: str, port: int) -> Iterator[int]:
    """Debian's nginx in the foreground with this configuration (an `http {}` block) on `port`."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise SystemExit("nginx is not installed: apt-get install nginx-light")
    with temp_dir("nginx-") as prefix:
        user = "user root root;" if os.geteuid() == 0 else ""  # the store keeps blobs owner-read-only
        temp_paths = "\n".join(f"    {kind}_temp_path {prefix / kind};"
                               for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        head = f"daemon off;\n{user}\npid {prefix / 'nginx.pid'};\n"
        config = re.sub(r"(?m)^error_log .*$", "", config)
        config = re.sub(r"(?m)^http \{$", "http {\n" + temp_paths, config, count=1)
        (prefix / "nginx.conf").write_text(head + config)
        log = prefix / "stdout.log"
        with log.open("ab") as sink:
            command = [binary, "-p", str(prefix), "-e", str(prefix / "error.log"),
                       "-c", str(prefix / "nginx.conf")]
            process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", process, prefix / "error.log", timeout_s=15)
            yield port
        finally:
            stop_process(process, grace_s=5)


@contextmanager
def nginx(root: Path) -> Iterator[int]:
    """nginx alone, one worker, sendfile on, serving `root` on a free loopback port."""
    port = free_port()
    with nginx_running(f"""
worker_processes 1;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
""", port) as running:
        yield running


@contextmanager
def offloaded(server: Server, upstream_port: int) -> Iterator[int]:
    """nginx as `witnessbox nginx-config` writes it (one worker, access log off) before the app."""
    from witnessbox.config import load_settings
    from witnessbox.web.nginx import NginxOptions, nginx_config

    port = free_port()
    settings = load_settings(data_dir=server.data_dir, byte_path="nginx", byte_grant_seconds=GRANT_S,
                             **_urls(server.data_dir))
    options = NginxOptions(upstreams=[f"127.0.0.1:{upstream_port}"], listen=f"127.0.0.1:{port}",
                           plain_http=True, log_dir=server.data_dir, worker_processes="1")
    config = re.sub(r"(?m)^    access_log .*$", "    access_log off;", nginx_config(settings, options))
    with nginx_running(config, port) as running:
        yield running


@contextmanager
def second_app(server: Server, settings: dict[str, str]) -> Iterator[int]:
    """Another app process on the same data directory, database and store, with these settings."""
    port = free_port()
    env = clean_env()
    env.update({f"WITNESSBOX_{k.upper()}": v for k, v in {**_urls(server.data_dir), **settings}.items()})
    env.update({"WITNESSBOX_DATA_DIR": str(server.data_dir), "WITNESSBOX_WORKERS": "0"})
    log = server.data_dir / "offloaded.log"
    with log.open("ab") as sink:
        process = subprocess.Popen([sys.executable, "-m", "witnessbox", "serve", "--port", str(port)],
                                   env=env, stdout=sink, stderr=subprocess.STDOUT, cwd=server.data_dir)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", process, log)
        yield port
    finally:
        stop_process(process, 10)


# --------------------------------------------------------------------------
# Running it all
# --------------------------------------------------------------------------


def measure(targets: list[Target], original: Path, args: argparse.Namespace) -> dict[str, Figures]:
    """(a), (b) and (c) for every server, taking turns (a busy machine's noise falls on all alike)."""
    size = original.stat().st_size
    full: dict[str, list[float]] = {t.name: [] for t in targets}
    ranges: dict[str, tuple[float, float, float, int]] = {}
    seek: dict[str, tuple[list[float], list[float]]] = {}
    for target in targets:
        check_range(target, original)
    for run in range(args.runs):
        for target in targets:
            status(f"{target.name}: full-file GET {run + 1}/{args.runs}")
            full[target.name].append(full_get(target))
    for target in targets:  # before (b), so no backlog from the load test lingers
        status(f"{target.name}: mid-file seeks")
        seek[target.name] = seeks(target, size, args.seeks)
    for round_ in range(args.rounds):
        for target in targets:
            status(f"{target.name}: {SMALL_RANGE // 1024} KiB ranges, {args.clients} clients, "
                   f"{args.seconds} s, round {round_ + 1}/{args.rounds}")
            measured = small_ranges(target, size, args.clients, args.seconds)
            if target.name not in ranges or measured[0] > ranges[target.name][0]:
                ranges[target.name] = measured
    return {t.name: Figures(full[t.name], *ranges[t.name], *seek[t.name]) for t in targets}


@dataclass(frozen=True)
class Price:
    """What authorising costs, ms (medians)."""

    play_ms: float  # the first request of a playback: authorised and audited
    ungranted_ms: float  # an authorised range with no grant to ride on (every layer, no audit)


def timed(target: Target, headers: Callable[[int], dict[str, str]], count: int) -> list[float]:
    """Time `count` requests on one keep-alive connection (ms), after two to warm it."""
    connection = Connection(target)
    times = []
    try:
        for index in range(count + 2):
            code, _n, _f, seconds, _ = connection.get(headers(index))
            if code not in (206, 307):
                raise RuntimeError(f"{target.name}: answered {code}")
            if index >= 2:
                times.append(seconds * 1000)
    finally:
        connection.close()
    return times


def price(target: Target, size: int) -> Price:
    """The price of a play's first request, and of a range without a grant (a fresh Cookie header each)."""
    plays = timed(target, lambda _: {"Range": f"bytes=0-{SMALL_RANGE - 1}"}, PLAYS)
    cookie = target.headers.get("Cookie", "")

    def ungranted(index: int) -> dict[str, str]:  # a grant is keyed by the exact headers: a new one misses
        offset = size // 2 + index * SMALL_RANGE
        return {"Cookie": f"{cookie}; bench={index}", "Range": f"bytes={offset}-{offset + SMALL_RANGE - 1}"}

    return Price(median(plays), median(timed(target, ungranted, PLAYS)))


def grant_of(port: int, path: str, cookie: str) -> str:
    """The /bytes/ grant the offloaded app hands a play (its first request, audited)."""
    connection = Connection(Target("grant", port, path, {"Cookie": cookie}))
    try:
        lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", f"Cookie: {cookie}", "Range: bytes=0-1"]
        connection.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = connection.sock.recv(65536).decode("latin-1")
    finally:
        connection.close()
    match = re.search(r"(?im)^location:\s*(\S+)", head)
    if not head.startswith("HTTP/1.1 307") or match is None:
        raise RuntimeError(f"the offloaded play was not granted: {head[:500]}")
    return match.group(1)


def register_proxy(server: Server, item_id: str, sha256: str, size: int) -> None:
    """Make the uploaded original its own browser copy, so /proxy (the player's path) serves it."""
    from witnessbox.bootstrap import build
    from witnessbox.config import load_settings
    from witnessbox.core.actor import SYSTEM
    from witnessbox.evidence.models import DerivativeKind, ItemState
    from witnessbox.evidence.service import DerivativeDraft

    container = build(load_settings(data_dir=server.data_dir, **_urls(server.data_dir)))
    try:
        draft = DerivativeDraft(DerivativeKind.PROXY, sha256, size, "video/mp4", "bench: the original as is")
        container.evidence.add_derivative(item_id, draft, actor=SYSTEM)
        if container.evidence.get(item_id).state != ItemState.READY:
            container.evidence.set_state(item_id, ItemState.READY, actor=SYSTEM)
    finally:
        container.close()


def verdict(ok: bool) -> str:
    """PASS/FAIL, coloured."""
    return "[green]PASS[/green]" if ok else "[red]FAIL[/red]"


def report(name: str, size: int, args: argparse.Namespace, figures: dict[str, Figures],
           prices: dict[str, Price], load: tuple[float, float]) -> None:
    """The final tables on stdout."""
    console = Console(width=170)
    embedded, offload, direct = figures["embedded"], figures["offloaded"], figures["direct"]
    table = Table(title=f"Streaming {name}, {size:,} B ({size / 1e9:.2f} GB), same stored file, "
                        f"MB = 10^6 B; load average {load[0]:.1f} at start, {load[1]:.1f} at end "
                        f"({os.cpu_count()} CPUs)", title_justify="left")
    for column in ("measure", "embedded (app)", "offloaded (nginx)", "nginx direct", "offloaded / direct"):
        table.add_column(column, justify="left" if column == "measure" else "right")

    def row(label: str, pick: Callable[[Figures], float], digits: int = 1, *, lower_better: bool = False
            ) -> None:
        a, b, c = pick(embedded), pick(offload), pick(direct)
        ratio = (c / b if lower_better else b / c) if b and c else 0.0
        table.add_row(label, fmt(a, digits), fmt(b, digits), fmt(c, digits), f"{ratio:.2f}")

    row(f"(a) full-file GET MB/s, best of {args.runs}", lambda f: max(f.full_mbps))
    row(f"(a) full-file GET MB/s, median of {args.runs}", lambda f: median(f.full_mbps))
    row(f"(b) {SMALL_RANGE // 1024} KiB random Range req/s, {args.clients} keep-alive clients, "
        f"{args.seconds} s",
        lambda f: f.ranges_per_s, 0)
    row("(b)   latency p50 ms (wrk)", lambda f: f.range_p50_ms, 2, lower_better=True)
    row("(b)   latency p99 ms (wrk)", lambda f: f.range_p99_ms, 2, lower_better=True)
    errors = (str(f.range_errors) for f in (embedded, offload, direct))
    table.add_row("(b)   errors (non-2xx, socket)", *errors, "")
    row(f"(c) 64 KiB mid-file seek, first byte ms, median of {args.seeks}",
        lambda f: median(f.seek_ttfb_ms), 2, lower_better=True)
    row("(c)   last byte ms, median", lambda f: median(f.seek_total_ms), 2, lower_better=True)
    row("(c)   last byte ms, p95", lambda f: percentile(f.seek_total_ms, 0.95), 2, lower_better=True)
    table.add_row(f"play's first request ms (authorised + audited), median of {PLAYS}",
                  fmt(prices["embedded"].play_ms, 2), fmt(prices["offloaded"].play_ms, 2), "-", "")
    table.add_row(f"authorised 4 KiB range without a grant ms, median of {PLAYS}",
                  fmt(prices["embedded"].ungranted_ms, 2), fmt(prices["offloaded"].ungranted_ms, 2), "-", "")
    console.print(table)

    targets = Table(title="targets", title_justify="left")
    for column in ("target", "measured", ""):
        targets.add_column(column)
    for label, ours, theirs in (
        ("(a) full-file, best", max(offload.full_mbps), max(direct.full_mbps)),
        ("(b) small ranges/s", offload.ranges_per_s, direct.ranges_per_s),
        ("(c) seek, 1 / median last byte",
         1 / median(offload.seek_total_ms), 1 / median(direct.seek_total_ms)),
    ):
        ratio = ours / theirs if theirs else 0.0
        targets.add_row(f"offloaded {label} >= {TARGET_RATIO}x nginx direct", f"{ratio:.2f}x",
                        verdict(ratio >= TARGET_RATIO))
    targets.add_row(f"embedded small ranges >= {TARGET_RANGES_PER_S:,.0f}/s (one process)",
                    f"{embedded.ranges_per_s:,.0f}/s", verdict(embedded.ranges_per_s >= TARGET_RANGES_PER_S))
    seek = median(embedded.seek_total_ms)
    targets.add_row(f"embedded mid-file 64 KiB seek < {TARGET_SEEK_MS:.0f} ms (median, last byte)",
                    f"{fmt(seek, 2)} ms", verdict(seek < TARGET_SEEK_MS))
    targets.add_row(f"embedded full-file GET >= {TARGET_FULL_MBPS:.0f} MB/s (best run)",
                    f"{fmt(max(embedded.full_mbps))} MB/s",
                    verdict(max(embedded.full_mbps) >= TARGET_FULL_MBPS))
    console.print(targets)


def main() -> int:
    """Parse arguments, upload once, measure embedded, offloaded and nginx alone, print, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=2.0, help="size of the recording in GiB")
    parser.add_argument("--runs", type=int, default=5, help="full-file GETs per server")
    parser.add_argument("--clients", type=int, default=8, help="concurrent keep-alive connections for (b)")
    parser.add_argument("--seconds", type=int, default=10, help="duration of (b) per server")
    parser.add_argument("--seeks", type=int, default=200, help="mid-file seeks per server for (c)")
    parser.add_argument("--rounds", type=int, default=3, help="turns of (b) per server; the best is kept")
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
            register_proxy(server, upload.item_id, sha256, size)
            cookie = f"wbx_session={session_cookie(server.url)}"
            item = f"/api/v1/items/{upload.item_id}"
            embedded = Target("embedded", server.port, f"{item}/proxy", {"Cookie": cookie})
            with second_app(server, {"byte_path": "nginx", "byte_grant_seconds": str(GRANT_S)}) as app_port, \
                    offloaded(server, app_port) as port, nginx(stored.parent) as direct_port:
                play = Target("offloaded", port, f"{item}/proxy", {"Cookie": cookie})
                granted = Target("offloaded", port, grant_of(port, play.path, cookie), {"Cookie": cookie},
                                 full_path=f"{item}/original")
                direct = Target("direct", direct_port, f"/{sha256}", {})
                figures = measure([embedded, granted, direct], stored, args)
                prices = {"embedded": price(embedded, size), "offloaded": price(play, size)}
    finally:
        clear_status()
        if not args.keep:
            shutil.rmtree(source.parent, ignore_errors=True)
    report(name, size, args, figures, prices, (load_at_start, load_average()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
