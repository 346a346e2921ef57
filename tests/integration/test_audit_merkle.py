"""Checkpoints v2: each signs the Merkle root over the entries it seals, so one cited entry is proven to
a package's reader with its fields, an audit path and the signed statement, and nobody else's entry."""

import hashlib
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from typer.testing import CliRunner

from witnessbox.audit.chain import canonical_time, hash_fields
from witnessbox.audit.merkle import entry_leaf, proves
from witnessbox.audit.models import AuditCheckpoint, AuditEvent
from witnessbox.audit.service import checkpoint_statement
from witnessbox.audit.signing import CheckpointSigner
from witnessbox.bootstrap import Container
from witnessbox.cli import app
from witnessbox.core.actor import SYSTEM


def _write(container: Container, count: int, prefix: str = "CAM") -> None:
    for number in range(count):
        container.devices.register_camera(f"{prefix}{number}", actor=SYSTEM)


def _check_as_a_reader(proof: dict, public_keys: dict[str, str]) -> None:
    """What the package verifier does, from the JSON alone: fields → entry hash → leaf → root → statement →
    signature under the published key."""
    signed = proof["checkpoint"]
    assert hash_fields(proof["fields"]) == proof["entry_hash"]
    path = [bytes.fromhex(step) for step in proof["path"]]
    root = bytes.fromhex(signed["merkle_root"])
    assert proves(entry_leaf(proof["entry_hash"]), proof["leaf_index"], proof["tree_size"], path, root)
    assert proof["tree_size"] == signed["seq"] - signed["first_seq"] + 1
    assert proof["leaf_index"] == proof["fields"]["seq"] - signed["first_seq"]
    statement = (f"witnessbox-audit-checkpoint/2\n{signed['seq']}\n{signed['head_hash']}\n{signed['first_seq']}\n"
                 f"{signed['merkle_root']}\n{signed['signed_at']}\n")
    assert signed["statement"] == statement
    key = serialization.load_pem_public_key(public_keys[signed["key_id"]].encode())
    assert isinstance(key, Ed25519PublicKey)
    key.verify(bytes.fromhex(signed["signature"]), statement.encode())  # raises if forged


def test_each_seal_signs_the_merkle_root_of_what_it_seals(container: Container) -> None:
    """GIVEN five writes sealed, then three more sealed WHEN the checkpoints are read THEN the first covers
    entries 1..5 and the second 6..9 (the first's own entry included), each with the root over them."""
    _write(container, 5)
    first = container.audit.seal(actor=SYSTEM)
    _write(container, 3, "MORE")
    second = container.audit.seal(actor=SYSTEM)
    assert first is not None and second is not None
    assert (first.first_seq, first.seq, second.first_seq, second.seq) == (1, 5, 6, 9)
    with container.db.read() as session:
        hashes = list(session.scalars(select(AuditEvent.entry_hash).where(AuditEvent.seq.between(6, 9))))
    left = hashlib.sha256(b"\x01" + entry_leaf(hashes[0]) + entry_leaf(hashes[1])).digest()
    right = hashlib.sha256(b"\x01" + entry_leaf(hashes[2]) + entry_leaf(hashes[3])).digest()
    assert second.merkle_root == hashlib.sha256(b"\x01" + left + right).hexdigest()
    assert container.audit.verify().ok


def test_cited_entries_are_proven_without_the_others(container: Container) -> None:
    """GIVEN two v2 checkpoints and entries written after them WHEN entries 2, 7 and the unsealed 11 are asked
    THEN 2 and 7 come with proofs a reader checks with the published keys alone, and 11 is absent."""
    _write(container, 5)
    container.audit.seal(actor=SYSTEM)
    _write(container, 3, "MORE")
    container.audit.seal(actor=SYSTEM)
    _write(container, 1, "LATE")
    proofs = container.audit.inclusion([7, 2, 11, 2])
    assert sorted(proofs) == [2, 7]
    assert proofs[2]["fields"]["seq"] == 2 and proofs[2]["checkpoint"]["seq"] == 5
    assert proofs[7]["checkpoint"]["first_seq"] == 6 and proofs[7]["leaf_index"] == 1
    for proof in proofs.values():
        _check_as_a_reader(proof, container.audit.public_keys())
    assert container.audit.inclusion([]) == {}


def test_v1_checkpoints_keep_verifying_beside_v2(container: Container) -> None:
    """GIVEN a checkpoint signed the old way (version 1, no root) WHEN new entries are sealed THEN the new
    checkpoint is v2 from the entry after it, verify holds both, and entries under v1 have no proof."""
    _write(container, 3)
    signer = container.audit.signer
    with container.db.transaction() as uow:
        head = uow.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
        assert head is not None
        now = container.clock.now()
        statement = checkpoint_statement(head.seq, head.entry_hash, canonical_time(now))
        uow.session.add(AuditCheckpoint(seq=head.seq, entry_hash=head.entry_hash, signed_at=now,
                                        key_id=signer.key_id, signature=signer.sign(statement)))
    _write(container, 2, "NEW")
    mark = container.audit.seal(actor=SYSTEM)
    assert mark is not None and (mark.first_seq, mark.seq) == (4, 5)
    result = container.audit.verify()
    assert result.ok and result.checkpoints == 2, result.broken
    assert sorted(container.audit.inclusion(range(1, 6))) == [4, 5]


def test_a_root_that_does_not_match_the_entries_is_named_at_its_first_entry(container: Container) -> None:
    """GIVEN a sealed trail WHEN an insider re-signs the second checkpoint with the data directory's key over
    a root that is not the entries' THEN verify names entry 6, the first that root covers."""
    _write(container, 5)
    container.audit.seal(actor=SYSTEM)
    _write(container, 3, "MORE")
    container.audit.seal(actor=SYSTEM)
    signer = CheckpointSigner.from_directory(container.settings.data_dir / "keys")
    with container.db.transaction() as uow:
        mark = uow.session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc())).first()
        assert mark is not None
        mark.merkle_root = "00" * 32
        mark.signature = signer.sign(checkpoint_statement(
            mark.seq, mark.entry_hash, canonical_time(mark.signed_at), mark.first_seq, mark.merkle_root))
    result = container.audit.verify()
    assert result.broken is not None and result.broken.seq == 6, result.broken
    assert "do not hash to the Merkle root" in result.broken.problem


def test_the_proof_command_prints_what_a_reader_checks(container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN a sealed trail and one more entry WHEN `witnessbox audit proof 3 9` runs THEN it prints entry 3's proof
    with the signing keys, which a reader checks from the JSON alone, and exits 1 naming the unsealed entry 9."""
    _write(container, 5)
    container.audit.seal(actor=SYSTEM)
    _write(container, 2, "LATE")
    settings = container.settings
    monkeypatch.setenv("WITNESSBOX_DATABASE_URL", settings.resolved_database_url())
    monkeypatch.setenv("WITNESSBOX_QUEUE_URL", settings.resolved_queue_url())
    result = CliRunner().invoke(app, ["audit", "proof", "3", "9", "--data-dir", str(settings.data_dir)])
    assert result.exit_code == 1 and "not yet sealed by a v2 checkpoint: 9" in result.stderr
    printed = json.loads(result.stdout)
    assert [proof["fields"]["seq"] for proof in printed["entries"]] == [3]
    _check_as_a_reader(printed["entries"][0], printed["keys"])


def test_a_withdrawn_checkpoint_is_found_without_the_anchors(container: Container) -> None:
    """GIVEN three v2 checkpoints WHEN an insider deletes the middle one THEN verify, from the database alone,
    names entry 5: the first the middle one sealed, which no remaining checkpoint covers (the third signed that
    its tree starts at 10)."""
    for batch in range(3):
        _write(container, 4, f"B{batch}-")
        container.audit.seal(actor=SYSTEM)
    with container.db.transaction() as uow:
        middle = uow.session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id).offset(1)).first()
        assert middle is not None and (middle.first_seq, middle.seq) == (5, 9)
        uow.session.delete(middle)
    result = container.audit.verify()
    assert result.broken is not None and result.broken.seq == 5, result.broken
    assert "a checkpoint between them was withdrawn" in result.broken.problem
