"""The API's description and its documentation page: what forces generate typed clients from.

FastAPI writes each operation's success answer; this module adds, to every operation under
/api/ (those added later included), the errors it can answer with, from what the operation
declares: a caller must sign in (401, 403), it names a thing in its path, query or body (404),
it takes input (400, 422), it changes state (409). Routes declare only what is theirs alone
(`responses=`), such as bytes served with Range.

The documentation page is Swagger UI from the installed `fastapi-offline` package, started by
a static script: the app's content-security policy allows no inline script and no other origin.
"""

import re
from collections.abc import Callable, Iterator
from copy import deepcopy
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import compile_path

from witnessbox.accounts.dependencies import SESSION_COOKIE, current_actor, device_or_person
from witnessbox.core.text import BLANK
from witnessbox.evidence.categorise import CategoryRules

DOCS_URL = "/api/docs"
DOCS_ASSETS_URL = "/api/docs/assets"
OPENAPI_URL = "/api/openapi.json"
UNSAFE = frozenset({"post", "put", "patch", "delete"})
SIGNED_IN = (current_actor, device_or_person)

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "description": "Why the request was refused, in a sentence a person can act on.",
    "properties": {
        "error": {"type": "string", "description": "the reason"},
        "request_id": {"type": "string", "description": "the request's id in the server's log (500 only)"},
    },
    "required": ["error"],
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
SECURITY_SCHEMES: dict[str, Any] = {
    "bearerToken": {"type": "http", "scheme": "bearer",
                    "description": "a personal API token (wbx_api…) or a dock's token"},
    "sessionCookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                      "description": "a browser session; unsafe methods also need X-CSRF-Token"},
}
ERRORS = {
    "400": "The request is malformed or fails a rule; nothing was changed.",
    "401": "No valid credential: sign in or send 'Authorization: Bearer …'.",
    "403": "The caller may not do this (or must first record a reason).",
    "404": "Not found, or the caller may not know it exists.",
    "409": "The request conflicts with the current state; nothing was changed.",
}


def install(app: FastAPI) -> None:
    """Serve the documentation page and its assets; make the description list every error."""
    assets = Path(str(files("fastapi_offline") / "static"))
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=assets), name="api-docs-assets")
    app.add_route(DOCS_URL, _docs_page, methods=["GET"], include_in_schema=False)
    app.openapi = _describer(app)  # type: ignore[method-assign]
    app.add_exception_handler(405, _method_not_allowed)
    app.add_exception_handler(400, _malformed)


async def _docs_page(request: Request) -> Response:
    page: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, "api_docs.html", {"openapi_url": OPENAPI_URL, "assets": DOCS_ASSETS_URL})
    return page


def _describer(app: FastAPI) -> Callable[[], dict[str, Any]]:
    described: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        document = FastAPI.openapi(app)  # FastAPI caches it until the routes change
        if not described or described[0] is not document:
            describe_errors(app, document)
            described[:] = [document]
        return document

    return openapi


def describe_errors(app: FastAPI, document: dict[str, Any]) -> None:
    """Add the Error shape, the ways to sign in and each /api/ operation's error answers."""
    components = document.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    components["securitySchemes"] = SECURITY_SCHEMES
    categorise = getattr(app.state, "categorise", None)  # the CategorisationService the app was built with
    if categorise is not None:
        describe_force_rules(components["schemas"], categorise.rules)
    for path, method, route in _api_operations(app):
        operation = document["paths"].get(path, {}).get(method)
        if operation is not None:
            _describe_operation(operation, method, _signed_in(route.dependant))


def describe_force_rules(schemas: dict[str, Any], rules: CategoryRules) -> None:
    """State the force's configured offence categories and reference formats in the categorisation shapes.

    They come from configuration, so the classes cannot carry them; blank text clears a field.
    """
    blank = {"type": "string", "pattern": f"^{BLANK}*$"}
    fields = {
        "category": {"type": "string", "enum": list(rules.categories)},
        "incident_number": {"type": "string", "pattern": _anchored(rules.incident_number.pattern)},
        "crime_reference": {"type": "string", "pattern": _anchored(rules.crime_reference.pattern)},
    }
    for name in ("CategorisationIn", "BulkCategorisationIn"):
        properties = schemas.get(name, {}).get("properties", {})
        for field, rule in fields.items():
            if field in properties:
                properties[field]["anyOf"] = [rule, blank, {"type": "null"}]


def _anchored(pattern: str) -> str:
    return f"^(?:{pattern})$"


def _api_operations(app: FastAPI) -> Iterator[tuple[str, str, APIRoute]]:
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, str(context.path)
        if isinstance(route, APIRoute) and route.include_in_schema and path.startswith("/api/"):
            for method in context.methods or ():
                yield path, method.lower(), route


def _signed_in(dependant: Dependant) -> bool:
    return dependant.call in SIGNED_IN or any(_signed_in(sub) for sub in dependant.dependencies)


def _describe_operation(operation: dict[str, Any], method: str, signed_in: bool) -> None:
    statuses = ["400"]
    if signed_in:
        operation.setdefault("security", [{"bearerToken": []}, {"sessionCookie": []}])
        statuses += ["401", "403"]
    names_things = any(p["in"] in ("path", "query") for p in operation.get("parameters", []))
    if names_things or "requestBody" in operation:
        statuses.append("404")
    if method in UNSAFE:
        statuses.append("409")
    responses = operation.setdefault("responses", {})
    for status in statuses:
        responses.setdefault(status, _error_response(ERRORS[status]))
    for status, response in responses.items():  # a route's own refusals, declared by description
        if status[0] in "45" and "content" not in response:
            response["content"] = _error_response("")["content"]


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": deepcopy(ERROR_REF)}}}


async def _method_not_allowed(request: Request, _error: Exception) -> Response:
    """405 with `Allow` naming every method the path answers, not only those of the first route found."""
    allowed = ", ".join(sorted(_methods_for(request.app, request.url.path)))
    if not request.url.path.startswith("/api/"):
        return await _page_error(request, HTTPException(405, headers={"Allow": allowed}))
    return JSONResponse({"error": f"{request.method} is not allowed here; use {allowed}"},
                        status_code=405, headers={"Allow": allowed})


async def _malformed(request: Request, error: Exception) -> Response:
    """The framework's own 400 (a body that does not parse) in the app's Error shape."""
    if not request.url.path.startswith("/api/"):
        return await _page_error(request, error)
    detail = getattr(error, "detail", None) or "the request is malformed"
    return JSONResponse({"error": str(detail)}, status_code=400)


async def _page_error(request: Request, error: Exception) -> Response:
    """Pages keep whatever the app does for HTTP errors (the handler registered for HTTPException)."""
    handler = request.app.exception_handlers.get(HTTPException, http_exception_handler)
    response: Response = await handler(request, error)
    return response


def _methods_for(app: FastAPI, path: str) -> set[str]:
    """The methods of the path's most specific templates: /items/categorise, not /items/{item_id}."""
    matching = [(params, methods) for template, params, methods in _route_table(app) if template.match(path)]
    fewest = min((params for params, _methods in matching), default=0)
    return {method for params, methods in matching if params == fewest for method in methods}


def _route_table(app: FastAPI) -> list[tuple[re.Pattern[str], int, set[str]]]:
    table: list[tuple[re.Pattern[str], int, set[str]]] | None = getattr(app.state, "route_methods", None)
    if table is None:
        table = []
        for context in iter_route_contexts(app.routes):
            if context.methods:
                template, _format, params = compile_path(str(context.path))
                table.append((template, len(params), set(context.methods)))
        app.state.route_methods = table
    return table

