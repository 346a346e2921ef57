"""Account pages and API, one module per area: signing in, the person's account, administration, JSON."""

from fastapi import APIRouter

from witnessbox.accounts.routes import account, admin, signin
from witnessbox.accounts.routes import api as api_routes
from witnessbox.accounts.routes._shared import signin_service, templates
from witnessbox.accounts.routes.signin import set_session_cookie

router = APIRouter()
for area in (signin, account, admin):
    router.include_router(area.router)
api = api_routes.router

__all__ = ["api", "router", "set_session_cookie", "signin_service", "templates"]
