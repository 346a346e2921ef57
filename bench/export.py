"""Export benchmark: a case of --size-gb GB exported to a disclosure package by a real server.

Measures, on one case of recordings of about --recording-gb GB each (random bytes written
straight into the server's evidence store; content does not matter to a ZIP that stores):

* the machine's baseline on the same files in the same run: `cp` of the originals to another
  folder plus `openssl dgst -sha256` of them, timed back to back, before and after the export;
* a real `witnessbox serve` (2 job workers) building the package: from `POST /api/v1/packages`
  to the package's state `ready` (each original streamed from the store and its SHA-256 checked,
  the ZIP written, hashed and fsynced), as a ratio to the baseline (target >= 0.8);
* the server's peak RSS while it builds (VmRSS every 50 ms; target < 300 MB whatever the size);
* the open verifier over the finished ZIP (every file hashed, signature, statements), for reference.

MB = 10^6 bytes. Run: `python bench/export.py [--size-gb 10] [--recording-gb 1] [--keep]`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from _common import (
    MB,
    STARTED,
    MiB,
    RssSampler,
    _urls,
    clear_status,
    fmt,
    load_average,
    mbps,
    proc_status_kb,
    status,
    temp_dir,
    witnessbox_server,
)
from rich.console import Console
from rich.table import Table

TARGET_RATIO = 0.8
TARGET_RSS_MB = 300.0
BLOCK = 16 * MiB


@dataclass(frozen=True)
class Case:
    """What was seeded: the case, its originals' stored paths, the exporter's API token."""

    case_id: str
    paths: list[Path]
    token: str

    @property
    def size(self) -> int:
        """Bytes of originals in the case."""
        return sum(path.stat().st_size for path in self.paths)


def seed(data_dir: Path, size_gb: float, recording_gb: float) -> Case:
    """Recordings straight into the store, a case holding them, an investigator to export it."""
    from witnessbox.accounts.roles import Role
    from witnessbox.accounts.service import NewUser, actor_for
    from witnessbox.bootstrap import build
    from witnessbox.config import load_settings
    from witnessbox.core.actor import SYSTEM
    from witnessbox.evidence.service import ItemDraft

    container = build(load_settings(data_dir=data_dir, **_urls(data_dir)), migrate=False)
    try:
        user = container.users.create_user(
            NewUser(collar_number="BWV2002", name="DC Export", password="Quartz-lantern-7391-meadow",
                    roles=frozenset({Role.INVESTIGATOR, Role.DISCLOSURE_OFFICER})), actor=SYSTEM)
        actor = actor_for(user)
        count = max(1, round(size_gb / recording_gb))
        item_ids, paths = [], []
        for index in range(count):
            status(f"seeding recording {index + 1}/{count} ({fmt(size_gb * 1e9 / count / MB, 0)} MB)")
            sha256, size = _write_blob(container, data_dir / f"seed-{index}.mp4", int(size_gb * 1e9 / count))
            draft = ItemDraft(sha256=sha256, size=size, filename=f"bench-{index}.mp4", camera_id=None,
                              camera_serial="WBX00001", dock_id=None, officer_id=user.id, officer=user.name,
                              team_id=None, recorded_start=STARTED + timedelta(minutes=index),
                              upload_started_at=STARTED)
            with container.db.transaction() as uow:
                item_ids.append(container.evidence.create_item(uow.session, draft, actor=SYSTEM).id)
            local = container.evidence.blobs.local_path(sha256)
            assert local is not None
            paths.append(local)
        case = container.cases.create("OP-BENCH", "Export benchmark", actor=actor)
        container.cases.add_items(case.id, item_ids, actor=actor)
        _token, secret = container.tokens.issue_user_token("bench", actor=actor)
        container.audit.seal(actor=SYSTEM)
    finally:
        container.close()
    return Case(case.id, paths, secret)


def _write_blob(container: object, path: Path, size: int) -> tuple[str, int]:
    """Write `size` bytes (a random block repeated, a unique head), fsync, hand it to the store."""
    block = os.urandom(BLOCK)
    digest, written = hashlib.sha256(), 0
    with path.open("wb") as out:
        head = os.urandom(4096)
        out.write(head)
        digest.update(head)
        written = len(head)
        while written < size:
            piece = block[: min(BLOCK, size - written)]
            out.write(piece)
            digest.update(piece)
            written += len(piece)
        out.flush()
        os.fsync(out.fileno())
    container.evidence.blobs.adopt(path, digest.hexdigest())  # type: ignore[attr-defined]
    return digest.hexdigest(), written


def baseline(paths: list[Path], scratch: Path) -> tuple[float, float]:
    """Seconds for `cp` of the originals (then sync) and for `openssl dgst -sha256` of them."""
    target = scratch / "cp"
    target.mkdir()
    try:
        start = time.perf_counter()
        subprocess.run(["cp", *map(str, paths), str(target)], check=True)
        subprocess.run(["sync", "-f", str(target)], check=True)
        cp_s = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run(["openssl", "dgst", "-sha256", *map(str, paths)], check=True, capture_output=True)
        return cp_s, time.perf_counter() - start
    finally:
        for path in target.iterdir():
            path.chmod(0o600)
        shutil.rmtree(target)


def export(url: str, case: Case, pid: int) -> tuple[float, float, dict[str, object]]:
    """Ask for the package and wait for it; seconds, peak RSS (MB) and the package as the API shows it."""
    headers = {"Authorization": f"Bearer {case.token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client, RssSampler(pid) as rss:
        start = time.perf_counter()
        answer = client.post("/api/v1/packages", json={"case_id": case.case_id, "reason": "benchmark"})
        answer.raise_for_status()
        package = answer.json()
        while package["state"] in ("queued", "building"):
            time.sleep(0.05)
            package = client.get(f"/api/v1/packages/{package['id']}").json()
            status(f"building: {fmt(100 * float(package['progress']), 0)}%")
        seconds = time.perf_counter() - start
    if package["state"] != "ready":
        raise RuntimeError(f"the package failed: {package.get('error')}")
    return seconds, rss.peak_mb, package


def main() -> None:
    """Seed, measure the baseline, export, measure again, verify; print the tables."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-gb", type=float, default=10.0, help="the case's size in GB (10^9 bytes)")
    parser.add_argument("--recording-gb", type=float, default=1.0, help="each recording's size in GB")
    parser.add_argument("--keep", action="store_true", help="keep the package ZIP (path printed)")
    args = parser.parse_args()
    console = Console(width=120)
    console.print(f"load average at start: {load_average():.2f}")
    with witnessbox_server(workers=2, grace_s=2) as server, temp_dir("export-") as scratch:
        case = seed(server.data_dir, args.size_gb, args.recording_gb)
        size = case.size
        status("baseline: cp + openssl dgst -sha256")
        before = baseline(case.paths, scratch)
        idle_mb = proc_status_kb(server.pid, "VmRSS") * 1024 / MB
        export_s, peak_mb, package = export(server.url, case, server.pid)
        status("baseline again")
        after = baseline(case.paths, scratch)
        zip_path = server.data_dir / "packages" / f"{package['id']}.zip"
        status("verifying the package")
        start = time.perf_counter()
        verified = subprocess.run([sys.executable, "-m", "witnessbox", "verify", str(zip_path)],
                                  capture_output=True, text=True, check=False)
        verify_s = time.perf_counter() - start
        clear_status()
        _print(console, size, before, after, export_s, idle_mb, peak_mb, verify_s, verified.returncode)
        if args.keep:
            kept = Path.cwd() / zip_path.name
            shutil.move(zip_path, kept)
            console.print(f"kept {kept}")
    console.print(f"load average at end: {load_average():.2f}")


def _print(console: Console, size: int, before: tuple[float, float], after: tuple[float, float],
           export_s: float, idle_mb: float, peak_mb: float, verify_s: float, verify_rc: int) -> None:
    base_s = (sum(before) + sum(after)) / 2
    table = Table(title=f"export of a {fmt(size / 1e9, 2)} GB case")
    for column in ("what", "seconds", "MB/s", "ratio to baseline", "target"):
        table.add_column(column, justify="right" if column != "what" else "left")
    table.add_row("cp + sync (before / after)", f"{fmt(before[0], 2)} / {fmt(after[0], 2)}", "", "", "")
    table.add_row("openssl dgst -sha256 (before / after)", f"{fmt(before[1], 2)} / {fmt(after[1], 2)}",
                  "", "", "")
    table.add_row("baseline: cp + openssl (mean)", fmt(base_s, 2), fmt(mbps(size, base_s), 0), "1.00", "")
    ratio = base_s / export_s
    table.add_row("witnessbox package, request to ready", fmt(export_s, 2), fmt(mbps(size, export_s), 0),
                  f"{ratio:.2f}", f">= {TARGET_RATIO} {'OK' if ratio >= TARGET_RATIO else 'MISSED'}")
    table.add_row("verify.py over the ZIP", fmt(verify_s, 2), fmt(mbps(size, verify_s), 0), "",
                  "exit 0 OK" if verify_rc == 0 else f"exit {verify_rc} FAILED")
    console.print(table)
    rss = "OK" if peak_mb < TARGET_RSS_MB else "MISSED"
    console.print(f"server RSS: idle {fmt(idle_mb)} MB, peak while building {fmt(peak_mb)} MB "
                  f"(target < {TARGET_RSS_MB:.0f} MB: {rss})")


if __name__ == "__main__":
    main()
