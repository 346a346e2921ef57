"""Account and administration pages over a real server: authenticator codes, throttling, sessions,
CSRF, API tokens, and managing people."""

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
from sqlalchemy import select

from tests.conftest import ADMIN_PASSWORD, LiveServer
from tests.factories.people import PASSWORD, Force, make_force
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import Container, build

HTML = {"Accept": "text/html"}
OWNER, STRANGER, INVESTIGATOR, SYSADMIN = "1142", "7001", "5120", "9001"


@contextmanager
def _system(server: LiveServer) -> Iterator[Container]:
    """The server's own database and services, opened beside it."""
    container = build(server.settings)
    try:
        yield container
    finally:
        container.close()


def _force(server: LiveServer) -> dict[str, str]:
    """Make the test force; return the people's ids by persona."""
    with _system(server) as container:
        force: Force = make_force(container, camera=None)
        return force.ids


def _audit(server: LiveServer, tag: AuditTag) -> list[AuditEvent]:
    with _system(server) as container, container.db.read() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.tag == str(tag))))


def _csrf(client: httpx.Client) -> str:
    token = client.get("/api/v1/me").json()["csrf_token"]
    assert token
    return str(token)


def _field(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', page)
    assert found, f"no {name} field"
    return found.group(1)


def _wrong_code(secret: str) -> str:
    """A six-digit code that is valid for no step in the window."""
    totp, now = pyotp.TOTP(secret), time.time()
    valid = {totp.at(now + offset) for offset in (-60, -30, 0, 30, 60)}
    return next(code for code in (f"{n:06d}" for n in range(1000)) if code not in valid)


@contextmanager
def _sign_in(server: LiveServer, username: str, password: str, agent: str = "pytest") -> Iterator[httpx.Client]:
    """A browser with its own session, telling the server `agent` as its user agent."""
    with httpx.Client(base_url=server.url, timeout=30, headers={"User-Agent": agent}) as client:
        response = client.post("/login", data={"username": username, "password": password})
        assert response.status_code == 303, response.text
        yield client


def _enrol(officer: httpx.Client) -> str:
    """Enrol an authenticator through the security page; return its secret."""
    page = officer.get("/account/security")
    assert 'src="data:image/svg+xml' in page.text and "otpauth://totp/Witnessbox" in page.text
    secret, csrf = _field(page.text, "secret"), _field(page.text, "csrf_token")
    wrong = officer.post("/account/security/enable", data={"csrf_token": csrf, "secret": secret,
                                                           "code": _wrong_code(secret)})
    assert wrong.status_code == 400 and "does not match" in wrong.text
    done = officer.post("/account/security/enable", data={"csrf_token": csrf, "secret": secret,
                                                          "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 303
    assert "Turn off authenticator codes" in officer.get("/account/security").text
    return secret


@contextmanager
def _password_step(server: LiveServer) -> Iterator[tuple[httpx.Client, str]]:
    """Sign in with the password only: a browser with a pending session, and the code form's CSRF token."""
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        step = browser.post("/login", data={"username": OWNER, "password": PASSWORD, "next": "/account/tokens"})
        assert step.status_code == 303 and step.headers["location"] == "/login/totp?next=/account/tokens"
        form = browser.get(step.headers["location"])
        yield browser, _field(form.text, "csrf_token")


def test_authenticator_enrolment_and_sign_in(live_server: LiveServer) -> None:
    """GIVEN an officer who enrols an authenticator app (after trying it once and turning it off)
    WHEN they sign in again
    THEN the password alone opens a session that reaches nothing; a wrong code and a reused code are refused
    and audited; the right code finishes signing in and goes on to `next`."""
    _force(live_server)
    with live_server.signed_in(OWNER, PASSWORD) as officer:
        _turn_off(officer, _enrol(officer))
        with _sign_in(live_server, OWNER, PASSWORD) as without_codes:
            assert without_codes.get("/api/v1/me").status_code == 200
        secret = _enrol(officer)
    code = pyotp.TOTP(secret).at(time.time() + 30)  # the next step: the enrolment code is spent
    with _password_step(live_server) as (browser, csrf):
        assert browser.get("/api/v1/items").status_code == 401
        assert browser.get("/account/sessions", headers=HTML).status_code == 303
        wrong = browser.post("/login/totp", data={"code": _wrong_code(secret), "csrf_token": csrf})
        assert wrong.status_code == 401 and "wrong or was already used" in wrong.text
        assert browser.post("/login/totp", data={"code": code}).status_code == 403  # no CSRF token
        done = browser.post("/login/totp", data={"code": code, "csrf_token": csrf, "next": "/account/tokens"})
        assert done.status_code == 303 and done.headers["location"] == "/account/tokens"
        assert browser.get("/api/v1/me").status_code == 200
    with _password_step(live_server) as (again, csrf):
        reused = again.post("/login/totp", data={"code": code, "csrf_token": csrf})
        assert reused.status_code == 401
        assert again.get("/api/v1/items").status_code == 401
    assert len(_audit(live_server, AuditTag.ACCOUNT_TOTP_FAILED)) == 3
    assert len(_audit(live_server, AuditTag.ACCOUNT_TOTP_ENABLED)) == 2  # on, (off), on
    assert len(_audit(live_server, AuditTag.ACCOUNT_TOTP_DISABLED)) == 1


def _turn_off(officer: httpx.Client, secret: str) -> None:
    """Turning codes off is refused with a wrong code and works with a current, unused one."""
    form = {"csrf_token": _csrf(officer), "code": _wrong_code(secret)}
    assert officer.post("/account/security/disable", data=form).status_code == 400
    form["code"] = pyotp.TOTP(secret).at(time.time() + 30)
    assert officer.post("/account/security/disable", data=form).status_code == 303
    assert "Turn on authenticator codes" in officer.get("/account/security").text


def test_sign_in_is_throttled_per_account_and_per_address(live_server: LiveServer) -> None:
    """GIVEN five wrong passwords for one account
    WHEN the right password is tried
    THEN it gets 429 with Retry-After; and after 20 failures from one address across accounts,
    a different account is refused too."""
    _force(live_server)
    with httpx.Client(base_url=live_server.url, timeout=30) as browser:
        def attempt(username: str, password: str = "not the password at all") -> httpx.Response:
            return browser.post("/login", data={"username": username, "password": password})

        assert [attempt(OWNER).status_code for _ in range(5)] == [401] * 5
        throttled = attempt(OWNER, PASSWORD)
        assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
        for username in ("2087", "4410", "7001", "7002"):
            assert [attempt(username).status_code for _ in range(3)] == [401] * 3
        assert attempt("5120").status_code == 401  # the 18th failure from this address
        assert attempt("6001", PASSWORD).status_code == 303  # under the address limit
        assert attempt("5121").status_code == 401
        assert attempt("5121").status_code == 401  # the 20th
        assert attempt("6001", PASSWORD).status_code == 429


def test_a_session_revoked_from_another_stops_working(live_server: LiveServer) -> None:
    """GIVEN an officer signed in on two browsers
    WHEN one revokes the other from the sessions page (and an administrator revokes the first)
    THEN the revoked browser is sent to sign in; nobody else can revoke them."""
    ids = _force(live_server)
    with _sign_in(live_server, OWNER, PASSWORD, "first") as first, \
            _sign_in(live_server, OWNER, PASSWORD, "second") as second:
        page = first.get("/account/sessions").text
        assert "this session" in page and "first" in page and "second" in page
        [row] = [row for row in page.split("<tr") if ">second<" in row]
        action = re.search(r'action="(/account/sessions/\w+/revoke)"', row).group(1)  # type: ignore[union-attr]
        with live_server.signed_in(STRANGER, PASSWORD) as stranger:
            assert stranger.post(action, data={"csrf_token": _csrf(stranger)}).status_code == 404
        assert first.post(action, data={"csrf_token": _csrf(first)}).status_code == 303
        assert second.get("/api/v1/me").status_code == 401
        bounced = second.get("/account/sessions", headers=HTML)
        assert bounced.status_code == 303 and bounced.headers["location"].startswith("/login")
        assert first.get("/api/v1/me").status_code == 200
        with live_server.signed_in(SYSADMIN, PASSWORD) as admin:
            person = admin.get(f"/admin/users/{ids['owner']}").text
            remote = re.search(r'action="(/admin/users/\w+/sessions/\w+/revoke)"', person).group(1)  # type: ignore[union-attr]
            assert admin.post(remote, data={"csrf_token": _csrf(admin)}).status_code == 303
        assert first.get("/api/v1/me").status_code == 401


def test_forms_need_the_csrf_token(live_server: LiveServer) -> None:
    """GIVEN a signed-in officer with an unread message
    WHEN the token and mark-read forms are posted without the session's CSRF token, then with it
    THEN the first is refused with 403 and changes nothing; the second works."""
    ids = _force(live_server)
    with _system(live_server) as container, container.db.transaction() as uow:
        container.users.notify(uow.session, ids["owner"], "Footage was shared with you", "/")
    with live_server.signed_in(OWNER, PASSWORD) as officer:
        page = officer.get("/notifications").text
        assert "Footage was shared with you" in page and 'class="unread"' in page
        assert officer.post("/notifications/read").status_code == 403
        assert 'class="unread"' in officer.get("/notifications").text
        assert officer.post("/notifications/read", data={"csrf_token": _csrf(officer)}).status_code == 303
        assert 'class="unread"' not in officer.get("/notifications").text
        forged = officer.post("/account/tokens", data={"name": "forged"})
        assert forged.status_code == 403
        wrong = officer.post("/account/tokens", data={"name": "forged", "csrf_token": "guess"})
        assert wrong.status_code == 403
        assert officer.get("/api/v1/tokens").json() == []
        made = officer.post("/account/tokens", data={"name": "script", "csrf_token": _csrf(officer),
                                                     "scopes": ["evidence:item:list"]})
        assert made.status_code == 200 and "wbx_api" in made.text
        [token] = officer.get("/api/v1/tokens").json()
        assert token["name"] == "script" and token["scopes"] == ["evidence:item:list"]
        assert "wbx_api" not in officer.get("/account/tokens").text  # the secret is shown once only


def test_api_tokens_expire_revoke_and_keep_to_their_scopes(live_server: LiveServer) -> None:
    """GIVEN tokens issued through the API
    WHEN each is used as a Bearer credential
    THEN a live one works, an expired one and a revoked one are refused, and a scoped one can do
    only what its scopes allow."""
    _force(live_server)
    with live_server.signed_in(INVESTIGATOR, PASSWORD) as investigator:
        def issue(**body: object) -> dict[str, str]:
            made = investigator.post("/api/v1/tokens", json={"name": "t", **body},
                                     headers={"X-CSRF-Token": _csrf(investigator)})
            assert made.status_code == 201, made.text
            return made.json()  # type: ignore[no-any-return]

        soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
        short, kept, narrow = issue(expires_at=soon), issue(), issue(scopes=["evidence:item:view"])
        assert investigator.post("/api/v1/tokens", json={"name": "x"}).status_code == 403  # no CSRF header
    with httpx.Client(base_url=live_server.url) as script:
        def as_token(token: dict[str, str]) -> dict[str, str]:
            return {"Authorization": f"Bearer {token['token']}"}

        assert script.get("/api/v1/me", headers=as_token(short)).status_code == 200
        listed = script.get("/api/v1/items", headers=as_token(narrow))
        assert listed.status_code == 403 or listed.json() == []  # the policy lists nothing without the scope
        case = {"reference": "OP-1", "title": "Test"}
        assert script.post("/api/v1/cases", json=case, headers=as_token(narrow)).status_code == 403
        wider = script.post("/api/v1/tokens", json={"name": "wider"}, headers=as_token(narrow)).json()
        assert wider["scopes"] == ["evidence:item:view"]  # a token never makes a wider one
        assert script.delete(f"/api/v1/tokens/{kept['id']}", headers=as_token(kept)).status_code == 204
        assert script.get("/api/v1/me", headers=as_token(kept)).status_code == 401
        time.sleep(max(0.0, (datetime.fromisoformat(soon) - datetime.now(UTC)).total_seconds()) + 0.2)
        expired = script.get("/api/v1/me", headers=as_token(short))
        assert expired.status_code == 401 and "expired" in expired.text


def test_an_officer_changes_their_own_password(live_server: LiveServer) -> None:
    """GIVEN a signed-in officer
    WHEN they change their password with a wrong current one, mismatched or weak new ones, then properly
    THEN each refusal says why, and afterwards only the new password signs in."""
    _force(live_server)
    new = "a different long passphrase 77"
    with live_server.signed_in(OWNER, PASSWORD) as officer:
        csrf = _csrf(officer)

        def change(current: str, first: str, second: str) -> httpx.Response:
            return officer.post("/account/password", data={"csrf_token": csrf, "current": current,
                                                           "new": first, "again": second})

        assert "current password is not right" in change("wrong password!!", new, new).text
        assert "not the same" in change(PASSWORD, new, new + "x").text
        weak = change(PASSWORD, "short", "short")
        assert weak.status_code == 400 and "at least 12 characters" in weak.text
        assert change(PASSWORD, new, new).status_code == 303
    with httpx.Client(base_url=live_server.url) as browser:
        assert browser.post("/login", data={"username": OWNER, "password": PASSWORD}).status_code == 401
        assert browser.post("/login", data={"username": OWNER, "password": new}).status_code == 303


def test_administrators_manage_people(live_server: LiveServer) -> None:
    """GIVEN the server's administrator and an officer
    WHEN the officer opens the admin pages, and the administrator adds a person, changes their roles,
    disables them, adds a team and imports a CSV with one bad row
    THEN the officer gets 403; each change shows, the roles change is audited with before and after,
    the disabled person's session stops, and the import reports its bad row."""
    _force(live_server)
    with live_server.signed_in(OWNER, PASSWORD) as officer:
        assert officer.get("/admin/users").status_code == 403
        assert officer.post("/admin/teams", data={"name": "X", "csrf_token": _csrf(officer)}).status_code == 403
    with live_server.signed_in("admin", ADMIN_PASSWORD) as admin:
        csrf = _csrf(admin)
        person = {"csrf_token": csrf, "collar_number": "3300", "name": "Jo Bloggs", "rank": "PC",
                  "roles": ["officer"], "team": "Response A", "password": "short"}
        weak = admin.post("/admin/users", data=person)
        assert weak.status_code == 400 and "at least 12 characters" in weak.text
        added = admin.post("/admin/users", data={**person, "password": PASSWORD})
        assert added.status_code == 303
        page = admin.get(added.headers["location"]).text
        assert "PC 3300 Jo Bloggs" in page and "Response A" in page
        user_path = added.headers["location"].split("?")[0]
        roles = admin.post(f"{user_path}/roles", data={"csrf_token": csrf, "roles": ["officer", "supervisor"]})
        assert roles.status_code == 303
        [changed] = _audit(live_server, AuditTag.ACCOUNT_USER_ROLES_CHANGED)
        assert changed.details == {"before": ["officer"], "after": ["officer", "supervisor"]}
        with _sign_in(live_server, "3300", PASSWORD) as jo:
            assert jo.get("/api/v1/me").json()["roles"] == ["officer", "supervisor"]
            assert admin.post(f"{user_path}/active", data={"csrf_token": csrf, "active": "false"}).status_code == 303
            assert jo.get("/api/v1/me").status_code == 401
        assert "disabled" in admin.get("/admin/users").text
        assert admin.post("/admin/teams", data={"csrf_token": csrf, "name": "Roads Policing"}).status_code == 303
        assert "Roads Policing" in admin.get("/admin/teams").text
        _import(admin, csrf)


def _import(admin: httpx.Client, csrf: str) -> None:
    csv_text = (
        "collar_number,name,rank,email,roles,teams,supervises,password\n"
        f"3401,Ann Able,PC,,officer,Response A,,{PASSWORD}\n"
        f"3402,Ben Baker,PS,,supervisor,,Night Shift,{PASSWORD}\n"
        "3403,Cal Cook,PC,,pilot,,,\n"
    )
    report = admin.post("/admin/users/import", data={"csrf_token": csrf},
                        files={"file": ("people.csv", csv_text.encode(), "text/csv")})
    assert report.status_code == 200, report.text
    assert "2 people added" in report.text
    assert re.search(r"<td>4</td><td>[^<]*pilot", report.text)
    listing = admin.get("/admin/users").text
    assert "Ann Able" in listing and "Ben Baker" in listing and "Cal Cook" not in listing
    assert "Night Shift (supervises)" in listing
