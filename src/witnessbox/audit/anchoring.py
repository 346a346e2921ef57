"""Anchoring the audit trail outside the server's reach, and proving it against those anchors.

After each seal the job workers time-stamp new checkpoints at the force's RFC 3161 authority
and copy them (with their time-stamps) to the append-only anchor directory. Neither ever runs
inside a write: an unreachable authority leaves checkpoints waiting, retried at the next run
and reported by verify. Verify then compares the database with the anchors, so a chain
rebuilt and re-signed with the data directory's key still shows where it was changed.
"""

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from cryptography import x509
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from witnessbox.audit.anchors import (
    AnchorCopies,
    AnchoredCheckpoint,
    anchored_ids,
    checkpoint_name,
    key_name,
    retirement_name,
    stamp_name,
)
from witnessbox.audit.chain import ChainBreak, canonical_time
from witnessbox.audit.keyring import KeyPeriod
from witnessbox.audit.models import AuditCheckpoint, AuditTimeStamp
from witnessbox.audit.service import (
    AuditLog,
    VerifyResult,
    checkpoint_statement,
    signature_problem,
    statement_of,
)
from witnessbox.audit.timestamps import TimeStampAuthority, TimeStampFailed, stamp_problem
from witnessbox.core.actor import Actor
from witnessbox.core.clock import as_utc
from witnessbox.db.session import Database

log = logging.getLogger(__name__)
_BATCH = 100  # checkpoints stamped per run: a long outage catches up over a few runs


@dataclass(frozen=True)
class PublishedHead:
    """The newest checkpoint as outsiders see it: its statement, signature, key and time-stamp."""

    anchored: AnchoredCheckpoint
    statement: str
    public_key: str
    time_stamp: bytes | None


@dataclass(frozen=True)
class AnchorRun:
    """What one anchoring run did."""

    stamped: int
    copied: int
    failures: tuple[str, ...]


class AuditAnchoring:
    """Seals, time-stamps and copies checkpoints out; proves the trail against the copies."""

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        *,
        authority: TimeStampAuthority | None,
        authority_roots: list[x509.Certificate],
        directory: AnchorCopies | None,
    ) -> None:
        self.db, self.audit = db, audit
        self.authority, self.roots, self.directory = authority, authority_roots, directory

    def seal_and_anchor(self, *, actor: Actor) -> AnchorRun:
        """The workers' housekeeping: seal new entries, then anchor whatever is not yet anchored."""
        self.audit.seal(actor=actor)
        return self.anchor_pending()

    def anchor_pending(self) -> AnchorRun:
        """Time-stamp unstamped checkpoints and copy new checkpoints and stamps to the directory."""
        stamped, failures = self._stamp_pending()
        copied = self._copy_pending()
        for failure in failures:
            log.warning("audit checkpoint not time-stamped (retried at the next run): %s", failure)
        return AnchorRun(stamped, copied, failures)

    def _stamp_pending(self) -> tuple[int, tuple[str, ...]]:
        if self.authority is None:
            return 0, ()
        with self.db.read() as session:
            waiting = list(session.scalars(_unstamped().limit(_BATCH)))
        stamped = 0
        for mark in waiting:
            try:
                response = self.authority.stamp(statement_of(mark))
            except TimeStampFailed as error:
                return stamped, (f"checkpoint at entry {mark.seq}: {error}",)
            stamped += self._keep_stamp(mark.id, response.tst_info.gen_time, response.as_bytes())
        return stamped, ()

    def _keep_stamp(self, checkpoint_id: int, stamped_at: datetime, response: bytes) -> bool:
        """Keep the answer; False when another process (`audit checkpoint`, a worker) kept one first."""
        assert self.authority is not None
        try:
            with self.db.transaction() as uow:
                uow.session.add(AuditTimeStamp(
                    checkpoint_id=checkpoint_id, authority=self.authority.url,
                    stamped_at=stamped_at, response=response,
                ))
        except IntegrityError:
            return False
        return True

    def _copy_pending(self) -> int:
        if self.directory is None:
            return 0
        present, copied = self.directory.names(), 0
        self._copy_keys(present)
        start = _first_unfinished(present, stamps_expected=self.authority is not None)
        with self.db.read() as session:
            for mark, stamp in session.execute(_with_stamps().where(AuditCheckpoint.id >= start)):
                if checkpoint_name(mark.id) not in present:
                    copied += self.directory.put_checkpoint(_anchored(mark))
                if stamp is not None and stamp_name(mark.id) not in present:
                    self.directory.write_once(stamp_name(mark.id), stamp.response)
        return copied

    def _copy_keys(self, present: set[str]) -> None:
        """Each key's public half once when first seen, and the moment it was retired once it is."""
        assert self.directory is not None
        for key_id, period in self.audit.key_periods().items():
            if key_name(key_id) not in present:
                self.directory.write_once(key_name(key_id), period.key.public_pem().encode())
            if period.in_use_until is not None and retirement_name(key_id) not in present:
                self.directory.write_once(retirement_name(key_id), _retired_at(period).encode())

    def head(self) -> PublishedHead | None:
        """The newest signed checkpoint, for anyone to fetch and keep (None before the first)."""
        newest = _with_stamps().order_by(None).order_by(AuditCheckpoint.id.desc()).limit(1)
        with self.db.read() as session:
            row = session.execute(newest).first()
        if row is None:
            return None
        return self._published(*row)

    def published_after(self, after: int, limit: int) -> list[PublishedHead]:
        """The feed: signed checkpoints covering entries after `after`, oldest first, at most `limit`."""
        query = _with_stamps().where(AuditCheckpoint.seq > after).limit(limit)
        with self.db.read() as session:
            return [self._published(mark, stamp) for mark, stamp in session.execute(query)]

    def _published(self, mark: AuditCheckpoint, stamp: AuditTimeStamp | None) -> PublishedHead:
        return PublishedHead(
            anchored=_anchored(mark),
            statement=statement_of(mark).decode(),
            public_key=self.audit.public_keys().get(mark.key_id, ""),  # "": not among the server's keys
            time_stamp=stamp.response if stamp else None,
        )

    def verify(self) -> VerifyResult:
        """Prove the chain and checkpoints, the time-stamps, and the database against the anchors."""
        anchored = self.directory.checkpoints() if self.directory else []
        result, hashes = self.audit.prove(keep={anchor.seq for anchor in anchored})
        keys = self.audit.key_periods()
        with self.db.read() as session:
            broken = (
                result.broken
                or self._first_bad_stamp(session)
                or self._first_altered_key(session, keys)
                or self._first_unmatched_anchor(session, anchored, hashes, result.entries, keys)
            )
            warnings = self._waiting(session)
        return replace(result, broken=broken, warnings=warnings)

    def _first_bad_stamp(self, session: Session) -> ChainBreak | None:
        if not self.roots:
            return None
        for mark, stamp in session.execute(_with_stamps()):
            if stamp is not None:
                problem = stamp_problem(stamp.response, statement_of(mark), self.roots)
                if problem:
                    return ChainBreak(seq=mark.seq, problem=f"checkpoint {mark.id}: {problem}")
        return None

    def _first_altered_key(self, session: Session, keys: dict[str, KeyPeriod]) -> ChainBreak | None:
        """A key whose recorded PEM, or retirement, is not what was anchored (the key table was edited)."""
        for key_id, period in keys.items():
            problem = self._key_problem(key_id, period)
            if problem:
                signed = select(func.min(AuditCheckpoint.seq)).where(AuditCheckpoint.key_id == key_id)
                first = session.scalar(signed) or 0
                return ChainBreak(seq=first, problem=f"checkpoint key {key_id} {problem}")
        return None

    def _key_problem(self, key_id: str, period: KeyPeriod) -> str | None:
        if self.directory is None:
            return None
        pem = self.directory.read_if_present(key_name(key_id))
        if pem is not None and pem.decode() != period.key.public_pem():
            return "differs from its anchored copy"
        retired = self.directory.read_if_present(retirement_name(key_id))
        if retired is not None and (period.in_use_until is None or retired.decode() != _retired_at(period)):
            return f"was retired at {retired.decode()} as anchored, but the key table says otherwise"
        return None

    def _first_unmatched_anchor(
        self,
        session: Session,
        anchored: list[AnchoredCheckpoint],
        hashes: dict[int, str],
        entries: int,
        keys: dict[str, KeyPeriod],
    ) -> ChainBreak | None:
        still_matched = 0  # the last anchored entry the database still agrees with
        for anchor in anchored:
            problem = self._anchor_problem(session, anchor, hashes, entries, keys)
            if problem:
                return ChainBreak(seq=anchor.seq, problem=f"{problem} (entries up to {still_matched} match)")
            still_matched = anchor.seq
        return None

    def _anchor_problem(
        self,
        session: Session,
        anchor: AnchoredCheckpoint,
        hashes: dict[int, str],
        entries: int,
        keys: dict[str, KeyPeriod],
    ) -> str | None:
        statement = checkpoint_statement(
            anchor.seq, anchor.entry_hash, anchor.signed_at, anchor.first_seq, anchor.merkle_root
        )
        if signature_problem(keys, anchor.key_id, statement, anchor.signature, anchor.signed_at):
            return f"anchored checkpoint {anchor.checkpoint} has no valid signature"
        if anchor.seq > entries:
            return (f"is gone: the trail ends at entry {entries} "
                    f"but anchored checkpoint {anchor.checkpoint} names it")
        if hashes.get(anchor.seq) != anchor.entry_hash:
            changed = f"from {anchor.first_seq} to {anchor.seq}" if anchor.first_seq else "up to it"
            return (f"no longer matches anchored checkpoint {anchor.checkpoint}: "
                    f"an entry {changed} was changed after it was anchored")
        stored = session.get(AuditCheckpoint, anchor.checkpoint)
        if stored is None or _anchored(stored) != anchor:
            return f"checkpoint {anchor.checkpoint} was withdrawn or altered since it was anchored"
        return self._anchored_stamp_problem(anchor, statement)

    def _anchored_stamp_problem(self, anchor: AnchoredCheckpoint, statement: bytes) -> str | None:
        assert self.directory is not None
        stamp = self.directory.read_if_present(stamp_name(anchor.checkpoint))
        if not self.roots or stamp is None:
            return None
        problem = stamp_problem(stamp, statement, self.roots)
        return f"anchored checkpoint {anchor.checkpoint}: {problem}" if problem else None

    def _waiting(self, session: Session) -> tuple[str, ...]:
        warnings: list[str] = []
        if self.authority is not None:
            count = session.scalar(select(func.count()).select_from(_unstamped().subquery())) or 0
            if count:
                warnings.append(f"{count} checkpoints await a time-stamp from {self.authority.url}")
            if not self.roots:
                warnings.append("time-stamps not checked: set WITNESSBOX_AUDIT_TSA_CERTIFICATE")
        return tuple(warnings)


def _unstamped() -> Select[AuditCheckpoint]:
    stamped = select(AuditTimeStamp.checkpoint_id)
    return select(AuditCheckpoint).where(AuditCheckpoint.id.not_in(stamped)).order_by(AuditCheckpoint.id)


def _with_stamps() -> Select[AuditCheckpoint, AuditTimeStamp]:
    return (
        select(AuditCheckpoint, AuditTimeStamp)
        .outerjoin(AuditTimeStamp, AuditTimeStamp.checkpoint_id == AuditCheckpoint.id)
        .order_by(AuditCheckpoint.id)
    )


def _first_unfinished(present: set[str], *, stamps_expected: bool) -> int:
    """The first checkpoint id whose copy (or, with an authority, time-stamp copy) is not yet anchored."""
    copied, stamped = anchored_ids(present, ".json"), anchored_ids(present, ".tsr")
    unstamped = copied - stamped if stamps_expected else set()
    return min(unstamped) if unstamped else max(copied, default=0) + 1


def _retired_at(period: KeyPeriod) -> str:
    assert period.in_use_until is not None
    return canonical_time(as_utc(period.in_use_until))


def _anchored(mark: AuditCheckpoint) -> AnchoredCheckpoint:
    return AnchoredCheckpoint(
        checkpoint=mark.id, seq=mark.seq, entry_hash=mark.entry_hash,
        signed_at=canonical_time(mark.signed_at), key_id=mark.key_id, signature=mark.signature,
        first_seq=mark.first_seq, merkle_root=mark.merkle_root,
    )
