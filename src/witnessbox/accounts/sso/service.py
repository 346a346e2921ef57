"""Sign-in through the identity provider: pending sign-ins, finding or creating the person, audit.

The provider's groups decide a person's roles at every sign-in, so leaving a group at the
provider takes the role away here the next time they sign in.
"""

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from witnessbox.accounts.models import User
from witnessbox.accounts.roles import Role
from witnessbox.accounts.service import actor_for
from witnessbox.accounts.sso.models import PendingSignIn
from witnessbox.accounts.sso.provider import (
    NO_ROLE,
    PENDING_LIFETIME,
    OidcProvider,
    SsoConfig,
    SsoRefused,
    roles_for,
)
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import SYSTEM, Actor
from witnessbox.core.clock import Clock
from witnessbox.core.ids import new_id
from witnessbox.db.session import Database


@dataclass(frozen=True)
class SsoStart:
    """Where to send the browser, and the state to bind to it (a short-lived cookie)."""

    url: str
    state: str


@dataclass(frozen=True)
class SsoCallback:
    """What came back: the callback's query parameters and the state the browser was given."""

    params: Mapping[str, str]
    browser_state: str | None


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in."""

    subject: str
    collar_number: str | None
    name: str
    email: str | None
    groups: tuple[str, ...]


@dataclass(frozen=True)
class SignedIn:
    """A person to start a session for, and the page they were going to."""

    user: User
    next_url: str


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _text(value: object) -> str | None:
    """A claim as stripped text; None when absent or blank."""
    return (str(value).strip() or None) if value is not None else None


class SsoService:
    """Sign-in through the force's identity provider: begin, complete, find or create, audit."""

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        clock: Clock,
        config: SsoConfig,
        provider: OidcProvider | None = None,
    ) -> None:
        self.db, self.audit, self.clock, self.config = db, audit, clock, config
        self.provider = provider or OidcProvider(config, clock)

    @property
    def display_name(self) -> str:
        """How the sign-in page names the provider: "Sign in with <display_name>"."""
        return self.config.display_name

    def begin(self, *, next_url: str, redirect_uri: str) -> SsoStart:
        """Record a pending sign-in and return the provider's authorization URL for it."""
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(48)  # RFC 7636: 43-128 URL-safe characters; this makes 64
        url = self.provider.authorization_url(
            state=state, nonce=nonce, code_verifier=verifier, redirect_uri=redirect_uri
        )
        now = self.clock.now()
        with self.db.transaction() as uow:
            # Abandoned trips to the provider are of no use once expired; clear them here.
            uow.session.execute(delete(PendingSignIn).where(PendingSignIn.expires_at < now))
            uow.session.add(
                PendingSignIn(
                    id=new_id(),
                    state_hash=_digest(state),
                    nonce=nonce,
                    code_verifier=verifier,
                    redirect_uri=redirect_uri,
                    next_url=next_url,
                    created_at=now,
                    expires_at=now + PENDING_LIFETIME,
                )
            )
        return SsoStart(url=url, state=state)

    def complete(self, callback: SsoCallback, *, request: Actor) -> SignedIn:
        """Check the provider's answer and find, create or update the person; SsoRefused otherwise."""
        try:
            pending = self._consume(callback)
            identity = self._identity(pending, callback.params)
        except SsoRefused as refused:
            with self.db.transaction() as uow:
                self._record_failure(uow.session, request, refused, None)
            raise
        return SignedIn(user=self._sign_in(identity, request), next_url=pending.next_url)

    def _consume(self, callback: SsoCallback) -> PendingSignIn:
        """The pending sign-in this callback answers, marked used so it can never answer twice."""
        state = callback.params.get("state") or ""
        if not state or not callback.browser_state or not hmac.compare_digest(state, callback.browser_state):
            raise SsoRefused(
                "This sign-in did not start in this browser, or its link was changed. Start again.", 400
            )
        now = self.clock.now()
        with self.db.transaction() as uow:
            pending = uow.session.scalars(
                select(PendingSignIn).where(PendingSignIn.state_hash == _digest(state)).with_for_update()
            ).first()
            if pending is None or pending.used_at is not None:
                raise SsoRefused("This sign-in link has already been used. Start again.", 400)
            pending.used_at = now
        if pending.expires_at < now:
            raise SsoRefused("This sign-in took longer than 10 minutes. Start again.", 400)
        return pending

    def _identity(self, pending: PendingSignIn, params: Mapping[str, str]) -> Identity:
        if error := params.get("error"):
            said = (params.get("error_description") or error)[:200]
            raise SsoRefused(f"{self.config.display_name} did not sign you in: {said}", 401)
        # RFC 9207: an answer naming another issuer is a mix-up attack, or a misconfiguration.
        if "iss" in params and params["iss"] != self.config.issuer:
            raise SsoRefused("The answer came from a different identity provider.", 400)
        if not params.get("code"):
            raise SsoRefused("The identity provider sent no authorization code.", 400)
        claims = self.provider.claims_for_code(
            code=params["code"],
            code_verifier=pending.code_verifier,
            redirect_uri=pending.redirect_uri,
            nonce=pending.nonce,
            wanted=(self.config.groups_claim, self.config.collar_claim),
        )
        return self._read_identity(claims)

    def _read_identity(self, claims: Mapping[str, Any]) -> Identity:
        groups = claims.get(self.config.groups_claim) or []
        groups = [groups] if isinstance(groups, str) else groups
        collar = _text(claims.get(self.config.collar_claim))
        email = _text(claims.get("email"))
        if claims.get("email_verified") is False:
            email = None  # an address the provider has not verified could be someone else's
        return Identity(
            subject=str(claims["sub"]),
            collar_number=collar,
            name=(_text(claims.get("name")) or collar or str(claims["sub"]))[:128],
            email=email.lower() if email else None,
            groups=tuple(str(group) for group in groups),
        )

    def _sign_in(self, identity: Identity, request: Actor) -> User:
        """Find, link or create the person and set their roles, all audited in one transaction."""
        roles = roles_for(identity.groups, self.config.role_map)
        refused: SsoRefused | None = None
        try:
            with self.db.transaction() as uow:
                try:
                    user_id = self._provision(uow.session, identity, roles, request)
                except SsoRefused as error:
                    # Commit what was changed before the refusal (roles taken away) with its audit entry.
                    refused = error
                    self._record_failure(uow.session, request, error, identity)
        except IntegrityError as error:
            # Someone with the same collar number or email was added meanwhile.
            refused = SsoRefused("Your account could not be set up because of a clash. Try again.", 409)
            with self.db.transaction() as uow:
                self._record_failure(uow.session, request, refused, identity)
            raise refused from error
        if refused is not None:
            raise refused
        with self.db.read() as session:
            return session.get_one(User, user_id)

    def _provision(self, session: Session, identity: Identity, roles: frozenset[Role], request: Actor) -> str:
        """The id of the person signed in, found by subject, else by collar number, else created."""
        system = SYSTEM.with_request(request.request_id, request.source_address)
        user = session.scalars(select(User).where(User.oidc_subject == identity.subject)).first()
        known_subject = user is not None
        if user is None and identity.collar_number:
            user = session.scalars(select(User).where(User.collar_number == identity.collar_number)).first()
        if user is not None and not user.active:
            raise SsoRefused("Your Witnessbox account is disabled. Ask the system administrator.", 403)
        if user is not None and user.oidc_subject not in (None, identity.subject):
            raise SsoRefused(
                f"Collar number {identity.collar_number} is already linked to another identity-provider "
                "account. Ask the system administrator.",
                409,
            )
        if not roles:
            # Take the roles of someone the provider no longer groups; but never of a person matched
            # only by collar number, or a look-alike account at the provider could strip a local admin.
            if user is not None and known_subject:
                self._set_roles(session, user, roles, system)
            raise SsoRefused(NO_ROLE, 403)
        created = user is None
        if user is None:
            user = self._create(session, identity, roles, system)
        else:
            user.oidc_subject = identity.subject
            self._set_roles(session, user, roles, system)
        linked = not known_subject and not created
        self._record_sign_in(session, user, identity, request, created=created, linked=linked)
        return user.id

    def _create(self, session: Session, identity: Identity, roles: frozenset[Role], system: Actor) -> User:
        if not self.config.create_users:
            raise SsoRefused(
                f"There is no Witnessbox account for collar number {identity.collar_number}. "
                "Ask the system administrator to add you.",
                403,
            )
        collar = identity.collar_number or ""
        if not collar or len(collar) > 32 or any(ch.isspace() for ch in collar):
            claim = self.config.collar_claim
            raise SsoRefused(f"The identity provider sent no usable collar number (claim {claim!r}).", 400)
        email = identity.email
        if email and session.scalars(select(User.id).where(User.email == email)).first():
            email = None  # someone else has it; the account works without one
        user = User(
            id=new_id(),
            collar_number=collar,
            name=identity.name or collar,
            email=email,
            roles=sorted(roles),
            oidc_subject=identity.subject,
            active=True,
            created_at=self.clock.now(),
        )
        session.add(user)
        session.flush()
        self.audit.record(
            session,
            AuditTag.ACCOUNT_USER_CREATED,
            actor=system,
            subject=Subject("user", user.id),
            details={
                "collar_number": collar,
                "name": user.name,
                "roles": user.roles,
                "source": "oidc",
                "issuer": self.config.issuer,
                "oidc_subject": identity.subject,
            },
        )
        return user

    def _set_roles(self, session: Session, user: User, roles: frozenset[Role], system: Actor) -> None:
        """Make the person's roles what the provider's groups say; audited with before and after."""
        before, after = sorted(user.roles), sorted(roles)
        if before == after:
            return
        user.roles = after
        self.audit.record(
            session,
            AuditTag.ACCOUNT_USER_ROLES_CHANGED,
            actor=system,
            subject=Subject("user", user.id),
            details={"before": before, "after": after, "source": "oidc"},
        )

    def _record_sign_in(
        self, session: Session, user: User, identity: Identity, request: Actor, *, created: bool, linked: bool
    ) -> None:
        self.audit.record(
            session,
            AuditTag.ACCOUNT_SSO_SIGNIN,
            actor=actor_for(user).with_request(request.request_id, request.source_address),
            subject=Subject("user", user.id),
            details={
                "issuer": self.config.issuer,
                "oidc_subject": identity.subject,
                "groups": list(identity.groups),
                "roles": sorted(user.roles),
                "created": created,
                "linked": linked,
            },
        )

    def _record_failure(
        self, session: Session, request: Actor, refused: SsoRefused, identity: Identity | None
    ) -> None:
        self.audit.record(
            session,
            AuditTag.ACCOUNT_SIGNIN_FAILED,
            actor=request,
            details={
                "via": "oidc",
                "username": (identity.collar_number or identity.subject) if identity else None,
                "oidc_subject": identity.subject if identity else None,
                "groups": list(identity.groups) if identity else None,
                "reason": refused.reason,
            },
        )
