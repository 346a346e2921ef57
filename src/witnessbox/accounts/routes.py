"""Sign-in (password, then an authenticator code when enrolled), account pages, administration, token API.

Pages post plain forms carrying the session's CSRF token and answer with a redirect
(post/redirect/get), or with the same page and the service's reason when it refused.
"""

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from witnessbox.accounts import totp
from witnessbox.accounts.dependencies import SESSION_COOKIE, current_actor, request_actor
from witnessbox.accounts.models import ApiToken
from witnessbox.accounts.onboarding import import_users
from witnessbox.accounts.roles import ROLE_LABELS, Permission, Role
from witnessbox.accounts.service import NewUser, UserService, require
from witnessbox.accounts.signin import SESSION_ABSOLUTE, SignInService
from witnessbox.accounts.tokens import TokenService
from witnessbox.core.actor import Actor
from witnessbox.core.clock import as_utc
from witnessbox.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    TooManyAttempts,
    WitnessboxError,
)
from witnessbox.core.urls import local_target

router = APIRouter(tags=["sign-in"], include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["accounts"])

MAX_IMPORT_BYTES = 2 * 1024 * 1024
NOTICES = {
    "totp-on": "Authenticator codes are on: you will be asked for one each time you sign in.",
    "totp-off": "Authenticator codes are off.",
    "session-revoked": "The session was signed out.",
    "token-revoked": "The token was revoked; it no longer works.",
    "password": "Your password was changed.",
    "read": "All notifications are marked read.",
    "created": "The person was added.",
    "roles": "Roles changed.",
    "active": "Account status changed.",
    "reset": "Password reset.",
    "team": "Team added.",
}
# What a form may be refused for and shown again with the reason (Forbidden is not: it is a 403).
FormRefusal = (InvalidInput, Conflict, NotAuthenticated, TooManyAttempts)


def signin_service(request: Request) -> SignInService:
    """The SignInService the app was built with."""
    service: SignInService = request.app.state.signin
    return service


def user_service(request: Request) -> UserService:
    """The UserService the app was built with."""
    service: UserService = request.app.state.users
    return service


def token_service(request: Request) -> TokenService:
    """The TokenService the app was built with."""
    service: TokenService = request.app.state.tokens
    return service


def templates(request: Request) -> Jinja2Templates:
    """The page templates the app was built with."""
    found: Jinja2Templates = request.app.state.templates
    return found


def administrator(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
    """The caller, who must be allowed to manage people (403 otherwise)."""
    require(actor, Permission.USER_MANAGE)
    return actor


SignIn = Annotated[SignInService, Depends(signin_service)]
Users = Annotated[UserService, Depends(user_service)]
Tokens = Annotated[TokenService, Depends(token_service)]
Caller = Annotated[Actor, Depends(current_actor)]
Admin = Annotated[Actor, Depends(administrator)]


def _page(request: Request, name: str, context: dict[str, object], status: int = 200) -> Response:
    """Render a page; a form shown again after a refusal gets the refusal's status (and Retry-After)."""
    refused, headers = context.get("refused"), {}
    if isinstance(refused, WitnessboxError):
        status = refused.status
    if isinstance(refused, TooManyAttempts):
        headers["Retry-After"] = str(refused.retry_after_s)
    return templates(request).TemplateResponse(
        request, f"accounts/{name}.html", context, status_code=status, headers=headers
    )


def _refusal(problem: WitnessboxError) -> dict[str, object]:
    """What a form shown again needs to say why it was refused."""
    return {"error": problem.reason, "refused": problem}


def _see_other(target: str) -> Response:
    return RedirectResponse(target, status_code=303)


# --- signing in -------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    """The sign-in form."""
    return _page(request, "login", {"next": local_target(next), "error": None})


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
        return _page(request, "login", {"next": local_target(next), **_refusal(refused)})
    pending = bool(user.totp_secret)
    token = signin.start_session(
        user,
        request=request_actor(request),
        user_agent=request.headers.get("user-agent"),
        second_factor_pending=pending,
    )
    target = f"/login/totp?next={quote(local_target(next))}" if pending else local_target(next)
    response = _see_other(target)
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
    return _page(request, "totp", {"next": local_target(next), "form_csrf": csrf, "error": None})


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
        context = {"next": local_target(next), "form_csrf": signin.csrf_token(token), **_refusal(refused)}
        return _page(request, "totp", context)
    return _see_other(local_target(next))


@router.post("/logout")
def logout(request: Request, signin: SignIn, actor: Caller) -> Response:
    """End the session."""
    signin.end_session(request.cookies.get(SESSION_COOKIE, ""), actor=actor)
    response = _see_other("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


# --- the person's own account -----------------------------------------------------------------


@router.get("/account/security", response_class=HTMLResponse)
def security_page(request: Request, actor: Caller, users: Users, done: str = "") -> Response:
    """Authenticator codes: enrol (scan, then confirm a code) or turn them off."""
    return _page(request, "security", {**_security(actor, users), "notice": NOTICES.get(done)})


def _security(actor: Actor, users: Users, secret: str = "") -> dict[str, object]:
    user = users.get(actor.id)
    context: dict[str, object] = {"actor": actor, "enrolled": bool(user.totp_secret)}
    if not user.totp_secret:
        secret = secret if totp.looks_like_secret(secret) else totp.new_secret()
        uri = totp.enrolment_uri(secret, user.collar_number)
        context.update(secret=secret, uri=uri, qr=totp.qr_data_uri(uri))
    return context


@router.post("/account/security/enable")
def enable_totp(
    request: Request,
    actor: Caller,
    signin: SignIn,
    users: Users,
    secret: Annotated[str, Form()],
    code: Annotated[str, Form()],
) -> Response:
    """Store the secret once a code from the app proves it was set up."""
    try:
        signin.enable_second_factor(secret, code, actor=actor)
    except FormRefusal as problem:
        return _page(request, "security", {**_security(actor, users, secret), **_refusal(problem)})
    return _see_other("/account/security?done=totp-on")


@router.post("/account/security/disable")
def disable_totp(
    request: Request, actor: Caller, signin: SignIn, users: Users, code: Annotated[str, Form()]
) -> Response:
    """Turn authenticator codes off, given a current code."""
    try:
        signin.disable_second_factor(code, actor=actor)
    except FormRefusal as problem:
        return _page(request, "security", {**_security(actor, users), **_refusal(problem)})
    return _see_other("/account/security?done=totp-off")


@router.get("/account/sessions", response_class=HTMLResponse)
def sessions_page(request: Request, actor: Caller, signin: SignIn, done: str = "") -> Response:
    """Where the person is signed in, each with a button to sign it out."""
    context = {"actor": actor, "sessions": signin.list_sessions(actor=actor), "notice": NOTICES.get(done)}
    return _page(request, "sessions", context)


@router.post("/account/sessions/{session_id}/revoke")
def revoke_own_session(session_id: str, actor: Caller, signin: SignIn) -> Response:
    """Sign one of the person's sessions out (this one included)."""
    signin.revoke_session(session_id, actor=actor)
    if session_id == actor.session_id:
        response = _see_other("/login")
        response.delete_cookie(SESSION_COOKIE)
        return response
    return _see_other("/account/sessions?done=session-revoked")


@router.get("/account/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, actor: Caller, tokens: Tokens, done: str = "") -> Response:
    """The person's API tokens, a form for a new one, and revoke buttons."""
    return _page(request, "tokens", _tokens(actor, tokens, notice=NOTICES.get(done)))


def _tokens(actor: Actor, tokens: Tokens, **extra: object) -> dict[str, object]:
    mine = tokens.list_tokens(actor=actor)
    return {"actor": actor, "tokens": mine, "permissions": list(Permission), **extra}


@router.post("/account/tokens")
def create_token_form(
    request: Request,
    actor: Caller,
    tokens: Tokens,
    name: Annotated[str, Form()],
    expires_on: Annotated[str, Form()] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Issue a token and show its secret, this once."""
    try:
        chosen = _no_wider(actor, _permissions(scopes) if scopes else None)
        _token, secret = tokens.issue_user_token(
            _token_name(name), actor=actor, scopes=chosen, expires_at=_end_of(expires_on)
        )
    except FormRefusal as problem:
        return _page(request, "tokens", _tokens(actor, tokens, **_refusal(problem)))
    return _page(request, "tokens", _tokens(actor, tokens, secret=secret))


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token_form(token_id: str, actor: Caller, tokens: Tokens) -> Response:
    """Revoke one of the person's tokens."""
    tokens.revoke(token_id, actor=actor)
    return _see_other("/account/tokens?done=token-revoked")


def _token_name(name: str) -> str:
    if not name.strip():
        raise InvalidInput("give the token a name that says what uses it")
    return name


def _permissions(values: list[str]) -> frozenset[Permission]:
    try:
        return frozenset(Permission(value) for value in values)
    except ValueError as error:
        raise InvalidInput("unknown permission") from error


def _no_wider(actor: Actor, scopes: frozenset[Permission] | None) -> frozenset[Permission] | None:
    """A token made with a scoped token gets at most that token's scopes."""
    if actor.scopes is None:
        return scopes
    held = frozenset(p for p in Permission if p in actor.scopes)
    if scopes is not None and not scopes <= held:
        raise Forbidden("a token cannot be given scopes the token creating it lacks")
    return held if scopes is None else scopes


def _end_of(day: str) -> datetime | None:
    """A token valid 'until' a date works to the end of that day, UTC."""
    if not day.strip():
        return None
    try:
        parsed = date.fromisoformat(day.strip())
    except ValueError as error:
        raise InvalidInput("expiry must be a date, YYYY-MM-DD") from error
    return datetime.combine(parsed + timedelta(days=1), time(), tzinfo=UTC)


@router.get("/account/password", response_class=HTMLResponse)
def password_page(request: Request, actor: Caller, done: str = "") -> Response:
    """The form to change one's own password."""
    return _page(request, "password", {"actor": actor, "notice": NOTICES.get(done)})


@router.post("/account/password")
def change_password(
    request: Request,
    actor: Caller,
    signin: SignIn,
    users: Users,
    current: Annotated[str, Form()],
    new: Annotated[str, Form()],
    again: Annotated[str, Form()],
) -> Response:
    """Check the current password (throttled like signing in), then set the new one."""
    try:
        if new != again:
            raise InvalidInput("the two new passwords are not the same")
        _check_current(signin, users.get(actor.id).collar_number, current, actor)
        users.set_password(actor.id, new, actor=actor)
    except FormRefusal as problem:
        return _page(request, "password", {"actor": actor, **_refusal(problem)})
    return _see_other("/account/password?done=password")


def _check_current(signin: SignInService, username: str, password: str, actor: Actor) -> None:
    try:
        signin.check_password(username, password, request=actor)
    except NotAuthenticated as wrong:
        raise InvalidInput("your current password is not right") from wrong


@router.get("/notifications", response_class=HTMLResponse)
def notifications_page(request: Request, actor: Caller, users: Users, done: str = "") -> Response:
    """The person's recent messages, unread first marked."""
    notes = users.notifications(actor=actor, unread_only=False)
    return _page(request, "notifications", {"actor": actor, "notes": notes, "notice": NOTICES.get(done)})


@router.post("/notifications/read")
def notifications_read(actor: Caller, users: Users) -> Response:
    """Mark every message read."""
    users.mark_read(actor=actor)
    return _see_other("/notifications?done=read")


# --- administration (system administrators) ---------------------------------------------------


@router.get("/admin/users", response_class=HTMLResponse)
def people_page(request: Request, actor: Admin, users: Users, done: str = "") -> Response:
    """Everyone, and a form to add a person."""
    return _page(request, "admin_users", _people(actor, users, notice=NOTICES.get(done)))


def _people(actor: Actor, users: Users, **extra: object) -> dict[str, object]:
    return {
        "actor": actor,
        "users": users.list_users(actor=actor),
        "teams": users.list_teams(),
        "roles": ROLE_LABELS,
        **extra,
    }


@router.post("/admin/users")
def add_person(
    request: Request,
    actor: Admin,
    users: Users,
    collar_number: Annotated[str, Form()],
    name: Annotated[str, Form()],
    rank: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    roles: Annotated[list[str] | None, Form()] = None,
    team: Annotated[str, Form()] = "",
    supervises: Annotated[bool, Form()] = False,
    password: Annotated[str, Form()] = "",
) -> Response:
    """Add a person with roles, an optional team and an optional initial password."""
    teams = (team,) if team else ()
    try:
        new = NewUser(
            collar_number=collar_number,
            name=name,
            roles=_roles(roles or []),
            rank=rank,
            email=email or None,
            password=password or None,
            teams=() if supervises else teams,
            supervises=teams if supervises else (),
        )
        user = users.create_user(new, actor=actor)
    except FormRefusal as problem:
        return _page(request, "admin_users", _people(actor, users, **_refusal(problem)))
    return _see_other(f"/admin/users/{user.id}?done=created")


def _roles(values: list[str]) -> frozenset[Role]:
    try:
        return frozenset(Role(value) for value in values)
    except ValueError as error:
        raise InvalidInput("unknown role") from error


@router.get("/admin/users/import", response_class=HTMLResponse)
def import_page(request: Request, actor: Admin) -> Response:
    """The form to upload a CSV of people."""
    return _page(request, "admin_import", {"actor": actor, "report": None})


@router.post("/admin/users/import")
async def import_people(
    request: Request, actor: Admin, users: Users, file: Annotated[UploadFile, File()]
) -> Response:
    """Create one person per CSV row; show what was created and each refused row."""
    data = await file.read(MAX_IMPORT_BYTES + 1)
    try:
        if len(data) > MAX_IMPORT_BYTES:
            raise InvalidInput(f"the file is over {MAX_IMPORT_BYTES // (1024 * 1024)} MiB; split it")
        text = _decoded(data)
    except InvalidInput as problem:
        return _page(request, "admin_import", {"actor": actor, "report": None, **_refusal(problem)})
    report = await run_in_threadpool(import_users, users, text, actor=actor)  # argon2 per row: off the loop
    return _page(request, "admin_import", {"actor": actor, "report": report})


def _decoded(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInput("the file is not UTF-8 text; save it as CSV UTF-8") from error


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
def person_page(
    request: Request, user_id: str, actor: Admin, users: Users, signin: SignIn, done: str = ""
) -> Response:
    """One person: roles, status, password reset, live sessions."""
    return _page(request, "admin_user", _person(actor, users, signin, user_id, notice=NOTICES.get(done)))


def _person(
    actor: Actor, users: Users, signin: SignInService, user_id: str, **extra: object
) -> dict[str, object]:
    return {
        "actor": actor,
        "person": users.get_managed(user_id, actor=actor),
        "sessions": signin.list_sessions(actor=actor, user_id=user_id),
        "roles": ROLE_LABELS,
        **extra,
    }


@router.post("/admin/users/{user_id}/roles")
def change_roles(
    user_id: str, actor: Admin, users: Users, roles: Annotated[list[str] | None, Form()] = None
) -> Response:
    """Replace a person's roles (audited with before and after)."""
    users.set_roles(user_id, _roles(roles or []), actor=actor)
    return _see_other(f"/admin/users/{user_id}?done=roles")


@router.post("/admin/users/{user_id}/active")
def change_active(user_id: str, actor: Admin, users: Users, active: Annotated[bool, Form()]) -> Response:
    """Disable a person (their sessions and tokens stop working) or enable them again."""
    users.set_active(user_id, active, actor=actor)
    return _see_other(f"/admin/users/{user_id}?done=active")


@router.post("/admin/users/{user_id}/password")
def reset_password(
    request: Request,
    user_id: str,
    actor: Admin,
    users: Users,
    signin: SignIn,
    password: Annotated[str, Form()],
) -> Response:
    """Set a new password for a person (the password policy applies)."""
    try:
        users.set_password(user_id, password, actor=actor)
    except FormRefusal as problem:
        return _page(request, "admin_user", _person(actor, users, signin, user_id, **_refusal(problem)))
    return _see_other(f"/admin/users/{user_id}?done=reset")


@router.post("/admin/users/{user_id}/sessions/{session_id}/revoke")
def revoke_person_session(user_id: str, session_id: str, actor: Admin, signin: SignIn) -> Response:
    """Sign one of a person's sessions out."""
    signin.revoke_session(session_id, actor=actor)
    return _see_other(f"/admin/users/{user_id}?done=session-revoked")


@router.get("/admin/teams", response_class=HTMLResponse)
def teams_page(request: Request, actor: Admin, users: Users, done: str = "") -> Response:
    """Teams and stations, and a form to add one."""
    context = {"actor": actor, "teams": users.list_teams(), "notice": NOTICES.get(done)}
    return _page(request, "admin_teams", context)


@router.post("/admin/teams")
def add_team(
    request: Request,
    actor: Admin,
    users: Users,
    name: Annotated[str, Form()],
    station: Annotated[str, Form()] = "",
) -> Response:
    """Add a team or station."""
    try:
        users.create_team(name, actor=actor, station=station)
    except FormRefusal as problem:
        context = {"actor": actor, "teams": users.list_teams(), **_refusal(problem)}
        return _page(request, "admin_teams", context)
    return _see_other("/admin/teams?done=team")


# --- JSON API ---------------------------------------------------------------------------------


class NotificationOut(BaseModel):
    """A message for the signed-in person."""

    id: str
    text: str
    link: str | None
    created_at: datetime


@api.get("/notifications", response_model=list[NotificationOut])
def my_notifications(actor: Caller, users: Users) -> list[NotificationOut]:
    """Your unread messages (e.g. items shared with you), newest first."""
    return [NotificationOut.model_validate(n, from_attributes=True) for n in users.notifications(actor=actor)]


@api.post("/notifications/read", status_code=204)
def read_notifications(actor: Caller, users: Users) -> Response:
    """Mark all your messages read."""
    users.mark_read(actor=actor)
    return Response(status_code=204)


class MeOut(BaseModel):
    """The signed-in person, and the CSRF token scripts on our pages send with changes."""

    id: str
    name: str
    roles: list[str]
    csrf_token: str | None


@api.get("/me", response_model=MeOut)
def me(request: Request, actor: Caller) -> MeOut:
    """Who you are signed in as."""
    return MeOut(
        id=actor.id,
        name=actor.name,
        roles=sorted(actor.roles),
        csrf_token=getattr(request.state, "csrf_token", None),
    )


class TokenIn(BaseModel):
    """A new API token: what it is for, optionally narrowed to some permissions, optionally expiring."""

    name: str = Field(min_length=1, max_length=128)
    scopes: list[Permission] | None = None
    expires_at: datetime | None = None


class TokenOut(BaseModel):
    """An API token as listed: never its secret."""

    id: str
    name: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> "TokenOut":
        """The listing shape of a stored token."""
        return cls.model_validate(token, from_attributes=True)


class IssuedTokenOut(TokenOut):
    """A token just issued, with its secret: shown this once, stored only as a hash."""

    token: str


@api.post("/tokens", response_model=IssuedTokenOut, status_code=201)
def issue_token(body: TokenIn, actor: Caller, tokens: Tokens) -> IssuedTokenOut:
    """Issue an API token for your own scripts; send it as 'Authorization: Bearer ...'."""
    scopes = _no_wider(actor, frozenset(body.scopes) if body.scopes is not None else None)
    expires = as_utc(body.expires_at) if body.expires_at else None
    token, secret = tokens.issue_user_token(body.name, actor=actor, scopes=scopes, expires_at=expires)
    return IssuedTokenOut(**TokenOut.of(token).model_dump(), token=secret)


@api.get("/tokens", response_model=list[TokenOut])
def list_tokens(actor: Caller, tokens: Tokens) -> list[TokenOut]:
    """Your API tokens, newest first (revoked and expired ones included, marked)."""
    return [TokenOut.of(token) for token in tokens.list_tokens(actor=actor)]


@api.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: str, actor: Caller, tokens: Tokens) -> Response:
    """Revoke one of your tokens: it stops working at once."""
    tokens.revoke(token_id, actor=actor)
    return Response(status_code=204)
