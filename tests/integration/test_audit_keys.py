"""The checkpoint key apart from the data: a key file outside the data directory or a key on a PKCS#11
token (SoftHSM2), rotation that keeps old checkpoints verifiable, and the keys published with their periods."""

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from typer.testing import CliRunner

from witnessbox.audit.hsm import TokenKeyUri
from witnessbox.audit.keyring import load_signer
from witnessbox.audit.models import AuditCheckpoint, AuditEvent, AuditSigningKey
from witnessbox.audit.service import statement_of
from witnessbox.audit.signing import CheckpointSigner, SigningKeyRefused, create_key_file
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import Container, build
from witnessbox.cli import app
from witnessbox.config import Settings
from witnessbox.core.actor import SYSTEM
from witnessbox.web.app import create_app

SOFTHSM = Path("/usr/lib/softhsm/libsofthsm2.so")


def _write(container: Container, count: int, prefix: str = "CAM") -> None:
    for number in range(count):
        container.devices.register_camera(f"{prefix}{number}", actor=SYSTEM)


def _key_file(path: Path) -> Path:
    create_key_file(path)
    return path


def _built(settings: Settings, **changes: object) -> Container:
    return build(settings.model_copy(update=changes))


def test_a_key_file_apart_signs_and_nothing_is_kept_in_the_data_directory(settings: Settings, tmp_path: Path) -> None:
    """GIVEN WITNESSBOX_AUDIT_SIGNING_KEY naming an owner-only key file outside the data directory WHEN entries are
    sealed THEN that key signs, the data directory holds no key, and verify holds."""
    key = _key_file(tmp_path / "etc" / "audit-key.pem")
    container = _built(settings, audit_signing_key=str(key))
    try:
        _write(container, 3)
        mark = container.audit.seal(actor=SYSTEM)
        assert mark is not None and mark.key_id == load_signer(str(key), data_dir=settings.data_dir).key_id
        assert not (settings.data_dir / "keys").exists()
        assert container.audit.verify().ok
    finally:
        container.close()


@pytest.mark.parametrize("unsafe", ["group-readable", "world-readable", "inside-the-data", "missing"])
def test_an_unsafe_key_file_is_refused_at_start(settings: Settings, tmp_path: Path, unsafe: str) -> None:
    """GIVEN a key file others may read, one inside the data directory, or none WHEN the system starts
    THEN it refuses, saying why."""
    key = tmp_path / "etc" / "audit-key.pem"
    if unsafe == "inside-the-data":
        key = settings.data_dir / "audit-key.pem"
    if unsafe != "missing":
        _key_file(key)
    if unsafe.endswith("readable"):
        key.chmod(0o640 if unsafe == "group-readable" else 0o604)
    expected = {"group-readable": "chmod 600", "world-readable": "chmod 600",
                "inside-the-data": "inside the data directory", "missing": "does not exist"}[unsafe]
    with pytest.raises(SigningKeyRefused, match=expected):
        _built(settings, audit_signing_key=str(key))


def test_rotation_seals_with_the_old_key_and_keeps_its_checkpoints_verifiable(
    container: Container, tmp_path: Path
) -> None:
    """GIVEN checkpoints by the data directory's key WHEN the key is rotated to a key file THEN the old key seals
    first, the hand-over is an audit entry sealed by the new key, both keys are published with their periods,
    and verify checks each checkpoint with its own key."""
    _write(container, 3)
    old = container.audit.signer
    new = load_signer(str(_key_file(tmp_path / "etc" / "new.pem")), data_dir=container.settings.data_dir)
    last = container.audit.rotate_key(new, actor=SYSTEM)
    _write(container, 2, "MORE")
    container.audit.seal(actor=SYSTEM)
    with container.db.read() as session:
        marks = list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id)))
        handover = session.scalars(select(AuditEvent).where(AuditEvent.tag == AuditTag.AUDIT_KEY_ROTATED)).one()
    assert [mark.key_id for mark in marks] == [old.key_id, new.key_id, new.key_id]
    assert last is not None and last.id == marks[1].id and marks[0].seq < handover.seq <= marks[1].seq
    assert handover.details == {"from": old.key_id, "to": new.key_id}
    periods = container.audit.key_periods()
    assert periods[old.key_id].in_use_until is not None and periods[new.key_id].in_use_until is None
    assert container.audit.verify().ok


def test_a_new_key_at_start_takes_over_and_a_retired_key_may_not_sign_again(
    container: Container, tmp_path: Path
) -> None:
    """GIVEN a sealed trail WHEN the server starts with a new key file THEN the hand-over is audited and sealed
    by the new key, and verify holds; WHEN it starts again with the old key THEN it refuses."""
    _write(container, 2)
    container.audit.seal(actor=SYSTEM)
    key = _key_file(tmp_path / "etc" / "audit-key.pem")
    restarted = _built(container.settings, audit_signing_key=str(key))
    try:
        assert restarted.audit.verify().ok
        with restarted.db.read() as session:
            newest = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc())).first()
            tags = list(session.scalars(select(AuditEvent.tag).order_by(AuditEvent.seq)))
        assert newest is not None and newest.key_id == restarted.audit.signer.key_id
        assert tags[-2:] == [AuditTag.AUDIT_KEY_ROTATED, AuditTag.AUDIT_CHECKPOINT_SIGNED]
    finally:
        restarted.close()
    with pytest.raises(SigningKeyRefused, match="retired"):
        _built(container.settings)


def test_checkpoints_from_before_the_key_table_stay_verifiable(container: Container, tmp_path: Path) -> None:
    """GIVEN checkpoints signed by the data directory's key before keys had periods (no key rows) WHEN the server
    starts with a key apart THEN the data directory's key is recorded as the earlier one and verify holds."""
    _write(container, 2)
    container.audit.seal(actor=SYSTEM)
    with container.db.transaction() as uow:
        uow.session.execute(delete(AuditSigningKey))
    restarted = _built(container.settings, audit_signing_key=str(_key_file(tmp_path / "etc" / "key.pem")))
    try:
        assert set(restarted.audit.public_keys()) == {container.audit.signer.key_id, restarted.audit.signer.key_id}
        assert restarted.audit.verify().ok
    finally:
        restarted.close()


def test_a_retired_key_that_signs_again_is_found(container: Container, tmp_path: Path) -> None:
    """GIVEN a rotation away from the data directory's key WHEN an insider with a copy of that retired key signs a
    new checkpoint with it THEN verify names that checkpoint: signed after its key was retired."""
    stolen = CheckpointSigner.from_directory(container.settings.data_dir / "keys")
    _write(container, 2)
    container.audit.rotate_key(load_signer(str(_key_file(tmp_path / "k.pem")), data_dir=tmp_path / "x"), actor=SYSTEM)
    _write(container, 2, "MORE")
    mark = container.audit.seal(actor=SYSTEM)
    assert mark is not None
    with container.db.transaction() as uow:
        forged = uow.session.get(AuditCheckpoint, mark.id)
        assert forged is not None
        forged.key_id = stolen.key_id
        forged.signature = stolen.sign(statement_of(forged))
    result = container.audit.verify()
    assert result.broken is not None and result.broken.seq == mark.seq
    assert "after it was retired" in result.broken.problem


def test_a_checkpoint_signed_by_a_key_never_published_is_found(container: Container) -> None:
    """GIVEN a sealed trail WHEN an insider re-signs the checkpoint with a key of their own THEN verify names it."""
    _write(container, 2)
    mark = container.audit.seal(actor=SYSTEM)
    assert mark is not None
    own = CheckpointSigner(Ed25519PrivateKey.generate())
    with container.db.transaction() as uow:
        forged = uow.session.get(AuditCheckpoint, mark.id)
        assert forged is not None
        forged.key_id, forged.signature = own.key_id, own.sign(statement_of(forged))
    result = container.audit.verify()
    assert result.broken is not None and "not among the server's keys" in result.broken.problem


def test_the_keys_are_published_with_their_periods(container: Container, tmp_path: Path) -> None:
    """GIVEN a rotation WHEN anyone, without signing in, fetches /.well-known/witnessbox/keys.json THEN both keys
    are there as PEM with their periods, the old one closed, and each key_id matches its key."""
    _write(container, 1)
    container.audit.rotate_key(load_signer(str(_key_file(tmp_path / "k.pem")), data_dir=tmp_path / "x"), actor=SYSTEM)
    with TestClient(create_app(container)) as client:
        answer = client.get("/.well-known/witnessbox/keys.json")
    assert answer.status_code == 200
    keys = answer.json()["keys"]
    assert [key["in_use_until"] is None for key in keys] == [False, True]
    for key in keys:
        public = serialization.load_pem_public_key(key["public_key"].encode())
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        assert hashlib.sha256(raw).hexdigest()[:32] == key["key_id"] and key["algorithm"] == "Ed25519"
        assert "disclosure manifests" in key["signs"]


def test_rotate_key_command_replaces_the_data_directory_key(container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN the data directory's key WHEN `witnessbox audit rotate-key` runs THEN a new key takes its place, the
    old one is published as retired, and `audit verify` is OK."""
    _write(container, 2)
    old = container.audit.signer.key_id
    settings = container.settings
    monkeypatch.setenv("WITNESSBOX_DATABASE_URL", settings.resolved_database_url())
    monkeypatch.setenv("WITNESSBOX_QUEUE_URL", settings.resolved_queue_url())
    rotated = CliRunner().invoke(app, ["audit", "rotate-key", "--data-dir", str(settings.data_dir)])
    assert rotated.exit_code == 0, rotated.output
    new = CheckpointSigner.from_directory(settings.data_dir / "keys").key_id
    assert new != old and new in rotated.output
    assert (settings.data_dir / "keys" / "audit-ed25519.pem").stat().st_mode & 0o777 == 0o600
    verified = CliRunner().invoke(app, ["audit", "verify", "--data-dir", str(settings.data_dir)])
    assert verified.exit_code == 0 and "OK" in verified.output, verified.output
    assert container.audit.key_periods()[old].in_use_until is not None


@pytest.fixture(scope="module")
def token_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SoftHSM2 token with an Ed25519 key pair generated on it; its pkcs11: URI (PIN from a file)."""
    if not SOFTHSM.exists() or not shutil.which("softhsm2-util"):
        pytest.skip("SoftHSM2 is not installed (Debian package softhsm2)")
    folder = tmp_path_factory.mktemp("softhsm")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(conf))
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "audit", "--pin", "4321",
                        "--so-pin", "87654321"], check=True, capture_output=True)
        _generate_on_token("audit", "4321", "checkpoint-key")
        (folder / "pin").write_text("4321\n")
        (folder / "pin").chmod(0o600)
        yield (f"pkcs11:token=audit;object=checkpoint-key?module-path={SOFTHSM}"
               f"&pin-source=file:{folder / 'pin'}")


def _generate_on_token(token_label: str, pin: str, label: str) -> None:
    """An Ed25519 key pair made on the token itself (the private half is never extractable)."""
    import pkcs11
    from pkcs11.util.ec import encode_named_curve_parameters

    token = pkcs11.lib(str(SOFTHSM)).get_token(token_label=token_label)
    with token.open(rw=True, user_pin=pin) as session:
        curve = encode_named_curve_parameters("1.3.101.112")  # Ed25519
        parameters = session.create_domain_parameters(
            pkcs11.KeyType.EC_EDWARDS, {pkcs11.Attribute.EC_PARAMS: curve}, local=True)
        parameters.generate_keypair(store=True, label=label)


def test_a_key_on_a_pkcs11_token_signs_checkpoints(settings: Settings, token_uri: str) -> None:
    """GIVEN WITNESSBOX_AUDIT_SIGNING_KEY naming a key on a SoftHSM2 token WHEN entries are sealed THEN the token
    signs them (Ed25519, CKM_EDDSA), the signature verifies under the published key, and verify holds."""
    assert os.environ.get("SOFTHSM2_CONF")
    container = _built(settings, audit_signing_key=token_uri)
    try:
        _write(container, 3)
        mark = container.audit.seal(actor=SYSTEM)
        assert mark is not None and mark.key_id == container.audit.signer.key_id
        published = container.audit.public_keys()[mark.key_id]
        public = serialization.load_pem_public_key(published.encode())
        public.verify(bytes.fromhex(mark.signature), statement_of(mark))  # type: ignore[call-arg]
        assert not (settings.data_dir / "keys").exists()
        assert container.audit.verify().ok
    finally:
        container.close()


def test_a_pkcs11_uri_naming_a_missing_key_is_refused(settings: Settings, token_uri: str) -> None:
    """GIVEN a pkcs11: URI naming no key on the token, or a wrong PIN WHEN the system starts THEN it refuses."""
    with pytest.raises(SigningKeyRefused, match="no-such-key"):
        load_signer(token_uri.replace("object=checkpoint-key", "object=no-such-key"), data_dir=settings.data_dir)


def test_a_process_still_holding_a_retired_key_signs_nothing(container: Container, tmp_path: Path) -> None:
    """GIVEN two processes on one database WHEN one rotates the key THEN the other, still holding the old key,
    signs nothing more (neither a seal nor a seal in a write) and verify holds; the new key seals."""
    rotating = _built(container.settings)
    try:
        rotating.audit.rotate_key(load_signer(str(_key_file(tmp_path / "k.pem")), data_dir=tmp_path / "x"),
                                  actor=SYSTEM)
        _write(container, 3)
        assert container.audit.seal(actor=SYSTEM) is None
        assert container.audit.verify().ok
        assert rotating.audit.seal(actor=SYSTEM) is not None
    finally:
        rotating.close()


def test_a_pkcs11_uri_is_read_as_rfc_7512_says(tmp_path: Path) -> None:
    """GIVEN pkcs11: URIs WHEN read THEN path attributes (;), query attributes (&), percent-escapes and a PIN from
    a file are understood, and a URI without a module, token, key label or PIN is refused naming what lacks."""
    (tmp_path / "pin").write_text("12 34\n")
    named = TokenKeyUri.parse(f"pkcs11:token=Force%20HSM;object=audit-key?module-path=/usr/lib/x.so"
                              f"&pin-source=file:{tmp_path / 'pin'}")
    assert named == TokenKeyUri(Path("/usr/lib/x.so"), "Force HSM", "audit-key", "12 34")
    assert TokenKeyUri.parse("pkcs11:token=t;object=o?module-path=/m.so&pin-value=1").pin == "1"
    with pytest.raises(SigningKeyRefused, match="module-path"):
        TokenKeyUri.parse("pkcs11:token=t;object=o?pin-value=1")
    with pytest.raises(SigningKeyRefused, match="pin-source or pin-value"):
        TokenKeyUri.parse("pkcs11:token=t;object=o?module-path=/m.so")
    with pytest.raises(SigningKeyRefused, match="not installed"):
        load_signer("pkcs11:token=t;object=o?module-path=/nowhere/p11.so&pin-value=1", data_dir=tmp_path)


def test_an_examiner_verifies_a_copy_without_any_private_key(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a trail signed by a key apart WHEN an examiner runs `witnessbox audit verify` on the database with an
    empty data directory of their own and no key THEN it is OK, verified with the recorded public keys, and the
    trail is left exactly as it was (no key made, nothing adopted or signed)."""
    container = _built(settings, audit_signing_key=str(_key_file(tmp_path / "etc" / "key.pem")))
    try:
        _write(container, 3)
        container.audit.seal(actor=SYSTEM)
        before = container.audit.verify().entries
        monkeypatch.setenv("WITNESSBOX_DATABASE_URL", settings.resolved_database_url())
        monkeypatch.setenv("WITNESSBOX_QUEUE_URL", settings.resolved_queue_url())
        examiner = tmp_path / "examiner"
        verified = CliRunner().invoke(app, ["audit", "verify", "--data-dir", str(examiner)])
        assert verified.exit_code == 0 and f"OK: {before} entries" in verified.output, verified.output
        assert container.audit.verify().entries == before and not (examiner / "keys").exists()
    finally:
        container.close()


def test_a_data_directory_key_of_its_own_never_takes_over(container: Container, tmp_path: Path) -> None:
    """GIVEN checkpoints signed by a key apart WHEN a server starts on the same database with the setting lost
    (or a second machine with a data directory of its own) THEN it refuses, naming the key in use, instead of
    quietly signing with a key made in its data directory."""
    _built(container.settings, audit_signing_key=str(_key_file(tmp_path / "etc" / "key.pem"))).close()
    second = container.settings.model_copy(update={"data_dir": tmp_path / "elsewhere"})
    with pytest.raises(SigningKeyRefused, match="set WITNESSBOX_AUDIT_SIGNING_KEY to the key in use"):
        build(second)
