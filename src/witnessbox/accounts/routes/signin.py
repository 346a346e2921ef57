"""Signing in: password, then an authenticator code when enrolled; signing out."""

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from witnessbox.accounts.dependencies import SESSION_COOKIE, request_actor
from witnessbox.accounts.routes._shared import (
    Caller,
    SignIn,
    page,
    refusal,
    see_other,
)
from witnessbox.accounts.signin import SESSION_ABSOLUTE
from witnessbox.core.errors import (
    NotAuthenticated,
    TooManyAttempts,
)
from witnessbox.core.urls import local_target

router = APIRouter(tags=["sign-in"], include_in_schema=False)

# --- signing in -------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    """The sign-in form."""
    return page(request, "login", {"next": local_target(next), "error": None})


@router.post("/login")
def login(
    request: Request,
    signin: SignIn,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password (throttled) and start a session; ask for a code next when enrolled."""
    try:
        user = signin.check_password(username, password, request=request_actor(request))
    except (NotAuthenticated, TooManyAttempts) as refused:
        return page(request, "login", {"next": local_target(next), **refusal(refused)})
    pending = bool(user.totp_secret)
    token = signin.start_session(
        user,
        request=request_actor(request),
        user_agent=request.headers.get("user-agent"),
        second_factor_pending=pending,
    )
    target = f"/login/totp?next={quote(local_target(next))}" if pending else local_target(next)
    response = see_other(target)
    set_session_cookie(request, response, token)
    return response


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, Secure behind TLS."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_ABSOLUTE.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


@router.get("/login/totp", response_class=HTMLResponse)
def totp_form(request: Request, signin: SignIn, next: str = "/") -> Response:
    """The second step of signing in: the code from the person's authenticator app."""
    csrf = signin.csrf_token(request.cookies.get(SESSION_COOKIE, ""))
    return page(request, "totp", {"next": local_target(next), "form_csrf": csrf, "error": None})


@router.post("/login/totp")
def totp_check(
    request: Request,
    signin: SignIn,
    code: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Check the code (throttled, audited, usable once) and finish signing in."""
    token = request.cookies.get(SESSION_COOKIE, "")
    signin.check_csrf(token, csrf_token)
    try:
        signin.check_second_factor(token, code, request=request_actor(request))
    except (NotAuthenticated, TooManyAttempts) as refused:
        context = {"next": local_target(next), "form_csrf": signin.csrf_token(token), **refusal(refused)}
        return page(request, "totp", context)
    return see_other(local_target(next))


@router.post("/logout")
def logout(request: Request, signin: SignIn, actor: Caller) -> Response:
    """End the session."""
    signin.end_session(request.cookies.get(SESSION_COOKIE, ""), actor=actor)
    response = see_other("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response
