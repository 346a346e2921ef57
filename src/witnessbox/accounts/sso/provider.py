"""The seam to the identity provider: discovery, the authorization URL, code exchange, ID token checks.

The authorization code flow with PKCE (S256), state and nonce, through Authlib's OAuth 2 client
(over httpx2, the HTTP client Authlib drives); the ID token is checked against the provider's
published keys with joserfc (Authlib's JOSE library): signature, issuer, audience, expiry, nonce.
"""

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

import httpx2
from authlib.integrations.base_client import OAuthError  # type: ignore[import-untyped]
from authlib.integrations.httpx_client import OAuth2Client  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet, KeySetSerialization

from witnessbox.accounts.roles import Role
from witnessbox.core.clock import Clock
from witnessbox.core.errors import WitnessboxError

PENDING_LIFETIME = timedelta(minutes=10)
CLOCK_SKEW_S = 60  # the provider's clock and ours may differ a little
# Asymmetric algorithms only: the keys come from the provider's published set, and
# an HMAC "signature" made with a public key must never pass.
SIGNING_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
NO_ROLE = (
    "You signed in at the identity provider, but none of your groups there gives you a role in "
    "Witnessbox. Ask your supervisor or the system administrator to add you to the right group."
)


class SsoRefused(WitnessboxError):
    """A single sign-on that did not complete; `reason` is fit to show the person, `status` to send."""

    def __init__(self, reason: str, status: int = 403) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class SsoConfig:
    """How Witnessbox is registered with the provider, and what it makes of the provider's answer."""

    issuer: str
    client_id: str
    client_secret: str
    display_name: str = "force sign-in"
    scopes: str = "openid profile email"
    groups_claim: str = "groups"
    collar_claim: str = "preferred_username"
    role_map: Mapping[str, frozenset[Role]] = field(default_factory=dict)
    create_users: bool = True
    timeout_s: float = 10.0


def parse_role_map(raw: Mapping[str, Sequence[str]]) -> dict[str, frozenset[Role]]:
    """The configured group -> roles map, refusing role names Witnessbox does not have."""
    known = {role.value for role in Role}
    unknown = sorted({name for names in raw.values() for name in names} - known)
    if unknown:
        raise ValueError(f"oidc_role_map names unknown roles {unknown}; known roles: {sorted(known)}")
    return {group: frozenset(Role(name) for name in names) for group, names in raw.items()}


def roles_for(groups: Collection[str], role_map: Mapping[str, frozenset[Role]]) -> frozenset[Role]:
    """The roles a person's provider groups give them (none for groups the map does not name)."""
    return frozenset().union(*(role_map.get(group, frozenset()) for group in groups))


def verify_id_token(
    raw: str, keys: KeySet, *, issuer: str, client_id: str, nonce: str, now: int
) -> dict[str, Any]:
    """The claims of an ID token whose signature, issuer, audience, times and nonce all check out.

    Raises joserfc's JoseError (or a subclass) when anything is wrong.
    """
    token = jwt.decode(raw, keys, algorithms=SIGNING_ALGORITHMS)
    jwt.JWTClaimsRegistry(
        now=now,
        leeway=CLOCK_SKEW_S,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    ).validate(token.claims)
    audience = token.claims["aud"]
    # OIDC Core 3.1.3.7: with several audiences, the token must say it was issued to us.
    if isinstance(audience, list) and len(audience) > 1 and token.claims.get("azp") != client_id:
        raise JoseError("the ID token was issued to another client (azp)")
    return token.claims


class OidcProvider:
    """The identity provider over HTTP: discovery, the authorization URL, the code exchange, userinfo."""

    def __init__(self, config: SsoConfig, clock: Clock) -> None:
        self.config, self.clock = config, clock
        self._discovery: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    def authorization_url(self, *, state: str, nonce: str, code_verifier: str, redirect_uri: str) -> str:
        """Where to send the browser to sign in."""
        endpoint = self._metadata_value("authorization_endpoint")
        with self._client(redirect_uri) as client:
            url, _state = client.create_authorization_url(
                endpoint, state=state, nonce=nonce, code_verifier=code_verifier
            )
        return str(url)

    def claims_for_code(
        self, *, code: str, code_verifier: str, redirect_uri: str, nonce: str, wanted: Collection[str]
    ) -> dict[str, Any]:
        """Exchange the code, verify the ID token; add userinfo's claims when `wanted` ones are missing."""
        with self._client(redirect_uri) as client, _provider_errors():
            token = client.fetch_token(
                self._metadata_value("token_endpoint"),
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
            )
            claims = self._verify(str(token.get("id_token") or ""), nonce)
            if any(name not in claims for name in wanted) and self._metadata().get("userinfo_endpoint"):
                claims = {**self._userinfo(client, claims["sub"]), **claims}
        return claims

    def _verify(self, raw: str, nonce: str) -> dict[str, Any]:
        if not raw:
            raise SsoRefused("the identity provider sent no ID token", 502)

        def verify() -> dict[str, Any]:
            return verify_id_token(
                raw,
                self._key_set(),
                issuer=self.config.issuer,
                client_id=self.config.client_id,
                nonce=nonce,
                now=int(self.clock.now().timestamp()),
            )

        try:
            return verify()
        except InvalidKeyIdError:
            # Signed with a key published since we fetched the set: the provider rotated its keys.
            self._keys = None
            return verify()

    def _userinfo(self, client: Any, subject: str) -> dict[str, Any]:
        response = client.get(self._metadata_value("userinfo_endpoint"))
        response.raise_for_status()
        info = response.json()
        # OIDC Core 5.3.2: userinfo about anyone else must be ignored, or claims could be swapped in.
        if not isinstance(info, dict) or info.get("sub") != subject:
            raise SsoRefused("the identity provider's userinfo is about someone else", 502)
        return info

    def _key_set(self) -> KeySet:
        if self._keys is None:
            self._keys = KeySet.import_key_set(
                cast(KeySetSerialization, self._get_json(self._metadata_value("jwks_uri")))
            )
        return self._keys

    def _metadata(self) -> dict[str, Any]:
        if self._discovery is None:
            document = self._get_json(self.config.issuer.rstrip("/") + "/.well-known/openid-configuration")
            # OIDC Discovery 4.3: the document must be the issuer's own.
            if document.get("issuer") != self.config.issuer:
                raise SsoRefused("the identity provider's discovery document names another issuer", 502)
            self._discovery = document
        return self._discovery

    def _metadata_value(self, name: str) -> str:
        value = self._metadata().get(name)
        if not isinstance(value, str) or not value:
            raise SsoRefused(f"the identity provider publishes no {name}", 502)
        return value

    def _get_json(self, url: str) -> dict[str, Any]:
        with _provider_errors():
            response = httpx2.get(url, timeout=self.config.timeout_s, headers={"Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
        if not isinstance(document, dict):
            raise SsoRefused(f"the identity provider sent something other than JSON from {url}", 502)
        return document

    @contextmanager
    def _client(self, redirect_uri: str) -> Iterator[Any]:
        methods = self._metadata().get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
        with OAuth2Client(
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
            token_endpoint_auth_method=(
                "client_secret_basic" if "client_secret_basic" in methods else "client_secret_post"
            ),
            scope=self.config.scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=self.config.timeout_s,
        ) as client:
            yield client


@contextmanager
def _provider_errors() -> Iterator[None]:
    """Turn what can go wrong talking to the provider into a refusal the person can read."""
    try:
        yield
    except OAuthError as error:
        raise SsoRefused(f"the identity provider refused the sign-in ({error.error})", 401) from error
    except JoseError as error:
        raise SsoRefused("the identity provider's ID token failed verification", 401) from error
    except (httpx2.HTTPError, ValueError) as error:
        raise SsoRefused("the identity provider could not be reached or gave a bad answer", 502) from error
