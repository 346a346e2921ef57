"""Pages speak HTML to browsers: every refusal or error on a page is a page with the reason and a way
back; the API, the file streams and the upload protocol keep answering JSON."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import LiveServer, free_port, fresh_database_url, settings_for
from tests.factories.people import PASSWORD, Force, make_force
from witnessbox.bootstrap import build
from witnessbox.web.app import create_app

HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Force]]:
    """One server for the module, with the test force in it."""
    folder = tmp_path_factory.mktemp("errors")
    with fresh_database_url(folder) as url:
        settings = settings_for(folder, url, workers=0)
        container = build(settings)
        force = make_force(container, camera=None)
        server = LiveServer(settings=settings, port=free_port(), log=folder / "server.log")
        server.start()
        yield server, force
        server.stop()
        container.close()


@contextmanager
def _browser(site: tuple[LiveServer, Force], persona: str) -> Iterator[httpx.Client]:
    server, force = site
    with httpx.Client(base_url=server.url, timeout=30, headers=HTML) as client:
        signed = client.post("/login", data={"username": force.collar(persona), "password": PASSWORD})
        assert signed.status_code == 303, signed.text
        yield client


def _is_error_page(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("text/html"), response.headers["content-type"]
    assert "<h1>" in response.text and 'href="/"' in response.text, response.text[:500]
    for word in words:
        assert word in response.text, (word, response.text[:800])


def test_a_refused_page_is_a_page_with_the_reason_and_a_way_back(site: tuple[LiveServer, Force]) -> None:
    """GIVEN an officer in a browser WHEN they open the administration page, coming from the library THEN a 403 page says why, with a link back to the library and their menu."""
    with _browser(site, "owner") as officer:
        refused = officer.get("/admin/users", headers={"Referer": f"{site[0].url}/?q=elm"})
    _is_error_page(refused, 403, "Not allowed", 'href="/?q=elm"', "Sign out")


def test_a_missing_recording_and_an_unknown_address_are_not_found_pages(site: tuple[LiveServer, Force]) -> None:
    """GIVEN an officer in a browser WHEN they open a recording that does not exist, or an address the system does not have THEN each is a 404 page, not JSON."""
    with _browser(site, "owner") as officer:
        _is_error_page(officer.get("/items/01NOSUCHITEM0000000000000"), 404, "Not found")
        _is_error_page(officer.get("/no/such/page"), 404, "no page at this address")


def test_the_wrong_method_on_a_page_is_a_page(site: tuple[LiveServer, Force]) -> None:
    """GIVEN a browser WHEN it GETs an address that only takes a form post (sign out) THEN a 405 page, keeping the Allow header."""
    with _browser(site, "owner") as officer:
        wrong = officer.get("/logout")
    _is_error_page(wrong, 405, "cannot be used that way")
    assert wrong.headers.get("allow") == "POST"


def test_values_that_do_not_fit_are_a_page_naming_the_field(site: tuple[LiveServer, Force]) -> None:
    """GIVEN a supervisor WHEN the compliance page is asked for a number of days that is not a number THEN a 422 page names the field."""
    with _browser(site, "supervisor") as supervisor:
        _is_error_page(supervisor.get("/compliance", params={"days": "soon"}), 422, "days:")


def test_the_api_keeps_json_even_for_browsers(site: tuple[LiveServer, Force]) -> None:
    """GIVEN a browser session WHEN it calls the API for a missing item or an unknown API address THEN the answers stay JSON."""
    with _browser(site, "owner") as officer:
        item = officer.get("/api/v1/items/01NOSUCHITEM0000000000000")
        unknown = officer.get("/api/v1/nothing-here")
    assert item.status_code == 404 and item.json() == {"error": item.json()["error"]}
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/json"


def test_an_anonymous_browser_gets_a_page_without_a_menu(site: tuple[LiveServer, Force]) -> None:
    """GIVEN nobody signed in WHEN a browser opens an unknown address THEN a 404 page without the signed-in menu."""
    response = httpx.get(f"{site[0].url}/nowhere", headers=HTML)
    _is_error_page(response, 404)
    assert "Sign out" not in response.text


def test_an_unexpected_failure_is_a_page_with_a_reference(tmp_path: Path, database_url: str) -> None:
    """GIVEN the real app with a page that fails unexpectedly WHEN a browser opens it, and then an API client THEN the browser gets a 500 page with the request's reference and no stack trace, the client JSON."""
    container = build(settings_for(tmp_path, database_url, workers=0))
    app = create_app(container)

    def broken_page() -> None:
        raise RuntimeError("disk controller said no")

    app.add_api_route("/broken", broken_page)
    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/broken", headers={**HTML, "X-Request-ID": "ref-123"})
        api = client.get("/broken", headers={"Accept": "application/json"})
    _is_error_page(page, 500, "Something went wrong", "ref-123")
    assert "disk controller" not in page.text and "Traceback" not in page.text
    assert api.status_code == 500 and api.json()["error"] == "internal error"
