"""Tables of the audit trail. Rows are only ever inserted; verify proves it."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from witnessbox.db.base import Base


class AuditEvent(Base):
    """One audited action; `entry_hash` covers its fields and the previous entry's hash."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(index=True)
    tag: Mapped[str] = mapped_column(String(64), index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(255))
    request_id: Mapped[str | None] = mapped_column(String(64))
    source_address: Mapped[str | None] = mapped_column(String(64))
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[str | None] = mapped_column(String(64), index=True)
    details: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditCheckpoint(Base):
    """A signed statement that the chain up to `seq` ended in `entry_hash`.

    Version 2 (first_seq and merkle_root set) also signs the RFC 9162 Merkle root over the
    entries first_seq..seq it seals, so one entry can be proven without showing the others.
    """

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)
    first_seq: Mapped[int | None] = mapped_column(BigInteger)  # v2: the first entry this one seals
    merkle_root: Mapped[str | None] = mapped_column(String(64))  # v2: tree hash over first_seq..seq


class AuditTimeStamp(Base):
    """An RFC 3161 time-stamp authority's signed answer over one checkpoint's statement."""

    __tablename__ = "audit_time_stamps"

    id: Mapped[int] = mapped_column(primary_key=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("audit_checkpoints.id"), unique=True)
    authority: Mapped[str] = mapped_column(String(255))  # the URL it came from
    stamped_at: Mapped[datetime]  # the authority's genTime
    response: Mapped[bytes] = mapped_column(LargeBinary)  # the DER TimeStampResp, kept whole


class AuditSigningKey(Base):
    """A checkpoint signing key and the period it signed in, so old checkpoints verify by key_id."""

    __tablename__ = "audit_signing_keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_pem: Mapped[str] = mapped_column(Text)
    in_use_from: Mapped[datetime]
    in_use_until: Mapped[datetime | None]
