"""Sign-in and sign-out pages."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from starlette.responses import Response

from witnessbox.accounts.dependencies import SESSION_COOKIE, current_actor, request_actor
from witnessbox.accounts.service import UserService
from witnessbox.accounts.signin import SESSION_ABSOLUTE, SignInService
from witnessbox.core.actor import Actor
from witnessbox.core.errors import NotAuthenticated, TooManyAttempts

router = APIRouter(tags=["sign-in"], include_in_schema=False)


def signin_service(request: Request) -> SignInService:
    """The SignInService the app was built with."""
    service: SignInService = request.app.state.signin
    return service


def templates(request: Request) -> Jinja2Templates:
    """The page templates the app was built with."""
    found: Jinja2Templates = request.app.state.templates
    return found


SignIn = Annotated[SignInService, Depends(signin_service)]


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    """The sign-in form."""
    return templates(request).TemplateResponse(
        request, "accounts/login.html", {"next": _local(next), "error": None}
    )


@router.post("/login")
def login(
    request: Request,
    signin: SignIn,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password (throttled) and start a session."""
    try:
        user = signin.check_password(username, password, request=request_actor(request))
    except (NotAuthenticated, TooManyAttempts) as refused:
        status = 429 if isinstance(refused, TooManyAttempts) else 401
        return templates(request).TemplateResponse(
            request,
            "accounts/login.html",
            {"next": _local(next), "error": refused.reason},
            status_code=status,
        )
    token = signin.start_session(
        user, request=request_actor(request), user_agent=request.headers.get("user-agent")
    )
    response = RedirectResponse(_local(next), status_code=303)
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


@router.post("/logout")
def logout(request: Request, signin: SignIn, actor: Annotated[Actor, Depends(current_actor)]) -> Response:
    """End the session."""
    signin.end_session(request.cookies.get(SESSION_COOKIE, ""), actor=actor)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _local(target: str) -> str:
    """Only redirect within this site."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


api = APIRouter(prefix="/api/v1", tags=["accounts"])


class NotificationOut(BaseModel):
    """A message for the signed-in person."""

    id: str
    text: str
    link: str | None
    created_at: datetime


@api.get("/notifications", response_model=list[NotificationOut])
def my_notifications(
    request: Request, actor: Annotated[Actor, Depends(current_actor)]
) -> list[NotificationOut]:
    """Your unread messages (e.g. items shared with you), newest first."""
    users: UserService = request.app.state.users
    return [NotificationOut.model_validate(n, from_attributes=True) for n in users.notifications(actor=actor)]


@api.post("/notifications/read", status_code=204)
def read_notifications(request: Request, actor: Annotated[Actor, Depends(current_actor)]) -> Response:
    """Mark all your messages read."""
    users: UserService = request.app.state.users
    users.mark_read(actor=actor)
    return Response(status_code=204)


class MeOut(BaseModel):
    """The signed-in person, and the CSRF token scripts on our pages send with changes."""

    id: str
    name: str
    roles: list[str]
    csrf_token: str | None


@api.get("/me", response_model=MeOut)
def me(request: Request, actor: Annotated[Actor, Depends(current_actor)]) -> MeOut:
    """Who you are signed in as."""
    return MeOut(
        id=actor.id,
        name=actor.name,
        roles=sorted(actor.roles),
        csrf_token=getattr(request.state, "csrf_token", None),
    )
