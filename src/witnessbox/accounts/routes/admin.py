"""Administration of people and teams (system administrators only)."""

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from witnessbox.accounts.onboarding import import_users
from witnessbox.accounts.roles import ROLE_LABELS, Role
from witnessbox.accounts.routes._shared import (
    MAX_IMPORT_BYTES,
    NOTICES,
    Admin,
    FormRefusal,
    SignIn,
    Users,
    page,
    refusal,
    see_other,
)
from witnessbox.accounts.service import NewUser
from witnessbox.accounts.signin import SignInService
from witnessbox.core.actor import Actor
from witnessbox.core.errors import (
    InvalidInput,
)

router = APIRouter(tags=["administration"], include_in_schema=False)

# --- administration (system administrators) ---------------------------------------------------


@router.get("/admin/users", response_class=HTMLResponse)
def people_page(request: Request, actor: Admin, users: Users, done: str = "") -> Response:
    """Everyone, and a form to add a person."""
    return page(request, "admin_users", _people(actor, users, notice=NOTICES.get(done)))


def _people(actor: Actor, users: Users, **extra: object) -> dict[str, object]:
    return {
        "actor": actor,
        "users": users.list_users(actor=actor),
        "teams": users.list_teams(),
        "roles": ROLE_LABELS,
        **extra,
    }


@router.post("/admin/users")
def add_person(
    request: Request,
    actor: Admin,
    users: Users,
    collar_number: Annotated[str, Form()],
    name: Annotated[str, Form()],
    rank: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    roles: Annotated[list[str] | None, Form()] = None,
    team: Annotated[str, Form()] = "",
    supervises: Annotated[bool, Form()] = False,
    password: Annotated[str, Form()] = "",
) -> Response:
    """Add a person with roles, an optional team and an optional initial password."""
    teams = (team,) if team else ()
    try:
        new = NewUser(
            collar_number=collar_number,
            name=name,
            roles=_roles(roles or []),
            rank=rank,
            email=email or None,
            password=password or None,
            teams=() if supervises else teams,
            supervises=teams if supervises else (),
        )
        user = users.create_user(new, actor=actor)
    except FormRefusal as problem:
        return page(request, "admin_users", _people(actor, users, **refusal(problem)))
    return see_other(f"/admin/users/{user.id}?done=created")


def _roles(values: list[str]) -> frozenset[Role]:
    try:
        return frozenset(Role(value) for value in values)
    except ValueError as error:
        raise InvalidInput("unknown role") from error


@router.get("/admin/users/import", response_class=HTMLResponse)
def import_page(request: Request, actor: Admin) -> Response:
    """The form to upload a CSV of people."""
    return page(request, "admin_import", {"actor": actor, "report": None})


@router.post("/admin/users/import")
async def import_people(
    request: Request, actor: Admin, users: Users, file: Annotated[UploadFile, File()]
) -> Response:
    """Create one person per CSV row; show what was created and each refused row."""
    data = await file.read(MAX_IMPORT_BYTES + 1)
    try:
        if len(data) > MAX_IMPORT_BYTES:
            raise InvalidInput(f"the file is over {MAX_IMPORT_BYTES // (1024 * 1024)} MiB; split it")
        text = _decoded(data)
    except InvalidInput as problem:
        return page(request, "admin_import", {"actor": actor, "report": None, **refusal(problem)})
    report = await run_in_threadpool(import_users, users, text, actor=actor)  # argon2 per row: off the loop
    return page(request, "admin_import", {"actor": actor, "report": report})


def _decoded(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInput("the file is not UTF-8 text; save it as CSV UTF-8") from error


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
def person_page(
    request: Request, user_id: str, actor: Admin, users: Users, signin: SignIn, done: str = ""
) -> Response:
    """One person: roles, status, password reset, live sessions."""
    return page(request, "admin_user", _person(actor, users, signin, user_id, notice=NOTICES.get(done)))


def _person(
    actor: Actor, users: Users, signin: SignInService, user_id: str, **extra: object
) -> dict[str, object]:
    return {
        "actor": actor,
        "person": users.get_managed(user_id, actor=actor),
        "sessions": signin.list_sessions(actor=actor, user_id=user_id),
        "roles": ROLE_LABELS,
        **extra,
    }


@router.post("/admin/users/{user_id}/roles")
def change_roles(
    user_id: str, actor: Admin, users: Users, roles: Annotated[list[str] | None, Form()] = None
) -> Response:
    """Replace a person's roles (audited with before and after)."""
    users.set_roles(user_id, _roles(roles or []), actor=actor)
    return see_other(f"/admin/users/{user_id}?done=roles")


@router.post("/admin/users/{user_id}/active")
def change_active(user_id: str, actor: Admin, users: Users, active: Annotated[bool, Form()]) -> Response:
    """Disable a person (their sessions and tokens stop working) or enable them again."""
    users.set_active(user_id, active, actor=actor)
    return see_other(f"/admin/users/{user_id}?done=active")


@router.post("/admin/users/{user_id}/password")
def reset_password(
    request: Request,
    user_id: str,
    actor: Admin,
    users: Users,
    signin: SignIn,
    password: Annotated[str, Form()],
) -> Response:
    """Set a new password for a person (the password policy applies)."""
    try:
        users.set_password(user_id, password, actor=actor)
    except FormRefusal as problem:
        return page(request, "admin_user", _person(actor, users, signin, user_id, **refusal(problem)))
    return see_other(f"/admin/users/{user_id}?done=reset")


@router.post("/admin/users/{user_id}/sessions/{session_id}/revoke")
def revoke_person_session(user_id: str, session_id: str, actor: Admin, signin: SignIn) -> Response:
    """Sign one of a person's sessions out."""
    signin.revoke_session(session_id, actor=actor)
    return see_other(f"/admin/users/{user_id}?done=session-revoked")


@router.get("/admin/teams", response_class=HTMLResponse)
def teams_page(request: Request, actor: Admin, users: Users, done: str = "") -> Response:
    """Teams and stations, and a form to add one."""
    context = {"actor": actor, "teams": users.list_teams(), "notice": NOTICES.get(done)}
    return page(request, "admin_teams", context)


@router.post("/admin/teams")
def add_team(
    request: Request,
    actor: Admin,
    users: Users,
    name: Annotated[str, Form()],
    station: Annotated[str, Form()] = "",
) -> Response:
    """Add a team or station."""
    try:
        users.create_team(name, actor=actor, station=station)
    except FormRefusal as problem:
        context = {"actor": actor, "teams": users.list_teams(), **refusal(problem)}
        return page(request, "admin_teams", context)
    return see_other("/admin/teams?done=team")
