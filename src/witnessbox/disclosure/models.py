"""Tables for sharing outside the force: recipients, their shares, the items shared, portal sessions."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from witnessbox.db.base import Base


class RecipientKind(StrEnum):
    """Who, outside the force, footage goes to."""

    PROSECUTOR = "prosecutor"
    DEFENCE = "defence"
    COURT = "court"
    COMPLAINTS_BODY = "complaints_body"
    OTHER = "other"


RECIPIENT_KIND_LABELS = {
    RecipientKind.PROSECUTOR: "Prosecutor (e.g. CPS)",
    RecipientKind.DEFENCE: "Defence solicitor",
    RecipientKind.COURT: "Court",
    RecipientKind.COMPLAINTS_BODY: "Complaints body (e.g. IOPC)",
    RecipientKind.OTHER: "Other",
}


class Recipient(Base):
    """A named person outside the force; one per external share, so each is revoked and audited alone."""

    __tablename__ = "disclosure_recipients"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    organisation: Mapped[str] = mapped_column(String(255))
    kind: Mapped[RecipientKind] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime]


class ExternalShare(Base):
    """Items (or a case's items at the time) shared with one recipient until a time, by link and code.

    Only SHA-256 digests of the link token are kept, and an argon2 hash of the access code;
    the secrets themselves exist only in the sharer's one-time view or the two e-mails.
    """

    __tablename__ = "external_shares"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    recipient_id: Mapped[str] = mapped_column(ForeignKey("disclosure_recipients.id"), index=True)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    created_by_name: Mapped[str] = mapped_column(String(255))
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    allow_original_download: Mapped[bool] = mapped_column(default=False)
    # Restricted (complaint) items reach a recipient only when professional standards shared them.
    restricted_allowed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    link_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    failed_attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    delivery: Mapped[str] = mapped_column(String(16))  # "email" or "shown" (to the sharer, once)

    def ended(self, now: datetime) -> str | None:
        """Why the share no longer serves anything, or None while it is live."""
        if self.revoked_at is not None:
            return "this share was withdrawn by the force"
        if self.expires_at <= now:
            return "this share has expired"
        return None


class ExternalShareItem(Base):
    """One item of an external share."""

    __tablename__ = "external_share_items"
    __table_args__ = (UniqueConstraint("share_id", "item_id"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    share_id: Mapped[str] = mapped_column(ForeignKey("external_shares.id"), index=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)


class RecipientSession(Base):
    """A recipient signed in to the portal; the cookie's token is kept as its SHA-256 only."""

    __tablename__ = "recipient_sessions"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    share_id: Mapped[str] = mapped_column(ForeignKey("external_shares.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    source_address: Mapped[str | None] = mapped_column(String(64))
