"""Every route of the app, called by every persona over a real server, answers as the access rules say.

The routes are read from the app's router, so a new route fails `EXPECTED` until someone
writes down who may call it. The expected sets come from the rules in
`witnessbox.accounts.policy` (its docstring) and the roles table in shared/DOMAIN.md, not
from watching the app. One ready item recorded by "owner" is in an investigation case
worked by "case_member"; investigators and professional standards reach it only with a
recorded reason.

Outcomes: ALLOW is a 2xx or a 3xx other than a bounce to /login; DENY is 401, 403, 404 or
a bounce to /login. Any other status means the request itself was wrong, and a 5xx is a
crash: both fail the test.
"""

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import func, select
from starlette.routing import Mount

from tests.conftest import LiveServer, free_port, fresh_database_url, settings_for
from tests.factories.media import tiny_recording
from tests.factories.people import PASSWORD, PERSONAS, Force, make_force
from witnessbox.accounts.roles import Permission, Role
from witnessbox.accounts.service import NewUser, actor_for
from witnessbox.bootstrap import Container, build
from witnessbox.cases.models import CaseKind
from witnessbox.core.actor import SYSTEM, Actor
from witnessbox.evidence.models import AnnotationKind, DerivativeKind, ItemState
from witnessbox.evidence.search import Filters
from witnessbox.evidence.service import ItemDraft
from witnessbox.ingest.models import Upload
from witnessbox.redaction.models import PlanVersion
from witnessbox.web.app import create_app

TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_CONTENT = "application/offset+octet-stream"
CAMERA, POOL_CAMERA, SPARE_CAMERA = "WBX00001", "POOL0001", "WBX00099"
LEAD = ("5199", "Jo Lead")  # the investigator who runs the case (not a persona: personas test outsiders)
RECIPIENT = ("7999", "Val Recipient")  # whom every share in this module goes to, so shares change no persona
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ALLOW, DENY = "ALLOW", "DENY"

# --- personas and who may do what ------------------------------------------------------------

PERSONA_NAMES = ("anonymous", "owner", "teammate", "supervisor", "other_supervisor", "case_member",
                 "stranger", "investigator", "psd", "trainer", "auditor", "sysadmin", "dock")
EVERYONE = frozenset(PERSONA_NAMES)
PEOPLE = EVERYONE - {"anonymous", "dock"}  # signed-in people; a dock is a device, not a person
# Close access to the item: its officer, the supervisor of its team, a member of its case.
ITEM_READERS = frozenset({"owner", "supervisor", "case_member"})
# The footage's own circle, who alone describe it and share it on: its officer, their team's supervisor.
HOLDERS = frozenset({"owner", "supervisor"})
# Wider access once a reason is recorded: investigators (unrestricted items), professional standards.
WITH_A_REASON = frozenset({"investigator", "psd"})
# Disclosure officers too (decision 0022); the matrix's disclosure officer, case_member, is also a reader.
WITH_A_REASON |= {"case_member"}
UPLOADERS = frozenset({"owner", "teammate", "supervisor", "other_supervisor", "stranger", "investigator",
                       "psd", "dock"})  # Permission.UPLOAD_CREATE, and docks
CAMERA_USERS = frozenset({"owner", "teammate", "supervisor", "other_supervisor", "stranger"})
CASE_OPENERS = frozenset({"investigator", "psd"})  # Permission.CASE_CREATE
CASE_READERS = frozenset({"case_member", "psd"})  # members; professional standards see every case
ATTRIBUTERS = frozenset({"supervisor", "other_supervisor", "sysadmin"})  # Permission.ITEM_ATTRIBUTE


@dataclass(frozen=True)
class Send:
    """What one call carries besides its credentials."""

    path: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str | list[str]] = field(default_factory=dict)
    json: Any = None
    data: dict[str, str] | None = None
    content: bytes | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None


Recipe = Callable[["World", str], Send]


@dataclass(frozen=True)
class Row:
    """Who may call one route, and how to call it well-formed (so only authorisation can refuse)."""

    allowed: frozenset[str]
    send: Recipe = lambda _world, _persona: Send()
    session: str = "shared"  # "shared" signed-in client, "fresh" new sign-in per call, "none" no cookie
    order: int = 0  # rows that change what later calls see run after the others, in this order
    signs_out: bool = False  # success is a redirect to exactly /login
    same_for_all: bool = False  # never asks who calls (e.g. SSO, unconfigured here): one answer for all


def _tus_create(world: "World", _persona: str) -> Send:
    return Send(headers={**TUS, "Upload-Length": "1000",
                         "Upload-Metadata": _metadata(secrets.token_hex(32))})


def _tus_patch(world: "World", _persona: str) -> Send:
    headers = {**TUS, "Content-Type": OFFSET_CONTENT, "Upload-Offset": str(world.upload_offset())}
    return Send(headers=headers, content=b"x")


def _login(_world: "World", persona: str) -> Send:
    collar = PERSONAS[persona if persona in PEOPLE else "owner"][0]
    return Send(data={"username": collar, "password": PASSWORD})


def _totp_enable(world: "World", persona: str) -> Send:
    """A real enrolment (the code of the step before now, so the next step's code can turn it off)."""
    secret = world.totp_secrets.setdefault(persona, pyotp.random_base32())
    totp = pyotp.TOTP(secret)
    return Send(data={"secret": secret, "code": totp.generate_otp(totp.timecode(datetime.now(UTC)) - 1)})


def _totp_disable(world: "World", persona: str) -> Send:
    secret = world.totp_secrets.get(persona, pyotp.random_base32())
    return Send(data={"code": pyotp.TOTP(secret).now()})


def _unique(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(3)}"


def _form(**values: str) -> Recipe:
    return lambda _world, _persona: Send(data=values)


def _json(value: Any) -> Recipe:
    return lambda _world, _persona: Send(json=value)


# Redaction (decision 0026): people who may edit redactions (Permission.REDACTION_EDIT) and play the item
# without a reason: its team's supervisor and the case's disclosure officer.
REDACTORS = frozenset({"supervisor", "case_member"})
REDACTION_PLAN = {"effect": "box", "regions": [{"id": "m1", "keyframes": [{"t": 0.5, "box": [0.1, 0.1, 0.2, 0.2]}]}],
                  "audio": []}


def _latest_plan_version(world: "World") -> int:
    with world.container.db.read() as session:
        found = session.scalar(select(func.max(PlanVersion.version)).where(PlanVersion.item_id == world.item_id))
    return int(found or 0)


def _save_plan(world: "World", _persona: str) -> Send:
    return Send(json={"base_version": _latest_plan_version(world), "plan": REDACTION_PLAN})


def _render_plan(world: "World", _persona: str) -> Send:
    """A saved version to render (saved by the system when no person has saved one yet)."""
    if not _latest_plan_version(world):
        world.container.redaction.save_plan(world.item_id, 0, REDACTION_PLAN, actor=SYSTEM)
    return Send(json={"version": _latest_plan_version(world)})


def _rendered(world: "World", _persona: str) -> Send:
    """Wait for the renders the row before started, so there is a redacted copy to fetch."""
    deadline = time.monotonic() + 60
    while world.container.evidence.get(world.item_id).derivative(DerivativeKind.REDACTED) is None:
        assert time.monotonic() < deadline, "no redacted copy was rendered"
        time.sleep(0.2)
    return Send()


ADMIN = frozenset({"sysadmin"})  # Permission.USER_MANAGE
OWNER_OR_ADMIN = frozenset({"owner", "sysadmin"})  # the owner's session or token: its owner, or an administrator
EXPECTED: dict[tuple[str, str], Row] = {
    # public: the same for everyone, nobody needs to be known
    ("GET", "/login"): Row(EVERYONE),
    ("POST", "/login"): Row(EVERYONE, _login, session="none"),
    ("GET", "/login/sso"): Row(EVERYONE, same_for_all=True),
    ("GET", "/login/sso/callback"): Row(EVERYONE, same_for_all=True),
    ("GET", "/healthz"): Row(EVERYONE),
    ("GET", "/metrics"): Row(EVERYONE),
    ("GET", "/health/ready"): Row(EVERYONE),  # for the load balancer: says only which part failed
    ("OPTIONS", "/api/v1/uploads/"): Row(EVERYONE, lambda _w, _p: Send(headers=TUS)),
    # the second sign-in step needs a session (a finished one passes straight through)
    ("GET", "/login/totp"): Row(PEOPLE),
    ("POST", "/login/totp"): Row(PEOPLE, lambda w, p: Send(data={"code": "000000", "csrf_token": w.csrf.get(p, "")})),
    # resumable uploads: anyone who may upload starts one; only its creator (here the dock) touches it
    ("POST", "/api/v1/uploads/"): Row(UPLOADERS, _tus_create),
    ("HEAD", "/api/v1/uploads/{upload_id}"): Row(frozenset({"dock"}), lambda _w, _p: Send(headers=TUS)),
    ("PATCH", "/api/v1/uploads/{upload_id}"): Row(frozenset({"dock"}), _tus_patch),
    ("DELETE", "/api/v1/uploads/{upload_id}"): Row(
        frozenset({"dock"}), lambda w, _p: Send(path={"upload_id": w.new_dock_upload()}, headers=TUS)),
    # items
    ("GET", "/api/v1/items"): Row(PEOPLE),  # a filtered list (contents: see below); docks ask /api/v1/held
    ("GET", "/api/v1/items/{item_id}"): Row(ITEM_READERS),
    ("GET", "/api/v1/items/{item_id}/original"): Row(ITEM_READERS),
    ("GET", "/api/v1/items/{item_id}/proxy"): Row(ITEM_READERS),
    ("GET", "/api/v1/items/{item_id}/thumbnails"): Row(ITEM_READERS),
    # redaction (decision 0026): the plan, detection, following, preview and renders for those who edit
    # redactions; the redacted copy for whoever may play the item
    ("GET", "/api/v1/items/{item_id}/redaction"): Row(REDACTORS),
    ("PUT", "/api/v1/items/{item_id}/redaction/plan"): Row(REDACTORS, _save_plan),
    ("POST", "/api/v1/items/{item_id}/redaction/detect"): Row(REDACTORS),
    ("POST", "/api/v1/items/{item_id}/redaction/follow"): Row(
        REDACTORS, _json({"t": 0.5, "box": [0.1, 0.1, 0.2, 0.2]})),
    ("GET", "/api/v1/items/{item_id}/redaction/preview"): Row(
        REDACTORS, lambda _w, _p: Send(params={"t": "0.5"})),
    ("POST", "/api/v1/items/{item_id}/redaction/render"): Row(REDACTORS, _render_plan, order=1),
    ("GET", "/api/v1/items/{item_id}/redacted"): Row(ITEM_READERS, _rendered, order=2),
    ("GET", "/"): Row(PEOPLE),
    ("GET", "/items/{item_id}"): Row(ITEM_READERS),  # investigators and PSD get the reason form (403)
    # the redaction editor's page (redaction/pages.py): as its API, investigators and PSD first give a reason
    ("GET", "/items/{item_id}/redaction"): Row(REDACTORS),
    # categorising describes footage: its own circle, or professional standards; a case or a reason is
    # read-only (decision 0013)
    ("PATCH", "/api/v1/items/{item_id}"): Row(HOLDERS | {"psd"}, _json({"title": "Matrix check"})),
    ("POST", "/api/v1/items/categorise"): Row(
        HOLDERS | {"psd"}, lambda w, _p: Send(json={"item_ids": [w.item_id], "title": "Matrix check"})),
    ("POST", "/items/categorise"): Row(
        HOLDERS | {"psd"}, lambda w, _p: Send(data={"item_ids": w.item_id, "title": "Matrix check", "back": "/"})),
    ("POST", "/items/{item_id}/reason"): Row(
        ITEM_READERS | WITH_A_REASON, _form(reason="checking the access matrix"), order=9),
    # sharing (always with RECIPIENT, who is no persona): only the footage's own circle shares it on
    ("POST", "/api/v1/items/{item_id}/shares"): Row(HOLDERS, _json({"collar_number": RECIPIENT[0]})),
    ("GET", "/api/v1/items/{item_id}/shares"): Row(ITEM_READERS),
    ("POST", "/items/{item_id}/share"): Row(HOLDERS, _form(recipient=RECIPIENT[0], kind="person")),
    # the person who shared, or an administrator (SharingService.revoke: access management, not footage)
    ("DELETE", "/api/v1/shares/{share_id}"): Row(
        OWNER_OR_ADMIN, lambda w, _p: Send(path={"share_id": w.new_share()})),
    # cases
    ("POST", "/api/v1/cases"): Row(CASE_OPENERS, lambda _w, _p: Send(
        json={"reference": _unique("ACC-"), "title": "Access matrix"})),
    ("GET", "/api/v1/cases/{case_id}"): Row(CASE_READERS),
    ("POST", "/api/v1/cases/{case_id}/members"): Row(  # re-inviting a member: authorised, changes nothing
        CASE_READERS, _json({"collar_number": PERSONAS["case_member"][0]})),
    ("POST", "/api/v1/cases/{case_id}/items"): Row(  # PSD must first give a reason for the item
        frozenset({"case_member"}), lambda w, _p: Send(json={"item_ids": [w.item_id]})),
    ("GET", "/api/v1/cases"): Row(PEOPLE),  # a filtered list: your cases (PSD: every case)
    ("GET", "/api/v1/cases/{case_id}/members"): Row(CASE_READERS),
    ("GET", "/api/v1/cases/{case_id}/items"): Row(CASE_READERS),
    ("GET", "/cases"): Row(PEOPLE),  # a filtered list; the "New case" form only for CASE_OPENERS
    ("POST", "/cases"): Row(CASE_OPENERS, lambda _w, _p: Send(
        data={"reference": _unique("ACC-"), "title": "Access matrix"})),
    ("GET", "/cases/{case_id}"): Row(CASE_READERS),
    ("POST", "/cases/{case_id}/members"): Row(  # re-inviting a member: authorised, changes nothing
        CASE_READERS, _form(collar_number=PERSONAS["case_member"][0])),
    ("POST", "/cases/add-items"): Row(  # PSD must first give a reason for the item (the page asks)
        frozenset({"case_member"}), lambda w, _p: Send(data={"case_id": w.case_id, "item_ids": w.item_id})),
    ("POST", "/cases/{case_id}/items/{item_id}/remove"): Row(  # an item not in the case: changes nothing
        CASE_READERS, lambda w, _p: Send(path={"item_id": w.unreasoned_item_id})),
    ("POST", "/cases/{case_id}/members/{user_id}/remove"): Row(CASE_READERS),  # RECIPIENT is no member
    # people's bookmarks and notes: listed by whoever may view the item, added by whoever may play it
    # (the same people here), removed by their author only
    ("GET", "/api/v1/items/{item_id}/annotations"): Row(ITEM_READERS),
    ("POST", "/api/v1/items/{item_id}/annotations"): Row(
        ITEM_READERS, _json({"kind": "bookmark", "at_s": 1.0, "text": "Access matrix"})),
    ("DELETE", "/api/v1/items/{item_id}/annotations/{annotation_id}"): Row(
        frozenset({"owner"}), lambda w, _p: Send(path={"annotation_id": w.container.annotations.add(
            w.item_id, AnnotationKind.BOOKMARK, 1.0, "To remove", actor=w.actor("owner")).id})),
    # search: every signed-in person; results are what the policy lets each list (tests/integration/test_search.py)
    ("GET", "/api/v1/search"): Row(PEOPLE),
    ("GET", "/api/v1/searches"): Row(PEOPLE),
    ("POST", "/api/v1/searches"): Row(PEOPLE, _json({"name": "Matrix", "query": "q=matrix"})),
    ("DELETE", "/api/v1/searches/{saved_id}"): Row(
        frozenset({"owner"}), lambda w, _p: Send(path={"saved_id": w.new_owner_saved_search()})),
    # saved searches: every person keeps their own; only its keeper forgets one
    ("POST", "/searches"): Row(PEOPLE, _form(name="Matrix search", query="q=assault&evidential=yes")),
    ("POST", "/searches/{saved_id}/delete"): Row(
        frozenset({"owner"}), lambda w, _p: Send(path={"saved_id": w.new_owner_saved_search()})),
    # incidents seen by several cameras: proposals need the item opened; watching needs each item played
    ("GET", "/api/v1/items/{item_id}/incident"): Row(ITEM_READERS),
    ("GET", "/watch"): Row(  # the owner's two items: only the owner and the team's supervisor may play both
        frozenset({"owner", "supervisor"}),
        lambda w, _p: Send(params={"items": [w.item_id, w.unreasoned_item_id]})),
    # live updates (the stream sends what is waiting and ends) and the browser upload page
    ("GET", "/api/v1/events"): Row(PEOPLE, lambda _w, _p: Send(params={"duration": "0"})),  # docks: 403
    ("GET", "/upload"): Row(UPLOADERS - {"dock"}),  # Permission.UPLOAD_CREATE; a dock is no person
    # devices
    ("POST", "/api/v1/cameras/{serial}/sign-out"): Row(CAMERA_USERS),
    # the signed-in person's own account
    ("POST", "/logout"): Row(PEOPLE, session="fresh", signs_out=True),
    ("GET", "/api/v1/me"): Row(PEOPLE),
    ("GET", "/api/v1/notifications"): Row(PEOPLE),
    ("POST", "/api/v1/notifications/read"): Row(PEOPLE),
    ("GET", "/notifications"): Row(PEOPLE),
    ("POST", "/notifications/read"): Row(PEOPLE),
    ("GET", "/account/password"): Row(PEOPLE),
    ("POST", "/account/password"): Row(PEOPLE, _form(current=PASSWORD, new=PASSWORD, again=PASSWORD)),
    ("GET", "/account/security"): Row(PEOPLE),
    ("POST", "/account/security/enable"): Row(PEOPLE, _totp_enable, order=1),
    ("POST", "/account/security/disable"): Row(PEOPLE, _totp_disable, order=2),
    ("GET", "/account/sessions"): Row(PEOPLE),
    ("POST", "/account/sessions/{session_id}/revoke"): Row(
        OWNER_OR_ADMIN, lambda w, _p: Send(path={"session_id": w.new_owner_session()})),
    ("GET", "/account/tokens"): Row(PEOPLE),
    ("POST", "/account/tokens"): Row(PEOPLE, _form(name="matrix script")),
    ("POST", "/account/tokens/{token_id}/revoke"): Row(
        OWNER_OR_ADMIN, lambda w, _p: Send(path={"token_id": w.new_owner_token()})),
    ("GET", "/api/v1/tokens"): Row(PEOPLE),
    ("POST", "/api/v1/tokens"): Row(PEOPLE, _json({"name": "matrix script"})),
    ("DELETE", "/api/v1/tokens/{token_id}"): Row(
        OWNER_OR_ADMIN, lambda w, _p: Send(path={"token_id": w.new_owner_token()})),
    # administration (RECIPIENT is the person administered)
    ("GET", "/admin/users"): Row(ADMIN),
    ("POST", "/admin/users"): Row(ADMIN, lambda _w, _p: Send(
        data={"collar_number": _unique("N"), "name": "New Starter", "roles": "officer"})),
    ("GET", "/admin/users/import"): Row(ADMIN),
    ("POST", "/admin/users/import"): Row(ADMIN, lambda _w, _p: Send(files={"file": (
        "people.csv", f"collar_number,name,roles\n{_unique('I')},Imported Person,officer\n".encode(), "text/csv")})),
    ("GET", "/admin/users/{user_id}"): Row(ADMIN),
    ("POST", "/admin/users/{user_id}/roles"): Row(ADMIN, _form(roles="officer")),
    ("POST", "/admin/users/{user_id}/active"): Row(ADMIN, _form(active="true")),
    ("POST", "/admin/users/{user_id}/password"): Row(ADMIN, _form(password="quite another long passphrase")),
    ("POST", "/admin/users/{user_id}/sessions/{session_id}/revoke"): Row(
        ADMIN, lambda w, _p: Send(path={"session_id": w.new_owner_session()})),
    ("GET", "/compliance"): Row(frozenset({"supervisor", "other_supervisor"})),
    ("POST", "/compliance/remind/{user_id}"): Row(
        frozenset({"supervisor"}), lambda w, _p: Send(path={"user_id": w.force.ids["owner"]}, data={"days": "0"})),
    ("GET", "/admin/teams"): Row(ADMIN),
    ("POST", "/admin/teams"): Row(ADMIN, lambda _w, _p: Send(data={"name": _unique("Team ")})),
    # --- attribution (issue 8: points 4 and 10) ---------------------------------------------------
    # a dock asks by hash and learns held / verified only; people get the same answer for what they may see
    ("GET", "/api/v1/held/{sha256}"): Row(PEOPLE | {"dock"}),
    # the unattributed queue: records only, for supervisors and administrators; each attribution call
    # gives a fresh unattributed recording to RECIPIENT (no persona), so no persona's view changes
    ("GET", "/api/v1/unattributed"): Row(ATTRIBUTERS),
    ("GET", "/unattributed"): Row(ATTRIBUTERS),
    ("POST", "/api/v1/unattributed/{item_id}/attribution"): Row(ATTRIBUTERS, lambda w, _p: Send(
        path={"item_id": w.new_unattributed()}, json={"collar_number": RECIPIENT[0]})),
    ("POST", "/unattributed/{item_id}/attribute"): Row(ATTRIBUTERS, lambda w, _p: Send(
        path={"item_id": w.new_unattributed()}, data={"collar_number": RECIPIENT[0]})),
}
# --- devices for administrators and the system page (issue 8, points 11-12) -----------------------


def _fresh_dock(world: "World", _persona: str) -> Send:
    """A dock of its own for each call, so rotating or revoking never touches the matrix's dock."""
    dock, _token = world.container.devices.register_dock(_unique("matrix-dock-"), actor=SYSTEM)
    return Send(path={"name": dock.name})


EXPECTED.update({
    ("GET", "/admin"): Row(ADMIN),  # Permission.JOB_VIEW: the system's state
    ("GET", "/admin/cameras"): Row(ADMIN),  # Permission.DEVICE_MANAGE, as are the rest of this block
    ("GET", "/admin/cameras/{serial}"): Row(ADMIN),
    ("GET", "/admin/docks"): Row(ADMIN),
    ("POST", "/admin/docks/{name}/rotate"): Row(ADMIN, _fresh_dock),
    ("POST", "/admin/docks/{name}/revoke"): Row(ADMIN, _fresh_dock),
    ("GET", "/api/v1/cameras"): Row(ADMIN),
    ("GET", "/api/v1/cameras/{serial}"): Row(ADMIN),
    ("GET", "/api/v1/docks"): Row(ADMIN),
})
# --- the anchored audit trail (audit/routes.py): the signed head is public, so outsiders can keep it ---
EXPECTED.update({
    ("GET", "/api/v1/audit/head"): Row(EVERYONE),
    ("GET", "/api/v1/audit/checkpoints"): Row(EVERYONE),  # the signed feed of every checkpoint
    ("GET", "/.well-known/witnessbox/keys.json"): Row(EVERYONE),  # signing keys with their periods
})
# --- disclosure packages (disclosure/packages/routes.py): those who manage the case export the items
# they may download (psd would need a reason for the case's item, so is refused); a package is its
# requester's and professional standards' ---
PACKAGE_READERS = frozenset({"case_member", "psd"})
EXPECTED.update({
    ("POST", "/api/v1/packages"): Row(frozenset({"case_member"}), lambda w, _p: Send(json={"case_id": w.case_id})),
    ("GET", "/api/v1/packages"): Row(PEOPLE),
    ("GET", "/api/v1/packages/{package_id}"): Row(PACKAGE_READERS),
    ("GET", "/api/v1/packages/{package_id}/download"): Row(PACKAGE_READERS),
    ("GET", "/cases/{case_id}/packages"): Row(CASE_READERS),
    ("POST", "/cases/{case_id}/packages"): Row(frozenset({"case_member"}), _form()),
    ("GET", "/packages/{package_id}"): Row(PACKAGE_READERS),
})


def _built_package(world: "World") -> str:
    """case_member's package of the case, built by the server's worker."""
    packages = world.container.packages
    package = packages.request(actor=world.actor("case_member"), server_url=world.server.url,
                               case_id=world.case_id)
    deadline = time.monotonic() + 60
    while packages.get(package.id, actor=world.actor("case_member")).state != "ready":
        assert time.monotonic() < deadline, "the package was not built"
        time.sleep(0.1)
    return package.id


# --- disclosure schedules and the incident trawl (decision 0022): the case's readers read; those who
# work its material (disclosure officers, investigators, PSD) decide and trawl; officer members read only
SCHEDULE_DECIDERS = frozenset({"case_member", "psd"})  # of CASE_READERS, those with SCHEDULE_DECIDE
_ENTRY = {"decision": "do_not_disclose", "reasons": "checking the access matrix"}
_TRAWL = {"lat": "52.6286", "lon": "1.2925", "at": "2026-11-01T08:30:00+00:00", "distance_m": "100"}
EXPECTED.update({
    ("GET", "/api/v1/cases/{case_id}/schedule"): Row(CASE_READERS),
    ("PUT", "/api/v1/cases/{case_id}/schedule/{item_id}"): Row(SCHEDULE_DECIDERS, _json(_ENTRY)),
    ("GET", "/api/v1/cases/{case_id}/schedule/export.csv"): Row(CASE_READERS),
    ("GET", "/api/v1/cases/{case_id}/schedule/export.pdf"): Row(CASE_READERS),
    ("GET", "/cases/{case_id}/schedule"): Row(CASE_READERS),
    ("POST", "/cases/{case_id}/schedule/{item_id}"): Row(SCHEDULE_DECIDERS, _form(schedule="mg6c", **_ENTRY)),
    ("GET", "/api/v1/cases/{case_id}/trawl"): Row(SCHEDULE_DECIDERS, lambda _w, _p: Send(params=_TRAWL)),
    ("GET", "/cases/{case_id}/trawl"): Row(
        SCHEDULE_DECIDERS, lambda _w, _p: Send(params={**_TRAWL, "at": "2026-11-01T08:30", "run": "1"})),
})
# --- external shares and the recipient portal (disclosure/routes.py, decision 0019) ---------------------
# Disclosure officers ("case_member") and professional standards share outside the force; the sharer,
# PSD and administrators see and withdraw a share. No persona holds a portal session: the portal's
# pages and bytes are for the recipient alone (test_a_recipient_reaches_only_their_share, below).
SHARERS = frozenset({"case_member", "psd"})  # Permission.EXTERNAL_SHARE_CREATE
SHARE_OVERSEERS = frozenset({"case_member", "psd", "sysadmin"})
_EXTERNAL: dict[str, Any] = {}


def _external_share(world: "World", fresh: bool = False) -> Any:
    """The disclosure officer's share of the item with a prosecutor (downloads allowed); `fresh`: a new one."""
    if fresh or "share" not in _EXTERNAL:
        from witnessbox.disclosure.models import RecipientKind
        from witnessbox.disclosure.schemas import ExternalShareIn

        created = world.container.external_shares.create(ExternalShareIn(
            recipient_name="Priya Shah", organisation="CPS Wessex", kind=RecipientKind.PROSECUTOR,
            item_ids=[world.item_id], allow_original_download=True,
            expires_at=datetime.now(UTC) + timedelta(days=1)), actor=world.actor("case_member"),
            portal_url="/portal/s/")
        if fresh:
            return created
        _EXTERNAL["share"] = created
    return _EXTERNAL["share"]


def _share_path(fresh: bool) -> Recipe:
    return lambda w, _p: Send(path={"external_share_id": _external_share(w, fresh).id})


def _link(world: "World", _persona: str) -> Send:
    return Send(path={"link": _external_share(world).link.removeprefix("/portal/s/")})


def _link_and_code(world: "World", _persona: str) -> Send:
    return Send(path=_link(world, _persona).path, data={"code": _external_share(world).code})


def _share_json(world: "World", _persona: str) -> Send:
    return Send(json={"recipient_name": "Tom Price", "organisation": "Price & Co", "kind": "defence",
                      "item_ids": [world.item_id],
                      "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()})


def _share_form(world: "World", _persona: str) -> Send:
    return Send(data={"recipient_name": "Tom Price", "organisation": "Price & Co", "kind": "defence",
                      "item_id": world.item_id, "expires": (datetime.now(UTC) + timedelta(days=2)).date().isoformat()})


EXPECTED.update({
    ("POST", "/api/v1/external-shares"): Row(frozenset({"case_member"}), _share_json),  # PSD: a reason first
    ("GET", "/api/v1/external-shares"): Row(SHARERS),
    ("GET", "/api/v1/external-shares/{external_share_id}"): Row(SHARE_OVERSEERS, _share_path(False)),
    ("DELETE", "/api/v1/external-shares/{external_share_id}"): Row(SHARE_OVERSEERS, _share_path(True)),
    ("GET", "/api/v1/external-shares/{external_share_id}/access"): Row(SHARE_OVERSEERS, _share_path(False)),
    ("GET", "/external-shares"): Row(SHARERS),
    ("GET", "/external-shares/new"): Row(SHARERS, lambda w, _p: Send(params={"item_id": w.item_id})),
    ("POST", "/external-shares"): Row(frozenset({"case_member"}), _share_form),  # the form takes no reason
    ("GET", "/external-shares/{external_share_id}"): Row(SHARE_OVERSEERS, _share_path(False)),
    ("POST", "/external-shares/{external_share_id}/revoke"): Row(SHARE_OVERSEERS, _share_path(True)),
    # the portal: its sign-in page and form are public (the link and the code are the credentials)
    ("GET", "/portal/s/{link}"): Row(EVERYONE, _link),
    ("POST", "/portal/s/{link}"): Row(EVERYONE, _link_and_code, session="none"),
    ("GET", "/portal"): Row(frozenset()),
    ("GET", "/portal/items/{item_id}"): Row(frozenset()),
    ("GET", "/portal/items/{item_id}/proxy"): Row(frozenset()),
    ("GET", "/portal/items/{item_id}/thumbnails"): Row(frozenset()),
    ("GET", "/portal/items/{item_id}/original"): Row(frozenset()),
    ("GET", "/portal/status"): Row(frozenset()),
    ("POST", "/portal/sign-out"): Row(frozenset(), session="fresh"),
})
# --- the integrity scrub's page and its answer form (retention/scrub_routes.py, decision 0024) ---

def _scrub_finding(world: "World", _persona: str) -> Send:
    """A new open finding for each call, so an allowed answer never meets one answered already."""
    from witnessbox.core.ids import new_id
    from witnessbox.retention.scrub_models import FindingKind, ScrubFinding

    now = datetime.now(UTC)
    with world.container.db.transaction() as uow:
        finding = ScrubFinding(id=new_id(), kind=FindingKind.ORPHAN, key=f"sha256/{new_id()}", what="unrecorded object",
                               detail="put there by the access matrix", found_at=now, last_seen_at=now)
        uow.session.add(finding)
    return Send(path={"finding_id": finding.id}, data={"reason": "Checked with the storage team, a test file"})


EXPECTED.update({
    ("GET", "/admin/storage"): Row(ADMIN),  # Permission.JOB_VIEW
    ("POST", "/admin/storage/findings/{finding_id}/acknowledge"): Row(ADMIN, _scrub_finding),  # SCRUB_ACKNOWLEDGE
})
# --- retention, holds and subject access (retention/routes.py, decision 0023) -------------------------
# Reviewers (Permission.RETENTION_REVIEW) are supervisors and PSD here (no records manager persona);
# the schedule is run by administrators (and records managers); holds and requests by PSD. The matrix's
# item is only scheduled (never warned or recycled) and has no certificate: approving, recovering and
# certificates are refused to all (an id on no schedule: 403 or 404); its circle and PSD may keep it.
REVIEWERS = frozenset({"supervisor", "other_supervisor", "psd"})
KEEPERS = frozenset({"owner", "supervisor", "psd"})
NOT_DUE = "01NOTONANYSCHEDULE00000000"


def _not_due(body: dict[str, str]) -> Recipe:
    return lambda _w, _p: Send(path={"item_id": NOT_DUE}, json=body)


def _scheduled(world: "World", _persona: str) -> Send:
    world.container.retention.sweep()  # the item is on the schedule (the server's sweep may not have run)
    return Send(json={"reason": "matrix keep"})
_RULE = {"retention_class": "non_evidential", "period_days": 31, "clock_start": "recording"}


def _fresh_hold(world: "World", _persona: str) -> Send:
    hold = world.container.holds.place(actor=world.actor("psd"), reason="matrix hold", item_id=world.item_id)
    return Send(path={"hold_id": hold.id}, json={"reason": "matrix release"})


def _fresh_request(world: "World", _persona: str) -> Send:
    from witnessbox.retention.subject_access import RequestDraft

    request, _ = world.container.subject_access.record(
        RequestDraft(_unique("SAR/"), "matrix requester", incident_number="26/0001"), actor=world.actor("psd"))
    return Send(path={"request_id": request.id})


EXPECTED.update({
    ("GET", "/api/v1/retention/queue"): Row(REVIEWERS),
    ("GET", "/api/v1/retention/report"): Row(REVIEWERS | ADMIN),
    ("GET", "/api/v1/retention/items/{item_id}"): Row(ITEM_READERS | {"psd"}),
    ("POST", "/api/v1/retention/items/{item_id}/approve"): Row(frozenset(), _not_due({"reason": ""})),
    ("POST", "/api/v1/retention/items/{item_id}/keep"): Row(KEEPERS, _scheduled),
    ("POST", "/api/v1/retention/items/{item_id}/recover"): Row(frozenset(), _not_due({"reason": "matrix"})),
    ("GET", "/api/v1/retention/items/{item_id}/certificate"): Row(frozenset()),
    ("GET", "/api/v1/retention/schedule"): Row(REVIEWERS | ADMIN),
    ("POST", "/api/v1/retention/schedule/preview"): Row(ADMIN, _json(_RULE)),
    ("PUT", "/api/v1/retention/schedule"): Row(ADMIN, _json(_RULE)),  # the default again: changes nothing
    ("GET", "/api/v1/retention/holds"): Row(frozenset({"psd"})),
    ("POST", "/api/v1/retention/holds"): Row(
        frozenset({"psd"}), lambda w, _p: Send(json={"item_id": w.item_id, "reason": "matrix hold"})),
    ("POST", "/api/v1/retention/holds/{hold_id}/release"): Row(frozenset({"psd"}), _fresh_hold),
    ("POST", "/api/v1/retention/subject-access"): Row(
        frozenset({"psd"}), lambda _w, _p: Send(json={"reference": _unique("SAR/"), "requester": "matrix",
                                                      "incident_number": "26/0001"})),
    ("POST", "/api/v1/retention/subject-access/{request_id}/close"): Row(frozenset({"psd"}), _fresh_request),
    ("GET", "/api/v1/retention/subject-access"): Row(frozenset({"psd"})),
    ("GET", "/api/v1/retention/subject-access/{request_id}"): Row(frozenset({"psd"}), _fresh_request),
    ("GET", "/retention"): Row(REVIEWERS),
    ("POST", "/retention/items/{item_id}/{decision}"): Row(
        frozenset(), lambda _w, _p: Send(path={"item_id": NOT_DUE, "decision": "approve"}, data={"reason": ""})),
    ("GET", "/retention/items/{item_id}"): Row(ITEM_READERS | {"psd"}),
    ("GET", "/retention/schedule"): Row(REVIEWERS | ADMIN),
    ("POST", "/retention/schedule"): Row(ADMIN, _form(retention_class="non_evidential", period_days="31",
                                                      clock_start="recording", action="preview")),
    # the holds and subject access pages (retention/routes.py): as their API routes
    ("GET", "/retention/holds"): Row(frozenset({"psd"})),
    ("POST", "/retention/holds"): Row(
        frozenset({"psd"}), lambda w, _p: Send(data={"item_id": w.item_id, "reason": "matrix hold"})),
    ("POST", "/retention/holds/{hold_id}/release"): Row(
        frozenset({"psd"}), lambda w, p: Send(path=_fresh_hold(w, p).path, data={"reason": "matrix release"})),
    ("GET", "/retention/subject-access"): Row(frozenset({"psd"})),
    ("POST", "/retention/subject-access"): Row(
        frozenset({"psd"}), lambda _w, _p: Send(data={"reference": _unique("SAR/"), "requester": "matrix",
                                                      "incident_number": "26/0001"})),
    ("POST", "/retention/subject-access/{request_id}/close"): Row(frozenset({"psd"}), _fresh_request),
    # closing a case (cases/routes.py): those who manage it; it only starts retention clocks
    ("POST", "/api/v1/cases/{case_id}/close"): Row(CASE_READERS, order=9),
})
FRAMEWORK_PATHS = frozenset({"/api/openapi.json", "/api/docs", "/docs/oauth2-redirect", "/static"})
# --- API documentation (web/openapi.py): the page is above; its Swagger UI assets, open to all ---
FRAMEWORK_PATHS |= {"/api/docs/assets"}

# Cells where the app differs from the rules today, each reported to the maintainers. The
# matrix leaves them out; test_known_defect (strict xfail) fails once one is fixed, so the
# entry is removed and the cell is checked again.
KNOWN_DEFECTS: dict[tuple[str, str, str], str] = {}


# --- reading the routes from the app ------------------------------------------------------------

def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every route the app serves, pages and included routers too.

    FastAPI keeps included routers as lazy `_IncludedRouter` entries; `iter_route_contexts`
    (what FastAPI's own OpenAPI generator walks) expands them with their prefixes.
    """
    found: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, str(context.path)
        if isinstance(route, APIRoute):
            found.update((method, path) for method in context.methods or ())
        elif path not in FRAMEWORK_PATHS:
            kind = "mount" if isinstance(route, Mount) else type(route).__name__
            raise AssertionError(f"{kind} at {path} is not an APIRoute: teach the access matrix to call it")
    return found


def test_route_enumeration_finds_every_kind_of_route(container: Container) -> None:
    """GIVEN the app WHEN its routes are enumerated THEN API routes, tus verbs and schema-less pages are all there, and so is every path of the OpenAPI schema."""
    app = create_app(container)
    routes = app_routes(app)
    for known in [("PATCH", "/api/v1/uploads/{upload_id}"), ("OPTIONS", "/api/v1/uploads/"),
                  ("GET", "/items/{item_id}"), ("POST", "/login"), ("GET", "/metrics"), ("GET", "/")]:
        assert known in routes
    documented = {(method.upper(), path) for path, operations in app.openapi()["paths"].items()
                  for method in operations}
    assert documented <= routes
    assert not any(path in FRAMEWORK_PATHS for _method, path in routes)


# --- the world the calls run in -------------------------------------------------------------------



@dataclass
class World:
    """A running server, the force, and the objects the calls point at."""

    server: LiveServer
    container: Container
    force: Force
    dock_token: str
    item_id: str = ""
    item_sha256: str = ""
    restricted_item_id: str = ""
    restricted_sha256: str = ""
    unreasoned_item_id: str = ""
    upload_id: str = ""
    case_id: str = ""
    share_id: str = ""
    package_id: str = ""  # a built disclosure package of the case, asked for by case_member
    clients: dict[str, httpx.Client] = field(default_factory=dict)
    csrf: dict[str, str] = field(default_factory=dict)
    totp_secrets: dict[str, str] = field(default_factory=dict)

    def actor(self, who: str) -> Actor:
        """The Actor of a persona, or of LEAD."""
        if who == "lead":
            user = self.container.users.by_collar_number(LEAD[0])
            assert user is not None
            return actor_for(user)
        return self.force.actor(who)

    def path_values(self) -> dict[str, str]:
        """What each path parameter name is filled with unless a row says otherwise."""
        recipient = self.container.users.by_collar_number(RECIPIENT[0])
        assert recipient is not None
        return {"item_id": self.item_id, "upload_id": self.upload_id, "case_id": self.case_id,
                "share_id": self.share_id, "serial": POOL_CAMERA, "user_id": recipient.id,
                "sha256": self.item_sha256, "package_id": self.package_id}

    def new_owner_session(self) -> str:
        """The id of a fresh browser session of the owner's (not the one the owner's client uses)."""
        owner = self.actor("owner")
        before = {row.id for row in self.container.signin.list_sessions(actor=owner)}
        user = self.container.users.get(owner.id)
        self.container.signin.start_session(user, request=owner)
        [new] = {row.id for row in self.container.signin.list_sessions(actor=owner)} - before
        return new

    def new_owner_token(self) -> str:
        """The id of a fresh API token of the owner's."""
        return self.container.tokens.issue_user_token("throwaway", actor=self.actor("owner"))[0].id

    def dock_headers(self) -> dict[str, str]:
        """The dock's credential."""
        return {"Authorization": f"Bearer {self.dock_token}"}

    def new_dock_upload(self) -> str:
        """A fresh, empty upload started by the dock."""
        created = httpx.post(f"{self.server.url}/api/v1/uploads/", headers={
            **TUS, **self.dock_headers(), "Upload-Length": "1000",
            "Upload-Metadata": _metadata(secrets.token_hex(32))})
        assert created.status_code == 201, created.text
        return created.headers["location"].rsplit("/", 1)[-1]

    def upload_offset(self) -> int:
        """Where the shared dock upload stands now."""
        with self.container.db.read() as session:
            upload = session.get(Upload, self.upload_id)
            assert upload is not None
            return upload.offset

    def new_share(self) -> str:
        """A fresh share of the item, made by its owner, with RECIPIENT."""
        return self.container.sharing.share(self.item_id, actor=self.actor("owner"),
                                            collar_number=RECIPIENT[0]).id

    def new_owner_saved_search(self) -> str:
        """The id of a fresh saved search of the owner's."""
        return self.container.search.save(self.actor("owner"), _unique("Matrix "), Filters()).id

    def new_unattributed(self) -> str:
        """A fresh recording of the camera nobody holds (docked, no officer): it waits in the queue."""
        [spare] = [c for c in self.container.devices.list_cameras() if c.serial == SPARE_CAMERA]
        now = datetime.now(UTC)
        draft = ItemDraft(sha256=secrets.token_hex(32), size=1, filename="nobodys.mp4", camera_id=spare.id,
                          camera_serial=SPARE_CAMERA, dock_id=None, officer_id=None, officer=None, team_id=None,
                          recorded_start=now, upload_started_at=now)
        with self.container.db.transaction() as uow:
            return self.container.evidence.create_item(uow.session, draft, actor=SYSTEM).id

    def add_item(self, name: str) -> tuple[str, str]:
        """An item record of the owner's (no bytes: enough for the record routes), ready."""
        owner = self.actor("owner")
        now = datetime.now(UTC)
        draft = ItemDraft(sha256=secrets.token_hex(32), size=1, filename=name, camera_id=None,
                          camera_serial=CAMERA, dock_id=None, officer_id=owner.id, officer=owner.name,
                          team_id=sorted(owner.teams)[0], recorded_start=now, upload_started_at=now)
        with self.container.db.transaction() as uow:
            item = self.container.evidence.create_item(uow.session, draft, actor=SYSTEM)
            item_id, sha256 = item.id, item.sha256
        self.container.evidence.set_state(item_id, ItemState.READY, actor=SYSTEM)
        return item_id, sha256


def _metadata(sha256: str, camera: str = CAMERA) -> str:
    values = {"filename": "clip.mp4", "sha256": sha256, "camera": camera,
              "started_at": "2026-11-26T08:30:00Z"}
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def _sign_in(url: str, persona: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=url, timeout=30)
    response = client.post("/login", data={"username": PERSONAS[persona][0], "password": PASSWORD})
    assert response.status_code == 303, f"{persona} could not sign in: {response.status_code}"
    return client, str(client.get("/api/v1/me").json()["csrf_token"])


def _add_people(container: Container) -> None:
    for collar, name, roles in ((*LEAD, {Role.INVESTIGATOR}), (*RECIPIENT, {Role.OFFICER})):
        container.users.create_user(NewUser(collar, name, frozenset(roles)), actor=SYSTEM)
    # recordings made "today" at 08:30 go to the owner whatever the wall clock says
    container.devices.assign(CAMERA, PERSONAS["owner"][0], actor=SYSTEM,
                             starts_at=datetime(2020, 1, 1, tzinfo=UTC))
    container.devices.register_camera(POOL_CAMERA, pool="Central", actor=SYSTEM)
    container.devices.register_camera(SPARE_CAMERA, actor=SYSTEM)  # registered, issued to nobody


def _upload_ready_item(world: World, folder: Path) -> None:
    data = tiny_recording(folder).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    created = httpx.post(f"{world.server.url}/api/v1/uploads/", content=data, timeout=60, headers={
        **TUS, **world.dock_headers(), "Upload-Length": str(len(data)), "Upload-Metadata": _metadata(digest),
        "Content-Type": OFFSET_CONTENT})
    assert created.status_code == 201, created.text
    world.item_id, world.item_sha256 = created.headers["witnessbox-item"], digest
    deadline = time.monotonic() + 90
    while world.container.evidence.get(world.item_id).state == ItemState.PROCESSING:
        assert time.monotonic() < deadline, "the item was not processed"
        time.sleep(0.2)
    item = world.container.evidence.get(world.item_id)
    assert item.state == ItemState.READY and item.officer_id == world.force.ids["owner"], item.state_reason
    assert len(item.derivatives) == 2


def _open_cases(world: World) -> None:
    """LEAD's investigation holds the item and the restricted item; PSD's complaint restricts the latter."""
    cases, evidence = world.container.cases, world.container.evidence
    lead, psd = world.actor("lead"), world.actor("psd")
    world.restricted_item_id, world.restricted_sha256 = world.add_item("complaint.mp4")
    world.unreasoned_item_id = world.add_item("nobody-asked-yet.mp4")[0]
    case = cases.create("ACC-INV-1", "Assault outside the Feathers", actor=lead)
    world.case_id = case.id
    cases.add_member(case.id, PERSONAS["case_member"][0], actor=lead)
    for item_id in (world.item_id, world.restricted_item_id):
        evidence.authorise(item_id, Permission.ITEM_VIEW, actor=lead, reason="building the case file")
    cases.add_items(case.id, [world.item_id, world.restricted_item_id], actor=lead)
    complaint = cases.create("ACC-PSD-1", "Complaint about the arrest", actor=psd, kind=CaseKind.COMPLAINT)
    evidence.authorise(world.restricted_item_id, Permission.ITEM_VIEW, actor=psd, reason="complaint received about the arrest")
    cases.add_items(complaint.id, [world.restricted_item_id], actor=psd)
    assert evidence.get(world.restricted_item_id).restricted


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One server and one set of data for every test of this module (building it takes seconds)."""
    folder = tmp_path_factory.mktemp("access-matrix")
    with fresh_database_url(folder) as database_url:
        settings = settings_for(folder, database_url, workers=2)
        container = build(settings)
        force = make_force(container)
        _add_people(container)
        dock_token = container.devices.register_dock("station-1", cameras=[CAMERA], actor=SYSTEM)[1]
        server = LiveServer(settings=settings, port=free_port(), log=folder / "server.log")
        server.start()
        world = World(server=server, container=container, force=force, dock_token=dock_token)
        try:
            _upload_ready_item(world, folder / "camera")
            _open_cases(world)
            world.share_id = world.new_share()
            world.package_id = _built_package(world)
            world.upload_id = world.new_dock_upload()
            world.clients["anonymous"] = httpx.Client(base_url=server.url, timeout=30)
            world.clients["dock"] = httpx.Client(base_url=server.url, timeout=30, headers=world.dock_headers())
            for persona in sorted(PEOPLE):
                world.clients[persona], world.csrf[persona] = _sign_in(server.url, persona)
            yield world
        finally:
            for client in world.clients.values():
                client.close()
            server.stop()
            container.close()


# --- calling -----------------------------------------------------------------------------------------

def _fill(template: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"no value for path parameter {name!r} of {template}: add it to World.path_values"
        return values[name]

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, template)


def call(world: World, method: str, path: str, persona: str) -> httpx.Response:
    """Call one route as one persona, well-formed, with the persona's credentials."""
    row = EXPECTED[(method, path)]
    send = row.send(world, persona)
    headers = dict(send.headers)
    if not path.startswith("/api/"):
        headers.setdefault("Accept", "text/html")
    if row.session == "fresh" and persona in PEOPLE:
        client, csrf = _sign_in(world.server.url, persona)
    elif row.session == "none" or persona not in PEOPLE:  # no cookie may stick to anonymous or the dock
        client, csrf = _bare_client(world, persona), ""
    else:
        client, csrf = world.clients[persona], world.csrf[persona]
    if csrf and method in UNSAFE:
        headers["X-CSRF-Token"] = csrf
    try:
        return client.request(method, _fill(path, {**world.path_values(), **send.path}), headers=headers,
                              params=send.params, json=send.json, data=send.data, content=send.content,
                              files=send.files)
    finally:
        if client is not world.clients.get(persona):
            client.close()


def _bare_client(world: World, persona: str) -> httpx.Client:
    """A client with no cookies, carrying the dock's token when the dock calls."""
    headers = world.dock_headers() if persona == "dock" else {}
    return httpx.Client(base_url=world.server.url, timeout=30, headers=headers)


def outcome(row: Row, response: httpx.Response) -> str:
    """ALLOW, DENY, or a description of a response that is neither (a bad request, or a crash)."""
    status, location = response.status_code, response.headers.get("location", "")
    if status in (401, 403, 404):
        return DENY
    if response.is_redirect and location.startswith("/login"):
        return ALLOW if row.signs_out and location == "/login" else DENY
    if 200 <= status < 400:
        return ALLOW
    return f"status {status}: {response.text[:200]}"


def _ordered(routes: set[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(routes, key=lambda route: (EXPECTED[route].order, route))


def test_every_route_answers_every_persona_as_the_rules_say(world: World) -> None:
    """GIVEN every route of the app and every persona WHEN each persona calls each route, well-formed THEN exactly the personas in EXPECTED are let through, nobody else, and nothing crashes."""
    routes = app_routes(create_app(world.container))
    unlisted = sorted(routes - EXPECTED.keys())
    assert not unlisted, f"routes missing from EXPECTED (write down who may call them): {unlisted}"
    assert not EXPECTED.keys() - routes, f"EXPECTED rows for routes that are gone: {EXPECTED.keys() - routes}"
    problems: list[str] = []
    for method, path in _ordered(routes):
        row = EXPECTED[(method, path)]
        answers = {persona: call(world, method, path, persona) for persona in PERSONA_NAMES}
        if row.same_for_all:
            statuses = {persona: response.status_code for persona, response in answers.items()}
            if len(set(statuses.values())) != 1 or max(statuses.values()) >= 500:
                problems.append(f"NOT THE SAME {method} {path}: {statuses}")
            continue
        for persona, response in answers.items():
            got = outcome(row, response)
            want = ALLOW if persona in row.allowed else DENY
            if (method, path, persona) in KNOWN_DEFECTS:
                continue
            if got not in (ALLOW, DENY):
                problems.append(f"BROKEN      {method} {path} as {persona}: {got}")
            elif got != want:
                kind = "UNEXPECTED ALLOW" if got == ALLOW else "UNEXPECTED DENY "
                problems.append(f"{kind} {method} {path} as {persona}: {response.status_code}")
    assert not problems, f"{len(problems)} cells differ from EXPECTED:\n" + "\n".join(problems)


@pytest.mark.parametrize("cell", [pytest.param(cell, id=" ".join(cell), marks=pytest.mark.xfail(
    strict=True, reason=reason)) for cell, reason in KNOWN_DEFECTS.items()])
def test_known_defect(world: World, cell: tuple[str, str, str]) -> None:
    """GIVEN a cell the app gets wrong today WHEN it is called THEN it should answer as EXPECTED (xfail until fixed)."""
    method, path, persona = cell
    row = EXPECTED[(method, path)]
    want = ALLOW if persona in row.allowed else DENY
    assert outcome(row, call(world, method, path, persona)) == want


# --- what lists show, reasons, restriction -----------------------------------------------------

SEES_THE_ITEM = ITEM_READERS | WITH_A_REASON  # listed without a reason; opening it may then ask for one


def _listed(world: World, persona: str, **params: str) -> set[str]:
    response = world.clients[persona].get("/api/v1/items", params=params)
    assert response.status_code == 200, (persona, response.status_code)
    return {item["id"] for item in response.json()}


def test_lists_show_the_item_exactly_to_those_who_may_see_it(world: World) -> None:
    """GIVEN the owner's item WHEN each persona lists items (API and library page) THEN it is listed exactly for those the rules let see it."""
    for persona in sorted(PEOPLE):
        expected = persona in SEES_THE_ITEM
        assert (world.item_id in _listed(world, persona)) is expected, persona
        page = world.clients[persona].get("/", headers={"Accept": "text/html"})
        assert (world.item_id in page.text) is expected, persona
    assert world.clients["dock"].get("/api/v1/items").status_code == 403  # a dock lists nothing
    assert world.clients["anonymous"].get("/api/v1/items").status_code == 401


def test_people_who_may_see_the_item_find_it_by_hash(world: World) -> None:
    """GIVEN the item the dock uploaded WHEN the people who may see it ask by SHA-256 THEN they get the item."""
    for persona in sorted(SEES_THE_ITEM):
        assert _listed(world, persona, sha256=world.item_sha256) == {world.item_id}, persona


def test_a_dock_learns_held_and_verified_and_nothing_else(world: World) -> None:
    """GIVEN the item the dock uploaded (categorised, with GPS, in a case) WHEN the dock asks by its SHA-256 THEN the answer is held and verified and nothing about the item; asking the item list instead is refused."""
    dock = world.clients["dock"]
    answer = dock.get(f"/api/v1/held/{world.item_sha256}")
    assert answer.status_code == 200
    assert answer.json() == {"sha256": world.item_sha256, "held": True, "verified": True}
    assert dock.get(f"/api/v1/held/{'0' * 64}").json() == {"sha256": "0" * 64, "held": False, "verified": False}
    refused = dock.get("/api/v1/items", params={"sha256": world.item_sha256})
    assert refused.status_code == 403 and "/api/v1/held" in refused.json()["error"]
    schema = world.clients["owner"].get("/api/openapi.json").json()["components"]["schemas"]["HeldOut"]
    assert set(schema["properties"]) == {"sha256", "held", "verified"}


def test_asking_held_by_hash_reveals_nothing_to_people_who_may_not_see_it(world: World) -> None:
    """GIVEN the owner's item WHEN someone who may not see it asks /api/v1/held by its hash THEN held is false, as for bytes nobody holds."""
    for persona in sorted(PEOPLE - SEES_THE_ITEM):
        answer = world.clients[persona].get(f"/api/v1/held/{world.item_sha256}").json()
        assert answer["held"] is False, persona


def test_asking_by_hash_reveals_nothing_to_others(world: World) -> None:
    """GIVEN items a persona may not see (one of them restricted) WHEN they ask by its SHA-256 THEN the answer is empty."""
    leaks = []
    for persona in sorted(PEOPLE - SEES_THE_ITEM):
        if _listed(world, persona, sha256=world.item_sha256):
            leaks.append(f"{persona} gets the owner's item by its hash")
    for persona in sorted(PEOPLE - {"psd"}):
        if _listed(world, persona, sha256=world.restricted_sha256):
            leaks.append(f"{persona} gets the restricted item by its hash")
    assert not leaks, leaks


def test_a_reason_opens_the_item_to_investigators_and_professional_standards(world: World) -> None:
    """GIVEN an item nobody outside its close circle has opened WHEN an investigator or PSD opens it without, then with, a reason THEN first 403 (and the page asks why), then allowed, and it stays allowed."""
    item = f"/api/v1/items/{world.unreasoned_item_id}"
    for persona in sorted(WITH_A_REASON):
        client = world.clients[persona]
        refused = client.get(item)
        assert refused.status_code == 403 and "why" in refused.json()["error"], persona
        page = client.get(f"/items/{world.unreasoned_item_id}", headers={"Accept": "text/html"})
        assert page.status_code == 403 and 'name="reason"' in page.text, persona
        assert client.get(item, params={"reason": "occurrence 26/4411: the arrest"}).status_code == 200
        assert client.get(item).status_code == 200, f"{persona}: a reason covers the next requests"
        assert client.get(f"/items/{world.unreasoned_item_id}").status_code == 200


@pytest.mark.parametrize(("persona", "status"), [
    ("teammate", 404), ("stranger", 404), ("trainer", 404), ("auditor", 404), ("sysadmin", 404),
    ("dock", 403)])  # docks are refused every route but upload and confirm
def test_a_reason_opens_nothing_for_others(world: World, persona: str, status: int) -> None:
    """GIVEN someone with no wider access WHEN they give a reason for the owner's item THEN it is still absent (and nothing crashes)."""
    response = world.clients[persona].get(f"/api/v1/items/{world.item_id}", params={"reason": "just curious, honest"})
    assert response.status_code == status, (response.status_code, response.text[:200])


def test_a_restricted_item_is_for_professional_standards_only(world: World) -> None:
    """GIVEN an item of the owner's in an investigation case and then a complaint case WHEN each persona looks THEN only PSD may view or list it; the owner, their supervisor, the case's members and investigators may not."""
    item = f"/api/v1/items/{world.restricted_item_id}"
    wrong = []
    for persona in sorted(PEOPLE):
        may = persona == "psd"
        client = world.clients[persona]
        views = [client.get(item), client.get(item, params={"reason": "complaint review, honest"}),
                 client.get(f"/items/{world.restricted_item_id}", headers={"Accept": "text/html"})]
        got = [outcome(EXPECTED[("GET", "/api/v1/items/{item_id}")], response) for response in views]
        listed = world.restricted_item_id in _listed(world, persona)
        if got != [ALLOW if may else DENY] * 3 or listed is not may:
            wrong.append(f"{persona}: views {[r.status_code for r in views]}, listed {listed}")
    assert not wrong, wrong


def test_a_scoped_token_is_narrowed_to_its_scopes(world: World) -> None:
    """GIVEN the owner's API tokens, one scoped to listing, one to viewing and playing, one unscoped WHEN each lists, views, plays and downloads the owner's item THEN each does exactly what its scopes allow (and the roles allow)."""
    item = f"/api/v1/items/{world.item_id}"
    owner = world.actor("owner")
    answers = {}
    for name, scopes in (("list", {Permission.ITEM_LIST}), ("view+play", {Permission.ITEM_VIEW, Permission.ITEM_PLAY}),
                         ("all", None)):
        secret = world.container.tokens.issue_user_token(
            f"scoped {name}", actor=owner, scopes=frozenset(scopes) if scopes is not None else None)[1]
        with httpx.Client(base_url=world.server.url, headers={"Authorization": f"Bearer {secret}"}) as client:
            listed = world.item_id in {i["id"] for i in client.get("/api/v1/items").json()}
            answers[name] = (listed, *(client.get(f"{item}{part}").status_code
                                       for part in ("", "/proxy", "/original")))
    assert answers == {"list": (True, 404, 404, 404), "view+play": (False, 200, 200, 404),
                       "all": (True, 200, 200, 200)}


def test_a_reason_reveals_nothing_about_items_you_may_not_see(world: World) -> None:
    """GIVEN an item the stranger may not see and an id that names nothing WHEN the stranger opens both with a too-short reason THEN both answers are the same 404."""
    stranger = world.clients["stranger"]
    real = stranger.get(f"/api/v1/items/{world.item_id}", params={"reason": "x"})
    made_up = stranger.get(f"/api/v1/items/{'0' * 26}", params={"reason": "x"})
    assert (real.status_code, made_up.status_code) == (404, 404)


# --- attribution and read-only access (issue 8: points 1, 3 and 10) ---------------------------------


def test_a_persons_upload_naming_a_camera_is_theirs_not_the_cameras(world: World) -> None:
    """GIVEN the teammate signed in in a browser WHEN they upload bytes whose metadata names the owner's camera THEN the item is the teammate's handed-in footage, not the owner's."""
    data = b"a file naming the owner's camera"
    digest = hashlib.sha256(data).hexdigest()
    created = world.clients["teammate"].post("/api/v1/uploads/", content=data, headers={
        **TUS, "X-CSRF-Token": world.csrf["teammate"], "Upload-Length": str(len(data)),
        "Upload-Metadata": _metadata(digest), "Content-Type": OFFSET_CONTENT})
    assert created.status_code == 201, created.text
    item = world.container.evidence.get(created.headers["witnessbox-item"])
    assert (item.officer_id, item.camera_id, item.camera_serial) == (world.force.ids["teammate"], None, "Handed in")


def test_read_only_access_does_not_describe_or_share(world: World) -> None:
    """GIVEN the case member (through the case) and an investigator and PSD (with a reason) WHEN they categorise the item or share it on THEN sharing is refused to all three as read-only, categorising to all but professional standards, whose role grants it."""
    wrong = []
    for persona in ("case_member", "investigator", "psd"):
        client, csrf = world.clients[persona], {"X-CSRF-Token": world.csrf[persona]}
        client.get(f"/api/v1/items/{world.item_id}", params={"reason": "occurrence 26/4411: the arrest"})
        share = client.post(f"/api/v1/items/{world.item_id}/shares", json={"collar_number": RECIPIENT[0]},
                            headers=csrf)
        patch = client.patch(f"/api/v1/items/{world.item_id}", json={"title": "Read-only check"}, headers=csrf)
        if share.status_code != 403 or "not describe it or share it on" not in share.json()["error"]:
            wrong.append(f"{persona} shares: {share.status_code}")
        if patch.status_code != (200 if persona == "psd" else 403):
            wrong.append(f"{persona} categorises: {patch.status_code}")
    assert not wrong, wrong


@pytest.mark.parametrize("junk", ["aaaaaaaa", "x x x", "\u200b" * 20 + "ok", "just checking"])
def test_a_reason_must_be_words_on_every_path(world: World, junk: str) -> None:
    """GIVEN an investigator and an item that asks for a reason WHEN they give padding as a reason on the API, on the page form and in the library's bulk add-to-case THEN each is refused with the rule, and the item stays closed."""
    client, csrf = world.clients["investigator"], world.csrf["investigator"]
    item = world.add_item("junk-reason.mp4")[0]
    api = client.get(f"/api/v1/items/{item}", params={"reason": junk})
    assert api.status_code == 400 and "3 different words" in api.json()["error"]
    page = client.post(f"/items/{item}/reason", data={"reason": junk, "csrf_token": csrf},
                       headers={"Accept": "text/html"})
    assert page.status_code in (400, 403) and "3 different words" in page.text
    case = world.container.cases.create(_unique("JUNK-"), "Junk reasons", actor=world.actor("investigator"))
    bulk = client.post("/cases/add-items", data={"case_id": case.id, "item_ids": item, "reason": junk,
                                                 "csrf_token": csrf}, headers={"Accept": "text/html"})
    assert bulk.status_code == 400 and "3 different words" in bulk.text
    assert client.get(f"/api/v1/items/{item}").status_code == 403


def test_the_unattributed_queue_shows_records_only_and_attribution_is_audited(world: World) -> None:
    """GIVEN a recording of the camera nobody holds WHEN the administrator reads the queue THEN it shows camera, times and file name, nothing of the footage; WHEN a supervisor attributes it THEN it is RECIPIENT's, audited with the supervisor's name."""
    item_id = world.new_unattributed()
    queue = world.clients["sysadmin"].get("/api/v1/unattributed").json()
    [entry] = [e for e in queue if e["id"] == item_id]
    assert set(entry) == {"id", "camera", "filename", "recorded_start", "recorded_end", "uploaded_at", "state"}
    assert entry["camera"] == SPARE_CAMERA
    assert world.clients["sysadmin"].get(f"/api/v1/items/{item_id}").status_code == 404  # no footage
    done = world.clients["supervisor"].post(f"/api/v1/unattributed/{item_id}/attribution",
                                            json={"collar_number": RECIPIENT[0]},
                                            headers={"X-CSRF-Token": world.csrf["supervisor"]})
    assert done.status_code == 200 and done.json()["officer"].endswith(RECIPIENT[1])
    again = world.clients["sysadmin"].post(f"/api/v1/unattributed/{item_id}/attribution",
                                           json={"collar_number": PERSONAS["owner"][0]},
                                           headers={"X-CSRF-Token": world.csrf["sysadmin"]})
    assert again.status_code == 409
    page = world.clients["supervisor"].get("/unattributed", headers={"Accept": "text/html"})
    assert item_id not in page.text


# --- recipients: a new kind of actor (decision 0019) -------------------------------------------------


def _portal_client(world: World) -> httpx.Client:
    share = _external_share(world)
    client = httpx.Client(base_url=world.server.url, timeout=30)
    signed_in = client.post(share.link, data={"code": share.code})
    assert signed_in.status_code == 303, signed_in.text
    return client


def test_a_recipient_reaches_only_their_share_and_what_anyone_may(world: World) -> None:
    """GIVEN a prosecutor signed in to the portal for a share of the item (downloads allowed) WHEN they call every route of the app, well-formed THEN the portal's routes answer and every other route answers exactly as it does for someone not signed in."""
    client = _portal_client(world)
    problems = []
    try:
        for method, path in _ordered(app_routes(create_app(world.container))):
            row = EXPECTED[(method, path)]
            if row.same_for_all:
                continue
            send = row.send(world, "recipient")
            caller = client
            if row.session == "none":
                caller = httpx.Client(base_url=world.server.url, timeout=30)
            elif row.session == "fresh":
                caller = _portal_client(world)
            headers = dict(send.headers) if path.startswith("/api/") else {"Accept": "text/html", **send.headers}
            try:
                response = caller.request(method, _fill(path, {**world.path_values(), **send.path}), headers=headers,
                                          params=send.params, json=send.json, data=send.data, content=send.content,
                                          files=send.files)
            finally:
                if caller is not client:
                    caller.close()
            want = ALLOW if path.startswith("/portal") or "anonymous" in row.allowed else DENY
            if (got := outcome(row, response)) != want:
                problems.append(f"{method} {path}: {got} ({response.status_code}), expected {want}")
    finally:
        client.close()
    assert not problems, "\n".join(problems)


def test_a_recipient_gets_nothing_outside_their_share(world: World) -> None:
    """GIVEN a signed-in recipient of a share of the item WHEN they ask the portal for the restricted item, another item or an invented id THEN each is absent."""
    client = _portal_client(world)
    try:
        for item_id in (world.restricted_item_id, world.unreasoned_item_id, "0" * 26):
            for part in ("", "/proxy", "/thumbnails", "/original"):
                assert client.get(f"/portal/items/{item_id}{part}").status_code == 404, (item_id, part)
    finally:
        client.close()
