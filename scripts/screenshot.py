#!/usr/bin/env python3
"""Make docs/screenshot.png: the recordings list of a fresh `witnessbox serve --demo`.

Starts the server on its embedded default in a temporary data directory and on a
free port, signs in as a demo person with the password the demo wrote to
<data dir>/demo-password (by default 4410, the supervisor of the demo team, who
sees the team's recordings), waits until every demo recording is listed and
ready with its thumbnails, and photographs the list in Debian's Chromium.

    .venv/bin/python scripts/screenshot.py [--out docs/screenshot.png] [--user 4410]

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

from playwright.sync_api import Page, sync_playwright

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


class Demo:
    """The running demo server: its address, data directory, process and log."""

    def __init__(self, data_dir: Path, port: int, log: Path) -> None:
        self.base, self.data_dir, self.log = f"http://127.0.0.1:{port}", data_dir, log
        self.process = start_demo(data_dir, port, log)

    def fail(self, why: str) -> None:
        """Stop with the reason and the end of the server's log."""
        sys.exit(f"{why}\n--- server log ---\n{self.log.read_text()[-3000:]}")

    def password(self, deadline: float) -> str:
        """The demo people's password, once the demo loader has written it."""
        path = self.data_dir / "demo-password"
        while not path.exists():
            if self.process.poll() is not None:
                self.fail("server exited")
            if time.monotonic() > deadline:
                self.fail(f"{path} did not appear")
            time.sleep(0.5)
        return path.read_text().strip()

    def stop(self) -> None:
        """Terminate the server, then kill it if it lingers."""
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def sign_in(page: Page, demo: Demo, user: str, password: str) -> None:
    """Sign in through the form, as a person would.

    The demo writes its password file before it creates its people, so the first
    tries may be refused; a few, spaced out, stay under the sign-in throttle.
    """
    for attempt in range(4):
        page.goto(f"{demo.base}/login")
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        if page.url == f"{demo.base}/":
            return
        time.sleep(5 * (attempt + 1))
    demo.fail(f"could not sign in as {user}: {page.locator('[role=alert]').all_inner_texts()}")


def wait_until_ready(page: Page, demo: Demo, deadline: float) -> None:
    """Reload the list until every demo recording is listed and none is still processing."""
    while True:
        page.goto(f"{demo.base}/")
        rows = page.locator("table.items tbody tr").count()
        processing = page.locator(".state.processing").count()
        if rows >= DEMO_ITEMS and processing == 0:
            return
        if demo.process.poll() is not None:
            demo.fail("server exited")
        if time.monotonic() > deadline:
            demo.fail(f"demo not ready: {rows} recordings listed to this person, {processing} "
                      "processing (are the demo recordings attributed to the demo officers?)")
        time.sleep(2)


def photograph(demo: Demo, args: argparse.Namespace, deadline: float) -> None:
    """Sign in, wait for the demo, save the list with its thumbnails loaded."""
    password = demo.password(deadline)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        sign_in(page, demo, args.user, password)
        wait_until_ready(page, demo, deadline)
        page.wait_for_function("() => [...document.querySelectorAll('img.thumb')].every(i => i.complete)")
        broken = page.evaluate(
            "() => [...document.querySelectorAll('img.thumb')].filter(i => !i.naturalWidth).length")
        if broken:
            demo.fail(f"{broken} thumbnails did not load: may {args.user} see these recordings?")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out))
        browser.close()


def main() -> None:
    """Parse arguments, run the demo, take the picture, stop the server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--user", default="4410",
                        help="collar number of the demo person to sign in as (4410: supervisor)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the demo")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="witnessbox-screenshot-") as temp:
        demo = Demo(Path(temp) / "witnessbox-data", free_port(), Path(temp) / "server.log")
        try:
            photograph(demo, args, time.monotonic() + args.timeout)
        finally:
            demo.stop()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
