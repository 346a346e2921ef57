"""The person's own account: authenticator codes, sessions, API tokens, password, notifications."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from witnessbox.accounts import totp
from witnessbox.accounts.dependencies import SESSION_COOKIE
from witnessbox.accounts.roles import Permission
from witnessbox.accounts.routes._shared import (
    NOTICES,
    Caller,
    FormRefusal,
    SignIn,
    Tokens,
    Users,
    no_wider,
    page,
    refusal,
    see_other,
)
from witnessbox.accounts.signin import SignInService
from witnessbox.core.actor import Actor
from witnessbox.core.errors import (
    InvalidInput,
    NotAuthenticated,
)

router = APIRouter(tags=["account"], include_in_schema=False)

# --- the person's own account -----------------------------------------------------------------


@router.get("/account/security", response_class=HTMLResponse)
def security_page(request: Request, actor: Caller, users: Users, done: str = "") -> Response:
    """Authenticator codes: enrol (scan, then confirm a code) or turn them off."""
    return page(request, "security", {**_security(actor, users), "notice": NOTICES.get(done)})


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
        return page(request, "security", {**_security(actor, users, secret), **refusal(problem)})
    return see_other("/account/security?done=totp-on")


@router.post("/account/security/disable")
def disable_totp(
    request: Request, actor: Caller, signin: SignIn, users: Users, code: Annotated[str, Form()]
) -> Response:
    """Turn authenticator codes off, given a current code."""
    try:
        signin.disable_second_factor(code, actor=actor)
    except FormRefusal as problem:
        return page(request, "security", {**_security(actor, users), **refusal(problem)})
    return see_other("/account/security?done=totp-off")


@router.get("/account/sessions", response_class=HTMLResponse)
def sessions_page(request: Request, actor: Caller, signin: SignIn, done: str = "") -> Response:
    """Where the person is signed in, each with a button to sign it out."""
    context = {"actor": actor, "sessions": signin.list_sessions(actor=actor), "notice": NOTICES.get(done)}
    return page(request, "sessions", context)


@router.post("/account/sessions/{session_id}/revoke")
def revoke_own_session(session_id: str, actor: Caller, signin: SignIn) -> Response:
    """Sign one of the person's sessions out (this one included)."""
    signin.revoke_session(session_id, actor=actor)
    if session_id == actor.session_id:
        response = see_other("/login")
        response.delete_cookie(SESSION_COOKIE)
        return response
    return see_other("/account/sessions?done=session-revoked")


@router.get("/account/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, actor: Caller, tokens: Tokens, done: str = "") -> Response:
    """The person's API tokens, a form for a new one, and revoke buttons."""
    return page(request, "tokens", _tokens(actor, tokens, notice=NOTICES.get(done)))


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
        chosen = no_wider(actor, _permissions(scopes) if scopes else None)
        _token, secret = tokens.issue_user_token(
            _token_name(name), actor=actor, scopes=chosen, expires_at=_end_of(expires_on)
        )
    except FormRefusal as problem:
        return page(request, "tokens", _tokens(actor, tokens, **refusal(problem)))
    return page(request, "tokens", _tokens(actor, tokens, secret=secret))


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token_form(token_id: str, actor: Caller, tokens: Tokens) -> Response:
    """Revoke one of the person's tokens."""
    tokens.revoke(token_id, actor=actor)
    return see_other("/account/tokens?done=token-revoked")


def _token_name(name: str) -> str:
    if not name.strip():
        raise InvalidInput("give the token a name that says what uses it")
    return name


def _permissions(values: list[str]) -> frozenset[Permission]:
    try:
        return frozenset(Permission(value) for value in values)
    except ValueError as error:
        raise InvalidInput("unknown permission") from error


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
    return page(request, "password", {"actor": actor, "notice": NOTICES.get(done)})


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
        return page(request, "password", {"actor": actor, **refusal(problem)})
    return see_other("/account/password?done=password")


def _check_current(signin: SignInService, username: str, password: str, actor: Actor) -> None:
    try:
        signin.check_password(username, password, request=actor)
    except NotAuthenticated as wrong:
        raise InvalidInput("your current password is not right") from wrong


@router.get("/notifications", response_class=HTMLResponse)
def notifications_page(request: Request, actor: Caller, users: Users, done: str = "") -> Response:
    """The person's recent messages, unread first marked."""
    notes = users.notifications(actor=actor, unread_only=False)
    return page(request, "notifications", {"actor": actor, "notes": notes, "notice": NOTICES.get(done)})


@router.post("/notifications/read")
def notifications_read(actor: Caller, users: Users) -> Response:
    """Mark every message read."""
    users.mark_read(actor=actor)
    return see_other("/notifications?done=read")
