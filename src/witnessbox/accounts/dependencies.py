"""The one dependency every route uses to learn who is asking.

Routes never look at credentials themselves: they depend on `current_actor`,
which asks the authenticator the web app was built with (see web/auth.py).
"""

from typing import Protocol

from fastapi import Request

from witnessbox.core.actor import Actor, ActorKind

SESSION_COOKIE = "wbx_session"


class Authenticator(Protocol):
    """Turns a request's credentials into an Actor, or raises NotAuthenticated."""

    def actor_for(self, request: Request) -> Actor: ...


def request_actor(request: Request) -> Actor:
    """An anonymous actor carrying this request's id and address, for auditing failures."""
    return Actor(kind=ActorKind.USER, id="anonymous", name="anonymous").with_request(
        request.state.request_id, request.client.host if request.client else None)


def current_actor(request: Request) -> Actor:
    """Who is making this request; NotAuthenticated when nobody recognisable is."""
    authenticator: Authenticator = request.app.state.authenticator
    actor = authenticator.actor_for(request)
    anonymous = request_actor(request)
    return actor.with_request(anonymous.request_id, anonymous.source_address)
