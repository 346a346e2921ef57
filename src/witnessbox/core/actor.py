"""Who is acting: every service call takes one, every audit entry snapshots one."""

from dataclasses import dataclass, replace
from enum import StrEnum


class ActorKind(StrEnum):
    """The kinds of party that can act on the system."""

    USER = "user"
    DOCK = "dock"
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    """An authenticated party, with the request context the audit trail records."""

    kind: ActorKind
    id: str
    name: str
    request_id: str | None = None
    source_address: str | None = None
    is_admin: bool = False

    def with_request(self, request_id: str | None, source_address: str | None) -> "Actor":
        """Return the same actor tagged with one request's id and address."""
        return replace(self, request_id=request_id, source_address=source_address)


SYSTEM = Actor(kind=ActorKind.SYSTEM, id="system", name="Witnessbox")
