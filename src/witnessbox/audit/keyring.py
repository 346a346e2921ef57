"""Which key signs checkpoints: chosen from the setting, created for a rotation, and the periods
each key was in use, kept so every old checkpoint stays verifiable by its key_id."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from witnessbox.audit.hsm import TokenSigner
from witnessbox.audit.models import AuditCheckpoint, AuditSigningKey
from witnessbox.audit.signing import (
    DEFAULT_KEY_NAME,
    CheckpointKey,
    CheckpointSigner,
    SigningKeyRefused,
    create_key_file,
)
from witnessbox.core.clock import as_utc


def load_signer(setting: str | None, *, data_dir: Path) -> CheckpointSigner:
    """The signer WITNESSBOX_AUDIT_SIGNING_KEY names: a pkcs11: URI, a key file, or (unset) the data
    directory's own key."""
    if not setting:
        return CheckpointSigner.from_directory(data_dir / "keys")
    if setting.startswith("pkcs11:"):
        return TokenSigner.from_uri(setting)
    return CheckpointSigner.from_file(Path(setting), data_dir=data_dir)


def new_signer(setting: str, *, data_dir: Path) -> CheckpointSigner:
    """The signer for a rotation: a key file is created (owner-only) when it does not exist yet."""
    if not setting.startswith("pkcs11:") and not Path(setting).exists():
        if Path(setting).resolve().is_relative_to(data_dir.resolve()):
            raise SigningKeyRefused(f"{setting} is inside the data directory {data_dir}: keep it apart")
        create_key_file(Path(setting))
    return load_signer(setting, data_dir=data_dir)


@dataclass(frozen=True)
class KeyPeriod:
    """A checkpoint key and when it signed: from its adoption until the next key took over."""

    key: CheckpointKey
    in_use_from: datetime
    in_use_until: datetime | None

    def signed_in_period(self, at: datetime) -> bool:
        """Whether a checkpoint signed at `at` was signed while this key was in use (a retired key
        that signs again, stolen or restored from a backup, is caught by this)."""
        return self.in_use_until is None or as_utc(at) <= as_utc(self.in_use_until)


def key_periods(session: Session) -> dict[str, KeyPeriod]:
    """Every key that ever signed checkpoints, by key_id."""
    rows = session.scalars(select(AuditSigningKey).order_by(AuditSigningKey.in_use_from))
    return {
        row.key_id: KeyPeriod(CheckpointKey.from_pem(row.public_pem), row.in_use_from, row.in_use_until)
        for row in rows
    }


def adopt(
    session: Session, signer: CheckpointKey, now: datetime, legacy: CheckpointKey | None, *, takes_over: bool
) -> str | None:
    """Make `signer` the key in use; the key_id it takes over from, or None when nothing changed hands.

    A retired key is refused: once a key hands over, it never signs again. Only a key someone chose
    (`takes_over`: named by the setting, or a rotation) may take over from another; a data-directory
    key made by itself (the setting lost, a second machine) is refused instead. `legacy` is the data
    directory's key of a system that signed checkpoints before keys had periods: it is recorded first,
    so its checkpoints stay verifiable after the switch.
    """
    known = session.get(AuditSigningKey, signer.key_id)
    if known is not None and known.in_use_until is not None:
        retired = as_utc(known.in_use_until).isoformat()
        raise SigningKeyRefused(f"key {signer.key_id} was retired at {retired}: it may not sign again")
    if known is not None:
        return None
    current = _current(session) or _record_legacy(session, legacy, signer.key_id)
    if current is not None and not takes_over:
        raise SigningKeyRefused(
            f"checkpoints are signed by key {current.key_id}, not this data directory's key {signer.key_id}: "
            "set WITNESSBOX_AUDIT_SIGNING_KEY to the key in use, or hand over with `witnessbox audit "
            "rotate-key`"
        )
    if current is not None:
        current.in_use_until = now
    first = _first_use(session, signer.key_id) or now
    session.add(AuditSigningKey(key_id=signer.key_id, public_pem=signer.public_pem(), in_use_from=first))
    return current.key_id if current is not None else None


def _current(session: Session) -> AuditSigningKey | None:
    return session.scalars(select(AuditSigningKey).where(AuditSigningKey.in_use_until.is_(None))).first()


def _record_legacy(session: Session, legacy: CheckpointKey | None, adopting: str) -> AuditSigningKey | None:
    """The data directory's key, when it signed checkpoints before the key table existed."""
    if legacy is None or legacy.key_id == adopting or session.scalars(select(AuditSigningKey)).first():
        return None
    first = _first_use(session, legacy.key_id)
    if first is None:
        return None
    row = AuditSigningKey(key_id=legacy.key_id, public_pem=legacy.public_pem(), in_use_from=first)
    session.add(row)
    return row


def _first_use(session: Session, key_id: str) -> datetime | None:
    return session.scalar(select(func.min(AuditCheckpoint.signed_at)).where(AuditCheckpoint.key_id == key_id))


def rotate_directory_key(key_dir: Path, switch: Callable[[CheckpointSigner], object]) -> CheckpointSigner:
    """Replace the data directory's key: a new key is written aside, `switch` hands signing over to it,
    and only then does it take the old key's place (the old private key is gone: it never signs again)."""
    staged = key_dir / f"{DEFAULT_KEY_NAME}.new"
    staged.unlink(missing_ok=True)
    signer = CheckpointSigner(create_key_file(staged))
    switch(signer)
    staged.replace(key_dir / DEFAULT_KEY_NAME)
    return signer
