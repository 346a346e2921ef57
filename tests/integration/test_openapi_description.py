"""The API's description and documentation page: errors documented, bytes typed, 405 with Allow, CSP kept."""

import re
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends

from tests.conftest import LiveServer
from tests.factories.people import make_force
from witnessbox.accounts.dependencies import current_actor
from witnessbox.bootstrap import Container
from witnessbox.core.actor import Actor
from witnessbox.web.app import create_app


@pytest.fixture
def document(container: Container) -> dict:
    """The OpenAPI document the app serves."""
    return create_app(container).openapi()


# Open to everyone: tus capabilities, as the protocol wants; the signed audit head, for outsiders to keep.
PUBLIC = {("options", "/api/v1/uploads/"), ("get", "/api/v1/audit/head")}
PUBLIC |= {("get", "/api/v1/audit/checkpoints")}  # the signed feed of checkpoints, for outsiders to keep


def test_every_api_operation_documents_its_errors_with_the_error_shape(document: dict) -> None:
    """GIVEN the description WHEN its /api/ operations are read
    THEN each signed-in one declares its security and 400/401/403 answers in the Error shape,
    those that name a thing declare 404, and those that change state 409."""
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    for path, operations in document["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            if (method, path) in PUBLIC:
                assert "security" not in operation, (method, path)
                continue
            responses = operation["responses"]
            assert operation["security"] == [{"bearerToken": []}, {"sessionCookie": []}], (method, path)
            for status in ("400", "401", "403"):
                shape = responses[status]["content"]["application/json"]["schema"]
                assert shape == {"$ref": "#/components/schemas/Error"}, (method, path, status)
            if "{" in path or "requestBody" in operation:
                assert "404" in responses, (method, path)
            if method in ("post", "patch", "delete"):
                assert "409" in responses, (method, path)


def test_bytes_are_documented_with_their_media_types_and_ranges(document: dict) -> None:
    """GIVEN the description WHEN the routes that serve stored bytes are read
    THEN each documents 200 and 206 with its media type as binary, and 416 for a Range outside the bytes."""
    for name, media_type in (("original", "video/mp4"), ("proxy", "video/mp4"), ("thumbnails", "image/jpeg")):
        responses = document["paths"][f"/api/v1/items/{{item_id}}/{name}"]["get"]["responses"]
        for status in ("200", "206"):
            assert responses[status]["content"] == {media_type: {"schema": {"type": "string", "format": "binary"}}}
        assert "Content-Range" in responses["206"]["headers"] and "416" in responses


def test_the_force_rules_are_in_the_categorisation_shape(container: Container, document: dict) -> None:
    """GIVEN the force's configured categories and reference formats
    WHEN the categorisation request shape is read THEN it lists the categories and the formats."""
    fields = document["components"]["schemas"]["CategorisationIn"]["properties"]
    categories = fields["category"]["anyOf"][0]["enum"]
    assert categories == list(container.settings.offence_categories)
    incident = fields["incident_number"]["anyOf"][0]["pattern"]
    assert re.search(incident, "26/12345") and not re.search(incident, "12345")


def test_a_wrong_method_is_405_with_every_method_of_the_path(live_server: LiveServer) -> None:
    """GIVEN a path served by two routes (GET and PATCH /api/v1/items/{id}) and one beside it (/items/categorise)
    WHEN a method neither has is sent THEN the answer is 405, its Allow names the methods of exactly that path,
    and the body is in the Error shape."""
    with httpx.Client(base_url=live_server.url) as client:
        item = client.put("/api/v1/items/01ABC")
        bulk = client.options("/api/v1/items/categorise")
    assert item.status_code == 405 and item.headers["allow"] == "GET, PATCH"
    assert bulk.status_code == 405 and bulk.headers["allow"] == "POST"
    assert "not allowed" in item.json()["error"]


def test_a_body_that_does_not_parse_is_a_400_in_the_error_shape(container: Container, live_server: LiveServer) -> None:
    """GIVEN a signed-in person WHEN a body that is not even text is sent as JSON THEN the answer is 400 {"error": ...}."""
    make_force(container)
    with live_server.owner() as client:
        csrf = client.get("/api/v1/me").json()["csrf_token"]
        response = client.post("/api/v1/cases", content=b"t\x04\xc4\x1e`\xf0", headers={
            "Content-Type": "application/json", "X-CSRF-Token": csrf})
    assert response.status_code == 400 and response.json()["error"]


def test_the_docs_page_loads_its_assets_from_the_server_and_no_inline_script(live_server: LiveServer) -> None:
    """GIVEN the running server WHEN /api/docs is fetched
    THEN the page's scripts and styles are same-origin files that the server serves, none of them inline."""
    with httpx.Client(base_url=live_server.url) as client:
        page = client.get("/api/docs")
        assert page.status_code == 200 and page.headers["content-security-policy"].startswith("default-src 'self'")
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources and all(source.startswith("/") and not source.startswith("//") for source in sources)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text)  # every script is a file
        assert "style=" not in page.text and "<style" not in page.text
        for source in sources:
            assert client.get(source).status_code == 200, source
        assert "SwaggerUIBundle" in client.get("/api/docs/assets/swagger-ui-bundle.js").text


def test_a_route_added_later_is_documented_with_its_errors(container: Container) -> None:
    """GIVEN the app WHEN another router with a signed-in POST that names a thing is included later
    THEN its operation in the description carries the security, the Error answers and 404/409, unasked."""
    app = create_app(container)
    app.openapi()  # built and cached before the new route exists
    later = APIRouter(prefix="/api/v1/later")

    @later.post("/{thing_id}", status_code=204)
    def act(thing_id: str, actor: Annotated[Actor, Depends(current_actor)]) -> None:
        """A route written by someone who never heard of web/openapi.py."""

    app.include_router(later)
    responses = app.openapi()["paths"]["/api/v1/later/{thing_id}"]["post"]["responses"]
    assert {"400", "401", "403", "404", "409", "422"} <= set(responses)
    assert responses["409"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_a_wrong_method_on_a_page_keeps_the_pages_error_handling(live_server: LiveServer) -> None:
    """GIVEN a page path served by GET and POST (/login) WHEN PUT is sent
    THEN it is 405 with both methods in Allow, answered by the app's handling of HTTP errors (not the API's)."""
    response = httpx.put(f"{live_server.url}/login")
    assert response.status_code == 405 and response.headers["allow"] == "GET, POST"
    assert "is not allowed here; use" not in response.text
