"""The accounts JSON API: who am I, notifications, API tokens."""

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from witnessbox.accounts.models import ApiToken
from witnessbox.accounts.roles import Permission
from witnessbox.accounts.routes._shared import (
    Caller,
    Tokens,
    Users,
    no_wider,
)
from witnessbox.core.clock import as_utc

router = APIRouter(prefix="/api/v1", tags=["accounts"])

# --- JSON API ---------------------------------------------------------------------------------


class NotificationOut(BaseModel):
    """A message for the signed-in person."""

    id: str
    text: str
    link: str | None
    created_at: datetime


@router.get("/notifications", response_model=list[NotificationOut])
def my_notifications(actor: Caller, users: Users) -> list[NotificationOut]:
    """Your unread messages (e.g. items shared with you), newest first."""
    return [NotificationOut.model_validate(n, from_attributes=True) for n in users.notifications(actor=actor)]


@router.post("/notifications/read", status_code=204)
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


@router.get("/me", response_model=MeOut)
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
    expires_at: datetime | None = Field(
        default=None, description="when it stops working; in the future (409 otherwise)")


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


@router.post("/tokens", response_model=IssuedTokenOut, status_code=201)
def issue_token(body: TokenIn, actor: Caller, tokens: Tokens) -> IssuedTokenOut:
    """Issue an API token for your own scripts; send it as 'Authorization: Bearer ...'."""
    scopes = no_wider(actor, frozenset(body.scopes) if body.scopes is not None else None)
    expires = as_utc(body.expires_at) if body.expires_at else None
    token, secret = tokens.issue_user_token(body.name, actor=actor, scopes=scopes, expires_at=expires)
    return IssuedTokenOut(**TokenOut.of(token).model_dump(), token=secret)


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(actor: Caller, tokens: Tokens) -> list[TokenOut]:
    """Your API tokens, newest first (revoked and expired ones included, marked)."""
    return [TokenOut.of(token) for token in tokens.list_tokens(actor=actor)]


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: str, actor: Caller, tokens: Tokens) -> Response:
    """Revoke one of your tokens: it stops working at once."""
    tokens.revoke(token_id, actor=actor)
    return Response(status_code=204)
