"""Writing to and proving the audit trail.

`record` is called inside the transaction that makes the change, so the change
and its audit entry commit or roll back together.
"""

import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.event import listen
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from witnessbox.audit.chain import (
    GENESIS,
    ChainBreak,
    canonical_time,
    entry_fields,
    entry_hash,
    find_break,
)
from witnessbox.audit.keyring import KeyPeriod, adopt, key_periods
from witnessbox.audit.merkle import audit_path, entry_leaf, root_of
from witnessbox.audit.models import AuditCheckpoint, AuditEvent, AuditSigningKey
from witnessbox.audit.signing import CheckpointKey, CheckpointSigner
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import SYSTEM, Actor
from witnessbox.core.clock import Clock
from witnessbox.db.session import Database

log = logging.getLogger(__name__)

# Any 64-bit constant: PostgreSQL writers queue on it to append one at a time.
_CHAIN_LOCK = 0x57425F4155444954


@dataclass(frozen=True)
class Subject:
    """What an audit entry is about."""

    type: str
    id: str


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of proving the chain and its checkpoints."""

    entries: int
    checkpoints: int
    broken: ChainBreak | None
    warnings: tuple[str, ...] = ()  # what could not be proven yet, e.g. a time-stamp still awaited

    @property
    def ok(self) -> bool:
        """True when the chain and every checkpoint hold."""
        return self.broken is None


class AuditLog:
    """Appends entries to the chain and proves it."""

    def __init__(
        self, db: Database, clock: Clock, signer: CheckpointSigner, *, seal_entries: int | None = None
    ) -> None:
        self.db = db
        self.clock = clock
        self.signer = signer
        self.seal_entries = seal_entries  # sign a checkpoint in the write that makes this many unsealed
        self.signed = threading.Event()  # set after a commit that signed a checkpoint: anchor it now
        self._sealed_seq = 0  # the newest checkpoint's seq as this process last saw it

    def record(
        self,
        session: Session,
        tag: AuditTag,
        *,
        actor: Actor,
        subject: Subject | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """Append one entry in the caller's transaction."""
        last = self._lock_and_read_last(session)
        event = AuditEvent(
            seq=(last.seq + 1) if last else 1,
            at=self.clock.now(),
            tag=str(tag),
            actor_kind=str(actor.kind),
            actor_id=actor.id,
            actor_name=actor.name,
            request_id=actor.request_id,
            source_address=actor.source_address,
            subject_type=subject.type if subject else None,
            subject_id=subject.id if subject else None,
            details=details or {},
            prev_hash=last.entry_hash if last else GENESIS,
        )
        event.entry_hash = entry_hash(event)
        session.add(event)
        session.flush()
        if self.seal_entries and event.seq - self._sealed_seq >= self.seal_entries:
            self._seal_in_write(session, event)
        return event

    def _seal_in_write(self, session: Session, last: AuditEvent) -> None:
        """Sign the N-th unsealed entry's checkpoint in its own write: no entry ever waits behind more than
        N others, whoever competes for the lock. Costs one index lookup, and one signature every N writes."""
        sealed = session.scalar(select(AuditCheckpoint.seq).order_by(AuditCheckpoint.id.desc()).limit(1)) or 0
        self._sealed_seq = max(self._sealed_seq, sealed)
        due = last.seq - sealed >= (self.seal_entries or 0) and last.tag != AuditTag.AUDIT_CHECKPOINT_SIGNED
        if due and self._sign(session, last, SYSTEM) is not None:
            listen(session, "after_commit", lambda _session: self.signed.set(), once=True)

    def _lock_and_read_last(self, session: Session) -> AuditEvent | None:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
        return session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).first()

    def checkpoint(self, *, actor: Actor) -> AuditCheckpoint | None:
        """Sign the current head of the chain (nothing to do on an empty chain)."""
        with self.db.transaction() as uow:
            last = self._lock_and_read_last(uow.session)
            return self._sign(uow.session, last, actor) if last else None

    def seal(self, *, actor: Actor) -> AuditCheckpoint | None:
        """Sign the head if any entry is not yet covered by a checkpoint; None when all is sealed.

        Services call it before completing an export or a purge, so what they cite is already
        signed; the job workers call it every `audit_seal_seconds`.
        """
        with self.db.transaction() as uow:
            last = self._lock_and_read_last(uow.session)
            if last is None or self._is_sealed(uow.session, last):
                return None
            return self._sign(uow.session, last, actor)

    def unsealed(self) -> int:
        """How many entries no checkpoint covers yet (cheap: two index lookups)."""
        with self.db.read() as session:
            newest = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) or 0
            sealed = session.scalar(select(AuditCheckpoint.seq).order_by(AuditCheckpoint.id.desc()).limit(1))
        self._sealed_seq = sealed or 0
        return newest - self._sealed_seq

    def _is_sealed(self, session: Session, last: AuditEvent) -> bool:
        """Whether the last checkpoint covers every entry but its own "checkpoint signed" entry."""
        sealed = session.scalar(select(func.max(AuditCheckpoint.seq))) or 0
        own_entry = last.seq == sealed + 1 and last.tag == AuditTag.AUDIT_CHECKPOINT_SIGNED
        return last.seq == sealed or own_entry

    def _sign(self, session: Session, last: AuditEvent, actor: Actor) -> AuditCheckpoint | None:
        """Sign the checkpoint at `last` with this process's key, unless another process retired that key
        (a rotation while this one ran): then nothing is signed and the error says to restart."""
        own = session.get(AuditSigningKey, self.signer.key_id)
        if own is not None and own.in_use_until is not None:
            log.error("audit key %s was retired by a rotation: restart to sign with the new key",
                      self.signer.key_id)
            return None
        first_seq = (session.scalar(select(func.max(AuditCheckpoint.seq))) or 0) + 1
        mark = AuditCheckpoint(
            seq=last.seq,
            entry_hash=last.entry_hash,
            signed_at=self.clock.now(),
            key_id=self.signer.key_id,
            first_seq=first_seq,
            merkle_root=root_of(entry_leaf(h) for h in _hashes(session, first_seq, last.seq)).hex(),
        )
        mark.signature = self.signer.sign(statement_of(mark))
        session.add(mark)
        self._sealed_seq = max(self._sealed_seq, last.seq)  # before its own entry, which must not seal again
        self.record(
            session,
            AuditTag.AUDIT_CHECKPOINT_SIGNED,
            actor=actor,
            details={"seq": last.seq, "entry_hash": last.entry_hash, "key_id": self.signer.key_id},
        )
        return mark

    def verify(self) -> VerifyResult:
        """Walk the whole chain, then check every checkpoint against it."""
        return self.prove(keep=set())[0]

    def prove(self, *, keep: set[int]) -> tuple[VerifyResult, dict[int, str]]:
        """Verify, and hand back the chain's proven hashes at the `keep` seqs (for anchors to compare)."""
        with self.db.read() as session:
            marks = list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)))
            trees = [span for span in map(_span, marks) if span]
            walk = find_break(self._events(session), keep=keep | {mark.seq for mark in marks}, ranges=trees)
            keys = self._periods(session)
        broken = walk.broken or self._first_bad_checkpoint(marks, keys, walk.kept, walk.roots)
        return VerifyResult(entries=walk.entries, checkpoints=len(marks), broken=broken), walk.kept

    def _events(self, session: Session) -> Iterator[AuditEvent]:
        query = select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=2000)
        yield from session.scalars(query)

    def _first_bad_checkpoint(
        self,
        marks: list[AuditCheckpoint],
        keys: dict[str, KeyPeriod],
        hashes: dict[int, str],
        roots: dict[tuple[int, int], str],
    ) -> ChainBreak | None:
        previous = 0  # the seq the checkpoint before sealed up to
        for mark in marks:
            problem = signature_problem(keys, mark.key_id, statement_of(mark), mark.signature, mark.signed_at)
            if problem:
                return ChainBreak(seq=mark.seq, problem=f"checkpoint {problem}")
            if hashes.get(mark.seq) != mark.entry_hash:
                return ChainBreak(seq=mark.seq, problem="differs from what the signed checkpoint recorded")
            span = _span(mark)
            if span and span[0] != previous + 1:
                return ChainBreak(seq=previous + 1, problem=(
                    f"checkpoint {mark.id} signed entries from {span[0]}, but the checkpoint before it ends "
                    f"at {previous}: a checkpoint between them was withdrawn"))
            if span and roots.get(span) != mark.merkle_root:
                return ChainBreak(seq=span[0], problem=(
                    f"entries {span[0]} to {span[1]} do not hash to the Merkle root "
                    f"checkpoint {mark.id} signed"))
            previous = mark.seq
        return None

    def inclusion(self, seqs: Iterable[int]) -> dict[int, dict[str, Any]]:
        """For each seq sealed by a v2 checkpoint, its fields and the proof that checkpoint signed it.

        JSON-ready, for a disclosure package: the entry's hashed fields, its leaf index and audit
        path (hex, bottom-up) in the checkpoint's tree, and the checkpoint's signed statement.
        Seqs that no v2 checkpoint seals yet are left out.
        """
        wanted, proofs = sorted(set(seqs)), {}
        with self.db.read() as session:
            for mark in self._v2_covering(session, wanted):
                proofs.update(self._proofs_under(session, mark, wanted))
        return proofs

    def _v2_covering(self, session: Session, seqs: list[int]) -> list[AuditCheckpoint]:
        if not seqs:
            return []
        query = select(AuditCheckpoint).where(
            AuditCheckpoint.merkle_root.is_not(None),
            AuditCheckpoint.seq >= seqs[0],
            AuditCheckpoint.first_seq <= seqs[-1],
        )
        return list(session.scalars(query.order_by(AuditCheckpoint.seq)))

    def _proofs_under(
        self, session: Session, mark: AuditCheckpoint, seqs: list[int]
    ) -> dict[int, dict[str, Any]]:
        first, last = _span(mark) or (0, -1)
        cited = [seq for seq in seqs if first <= seq <= last]
        if not cited:
            return {}
        leaves = [entry_leaf(h) for h in _hashes(session, first, last)]
        events = session.scalars(select(AuditEvent).where(AuditEvent.seq.in_(cited)))
        signed = _checkpoint_out(mark)
        return {
            event.seq: {
                "fields": entry_fields(event),
                "entry_hash": event.entry_hash,
                "leaf_index": event.seq - first,
                "tree_size": len(leaves),
                "path": [step.hex() for step in audit_path(leaves, event.seq - first)],
                "checkpoint": signed,
            }
            for event in events
        }

    def public_keys(self) -> dict[str, str]:
        """Every key that signed checkpoints, by key_id, as PEM: what a package's reader verifies with."""
        return {key_id: period.key.public_pem() for key_id, period in self.key_periods().items()}

    def key_periods(self) -> dict[str, KeyPeriod]:
        """Every checkpoint key with the period it was in use (published at
        /.well-known/witnessbox/keys.json)."""
        with self.db.read() as session:
            return self._periods(session)

    def _periods(self, session: Session) -> dict[str, KeyPeriod]:
        periods = key_periods(session)
        if not periods:  # a trail from before keys had periods, proven by the data directory's key
            periods[self.signer.key_id] = KeyPeriod(self.signer, self.clock.now(), None)
        return periods

    def adopt_signer(
        self, *, actor: Actor, legacy: CheckpointKey | None = None, takes_over: bool = True
    ) -> bool:
        """At start: record the configured key as the one in use. A key not seen before takes over
        from the previous one (when `takes_over`: a key someone chose): the hand-over is an audit
        entry, sealed at once with the new key. True when the key changed hands."""
        try:
            with self.db.transaction() as uow:
                self._lock_and_read_last(uow.session)
                previous = adopt(uow.session, self.signer, self.clock.now(), legacy, takes_over=takes_over)
                if previous is not None:
                    self.record(uow.session, AuditTag.AUDIT_KEY_ROTATED, actor=actor,
                                details={"from": previous, "to": self.signer.key_id})
        except IntegrityError:
            return False  # another process adopted the same key at the same moment
        if previous is not None:
            self.seal(actor=actor)
        return previous is not None

    def rotate_key(self, new_signer: CheckpointSigner, *, actor: Actor) -> AuditCheckpoint | None:
        """Seal everything with the key in use, then hand over to `new_signer` (audited, sealed again)."""
        self.seal(actor=actor)
        old_signer, self.signer = self.signer, new_signer
        try:
            self.adopt_signer(actor=actor)
        except Exception:
            self.signer = old_signer
            raise
        with self.db.read() as session:
            return session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc())).first()


def checkpoint_statement(
    seq: int, head_hash: str, signed_at: str, first_seq: int | None = None, merkle_root: str | None = None
) -> bytes:
    """The exact bytes a checkpoint signature covers: version 2 when it carries a Merkle root."""
    if merkle_root is None:
        return f"witnessbox-audit-checkpoint/1\n{seq}\n{head_hash}\n{signed_at}\n".encode()
    return (f"witnessbox-audit-checkpoint/2\n{seq}\n{head_hash}\n{first_seq}\n"
            f"{merkle_root}\n{signed_at}\n").encode()


def statement_of(mark: AuditCheckpoint) -> bytes:
    """The statement a stored checkpoint signed (and a time-stamp authority stamped)."""
    return checkpoint_statement(
        mark.seq, mark.entry_hash, canonical_time(mark.signed_at), mark.first_seq, mark.merkle_root
    )


def signature_problem(
    keys: dict[str, KeyPeriod], key_id: str, statement: bytes, signature: str, signed_at: datetime | str
) -> str | None:
    """Why a checkpoint's signature does not hold under its own key and period; None when it does."""
    period = keys.get(key_id)
    if period is None:
        return f"is signed by key {key_id}, which is not among the server's keys"
    if not period.key.verify(statement, signature):
        return "signature is not valid"
    at = datetime.fromisoformat(signed_at) if isinstance(signed_at, str) else signed_at
    if not period.signed_in_period(at):
        return f"is signed by key {key_id} after it was retired"
    return None


def _span(mark: AuditCheckpoint) -> tuple[int, int] | None:
    """The entries a v2 checkpoint's Merkle tree covers; None for v1."""
    if mark.merkle_root is None or mark.first_seq is None:
        return None
    return mark.first_seq, mark.seq


def _hashes(session: Session, first: int, last: int) -> list[str]:
    """The stored chain hashes of entries first..last, in seq order."""
    query = select(AuditEvent.entry_hash).where(AuditEvent.seq.between(first, last)).order_by(AuditEvent.seq)
    return list(session.scalars(query))


def _checkpoint_out(mark: AuditCheckpoint) -> dict[str, Any]:
    return {
        "seq": mark.seq,
        "head_hash": mark.entry_hash,
        "first_seq": mark.first_seq,
        "merkle_root": mark.merkle_root,
        "signed_at": canonical_time(mark.signed_at),
        "key_id": mark.key_id,
        "signature": mark.signature,
        "statement": statement_of(mark).decode(),
    }
