"""Onboarding a whole force from a CSV export of the HR system."""

import csv
import io
import secrets
from dataclasses import dataclass, field

from witnessbox.accounts.roles import Role
from witnessbox.accounts.service import NewUser, UserService
from witnessbox.core.actor import Actor
from witnessbox.core.errors import WitnessboxError

COLUMNS = ("collar_number", "name", "rank", "email", "roles", "teams", "supervises", "password")


@dataclass
class ImportReport:
    """How an import went: people created, and each refused line with its reason."""

    created: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)


def import_users(users: UserService, text: str, *, actor: Actor) -> ImportReport:
    """Create one user per CSV row; teams named in the file are created as needed.

    Roles, teams and supervised teams are separated by ';'. A row without a password
    gets a random one (the person then signs in through single sign-on or is reset).
    Each bad row is reported and skipped; good rows are kept.
    """
    rows = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("collar_number", "name", "roles") if c not in (rows.fieldnames or [])]
    report = ImportReport()
    if missing:
        report.problems.append((1, f"missing columns: {', '.join(missing)}"))
        return report
    known = {team.name for team in users.list_teams()}
    for line, row in enumerate(rows, start=2):
        try:
            new = _new_user(row)
            for team in {*new.teams, *new.supervises} - known:
                users.create_team(team, actor=actor)
                known.add(team)
            users.create_user(new, actor=actor)
            report.created += 1
        except (WitnessboxError, ValueError) as problem:
            report.problems.append((line, getattr(problem, "reason", str(problem))))
    return report


def _new_user(row: dict[str, str]) -> NewUser:
    def listed(column: str) -> tuple[str, ...]:
        return tuple(part.strip() for part in (row.get(column) or "").split(";") if part.strip())

    return NewUser(
        collar_number=row.get("collar_number", ""),
        name=row.get("name", ""),
        rank=row.get("rank") or "",
        email=row.get("email") or None,
        roles=frozenset(Role(r) for r in listed("roles")),
        teams=listed("teams"),
        supervises=listed("supervises"),
        password=row.get("password") or secrets.token_urlsafe(24),
    )
