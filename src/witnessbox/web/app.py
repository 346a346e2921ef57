"""The web application factory: routers, middleware, templates, error pages, job consumer."""

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader
from starlette.responses import Response

from witnessbox import __version__
from witnessbox.accounts import routes as account_routes
from witnessbox.accounts.policy import Access, decide
from witnessbox.accounts.roles import Permission
from witnessbox.accounts.sso import routes as sso_routes
from witnessbox.bootstrap import Container
from witnessbox.cases import routes as case_routes
from witnessbox.core.actor import Actor
from witnessbox.core.errors import NotAuthenticated, TooManyAttempts, WitnessboxError
from witnessbox.devices import routes as device_routes
from witnessbox.evidence import routes as evidence_routes
from witnessbox.ingest import routes as ingest_routes
from witnessbox.jobs.huey_queue import start_embedded_consumer
from witnessbox.reports import routes as report_routes
from witnessbox.sharing import routes as sharing_routes
from witnessbox.web import openapi
from witnessbox.web.auth import WebAuthenticator
from witnessbox.web.health import router as health_router
from witnessbox.web.middleware import RequestContext

log = logging.getLogger(__name__)
PACKAGE = Path(__file__).resolve().parent.parent


def create_app(container: Container, *, workers: int = 0) -> FastAPI:
    """Build the ASGI app around a container; `workers` > 0 runs job consumers in-process."""
    app = FastAPI(
        title="Witnessbox",
        version=__version__,
        lifespan=_lifespan(container, workers),
        docs_url=None,  # served by web/openapi.py from installed assets, under our CSP
        openapi_url=openapi.OPENAPI_URL,
        redoc_url=None,
    )
    app.state.settings = container.settings
    for name in (
        "users",
        "signin",
        "tokens",
        "devices",
        "evidence",
        "ingest",
        "sharing",
        "cases",
        "categorise",
        "compliance",
        "search",
        "annotations",
        "live",
        "incidents",
    ):
        setattr(app.state, name, getattr(container, name))
    app.state.sso = container.sso  # None unless an identity provider is configured
    app.state.authenticator = WebAuthenticator(container.signin, container.tokens)
    app.state.templates = _templates()
    for router in (
        ingest_routes.router,
        *evidence_routes.ROUTERS,
        sharing_routes.api,
        sharing_routes.pages,
        case_routes.api,
        case_routes.pages,
        ingest_routes.pages,
        device_routes.api,
        report_routes.pages,
        account_routes.router,
        sso_routes.router,
        account_routes.api,
        health_router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=PACKAGE / "web" / "static"), name="static")
    openapi.install(app)  # the API's documentation page and its truthful description
    app.add_middleware(RequestContext)
    app.add_exception_handler(WitnessboxError, _service_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error)
    return app


def _lifespan(container: Container, workers: int) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        consumer = start_embedded_consumer(container.huey, workers) if workers else None
        try:
            yield
        finally:
            if consumer is not None:
                consumer.stop(graceful=True)
            container.close()

    return lifespan


def _templates() -> Jinja2Templates:
    folders = [PACKAGE / "web" / "templates"] + [
        PACKAGE / name / "templates" for name in ("accounts", "cases", "evidence", "ingest", "reports")
    ]
    env = Environment(loader=ChoiceLoader([FileSystemLoader(f) for f in folders]), autoescape=True)
    env.globals["allowed"] = _allowed
    return Jinja2Templates(env=env, context_processors=[_page_context])


def _allowed(actor: Actor | None, permission: str) -> bool:
    """Whether a page should offer an action: the policy's answer for the signed-in person."""
    return actor is not None and decide(actor, Permission(permission)) == Access.ALLOW


def _page_context(request: Request) -> dict[str, object]:
    """What every page may use: the CSRF token for its forms; the identity provider's name, if any."""
    sso = getattr(request.app.state, "sso", None)
    return {
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "sso_name": sso.display_name if sso else None,
    }


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "") and not request.url.path.startswith("/api/")


async def _service_error(request: Request, error: WitnessboxError) -> Response:
    if isinstance(error, NotAuthenticated) and _wants_html(request):
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    headers = {"Tus-Resumable": "1.0.0"} if request.url.path.startswith("/api/v1/uploads") else {}
    if error.status == 412:
        headers["Tus-Version"] = "1.0.0"
    if isinstance(error, NotAuthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="witnessbox"'
    if isinstance(error, TooManyAttempts):
        headers["Retry-After"] = str(error.retry_after_s)
    return JSONResponse({"error": error.reason}, status_code=error.status, headers=headers)


async def _unexpected_error(request: Request, error: Exception) -> Response:
    # Never show a stack trace to a client; the log has it, tied to the request id.
    log.exception("unexpected error in request %s", getattr(request.state, "request_id", "?"))
    return JSONResponse({"error": "internal error", "request_id": request.state.request_id}, status_code=500)
