"""Uploading handed-in footage from the browser: hashed in the page, sent over tus, resumed after a cut."""

import base64
import hashlib
import os
import random
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.conftest import browser_missing
from tests.conftest import LiveServer, free_port, fresh_database_url, settings_for
from tests.factories.media import STARTED, sha256_file, tiny_recording
from tests.factories.people import PASSWORD, PERSONAS, make_force
from witnessbox.bootstrap import build

if TYPE_CHECKING:
    from playwright.sync_api import Page

if (missing := browser_missing()) is not None:
    pytest.skip(f"browser tests skipped: {missing}", allow_module_level=True)

OWNER = PERSONAS["owner"][0]
CHUNK_KIB = 16  # small chunks, so a tiny clip takes several PATCHes


class OneCut:
    """A loopback TCP proxy that, once armed, cuts whichever connection carries the next `budget` bytes upstream.

    The server gets exactly `budget` bytes (so it keeps part of a chunk), then both ends are shut
    and the link stays down for `outage_s`: new connections are dropped, so the browser's own
    quiet retry of the request fails too and the page has to notice and resume.
    """

    def __init__(self, target_port: int, outage_s: float = 2.0) -> None:
        self.target_port, self.outage_s = target_port, outage_s
        self.down_until = 0.0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.budget: int | None = None
        self.cuts = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, budget: int) -> None:
        """Cut once `budget` more bytes have gone upstream."""
        with self.lock:
            self.budget = budget

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if time.monotonic() < self.down_until:
                client.close()
                continue
            server = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        try:
            while data := source.recv(65536):
                allowed = self._allowance(len(data)) if upstream else len(data)
                sink.sendall(data[:allowed])
                if allowed < len(data):
                    break
        except OSError:
            pass
        finally:
            for end in (source, sink):  # shut both ways: the other pump is blocked in recv
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                end.close()

    def _allowance(self, size: int) -> int:
        with self.lock:
            if self.budget is None or size < self.budget:
                self.budget = None if self.budget is None else self.budget - size
                return size
            allowed, self.budget = self.budget, None
            self.cuts += 1
            self.down_until = time.monotonic() + self.outage_s
            return allowed

    def close(self) -> None:
        """Stop accepting connections."""
        self.listener.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, OneCut]]:
    """One server with the test force, reached through the cutting proxy."""
    folder = tmp_path_factory.mktemp("browser-upload")
    with fresh_database_url(folder) as database_url:
        settings = settings_for(folder, database_url, workers=2)
        container = build(settings)
        try:
            make_force(container, camera=None)
        finally:
            container.close()
        server = LiveServer(settings=settings, port=free_port(), log=folder / "server.log")
        server.start()
        proxy = OneCut(server.port)
        try:
            yield server, proxy
        finally:
            proxy.close()
            server.stop()


def _sign_in(page: "Page", base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", OWNER)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_the_page_hashes_like_hashlib(served: tuple[LiveServer, OneCut], page: "Page") -> None:
    """GIVEN the page's SHA-256 WHEN it is fed empty, short, block-edge and multi-slice inputs in uneven pieces
    THEN every digest equals hashlib's."""
    server, _proxy = served
    _sign_in(page, server.url)
    page.goto(f"{server.url}/upload")
    generator = random.Random(7)
    cases = [b"", b"abc", bytes(55), bytes(56), bytes(64), generator.randbytes(1000),
             generator.randbytes(3 * 1024 * 1024 + 17)]
    pieces = [1, 63, 64, 65, 4096, 1 << 20]
    for data in cases:
        digest = page.evaluate(
            """async ([encoded, pieces]) => {
                 const { Sha256 } = await import('/static/js/sha256.js');
                 const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
                 const hash = new Sha256();
                 for (let at = 0, i = 0; at < bytes.length; i++) {
                   const size = pieces[i % pieces.length];
                   hash.update(bytes.subarray(at, at + size));
                   at += size;
                 }
                 return hash.hex();
               }""", [base64.b64encode(data).decode(), pieces])
        assert digest == hashlib.sha256(data).hexdigest(), len(data)


def _watch_states(page: "Page") -> None:
    """Keep every state each upload row passes through, and what it said then, in window.uploadStates."""
    page.evaluate("""() => {
        window.uploadStates = [];
        new MutationObserver((changes) => {
          for (const change of changes) {
            const row = change.target;
            if (row.matches?.('li.upload')) window.uploadStates.push([row.dataset.state, row.querySelector('.status').textContent]);
          }
        }).observe(document.getElementById('uploads'),
                   { subtree: true, attributes: true, attributeFilter: ['data-state'] });
      }""")


def _items(server: LiveServer, persona: str, sha256: str) -> list[dict[str, Any]]:
    with server.signed_in(PERSONAS[persona][0], PASSWORD) as client:
        response = client.get("/api/v1/items", params={"sha256": sha256})
        response.raise_for_status()
        return list(response.json())


def test_footage_handed_in_uploads_through_a_cut_connection_once(
        served: tuple[LiveServer, OneCut], page: "Page", tmp_path: Path, artifacts: Path) -> None:
    """GIVEN an officer on the upload page, reaching the server through a link that will drop WHEN they upload
    a CCTV clip in small chunks and the connection is cut in the middle of a chunk THEN the page shows it
    retrying and resuming, the server holds one item with the clip's SHA-256, attributed to the officer with
    its source and description, recorded when the file says, ready to play; their supervisor sees it too."""
    server, proxy = served
    base = f"http://127.0.0.1:{proxy.port}"
    clip = tmp_path / "cctv-high-street.mp4"
    shutil.copy(tiny_recording(tmp_path / "made", seconds=3, seed=5), clip)
    os.utime(clip, (STARTED.timestamp(), STARTED.timestamp()))  # the default recorded start
    sha256, size = sha256_file(clip), clip.stat().st_size
    assert size > 4 * CHUNK_KIB * 1024

    _sign_in(page, base)
    page.goto(f"{base}/upload?chunk_kib={CHUNK_KIB}")
    page.screenshot(path=str(artifacts / "upload-page.png"), full_page=True)
    page.set_input_files("#files", str(clip))
    page.check("input[name=source][value=cctv]")
    page.fill("#description", "Handed in by the manager of 12 High Street, exhibit JB/1")
    _watch_states(page)
    proxy.arm(budget=int(2.5 * CHUNK_KIB * 1024))  # the create, a HEAD, two chunks, then half a chunk
    page.click("#start")

    row = page.locator("li.upload")
    row.locator("a", has_text="Open the recording").wait_for(timeout=90_000)
    page.screenshot(path=str(artifacts / "uploaded.png"), full_page=True)
    said = page.evaluate("() => window.uploadStates")
    states = [state for state, _words in said]
    assert proxy.cuts == 1
    assert states[0] == "hashing" and "retrying" in states and states[-1] == "ready", said
    resumed = [words for state, words in said[states.index("retrying"):] if state == "uploading"]
    assert resumed and resumed[0].startswith("Resumed at"), said
    assert "resumed" in (row.get_attribute("class") or "")
    assert page.locator("#overall").evaluate("(bar) => bar.value") == 1
    assert row.get_attribute("data-sha256") == sha256

    [item] = _items(server, "owner", sha256)
    assert item["state"] == "ready" and item["verified"] and item["size"] == size
    assert (item["camera"], item["officer"], item["filename"]) == ("CCTV", "1142 Alex Morgan", clip.name)
    assert item["recorded_start"].startswith("2026-11-26T08:30:00")
    assert len(_items(server, "supervisor", sha256)) == 1 and _items(server, "stranger", sha256) == []
    _check_source_kept(server, str(item["id"]))
    assert page.evaluate("() => Object.keys(localStorage).length") == 0  # nothing left to resume


def _check_source_kept(server: LiveServer, item_id: str) -> None:
    container = build(server.settings)
    try:
        kept = container.evidence.get(item_id).camera_metadata
    finally:
        container.close()
    assert kept == {"handed_in": {"source": "cctv", "uploaded_by": "1142 Alex Morgan",
                                  "description": "Handed in by the manager of 12 High Street, exhibit JB/1"}}

