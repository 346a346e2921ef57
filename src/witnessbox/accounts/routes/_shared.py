"""What the account pages share: the services they use, rendering, refusals."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from witnessbox.accounts.dependencies import built_with, current_actor, page_templates
from witnessbox.accounts.roles import Permission
from witnessbox.accounts.service import UserService, require
from witnessbox.accounts.signin import SignInService
from witnessbox.accounts.tokens import TokenService
from witnessbox.core.actor import Actor
from witnessbox.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    TooManyAttempts,
    WitnessboxError,
)

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


signin_service = built_with("signin", SignInService)


user_service = built_with("users", UserService)


token_service = built_with("tokens", TokenService)


templates = page_templates


def administrator(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
    """The caller, who must be allowed to manage people (403 otherwise)."""
    require(actor, Permission.USER_MANAGE)
    return actor


SignIn = Annotated[SignInService, Depends(signin_service)]
Users = Annotated[UserService, Depends(user_service)]
Tokens = Annotated[TokenService, Depends(token_service)]
Caller = Annotated[Actor, Depends(current_actor)]
Admin = Annotated[Actor, Depends(administrator)]


def page(request: Request, name: str, context: dict[str, object], status: int = 200) -> Response:
    """Render a page; a form shown again after a refusal gets the refusal's status (and Retry-After)."""
    refused, headers = context.get("refused"), {}
    if isinstance(refused, WitnessboxError):
        status = refused.status
    if isinstance(refused, TooManyAttempts):
        headers["Retry-After"] = str(refused.retry_after_s)
    return templates(request).TemplateResponse(
        request, f"accounts/{name}.html", context, status_code=status, headers=headers
    )


def refusal(problem: WitnessboxError) -> dict[str, object]:
    """What a form shown again needs to say why it was refused."""
    return {"error": problem.reason, "refused": problem}


def see_other(target: str) -> Response:
    return RedirectResponse(target, status_code=303)


def no_wider(actor: Actor, scopes: frozenset[Permission] | None) -> frozenset[Permission] | None:
    """A token made with a scoped token gets at most that token's scopes."""
    if actor.scopes is None:
        return scopes
    held = frozenset(p for p in Permission if p in actor.scopes)
    if scopes is not None and not scopes <= held:
        raise Forbidden("a token cannot be given scopes the token creating it lacks")
    return held if scopes is None else scopes
