"""Sign-in and sign-out pages."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from witnessbox.accounts.dependencies import SESSION_COOKIE, current_actor, request_actor
from witnessbox.accounts.service import SESSION_ABSOLUTE, AccountService
from witnessbox.core.actor import Actor
from witnessbox.core.errors import NotAuthenticated

router = APIRouter(tags=["sign-in"], include_in_schema=False)


def account_service(request: Request) -> AccountService:
    """The AccountService the app was built with."""
    service: AccountService = request.app.state.accounts
    return service


Accounts = Annotated[AccountService, Depends(account_service)]


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    """The sign-in form."""
    return templates(request).TemplateResponse(
        request, "accounts/login.html", {"next": _local(next), "error": None})


@router.post("/login")
def login(request: Request, accounts: Accounts, username: Annotated[str, Form()],
          password: Annotated[str, Form()], next: Annotated[str, Form()] = "/") -> Response:
    """Check the password and start a session."""
    try:
        actor = accounts.check_password(username, password, request=request_actor(request))
    except NotAuthenticated as refused:
        return templates(request).TemplateResponse(
            request, "accounts/login.html", {"next": _local(next), "error": refused.reason},
            status_code=401)
    token = accounts.start_session(actor)
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=int(SESSION_ABSOLUTE.total_seconds()),
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


@router.post("/logout")
def logout(request: Request, accounts: Accounts,
           actor: Annotated[Actor, Depends(current_actor)]) -> Response:
    """End the session."""
    accounts.end_session(request.cookies.get(SESSION_COOKIE, ""), actor=actor)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _local(target: str) -> str:
    """Only redirect within this site."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


def templates(request: Request) -> Jinja2Templates:
    """The page templates the app was built with."""
    found: Jinja2Templates = request.app.state.templates
    return found
