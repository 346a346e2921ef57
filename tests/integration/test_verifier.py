"""The open verifier: each tampering with a package is reported, naming the file it concerns; its
Merkle proof check agrees with hand-built RFC 9162 trees."""

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.conftest import fresh_database_url, settings_for
from tests.factories.packages import Exported, export_case
from witnessbox.bootstrap import build
from witnessbox.disclosure import verifier

pytestmark = pytest.mark.backend_free  # the verifier reads files; the database only made them
PYTHON = Path(sys.executable)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    """One good package for the module; each test tampers with its own copy."""
    folder = tmp_path_factory.mktemp("verifier")
    with fresh_database_url(folder) as url:
        container = build(settings_for(folder, url))
        try:
            yield export_case(container, folder)
        finally:
            container.close()


def _copy(exported: Exported, tmp_path: Path) -> Path:
    return Path(shutil.copytree(exported.unpacked, tmp_path / "package"))


def _zip(folder: Path) -> Path:
    target = folder.with_suffix(".zip")
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(folder).as_posix())
    return target


def _named(package: Path, *keys: Path) -> set[str]:
    """The files the verifier's problems name."""
    report = verifier.verify(package, [key.read_bytes() for key in keys] or None)
    assert all(line.startswith(f"{name}: ") for line, (name, _) in zip(report.lines(), report.problems, strict=True))
    return {name for name, _ in report.problems}


def _resum(folder: Path, name: str) -> None:
    """Update SHA256SUMS for one changed file, as someone covering their tracks would."""
    digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    sums = folder / "SHA256SUMS"
    lines = [f"{digest}  {name}" if line.endswith(f"  {name}") else line for line in sums.read_text().splitlines()]
    sums.write_text("\n".join(lines) + "\n")


def _original(folder: Path) -> str:
    return sorted(p.relative_to(folder).as_posix() for p in folder.glob("originals/*"))[0]


def _statement(folder: Path) -> str:
    return sorted(p.relative_to(folder).as_posix() for p in folder.glob("continuity/*.json"))[0]


def test_a_flipped_byte_in_an_original_is_named(exported: Exported, tmp_path: Path) -> None:
    """GIVEN one byte of an original flipped WHEN verified (unpacked, and zipped again) THEN that
    original, and nothing else, is reported; exit status 1 from the command."""
    folder = _copy(exported, tmp_path)
    name = _original(folder)
    data = bytearray((folder / name).read_bytes())
    data[1000] ^= 0x01
    (folder / name).write_bytes(bytes(data))
    assert _named(folder) == _named(_zip(folder)) == {name}
    result = subprocess.run([str(PYTHON), "verify.py"], cwd=folder, capture_output=True, text=True, check=False)
    assert result.returncode == 1 and result.stdout.startswith(f"{name}: SHA-256 is ")


def test_a_removed_file_is_named(exported: Exported, tmp_path: Path) -> None:
    """GIVEN an original removed WHEN verified THEN it is reported as missing."""
    folder = _copy(exported, tmp_path)
    name = _original(folder)
    (folder / name).unlink()
    report = verifier.verify(folder)
    assert {problem[0] for problem in report.problems} == {name}
    assert any("missing from the package" in message for _, message in report.problems)


def test_an_added_file_is_named(exported: Exported, tmp_path: Path) -> None:
    """GIVEN a file slipped into the package WHEN verified THEN it is reported as added."""
    folder = _copy(exported, tmp_path)
    (folder / "originals" / "extra.mp4").write_bytes(b"not from the camera")
    assert _named(folder) == {"originals/extra.mp4"}


def test_an_edited_manifest_is_named(exported: Exported, tmp_path: Path) -> None:
    """GIVEN the manifest edited (an officer's name), even with SHA256SUMS updated to match WHEN
    verified THEN its signature no longer verifies."""
    folder = _copy(exported, tmp_path)
    manifest = folder / "manifest.json"
    manifest.write_text(manifest.read_text().replace("1142 Alex Morgan", "9999 Someone Else"))
    assert _named(folder) == {"manifest.json", "manifest.json.sig"}
    _resum(folder, "manifest.json")
    report = verifier.verify(folder)
    assert [name for name, _ in report.problems] == ["manifest.json.sig"]
    assert "does not verify with signing-key.pem" in report.problems[0][1]


def test_a_manifest_signed_with_another_key_is_named(exported: Exported, tmp_path: Path) -> None:
    """GIVEN the manifest re-signed with another key WHEN verified THEN the signature is reported; and
    GIVEN the whole package re-keyed consistently WHEN verified against the published key THEN the
    signing key is reported as not the trusted one."""
    folder = _copy(exported, tmp_path)
    other = Ed25519PrivateKey.generate()
    (folder / "manifest.json.sig").write_bytes(other.sign((folder / "manifest.json").read_bytes()))
    _resum(folder, "manifest.json.sig")
    assert _named(folder) == {"manifest.json.sig"}
    published = tmp_path / "published.pem"
    published.write_text(exported.container.audit.signer.public_pem())
    _rekey(folder, other)
    assert _named(folder) == set()  # consistent in itself: only the trusted key can tell
    assert _named(folder, published) == {"signing-key.pem"}
    assert _named(exported.unpacked, published) == set()
    keys_json = tmp_path / "keys.json"  # the force's /.well-known/witnessbox/keys.json, saved
    keys_json.write_text(json.dumps({"keys": [{"key_id": k, "public_key": pem} for k, pem in
                                              exported.container.audit.public_keys().items()]}))
    assert verifier.main(["--published", str(keys_json), str(exported.zip_path)]) == 0
    assert verifier.main(["--published", str(keys_json), str(folder)]) == 1


def _rekey(folder: Path, key: Ed25519PrivateKey) -> None:
    """Swap in another key everywhere the manifest names it, re-sign, fix the sums."""
    public = key.public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (folder / "signing-key.pem").write_bytes(pem)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["signing_key"]["key_id"] = verifier.key_id_of(public)
    for entry in manifest["files"]:
        if entry["path"] == "signing-key.pem":
            entry["sha256"] = hashlib.sha256(pem).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "manifest.json.sig").write_bytes(key.sign((folder / "manifest.json").read_bytes()))
    for name in ("signing-key.pem", "manifest.json", "manifest.json.sig"):
        _resum(folder, name)


def test_an_edited_continuity_statement_is_named(exported: Exported, tmp_path: Path) -> None:
    """GIVEN an entry of a continuity statement edited (who did it), with SHA256SUMS updated WHEN
    verified THEN the statement is named; and with its entry hash recomputed too THEN its proof no
    longer leads to the signed checkpoint."""
    folder = _copy(exported, tmp_path)
    name = _statement(folder)
    statement = json.loads((folder / name).read_text())
    statement["entries"][0]["fields"]["actor"][2] = "someone else"
    (folder / name).write_text(json.dumps(statement))
    _resum(folder, name)
    report = verifier.verify(folder)
    assert {problem[0] for problem in report.problems} == {name}
    assert any("does not match its hash (edited)" in message for _, message in report.problems)
    statement["entries"][0]["entry_hash"] = verifier.entry_hash(statement["entries"][0]["fields"])
    (folder / name).write_text(json.dumps(statement))
    report = verifier.verify(folder)
    assert {problem[0] for problem in report.problems} == {name}
    assert any("does not lead to checkpoint" in message for _, message in report.problems)


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c.update(signature="00" * 64),
        lambda c: c.update(merkle_root="11" * 32, statement=verifier.checkpoint_statement({**c, "merkle_root": "11" * 32})),
        lambda c: c.update(statement=c["statement"].replace("\n1\n", "\n2\n", 1)),
    ],
    ids=["signature", "root re-stated", "statement"],
)
def test_an_edited_checkpoint_is_named(
    exported: Exported, tmp_path: Path, change: Callable[[dict[str, object]], None]
) -> None:
    """GIVEN a statement's checkpoint altered (signature, root, statement text) WHEN verified THEN the
    statement is named."""
    folder = _copy(exported, tmp_path)
    name = _statement(folder)
    statement = json.loads((folder / name).read_text())
    change(statement["checkpoints"][0])
    (folder / name).write_text(json.dumps(statement))
    _resum(folder, name)
    assert _named(folder) == {name}


def test_what_cannot_be_read_exits_2(tmp_path: Path) -> None:
    """GIVEN a file that is not a ZIP WHEN verified by the command THEN exit status 2."""
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    assert verifier.main([str(junk)]) == 2
    assert verifier.main([str(tmp_path / "absent.zip")]) == 2


# --- Merkle proofs against hand-built RFC 9162 trees ----------------------------------------------


def _root(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return verifier.node_hash(_root(leaves[:split]), _root(leaves[split:]))


def _path(index: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    if index < split:
        return [*_path(index, leaves[:split]), _root(leaves[split:])]
    return [*_path(index - split, leaves[split:]), _root(leaves[:split])]


def test_inclusion_proofs_lead_to_the_root_and_nothing_else_does() -> None:
    """GIVEN trees of 1..20 leaves built by the RFC's definition WHEN every leaf's path is checked THEN
    it leads to the root; a wrong index, sibling or an extra step does not."""
    for size in range(1, 21):
        leaves = [verifier.leaf_hash(hashlib.sha256(bytes([n])).digest()) for n in range(size)]
        root = _root(leaves)
        for index in range(size):
            path = _path(index, leaves)
            assert verifier.root_from_path(index, size, leaves[index], path) == root
            if size > 1:
                assert verifier.root_from_path((index + 1) % size, size, leaves[index], path) != root
                flipped = [bytes([path[0][0] ^ 1]) + path[0][1:], *path[1:]]
                assert verifier.root_from_path(index, size, leaves[index], flipped) != root
            assert verifier.root_from_path(index, size, leaves[index], [*path, root]) is None


def test_a_malformed_statement_is_named_not_a_crash(exported: Exported, tmp_path: Path) -> None:
    """GIVEN a continuity statement whose entries are not what the format says WHEN verified THEN the
    statement is named as malformed (the verifier does not crash)."""
    folder = _copy(exported, tmp_path)
    name = _statement(folder)
    statement = json.loads((folder / name).read_text())
    statement["entries"] = [["not", "an", "entry"]]
    (folder / name).write_text(json.dumps(statement))
    _resum(folder, name)
    report = verifier.verify(folder)
    assert {problem[0] for problem in report.problems} == {name}
    assert any("malformed" in message for _, message in report.problems)
