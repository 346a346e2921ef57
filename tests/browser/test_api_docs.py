"""The API documentation page in a browser: Swagger UI from the installed package, under the app's CSP."""

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import browser_missing
from tests.conftest import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page

if (missing := browser_missing()) is not None:
    pytest.skip(f"browser tests skipped: {missing}", allow_module_level=True)


@pytest.fixture
def watched(page: "Page") -> Iterator[tuple["Page", list[str], list[str]]]:
    """The page, with its console errors and every URL it requested."""
    problems: list[str] = []
    requested: list[str] = []

    def on_console(message: "ConsoleMessage") -> None:
        if message.type in ("error", "warning"):
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("request", lambda request: requested.append(request.url))
    yield page, problems, requested


def test_the_api_docs_render_every_operation_without_breaking_the_csp(
    live_server: LiveServer, watched: tuple["Page", list[str], list[str]], artifacts: Path
) -> None:
    """GIVEN the running server with its content-security policy (no inline script, nothing from elsewhere)
    WHEN a browser opens /api/docs and expands an operation
    THEN Swagger UI lists the API's operations, everything it loaded came from the server itself,
    and the console reports no CSP violation or error."""
    page, problems, requested = watched
    response = page.goto(f"{live_server.url}/api/docs")
    assert response is not None and response.ok
    assert "script-src" not in response.headers["content-security-policy"]  # default-src 'self' governs
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/items/{item_id}" in paths and "/api/v1/search" in paths
    page.locator(".opblock-summary-path", has_text="/api/v1/items/{item_id}/original").first.click()
    page.wait_for_selector(".opblock.is-open .responses-table")
    page.screenshot(path=str(artifacts / "api-docs.png"), full_page=False)
    opened = page.locator(".opblock.is-open").inner_text()
    assert "206" in opened and "video/mp4" in opened
    assert all(url.startswith(live_server.url) for url in requested), requested
    assert not problems, problems
