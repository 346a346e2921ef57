"""Single sign-on with the force's identity provider over OpenID Connect.

The authorization code flow with PKCE (S256), state and nonce, through Authlib's
OAuth 2 client (over httpx2, the HTTP client Authlib drives); the ID token is
checked against the provider's published keys with joserfc (Authlib's JOSE
library): signature, issuer, audience, expiry and nonce.
The provider's groups decide a person's roles at every sign-in, so leaving a group
at the provider takes the role away here the next time they sign in.

`provider.py` is the seam to the provider (HTTP and tokens only); `service.py` keeps the
pending sign-ins, finds or creates the person and audits; `routes.py` is the browser's side;
`models.py` the pending sign-ins table.
"""

from witnessbox.accounts.sso.provider import (
    OidcProvider,
    SsoConfig,
    SsoRefused,
    parse_role_map,
    roles_for,
    verify_id_token,
)
from witnessbox.accounts.sso.service import SignedIn, SsoCallback, SsoService, SsoStart

__all__ = [
    "OidcProvider",
    "SignedIn",
    "SsoCallback",
    "SsoConfig",
    "SsoRefused",
    "SsoService",
    "SsoStart",
    "parse_role_map",
    "roles_for",
    "verify_id_token",
]
