"""Disclosure packages in the API and in the browser: ask for one, watch it build, download it."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from witnessbox.accounts.dependencies import built_with, current_actor, page_templates
from witnessbox.cases.service import CaseService
from witnessbox.core.actor import Actor
from witnessbox.core.errors import Conflict, Forbidden, InvalidInput, NotFound, WitnessboxError
from witnessbox.disclosure.packages.schemas import PackageIn, PackageOut
from witnessbox.disclosure.packages.service import PackageService
from witnessbox.evidence.streaming import EvidenceFileResponse, is_first_request

api = APIRouter(prefix="/api/v1/packages", tags=["disclosure packages"])
pages = APIRouter(tags=["pages"], include_in_schema=False)
Caller = Annotated[Actor, Depends(current_actor)]
Packages = Annotated[PackageService, Depends(built_with("packages", PackageService))]
Cases = Annotated[CaseService, Depends(built_with("cases", CaseService))]
FormRefusal = (InvalidInput, Conflict, Forbidden, NotFound)
ZIP = "application/zip"


def _server_url(request: Request) -> str:
    """The address recipients are told about: the configured public one, else the one asked."""
    return request.app.state.settings.public_url or str(request.base_url)


# --- API ---------------------------------------------------------------------------------------


@api.post("", response_model=PackageOut, status_code=202)
def request_package(body: PackageIn, request: Request, actor: Caller, packages: Packages) -> PackageOut:
    """Export a case or a selection as a signed ZIP; built by a job (follow `progress`)."""
    package = packages.request(
        actor=actor,
        server_url=_server_url(request),
        case_id=body.case_id,
        item_ids=body.item_ids,
        reason=body.reason,
        redacted_item_ids=body.redacted_item_ids,
    )
    return packages.get(package.id, actor=actor)


@api.get("", response_model=list[PackageOut])
def list_packages(actor: Caller, packages: Packages, case_id: str | None = None) -> list[PackageOut]:
    """The packages you asked for, newest first (professional standards: all)."""
    return packages.list_for(actor=actor, case_id=case_id)


@api.get("/{package_id}", response_model=PackageOut)
def show_package(package_id: str, actor: Caller, packages: Packages) -> PackageOut:
    """One package and how far its build has got."""
    return packages.get(package_id, actor=actor)


@api.get(
    "/{package_id}/download",
    response_class=Response,
    responses={
        200: {"content": {ZIP: {}}},
        206: {"content": {ZIP: {}}},
        409: {"description": "not built yet"},
    },
)
def download_package(package_id: str, request: Request, actor: Caller, packages: Packages) -> Response:
    """The built ZIP, with Range support; the download is audited once, not per range."""
    found = packages.open_download(package_id, actor=actor, first_request=is_first_request(request))
    return EvidenceFileResponse(
        found.path,
        media_type=ZIP,
        filename=found.filename,
        headers={"ETag": f'"{found.sha256}"', "X-Content-SHA256": found.sha256},
    )


# --- pages ---------------------------------------------------------------------------------------


@pages.get("/cases/{case_id}/packages", response_class=HTMLResponse)
def case_packages_page(
    request: Request, case_id: str, actor: Caller, packages: Packages, cases: Cases
) -> Response:
    """A case's disclosure packages, and the form that builds a new one."""
    return _case_page(request, actor, packages, cases, case_id)


def _case_page(
    request: Request,
    actor: Actor,
    packages: PackageService,
    cases: CaseService,
    case_id: str,
    refused: WitnessboxError | None = None,
) -> Response:
    context = {
        "actor": actor,
        "case": cases.get(case_id, actor=actor),
        "items": cases.items(case_id, actor=actor),
        "packages": packages.list_for(actor=actor, case_id=case_id),
        "may_manage": cases.may_manage(actor),
        "error": refused.reason if refused else None,
    }
    status = refused.status if refused else 200
    templates = page_templates(request)
    return templates.TemplateResponse(request, "package_case.html", context, status_code=status)


@pages.post("/cases/{case_id}/packages")
def build_form(
    request: Request,
    case_id: str,
    actor: Caller,
    packages: Packages,
    cases: Cases,
    reason: Annotated[str, Form()] = "",
    redacted: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """The "Build package" form: ask for it, then watch it build (ticked items go as their redacted copy)."""
    try:
        package = packages.request(
            actor=actor, server_url=_server_url(request), case_id=case_id, reason=reason or None,
            redacted_item_ids=redacted or None,
        )
    except FormRefusal as problem:
        return _case_page(request, actor, packages, cases, case_id, problem)
    return RedirectResponse(f"/packages/{package.id}", status_code=303)


@pages.get("/packages/{package_id}", response_class=HTMLResponse)
def package_page(request: Request, package_id: str, actor: Caller, packages: Packages) -> Response:
    """One package: live progress while it builds, then its hash and the download."""
    context = {"actor": actor, "package": packages.get(package_id, actor=actor)}
    return page_templates(request).TemplateResponse(request, "package.html", context)
