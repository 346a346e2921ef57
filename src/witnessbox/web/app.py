"""The web application factory: routers, middleware, templates, error pages, job consumer."""

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from witnessbox import __version__
from witnessbox.accounts import routes as account_routes
from witnessbox.accounts.policy import Access, decide
from witnessbox.accounts.roles import Permission
from witnessbox.accounts.sso import routes as sso_routes
from witnessbox.audit import routes as audit_routes
from witnessbox.bootstrap import Container
from witnessbox.cases import routes as case_routes
from witnessbox.core.actor import Actor
from witnessbox.core.errors import NotAuthenticated, TemporaryFailure, TooManyAttempts, WitnessboxError
from witnessbox.core.localtime import LocalTime, zone_named
from witnessbox.devices import routes as device_routes
from witnessbox.disclosure import routes as disclosure_routes
from witnessbox.disclosure.packages import routes as package_routes
from witnessbox.disclosure.schedules import routes as schedule_routes
from witnessbox.evidence import routes as evidence_routes
from witnessbox.evidence.offload import ByteGrants
from witnessbox.ingest import routes as ingest_routes
from witnessbox.jobs.huey_queue import start_embedded_consumer
from witnessbox.jobs.leases import LeaseKeeper
from witnessbox.redaction import pages as redaction_pages
from witnessbox.redaction import routes as redaction_routes
from witnessbox.reports import routes as report_routes
from witnessbox.reports.metrics import system_registry
from witnessbox.retention import routes as retention_routes
from witnessbox.retention import scrub_routes
from witnessbox.retention.scrub_metrics import scrub_registry
from witnessbox.sharing import routes as sharing_routes
from witnessbox.web import openapi
from witnessbox.web.auth import WebAuthenticator
from witnessbox.web.health import Readiness, readiness_checks
from witnessbox.web.health import router as health_router
from witnessbox.web.metrics import MeasureRequests, RequestMetrics
from witnessbox.web.middleware import RequestContext
from witnessbox.web.offload import ByteFastPath

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
        "unattributed",
        "live",
        "incidents",
        "fleet",
        "system",
        "anchoring",
        "packages",
        "schedules",
        "trawl",
        "external_shares",
        "scrub",
        "retention",
        "retention_schedule",
        "holds",
        "subject_access",
        "storage_report",
        "redaction",
    ):
        setattr(app.state, name, getattr(container, name))
    app.state.sso = container.sso  # None unless an identity provider is configured
    app.state.authenticator = WebAuthenticator(container.signin, container.tokens)
    app.state.local_time = LocalTime(zone_named(container.settings.time_zone))
    app.state.templates = _templates(app.state.local_time)
    # "Share outside the force" buttons: the role, or the force's setting for investigators (decision 0019)
    app.state.templates.env.globals["may_share_outside"] = container.external_shares.may_share
    # the integrity scrub (decision 0024): its card on /admin, its figures on /metrics
    app.state.templates.env.globals["storage_integrity"] = lambda actor: container.scrub.summary(actor=actor)
    app.state.metric_registries = [scrub_registry(container.scrub)]
    # operations (decision 0031): request and upload figures, the database's figures, readiness
    request_metrics = RequestMetrics()
    app.state.metric_registries += [request_metrics.registry, system_registry(container.system)]
    checks = readiness_checks(container.db, container.huey.storage.queue_size, container.evidence.blobs)
    app.state.readiness = Readiness(checks, container.settings.ready_timeout_s)
    for router in (
        ingest_routes.router,
        *evidence_routes.ROUTERS,
        sharing_routes.api,
        sharing_routes.pages,
        case_routes.api,
        case_routes.pages,
        ingest_routes.pages,
        device_routes.api,
        device_routes.docks_api,
        device_routes.pages,
        report_routes.pages,
        account_routes.router,
        sso_routes.router,
        account_routes.api,
        health_router,
        audit_routes.api,
        package_routes.api,
        package_routes.pages,
        audit_routes.well_known,
        schedule_routes.api,
        schedule_routes.pages,
        disclosure_routes.api,
        disclosure_routes.pages,
        disclosure_routes.portal,
        scrub_routes.pages,
        retention_routes.api,
        retention_routes.pages,
        redaction_routes.api,
        redaction_pages.pages,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=PACKAGE / "web" / "static"), name="static")
    openapi.install(app)  # the API's documentation page and its truthful description
    app.state.byte_grants = ByteGrants(container.settings.byte_grant_seconds)  # decision 0029
    app.add_middleware(MeasureRequests, metrics=request_metrics)
    # outside the timing: a granted repeat range costs microseconds and is not a route's latency
    app.add_middleware(ByteFastPath, grants=app.state.byte_grants)
    app.add_middleware(RequestContext)
    app.add_exception_handler(WitnessboxError, _service_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _form_error)
    app.add_exception_handler(Exception, _unexpected_error)
    return app


def _lifespan(container: Container, workers: int) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        consumer = start_embedded_consumer(container.huey, workers) if workers else None
        leases = LeaseKeeper(container.jobs).start()
        sealer = container.sealer.start() if workers else None  # anchors checkpoints every N audit entries
        try:
            yield
        finally:
            if consumer is not None:
                consumer.stop(graceful=True)
            leases.stop()
            if sealer is not None:
                sealer.stop()
            container.close()

    return lifespan


def _templates(local_time: LocalTime) -> Jinja2Templates:
    domains = ("accounts", "cases", "devices", "evidence", "ingest", "reports", "disclosure", "retention",
               "redaction")
    folders = [PACKAGE / "web" / "templates"] + [PACKAGE / name / "templates" for name in domains]
    env = Environment(loader=ChoiceLoader([FileSystemLoader(f) for f in folders]), autoescape=True)
    env.globals["allowed"] = _allowed
    env.globals["time_zone"] = local_time.name
    env.filters["local"] = local_time.format  # every time on a page: {{ moment|local }}, |local("time") ...
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


# --- errors: pages get an HTML page with the reason and a way back; the API keeps JSON -----------------

API_PREFIXES = ("/api/", "/files/")
ERROR_TITLES = {
    400: "The request could not be used",
    403: "Not allowed",
    404: "Not found",
    405: "Not possible here",
    409: "Not possible now",
    413: "Too large",
    422: "Please check what you entered",
    429: "Too many attempts",
    500: "Something went wrong",
}


def _wants_html(request: Request) -> bool:
    """A browser asking for a page (not the API, the file streams or the upload protocol)."""
    path = request.url.path
    return "text/html" in request.headers.get("accept", "") and not path.startswith(API_PREFIXES)


def _error_page(
    request: Request, status: int, reason: str, headers: dict[str, str] | None = None
) -> Response:
    """The error as a page: what happened, why, and links back (the previous page if it was ours)."""
    context = {
        "actor": _signed_in(request),
        "status": status,
        "title": ERROR_TITLES.get(status, "The request could not be completed"),
        "reason": reason,
        "back": _same_site_referer(request),
        "request_id": getattr(request.state, "request_id", ""),
    }
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, "error.html", context, status_code=status, headers=headers)


def _signed_in(request: Request) -> Actor | None:
    """Who is signed in, for the page's menu; nobody when that cannot be told (the error may be that)."""
    try:
        actor: Actor = request.app.state.authenticator.actor_for(request)
    except Exception:  # noqa: BLE001 - an error page must render even when sign-in itself failed
        return None
    return actor


def _same_site_referer(request: Request) -> str | None:
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc or referer.path == request.url.path:
        return None
    return referer.path + (f"?{referer.query}" if referer.query else "")


async def _service_error(request: Request, error: WitnessboxError) -> Response:
    if isinstance(error, NotAuthenticated) and _wants_html(request):
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    headers = {"Tus-Resumable": "1.0.0"} if request.url.path.startswith("/api/v1/uploads") else {}
    if error.status == 412:
        headers["Tus-Version"] = "1.0.0"
    if isinstance(error, NotAuthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="witnessbox"'
    if isinstance(error, TooManyAttempts | TemporaryFailure):
        headers["Retry-After"] = str(error.retry_after_s)
    if _wants_html(request):
        return _error_page(request, error.status, error.reason, headers)
    return JSONResponse({"error": error.reason}, status_code=error.status, headers=headers)


async def _http_error(request: Request, error: Exception) -> Response:
    """Starlette's own refusals (an unknown path, a method the path does not take)."""
    assert isinstance(error, StarletteHTTPException)
    if not _wants_html(request):
        return await http_exception_handler(request, error)
    reason = {
        404: "There is no page at this address. It may have been mistyped, or the link is out of date.",
        405: "This page cannot be used that way. Go back and use its buttons and links.",
    }.get(error.status_code, str(error.detail))
    return _error_page(request, error.status_code, reason, dict(error.headers or {}))


async def _form_error(request: Request, error: Exception) -> Response:
    """A form or address whose values do not fit: the page says which, the API keeps FastAPI's detail."""
    assert isinstance(error, RequestValidationError)
    if not _wants_html(request):
        return await request_validation_exception_handler(request, error)
    problems = "; ".join(_field_problem(problem) for problem in error.errors())
    return _error_page(request, 422, f"Some values could not be used: {problems}.")


def _field_problem(problem: dict[str, object]) -> str:
    where = problem.get("loc") or ()
    name = str(list(where)[-1]) if isinstance(where, (list, tuple)) and where else "a value"
    return f"{name.replace('_', ' ')}: {str(problem.get('msg', 'not valid')).lower()}"


async def _unexpected_error(request: Request, error: Exception) -> Response:
    # Never show a stack trace to a client; the log has it, tied to the request id.
    log.exception("unexpected error in request %s", getattr(request.state, "request_id", "?"))
    if _wants_html(request):
        reason = "The system could not finish this. Nothing you did caused it; try again, and if it "
        reason += "happens again give the support desk the reference below."
        return _error_page(request, 500, reason)
    return JSONResponse({"error": "internal error", "request_id": request.state.request_id}, status_code=500)
