"""How the web app recognises callers: dock bearer tokens, HTTP Basic, session cookies."""

import base64
import binascii

from fastapi import Request

from witnessbox.accounts.dependencies import SESSION_COOKIE, request_actor
from witnessbox.accounts.service import AccountService
from witnessbox.core.actor import Actor
from witnessbox.core.errors import NotAuthenticated
from witnessbox.devices.service import DOCK_TOKEN_PREFIX, DeviceService


class WebAuthenticator:
    """Tries, in order: a dock bearer token, HTTP Basic (scripts), the browser session cookie."""

    def __init__(self, accounts: AccountService, devices: DeviceService) -> None:
        self.accounts = accounts
        self.devices = devices

    def actor_for(self, request: Request) -> Actor:
        """The actor behind this request's credentials."""
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credential.startswith(DOCK_TOKEN_PREFIX):
            return self.devices.authenticate_dock(credential.strip())
        if scheme.lower() == "basic":
            username, password = _basic(credential)
            return self.accounts.check_password(username, password, request=request_actor(request))
        if token := request.cookies.get(SESSION_COOKIE):
            return self.accounts.session_actor(token)
        raise NotAuthenticated("sign in, or send a dock token as 'Authorization: Bearer ...'")


def _basic(credential: str) -> tuple[str, str]:
    try:
        username, _, password = base64.b64decode(credential).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise NotAuthenticated("malformed Basic credential") from error
    return username, password
