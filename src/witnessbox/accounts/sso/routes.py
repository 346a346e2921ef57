"""Sign-in pages for single sign-on: off to the identity provider, and back."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from witnessbox.accounts.dependencies import request_actor
from witnessbox.accounts.routes import set_session_cookie, signin_service, templates
from witnessbox.accounts.sso.provider import PENDING_LIFETIME, SsoRefused
from witnessbox.accounts.sso.service import SsoCallback, SsoService
from witnessbox.core.urls import local_target

router = APIRouter(tags=["sign-in"], include_in_schema=False)

# Binds a trip to the provider to the browser that began it, so nobody can hand a victim
# a callback link that signs them in as someone else. SameSite=Lax: the provider's
# redirect back is a cross-site top-level GET, which Strict cookies would miss.
STATE_COOKIE = "wbx_sso_state"
STATE_COOKIE_PATH = "/login/sso"


@router.get("/login/sso")
def start(request: Request, next: str = "/") -> Response:
    """Send the browser to the identity provider to sign in."""
    sso = _sso(request)
    if sso is None:
        return _refused(request, SsoRefused("Single sign-on is not set up here.", 404))
    try:
        started = sso.begin(next_url=local_target(next), redirect_uri=_callback_url(request))
    except SsoRefused as refused:
        return _refused(request, refused)
    response = RedirectResponse(started.url, status_code=303)
    response.set_cookie(
        STATE_COOKIE,
        started.state,
        max_age=int(PENDING_LIFETIME.total_seconds()),
        path=STATE_COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/login/sso/callback", name="sso_callback")
def callback(request: Request) -> Response:
    """Check the provider's answer, start a session and go on to the page the person wanted."""
    sso = _sso(request)
    if sso is None:
        return _refused(request, SsoRefused("Single sign-on is not set up here.", 404))
    answer = SsoCallback(dict(request.query_params), request.cookies.get(STATE_COOKIE))
    try:
        signed_in = sso.complete(answer, request=request_actor(request))
    except SsoRefused as refused:
        return _refused(request, refused)
    token = signin_service(request).start_session(
        signed_in.user, request=request_actor(request), user_agent=request.headers.get("user-agent")
    )
    # A page that moves on by itself (Refresh) rather than a redirect: this response ends a chain that began
    # at the provider's site, and browsers hold SameSite=Strict cookies (our session) back from the
    # rest of such a chain, so a plain redirect would land on the sign-in page again.
    response = templates(request).TemplateResponse(
        request, "accounts/sso_continue.html", {"next": signed_in.next_url}
    )
    response.headers["Refresh"] = f"0; url={signed_in.next_url}"
    set_session_cookie(request, response, token)
    response.delete_cookie(STATE_COOKIE, path=STATE_COOKIE_PATH)
    return response


def _sso(request: Request) -> SsoService | None:
    service: SsoService | None = getattr(request.app.state, "sso", None)
    return service


def _refused(request: Request, refused: SsoRefused) -> Response:
    """A page saying why, with no session; the state cookie goes too, as it can never be used again."""
    response = templates(request).TemplateResponse(
        request, "accounts/sso_refused.html", {"reason": refused.reason}, status_code=refused.status
    )
    response.delete_cookie(STATE_COOKIE, path=STATE_COOKIE_PATH)
    return response


def _callback_url(request: Request) -> str:
    """Where the provider sends the browser back: under the public URL when one is set (behind a proxy)."""
    public_url: str | None = request.app.state.settings.public_url
    if public_url:
        return public_url.rstrip("/") + "/login/sso/callback"
    return str(request.url_for("sso_callback"))
