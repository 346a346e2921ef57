"""Single sign-on through a real, certified OpenID Provider (panva/oidc-provider) on loopback.

The provider runs under Node.js from tests/oidc (`npm ci` there once per session; the
tests skip when Node.js or the npm registry is not to be had). Its development login and
consent pages accept any login name; `to_callback` fills them in with httpx as a browser
would, and stops at the redirect back to Witnessbox so a test can alter or replay it.
People and their groups at the provider live in a JSON file it reads at every sign-in.
"""

import base64
import hashlib
import hmac
import html
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from pydantic import SecretStr
from sqlalchemy import select

from tests.conftest import LiveServer, free_port
from witnessbox.accounts.roles import Role
from witnessbox.accounts.service import NewUser
from witnessbox.accounts.sso import (
    OidcProvider,
    SignedIn,
    SsoCallback,
    SsoConfig,
    SsoRefused,
    SsoService,
    parse_role_map,
    verify_id_token,
)
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import Container, build
from witnessbox.config import Settings
from witnessbox.core.actor import SYSTEM
from witnessbox.core.clock import FixedClock

OIDC_DIR = Path(__file__).resolve().parents[1] / "oidc"
CLIENT_ID = "witnessbox"
CLIENT_SECRET = "test-only-client-secret-5c1e0d9a7b3f4e21"
ROLE_MAP = {"bwv-officers": ["officer"], "psd": ["professional_standards"], "sergeants": ["supervisor"]}
ACCOUNTS: dict[str, dict[str, Any]] = {
    "alex.morgan": {"preferred_username": "3141", "name": "Alex Morgan", "email": "Alex.Morgan@force.example",
                    "email_verified": True, "groups": ["bwv-officers", "all-staff"]},
    "pat.canteen": {"preferred_username": "9901", "name": "Pat Canteen", "groups": ["all-staff"]},
    "sam.patel": {"preferred_username": "2087", "name": "Sam Patel", "groups": ["sergeants"]},
    "kim.lee": {"preferred_username": "7002", "name": "Kim Lee", "groups": ["bwv-officers"]},
}


# --- the provider and a Witnessbox that trusts it -------------------------------------------------------------


@pytest.fixture(scope="session")
def node() -> str:
    """Node.js with tests/oidc's packages installed (`npm ci`, once); skips when that cannot be had."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("Node.js and npm are needed to run the test OpenID provider in tests/oidc")
    installed = OIDC_DIR / "node_modules" / ".package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < (OIDC_DIR / "package-lock.json").stat().st_mtime:
        result = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=OIDC_DIR,
                                capture_output=True, text=True, timeout=600, check=False)
        if result.returncode != 0:
            pytest.skip(f"`npm ci` in tests/oidc failed (offline?): {result.stderr.strip()[-400:]}")
    return node


class OidcLiveServer(LiveServer):
    """The live server, told about the identity provider through WITNESSBOX_OIDC_* as an operator would."""

    def env(self) -> dict[str, str]:
        """The usual environment plus every oidc_* setting this test's Settings carry."""
        env = super().env()
        for name in Settings.model_fields:
            value = getattr(self.settings, name)
            if not name.startswith("oidc_") or value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, dict | list | bool):
                value = json.dumps(value)
            env[f"WITNESSBOX_{name.upper()}"] = str(value)
        return env


@dataclass
class Rig:
    """A provider process, the file of its people, and a Witnessbox server that trusts it."""

    server: OidcLiveServer
    accounts: Path

    def set_account(self, login: str, **claims: Any) -> None:
        """Add or change a person at the provider (read again at their next sign-in)."""
        people = json.loads(self.accounts.read_text())
        people[login] = {**people.get(login, {}), **claims}
        self.accounts.write_text(json.dumps(people))

    @contextmanager
    def container(self) -> Iterator[Container]:
        """The system built on the server's settings, to look at (or add to) what the server sees."""
        built = build(self.server.settings, migrate=False)
        try:
            yield built
        finally:
            built.close()


def _start_provider(node: str, port: int, redirect_uri: str, accounts: Path, log: Path,
                    claims_in_id_token: bool) -> subprocess.Popen[bytes]:
    env = dict(os.environ, OIDC_PORT=str(port), OIDC_REDIRECT_URI=redirect_uri, OIDC_CLIENT_ID=CLIENT_ID,
               OIDC_CLIENT_SECRET=CLIENT_SECRET, OIDC_ACCOUNTS_FILE=str(accounts),
               OIDC_CLAIMS_IN_ID_TOKEN="1" if claims_in_id_token else "0")
    with log.open("ab") as out:
        process = subprocess.Popen([node, "provider.js"], cwd=OIDC_DIR, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"provider exited: {log.read_text()[-3000:]}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/.well-known/openid-configuration", timeout=1).raise_for_status()
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"provider did not start: {log.read_text()[-3000:]}")


def _rig(node: str, settings: Settings, tmp_path: Path, claims_in_id_token: bool = False) -> Iterator[Rig]:
    accounts = tmp_path / "provider-accounts.json"
    accounts.write_text(json.dumps(ACCOUNTS))
    port, provider_port = free_port(), free_port()
    provider = _start_provider(node, provider_port, f"http://127.0.0.1:{port}/login/sso/callback", accounts,
                               tmp_path / "provider.log", claims_in_id_token)
    oidc = settings.model_copy(update={
        "oidc_issuer": f"http://127.0.0.1:{provider_port}", "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": SecretStr(CLIENT_SECRET), "oidc_display_name": "Test Force ID",
        "oidc_scopes": "openid profile email groups", "oidc_role_map": ROLE_MAP})
    build(oidc).close()  # migrate before the server starts
    server = OidcLiveServer(settings=oidc, port=port, log=tmp_path / "server.log")
    try:
        server.start()
        yield Rig(server, accounts)
    finally:
        server.stop()
        provider.terminate()
        provider.wait(10)


@pytest.fixture
def rig(node: str, settings: Settings, tmp_path: Path) -> Iterator[Rig]:
    """Provider (groups only from userinfo, its default) and Witnessbox, for one test."""
    yield from _rig(node, settings, tmp_path)


@pytest.fixture
def rig_with_claims_in_id_token(node: str, settings: Settings, tmp_path: Path) -> Iterator[Rig]:
    """Provider that puts groups in the ID token itself, so Witnessbox needs no userinfo call."""
    yield from _rig(node, settings, tmp_path, claims_in_id_token=True)


# --- a browser that signs in at the provider ------------------------------------------------------------------


def to_callback(browser: httpx.Client, rig: Rig, login: str, *, next: str = "/", abort: bool = False) -> str:
    """Start single sign-on, sign in and consent at the provider as `login`; the URL it sends us back to."""
    callback = f"{rig.server.url}/login/sso/callback"
    response = browser.get(f"{rig.server.url}/login/sso", params={"next": next})
    for _hop in range(12):
        assert response.is_redirect, f"{response.status_code} {response.url}: {response.text[:500]}"
        location = str(response.url.join(response.headers["location"]))
        if location.startswith(callback):
            return location
        response = browser.get(location)
        if response.status_code == 200 and 'name="prompt"' in response.text:
            response = _answer_provider_page(browser, response, login, abort)
    raise AssertionError("the provider never sent the browser back to Witnessbox")


def _answer_provider_page(browser: httpx.Client, page: httpx.Response, login: str, abort: bool) -> httpx.Response:
    """Fill in the provider's development login (any name) or consent form, or press its cancel link."""
    if abort:
        return browser.get(f"{page.url}/abort")
    action = html.unescape(re.search(r'<form[^>]*action="([^"]+)"', page.text)[1])  # type: ignore[index]
    prompt = re.search(r'name="prompt" value="(\w+)"', page.text)[1]  # type: ignore[index]
    form = {"prompt": prompt, "login": login, "password": "any"} if prompt == "login" else {"prompt": prompt}
    return browser.post(str(page.url.join(action)), data=form)


def sign_in(rig: Rig, login: str, *, next: str = "/") -> tuple[httpx.Client, httpx.Response]:
    """A fresh browser that went through single sign-on as `login`, and Witnessbox's last answer."""
    browser = httpx.Client(timeout=30)
    return browser, browser.get(to_callback(browser, rig, login, next=next))


def with_query(url: str, **changes: str) -> str:
    """The URL with some query parameters replaced."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query)) | changes
    return parts._replace(query=urlencode(query)).geturl()


def me(browser: httpx.Client, rig: Rig) -> httpx.Response:
    """Who Witnessbox thinks this browser is."""
    return browser.get(f"{rig.server.url}/api/v1/me")


# --- end to end ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("claims_from", ["userinfo", "id_token"])
def test_first_sign_in_creates_the_person_with_roles_from_groups(claims_from: str, request: pytest.FixtureRequest) -> None:
    """GIVEN a provider whose person is in the bwv-officers group WHEN they sign in through it for the first time
    THEN Witnessbox creates them as an officer with no password, and the session cookie works on the API."""
    rig: Rig = request.getfixturevalue("rig" if claims_from == "userinfo" else "rig_with_claims_in_id_token")
    login_page = httpx.get(f"{rig.server.url}/login", params={"next": "/items"})
    assert "Sign in with Test Force ID" in login_page.text and "/login/sso?next=/items" in login_page.text

    browser, answer = sign_in(rig, "alex.morgan", next="/items?page=2")
    assert answer.status_code == 200, answer.text
    assert answer.headers["refresh"] == "0; url=/items?page=2"
    assert "wbx_session" in answer.cookies and "wbx_sso_state" not in browser.cookies
    who = me(browser, rig).json()
    assert who["roles"] == ["officer"] and "Alex Morgan" in who["name"] and "3141" in who["name"]

    with rig.container() as container:
        person = container.users.by_collar_number("3141")
        assert person is not None and person.oidc_subject == "alex.morgan"
        assert person.password_hash is None and person.email == "alex.morgan@force.example"
    refused = httpx.post(f"{rig.server.url}/login", data={"username": "3141", "password": "any guess at all"})
    assert refused.status_code == 401, "a person made by single sign-on has no password to guess"


def test_each_sign_in_sets_roles_from_the_groups_of_that_moment(rig: Rig) -> None:
    """GIVEN a person who signed in as an officer WHEN the provider adds them to psd, then takes bwv-officers away
    THEN each later sign-in gives exactly the roles the groups map to, and the same Witnessbox account."""
    first, _ = sign_in(rig, "alex.morgan")
    first_id = me(first, rig).json()["id"]

    rig.set_account("alex.morgan", groups=["bwv-officers", "psd"])
    second, answer = sign_in(rig, "alex.morgan")
    assert answer.status_code == 200
    who = me(second, rig).json()
    assert who["id"] == first_id and who["roles"] == ["officer", "professional_standards"]

    rig.set_account("alex.morgan", groups=["psd"])
    third, _ = sign_in(rig, "alex.morgan")
    assert me(third, rig).json()["roles"] == ["professional_standards"]
    assert me(first, rig).json()["roles"] == ["professional_standards"], "roles are read afresh at each request"


def test_existing_local_account_is_linked_by_collar_number_and_a_disabled_one_stays_disabled(rig: Rig) -> None:
    """GIVEN local accounts for collar numbers 2087 (active, investigator) and 7002 (disabled)
    WHEN each signs in through the provider THEN 2087 is linked and gets the provider's roles; 7002 is refused."""
    with rig.container() as container:
        sam = container.users.create_user(NewUser("2087", "Sam Patel", frozenset({Role.INVESTIGATOR}),
                                                  password="a long local password 2026"), actor=SYSTEM)
        kim = container.users.create_user(NewUser("7002", "Kim Lee", frozenset({Role.OFFICER})), actor=SYSTEM)
        container.users.set_active(kim.id, False, actor=SYSTEM)

    browser, answer = sign_in(rig, "sam.patel")
    assert answer.status_code == 200
    who = me(browser, rig).json()
    assert who["id"] == sam.id and who["roles"] == ["supervisor"]

    browser, answer = sign_in(rig, "kim.lee")
    assert answer.status_code == 403 and "disabled" in answer.text
    assert "wbx_session" not in browser.cookies and me(browser, rig).status_code == 401
    with rig.container() as container:
        linked = container.users.get(sam.id)
        assert linked.oidc_subject == "sam.patel" and linked.password_hash, "the local password still works"
        assert container.users.get(kim.id).oidc_subject is None and not container.users.get(kim.id).active


def test_person_whose_groups_map_to_no_role_is_refused_with_no_session(rig: Rig) -> None:
    """GIVEN a person at the provider in no group the role map names WHEN they sign in through it
    THEN a page says why, no session cookie is set, and no Witnessbox account is made."""
    browser, answer = sign_in(rig, "pat.canteen")
    assert answer.status_code == 403
    assert "none of your groups there gives you a role" in answer.text
    assert "wbx_session" not in answer.cookies and me(browser, rig).status_code == 401
    with rig.container() as container:
        assert container.users.by_collar_number("9901") is None


def test_altered_replayed_foreign_and_cancelled_callbacks_are_refused(rig: Rig) -> None:
    """GIVEN a callback URL the provider sent back WHEN its state is altered, it arrives in another browser,
    it is used twice, or the person cancelled at the provider THEN each gets a clear 4xx page and no session."""
    browser = httpx.Client(timeout=30)
    callback = to_callback(browser, rig, "alex.morgan")
    state = dict(parse_qsl(urlsplit(callback).query))["state"]

    altered = browser.get(with_query(callback, state=state[:-1] + ("A" if state[-1] != "A" else "B")))
    assert altered.status_code == 400 and "did not start in this browser" in altered.text
    with httpx.Client(timeout=30) as elsewhere:
        assert elsewhere.get(callback).status_code == 400, "the state cookie binds it to the browser that began"

    browser.cookies.set("wbx_sso_state", state, domain="127.0.0.1", path="/login/sso")  # put back
    assert browser.get(callback).status_code == 200
    browser.cookies.set("wbx_sso_state", state, domain="127.0.0.1", path="/login/sso")  # as a thief would
    replayed = browser.get(callback)
    assert replayed.status_code == 400 and "already been used" in replayed.text
    assert "wbx_session" not in replayed.cookies

    cancelled_browser = httpx.Client(timeout=30)
    cancelled = cancelled_browser.get(to_callback(cancelled_browser, rig, "alex.morgan", abort=True))
    assert cancelled.status_code == 401 and "did not sign you in" in cancelled.text
    assert me(cancelled_browser, rig).status_code == 401


def test_sign_ins_and_refusals_are_in_the_audit_trail(rig: Rig) -> None:
    """GIVEN a first sign-in, a sign-in after a group change and a refused one WHEN the audit trail is read
    THEN it records the account made, the roles before and after, each sign-in and the refusal, and verifies."""
    sign_in(rig, "alex.morgan")
    rig.set_account("alex.morgan", groups=["psd"])
    sign_in(rig, "alex.morgan")
    sign_in(rig, "pat.canteen")

    with rig.container() as container:
        with container.db.read() as session:
            events = list(session.scalars(select(AuditEvent).where(AuditEvent.tag.startswith("accounts:"))
                                          .order_by(AuditEvent.seq)))
        person = container.users.by_collar_number("3141")
        assert person is not None
        mine = [(e.tag, e.details) for e in events if e.subject_id == person.id or e.tag.endswith("failed")]
        tags = [tag for tag, _ in mine]
        assert tags == [AuditTag.ACCOUNT_USER_CREATED, AuditTag.ACCOUNT_SSO_SIGNIN,
                        AuditTag.ACCOUNT_USER_ROLES_CHANGED, AuditTag.ACCOUNT_SSO_SIGNIN,
                        AuditTag.ACCOUNT_SIGNIN_FAILED]
        assert mine[0][1]["source"] == "oidc" and mine[0][1]["oidc_subject"] == "alex.morgan"
        assert mine[2][1] == {"before": ["officer"], "after": ["professional_standards"], "source": "oidc"}
        assert mine[1][1]["created"] is True and mine[3][1]["created"] is False
        assert mine[4][1]["via"] == "oidc" and mine[4][1]["username"] == "9901"
        started = [e for e in events if e.tag == AuditTag.ACCOUNT_SESSION_STARTED and e.actor_id == person.id]
        assert len(started) == 2 and all(e.source_address == "127.0.0.1" for e in started)
        assert container.audit.verify().ok


# --- the service with a stand-in provider: time and account rules ----------------------------------------------


class StandInProvider(OidcProvider):
    """Answers as a provider would once the code checked out, with the claims a test sets."""

    def __init__(self, claims: dict[str, Any]) -> None:
        self.claims = claims

    def authorization_url(self, *, state: str, nonce: str, code_verifier: str, redirect_uri: str) -> str:
        """A URL that carries the state, as the real one does."""
        return f"https://id.force.example/auth?state={state}"

    def claims_for_code(self, *, code: str, code_verifier: str, redirect_uri: str, nonce: str,
                        wanted: Collection[str]) -> dict[str, Any]:
        """The claims set by the test."""
        return self.claims


def _service(container: Container, clock: FixedClock, claims: dict[str, Any], *,
             create_users: bool = True) -> SsoService:
    config = SsoConfig(issuer=ISSUER, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, create_users=create_users,
                       role_map=parse_role_map(ROLE_MAP))
    return SsoService(container.db, container.audit, clock, config, provider=StandInProvider(claims))


def _round_trip(sso: SsoService, clock: FixedClock, *, minutes: float = 1) -> SignedIn:
    started = sso.begin(next_url="/", redirect_uri="http://127.0.0.1/login/sso/callback")
    clock.advance(minutes=minutes)
    answer = SsoCallback({"state": started.state, "code": "c0de", "iss": ISSUER}, started.state)
    return sso.complete(answer, request=SYSTEM)


def test_a_pending_sign_in_expires_after_ten_minutes(container: Container) -> None:
    """GIVEN a sign-in sent to the provider WHEN the answer comes after 11 minutes THEN it is refused, and stays used."""
    clock = FixedClock()
    sso = _service(container, clock, {"sub": "alex.morgan", "preferred_username": "3141", "groups": ["psd"]})
    assert _round_trip(sso, clock, minutes=9).user.roles == ["professional_standards"]
    with pytest.raises(SsoRefused, match="longer than 10 minutes") as late:
        _round_trip(sso, clock, minutes=11)
    assert late.value.status == 400


def test_without_create_users_only_people_already_added_may_sign_in(container: Container) -> None:
    """GIVEN oidc_create_users off WHEN an unknown collar number and then a known one sign in
    THEN the unknown is refused with no account made, the known one is linked."""
    clock = FixedClock()
    stranger = _service(container, clock, {"sub": "x1", "preferred_username": "4242", "groups": ["psd"]},
                        create_users=False)
    with pytest.raises(SsoRefused, match="no Witnessbox account for collar number 4242"):
        _round_trip(stranger, clock)
    assert container.users.by_collar_number("4242") is None
    known = container.users.create_user(NewUser("5120", "Dana Reid", frozenset({Role.INVESTIGATOR})), actor=SYSTEM)
    sso = _service(container, clock, {"sub": "x2", "preferred_username": "5120", "groups": ["psd"]},
                   create_users=False)
    assert _round_trip(sso, clock).user.id == known.id


def test_a_collar_number_linked_to_another_subject_is_refused(container: Container) -> None:
    """GIVEN collar number 3141 linked to one provider account WHEN another account claims 3141 THEN it is refused."""
    clock = FixedClock()
    _round_trip(_service(container, clock, {"sub": "alex", "preferred_username": "3141", "groups": ["psd"]}), clock)
    impostor = _service(container, clock, {"sub": "mallory", "preferred_username": "3141", "groups": ["psd"]})
    with pytest.raises(SsoRefused, match="already linked") as refused:
        _round_trip(impostor, clock)
    assert refused.value.status == 409 and container.audit.verify().ok


# --- the ID token check on its own (no provider needed) -------------------------------------------------------

ISSUER = "https://id.force.example"
NOW = 1_800_000_000


def _claims(**changes: Any) -> dict[str, Any]:
    claims = {"iss": ISSUER, "aud": CLIENT_ID, "sub": "alex.morgan", "nonce": "n-0S6_WzA2Mj",
              "iat": NOW - 5, "exp": NOW + 300}
    return {k: v for k, v in (claims | changes).items() if v is not None}


@pytest.fixture(scope="module")
def provider_key() -> RSAKey:
    """The provider's signing key."""
    return RSAKey.generate_key(2048, parameters={"kid": "k1"})


def _verify(token: str, key: RSAKey) -> dict[str, Any]:
    keys = KeySet.import_key_set({"keys": [key.as_dict(private=False)]})
    return verify_id_token(token, keys, issuer=ISSUER, client_id=CLIENT_ID, nonce="n-0S6_WzA2Mj", now=NOW)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forged(header: dict[str, Any], claims: dict[str, Any], hmac_key: bytes | None) -> str:
    """A token made by hand, as an attacker would: HMAC-signed with `hmac_key`, or unsigned."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest() if hmac_key else b""
    return f"{signing_input}.{_b64(signature)}"


def test_a_good_id_token_passes(provider_key: RSAKey) -> None:
    """GIVEN an ID token signed by the provider for us with our nonce WHEN verified THEN its claims come back."""
    token = jwt.encode({"alg": "RS256", "kid": "k1"}, _claims(), provider_key)
    assert _verify(token, provider_key)["sub"] == "alex.morgan"


@pytest.mark.parametrize(("case", "claims"), [
    ("wrong nonce", _claims(nonce="someone-elses")),
    ("no nonce", _claims(nonce=None)),
    ("wrong audience", _claims(aud="another-client")),
    ("several audiences, azp another", _claims(aud=[CLIENT_ID, "other"], azp="other")),
    ("wrong issuer", _claims(iss="https://evil.example")),
    ("expired", _claims(exp=NOW - 120)),
    ("no subject", _claims(sub=None)),
])
def test_an_id_token_with_wrong_claims_is_refused(provider_key: RSAKey, case: str, claims: dict[str, Any]) -> None:
    """GIVEN an ID token signed by the provider WHEN a claim is wrong (see `case`) THEN verification fails."""
    with pytest.raises(JoseError):
        _verify(jwt.encode({"alg": "RS256", "kid": "k1"}, claims, provider_key), provider_key)


def test_forged_id_tokens_are_refused(provider_key: RSAKey) -> None:
    """GIVEN ID tokens signed by another key, with HMAC over the public key, or not at all WHEN verified THEN all fail."""
    impostor = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    public_pem = provider_key.as_pem(private=False)
    forgeries = [
        jwt.encode({"alg": "RS256", "kid": "k1"}, _claims(), impostor),
        _forged({"alg": "HS256", "kid": "k1"}, _claims(), public_pem),
        _forged({"alg": "none"}, _claims(), None),
    ]
    for forged in forgeries:
        with pytest.raises(JoseError):
            _verify(forged, provider_key)
