"""Passwords: argon2 hashing and the force's password policy."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from witnessbox.accounts.models import User
from witnessbox.core.errors import InvalidInput

# The most-guessed passwords and the obvious local ones; length does the rest.
COMMON = frozenset(
    {
        "password",
        "password1",
        "password123",
        "123456789012",
        "qwertyuiopas",
        "letmein12345",
        "welcome12345",
        "policepolice",
        "constabulary",
        "changeme1234",
        "iloveyou1234",
    }
)


class PasswordPolicy:
    """At least `min_length` characters, not common, not built from the person's own details."""

    def __init__(self, min_length: int = 12) -> None:
        self.min_length = min_length
        self._hasher = PasswordHasher()

    def check(self, password: str, *, user: User) -> None:
        """Raise InvalidInput naming the first rule the password breaks."""
        if len(password) < self.min_length:
            raise InvalidInput(f"password must be at least {self.min_length} characters")
        lowered = password.lower()
        if lowered in COMMON:
            raise InvalidInput("password is too common")
        personal = [user.collar_number, *user.name.lower().split(), (user.email or "").split("@")[0]]
        if any(part and len(part) >= 3 and part.lower() in lowered for part in personal):
            raise InvalidInput("password must not contain your name, collar number or email")
        if len(set(password)) < 5:
            raise InvalidInput("password needs more different characters")

    def hash(self, password: str, *, user: User) -> str:
        """Check then hash a new password."""
        self.check(password, user=user)
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether the password matches (always spends the hashing time, even with no hash)."""
        try:
            return self._hasher.verify(password_hash or _DUMMY, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False


_DUMMY = PasswordHasher().hash("not a real password, only for constant-time refusals")
