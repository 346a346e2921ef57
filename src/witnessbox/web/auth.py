"""How the web app recognises callers: bearer tokens (docks, scripts) or the session cookie."""

from fastapi import Request

from witnessbox.accounts.dependencies import SESSION_COOKIE
from witnessbox.accounts.signin import SignInService
from witnessbox.accounts.tokens import TokenService
from witnessbox.core.actor import Actor
from witnessbox.core.errors import NotAuthenticated


class WebAuthenticator:
    """Tries a bearer token first, then the browser session cookie."""

    def __init__(self, signin: SignInService, tokens: TokenService) -> None:
        self.signin = signin
        self.tokens = tokens

    def actor_for(self, request: Request) -> Actor:
        """The actor behind this request's credentials."""
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            return self.tokens.authenticate(credential.strip())
        if token := request.cookies.get(SESSION_COOKIE):
            actor, request.state.csrf_token = self.signin.session_and_csrf(token)
            return actor
        raise NotAuthenticated("sign in, or send a token as 'Authorization: Bearer ...'")
