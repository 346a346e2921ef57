#!/usr/bin/env python3
"""Make docs/screenshot.png: the recordings list of a fresh `witnessbox serve --demo`.

Starts the server on its embedded default in a temporary data directory and on a
free port, waits until the demo recordings are ready, signs in with the password
the server wrote on first run, and photographs the list in Debian's Chromium.

    .venv/bin/python scripts/screenshot.py [--out docs/screenshot.png]

Needs the `playwright` Python package and /usr/bin/chromium (no browser download).
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
DEMO_ITEMS = 6  # three cameras, two recordings each (witnessbox/dock/demo.py)
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nobody is listening on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_demo(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """`witnessbox serve --demo` on the embedded default, whatever this shell's WITNESSBOX_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WITNESSBOX_")}
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "witnessbox", "serve", "--demo", "--data-dir", str(data_dir),
             "--port", str(port)],
            cwd=data_dir.parent, env=env, stdout=out, stderr=subprocess.STDOUT)


def items(base: str, password: str) -> list[dict[str, Any]]:
    """The items, asked for with HTTP Basic as the administrator (how scripts call the API)."""
    try:
        response = httpx.get(f"{base}/api/v1/items", auth=("admin", password), timeout=10)
        response.raise_for_status()
    except httpx.HTTPError:
        return []
    listed: list[dict[str, Any]] = response.json()
    return listed


def wait_for_demo(base: str, data_dir: Path, server: subprocess.Popen[bytes], log: Path,
                  timeout_s: float) -> str:
    """Wait until every demo item has left `processing`; return the admin password."""
    deadline = time.monotonic() + timeout_s
    states: list[str] = []
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"server exited:\n{log.read_text()[-3000:]}")
        password_file = data_dir / "admin-password"
        if password_file.exists():
            password = password_file.read_text().strip()
            states = [item["state"] for item in items(base, password)]
            if len(states) >= DEMO_ITEMS and "processing" not in states:
                return password
        time.sleep(1)
    sys.exit(f"demo items not ready after {timeout_s:.0f} s (states: {states}):\n"
             f"{log.read_text()[-3000:]}")


def photograph(base: str, password: str, out: Path, width: int, height: int) -> None:
    """Sign in and save the recordings list, thumbnails loaded."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_selector("table.items img.thumb")
        page.wait_for_function(
            "() => [...document.querySelectorAll('img.thumb')].every(i => i.complete && i.naturalWidth)")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()


def main() -> None:
    """Parse arguments, run the demo, take the picture, stop the server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the demo")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="witnessbox-screenshot-") as temp:
        data_dir, log, port = Path(temp) / "witnessbox-data", Path(temp) / "server.log", free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_demo(data_dir, port, log)
        try:
            password = wait_for_demo(base, data_dir, server, log, args.timeout)
            photograph(base, password, args.out, args.width, args.height)
        finally:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
