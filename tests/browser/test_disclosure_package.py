"""A disclosure officer builds a case's package in the browser, watches its progress, downloads it,
and the downloaded ZIP verifies."""

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import browser_missing
from tests.conftest import LiveServer
from tests.factories.packages import seed_case
from tests.factories.people import PASSWORD, PERSONAS
from witnessbox.bootstrap import build
from witnessbox.disclosure import verifier

if TYPE_CHECKING:
    from playwright.sync_api import Page

if (missing := browser_missing()) is not None:
    pytest.skip(f"browser tests skipped: {missing}", allow_module_level=True)


def test_a_package_is_built_with_progress_downloaded_and_verified(
    live_server: LiveServer, page: "Page", tmp_path: Path
) -> None:
    """GIVEN a case of two recordings WHEN its disclosure officer builds its package from the case page
    THEN the package page follows the build to ready, shows the ZIP's hash, and the downloaded ZIP
    is the one recorded and passes the verifier."""
    live_server.stop()
    container = build(live_server.settings)
    try:  # in a thread of its own: the upload runs an event loop, and Playwright's is running here
        with ThreadPoolExecutor(1) as thread:
            case_id = thread.submit(seed_case, container).result().case_id
    finally:
        container.close()
    live_server.start()
    base = live_server.url
    page.goto(f"{base}/login")
    page.fill("input[name=username]", PERSONAS["case_member"][0])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/cases/{case_id}")
    page.click("#disclosure-package")
    page.fill("#package-form input[name=reason]", "MG6 file for CPS")
    page.click("#package-form button[type=submit]")
    page.wait_for_url(f"{base}/packages/*")
    page.wait_for_selector("#package-ready:not([hidden])", timeout=30_000)
    assert page.eval_on_selector("#package-progress", "bar => bar.value") == 1
    assert page.text_content("#package-state") == "ready"
    recorded = (page.text_content("#package-sha256") or "").strip()
    with page.expect_download() as waiting:
        page.click("#package-download")
    saved = tmp_path / "package.zip"
    waiting.value.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == recorded
    report = verifier.verify(saved)
    assert report.ok, report.lines()
