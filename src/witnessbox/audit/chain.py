"""The hash chain: how an entry's hash is computed, and how a chain is checked."""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from witnessbox.audit.merkle import RootBuilder, entry_leaf
from witnessbox.audit.models import AuditEvent

GENESIS = "0" * 64


def canonical_time(value: datetime) -> str:
    """The one textual form of a timestamp that goes into a hash."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_fields(event: AuditEvent) -> dict[str, Any]:
    """Exactly what an entry's hash covers: its fields and the previous entry's hash (JSON-ready)."""
    return {
        "seq": event.seq,
        "at": canonical_time(event.at),
        "tag": event.tag,
        "actor": [event.actor_kind, event.actor_id, event.actor_name],
        "request": [event.request_id, event.source_address],
        "subject": [event.subject_type, event.subject_id],
        "details": event.details,
        "prev": event.prev_hash,
    }


def entry_hash(event: AuditEvent) -> str:
    """SHA-256 over the entry's fields and the previous entry's hash, in canonical JSON."""
    return hash_fields(entry_fields(event))


def hash_fields(fields: dict[str, Any]) -> str:
    """SHA-256 (hex) of an entry's fields in canonical JSON: what a package's reader recomputes."""
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    """The first place where the stored chain stops being what was written."""

    seq: int
    problem: str


@dataclass
class Walk:
    """What walking the chain found: entries checked, the first break, hashes kept at given seqs,
    and the Merkle roots (hex) of the asked ranges, keyed by (first_seq, last_seq)."""

    entries: int = 0
    broken: ChainBreak | None = None
    kept: dict[int, str] = field(default_factory=dict)
    roots: dict[tuple[int, int], str] = field(default_factory=dict)


def find_break(
    events: Iterable[AuditEvent], keep: set[int], ranges: Iterable[tuple[int, int]] = ()
) -> Walk:
    """Walk entries in seq order up to the first break, keeping the verified hash at `keep` seqs
    and folding each (first_seq, last_seq) range into its Merkle root as it passes."""
    walk, previous_seq, previous_hash = Walk(), 0, GENESIS
    trees = _Trees(ranges)
    for event in events:
        problem = _problem(event, previous_seq, previous_hash)
        if problem:
            walk.broken = ChainBreak(seq=event.seq, problem=problem)
            return walk
        previous_seq, previous_hash = event.seq, event.entry_hash
        walk.entries += 1
        if event.seq in keep:
            walk.kept[event.seq] = event.entry_hash
        trees.add(event.seq, event.entry_hash, walk.roots)
    return walk


class _Trees:
    """The Merkle trees being folded while the chain is walked (ranges may not overlap)."""

    def __init__(self, ranges: Iterable[tuple[int, int]]) -> None:
        self._starting = {first: last for first, last in ranges if first <= last}
        self._open: dict[tuple[int, int], RootBuilder] = {}

    def add(self, seq: int, entry_hash: str, roots: dict[tuple[int, int], str]) -> None:
        if seq in self._starting:
            self._open[(seq, self._starting[seq])] = RootBuilder()
        for span, builder in list(self._open.items()):
            builder.add(entry_leaf(entry_hash))
            if span[1] == seq:
                roots[span] = builder.root().hex()
                del self._open[span]


def _problem(event: AuditEvent, previous_seq: int, previous_hash: str) -> str | None:
    if event.seq != previous_seq + 1:
        return f"entry {previous_seq + 1} is missing (next stored entry is {event.seq})"
    if event.prev_hash != previous_hash:
        return "does not follow the previous entry (deleted, inserted or reordered)"
    if entry_hash(event) != event.entry_hash:
        return "its content does not match its hash (edited)"
    return None
