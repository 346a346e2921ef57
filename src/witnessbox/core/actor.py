"""Who is acting: every service call takes one, every audit entry snapshots one."""

from dataclasses import dataclass, field, replace
from enum import StrEnum


class ActorKind(StrEnum):
    """The kinds of party that can act on the system."""

    USER = "user"
    DOCK = "dock"
    SYSTEM = "system"
    RECIPIENT = "recipient"  # someone outside the force, signed in to one external share


@dataclass(frozen=True)
class Actor:
    """An authenticated party, what the policy needs to know of it, and the request context.

    `roles`, `teams` and `supervises` are snapshots taken when the credential was checked;
    `scopes` narrows an API token to some permissions (None: everything the roles allow).
    """

    kind: ActorKind
    id: str
    name: str
    request_id: str | None = None
    source_address: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    teams: frozenset[str] = field(default_factory=frozenset)
    supervises: frozenset[str] = field(default_factory=frozenset)
    scopes: frozenset[str] | None = None
    session_id: str | None = None

    def with_request(self, request_id: str | None, source_address: str | None) -> "Actor":
        """Return the same actor tagged with one request's id and address."""
        return replace(self, request_id=request_id, source_address=source_address)

    def has_role(self, *roles: str) -> bool:
        """Whether the actor holds any of these roles."""
        return not self.roles.isdisjoint(roles)

    @property
    def is_admin(self) -> bool:
        """System administrators manage the system (not footage); the system itself is trusted."""
        return self.kind == ActorKind.SYSTEM or "system_administrator" in self.roles


SYSTEM = Actor(kind=ActorKind.SYSTEM, id="system", name="Witnessbox")
