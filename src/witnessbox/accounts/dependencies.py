"""The dependencies every route uses: who is asking, and (for forms) that they meant to.

Routes never look at credentials themselves: they depend on `current_actor`,
which asks the authenticator the web app was built with (see web/auth.py).
"""

import hmac
from collections.abc import Callable
from typing import Protocol, TypeVar

from fastapi import Request
from fastapi.templating import Jinja2Templates

from witnessbox.core.actor import Actor, ActorKind
from witnessbox.core.errors import Forbidden

SESSION_COOKIE = "wbx_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
Built = TypeVar("Built")


def built_with(name: str, kind: type[Built]) -> Callable[[Request], Built]:
    """A dependency handing out what the app was built with under `name` (a service, the templates)."""

    def dependency(request: Request) -> Built:
        found: Built = getattr(request.app.state, name)
        return found

    dependency.__name__ = f"{name}_of_the_app"
    return dependency


page_templates = built_with("templates", Jinja2Templates)


class Authenticator(Protocol):
    """Turns a request's credentials into an Actor, or raises NotAuthenticated."""

    def actor_for(self, request: Request) -> Actor: ...


def request_actor(request: Request) -> Actor:
    """An anonymous actor carrying this request's id and address, for auditing failures."""
    return Actor(kind=ActorKind.USER, id="anonymous", name="anonymous").with_request(
        request.state.request_id, request.client.host if request.client else None
    )


async def current_actor(request: Request) -> Actor:
    """The person making this request; docks are refused (they only upload and confirm)."""
    actor = await device_or_person(request)
    if actor.kind == ActorKind.DOCK:
        raise Forbidden("a dock credential may only upload recordings and confirm them")
    return actor


async def device_or_person(request: Request) -> Actor:
    """Who is making this request, a dock included; NotAuthenticated when nobody recognisable is.

    Only the upload endpoint and the confirm-by-hash listing accept docks.

    A state-changing request that rides on the session cookie must also carry the
    session's CSRF token (form field or X-CSRF-Token header); bearer tokens are not
    sent by browsers on their own, so they need none.
    """
    authenticator: Authenticator = request.app.state.authenticator
    actor = authenticator.actor_for(request)
    if request.method in UNSAFE_METHODS and not request.headers.get("authorization"):
        await _check_csrf(request)
    anonymous = request_actor(request)
    return actor.with_request(anonymous.request_id, anonymous.source_address)


async def _check_csrf(request: Request) -> None:
    expected = getattr(request.state, "csrf_token", None)
    given = request.headers.get(CSRF_HEADER)
    if given is None and "form" in request.headers.get("content-type", ""):
        given = str((await request.form()).get(CSRF_FIELD) or "")
    if not expected or not given or not hmac.compare_digest(given, expected):
        raise Forbidden("the form has expired or did not come from this site; reload and try again")
