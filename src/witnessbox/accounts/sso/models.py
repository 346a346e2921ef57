"""The table behind single sign-on: sign-ins sent to the identity provider and not yet back."""

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from witnessbox.db.base import Base


class PendingSignIn(Base):
    """One trip to the identity provider: what the callback must match, used once, for ten minutes.

    Kept server-side so the browser only ever holds the random `state`; only its
    SHA-256 is stored, so a copy of this table cannot complete anyone's sign-in.
    """

    __tablename__ = "sso_pending_sign_ins"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    redirect_uri: Mapped[str] = mapped_column(Text)
    next_url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
