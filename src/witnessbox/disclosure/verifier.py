#!/usr/bin/env python3
"""Check a Witnessbox disclosure package: every file's hash, the signed manifest, and each item's
continuity statement against the signed audit checkpoints it cites.

This one file is shipped inside every package as `verify.py`, so a recipient can check a package
without installing Witnessbox: it needs Python 3.11+ and the `cryptography` package, nothing else.

    python verify.py PACKAGE.zip          # or, inside an unpacked package: python verify.py
    python verify.py --key keys.pem PACKAGE.zip   # also require the signing key to be this one
    python verify.py --published keys.json PACKAGE.zip   # or one of the keys the force publishes
                                                         # at /.well-known/witnessbox/keys.json

Exit status: 0 when everything holds, 1 when anything is wrong (one line per problem, naming the
file it concerns), 2 when the package cannot be read at all.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

PACKAGE_FORMAT = "witnessbox-disclosure-package/1"
CONTINUITY_FORMAT = "witnessbox-continuity/1"
SUMS = "SHA256SUMS"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
UNLISTED_IN_MANIFEST = frozenset({SUMS, MANIFEST, SIGNATURE})  # the manifest cannot hash itself
CHUNK = 1024 * 1024
SUMS_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


class Unreadable(Exception):
    """The package is not a ZIP or folder this verifier can open."""


@dataclass
class Report:
    """What checking found: problems (each names its file) and notes (facts, not failures)."""

    problems: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def problem(self, name: str, message: str) -> None:
        """Record one thing wrong with one file."""
        self.problems.append((name, message))

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def lines(self) -> list[str]:
        """The report as the command prints it."""
        return [f"{name}: {message}" for name, message in self.problems]


# --- reading a package, zipped or unpacked --------------------------------------------------------


class Contents:
    """The files of a package, read the same way from a ZIP or from an unpacked folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        try:
            if path.is_dir():
                self._names = sorted(
                    p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()
                )
            else:
                self._zip = zipfile.ZipFile(path)
                self._names = sorted(i.filename for i in self._zip.infolist() if not i.is_dir())
        except (OSError, zipfile.BadZipFile) as error:
            raise Unreadable(f"{path}: cannot be read as a package ({error})") from error

    def names(self) -> list[str]:
        """Every file in the package, by its path inside it."""
        return list(self._names)

    def has(self, name: str) -> bool:
        """Whether the package holds this file."""
        return name in self._names

    def chunks(self, name: str) -> Iterator[bytes]:
        """A file's bytes, a piece at a time (originals can be many gigabytes)."""
        handle = self._zip.open(name) if self._zip else (self.path / name).open("rb")
        with handle:
            while chunk := handle.read(CHUNK):
                yield chunk

    def read(self, name: str) -> bytes:
        """A small file whole."""
        return b"".join(self.chunks(name))

    def sha256(self, name: str) -> str:
        """The SHA-256 of a file, streamed."""
        digest = hashlib.sha256()
        for chunk in self.chunks(name):
            digest.update(chunk)
        return digest.hexdigest()


# --- the checks -----------------------------------------------------------------------------------


def verify(path: Path, trusted_keys: list[bytes] | None = None) -> Report:
    """Check everything a package claims; raise Unreadable when it cannot be opened."""
    contents = Contents(path)
    report = Report()
    trusted = {_raw(_load_pem(pem)) for pem in trusted_keys} if trusted_keys is not None else None
    try:
        actual = {name: contents.sha256(name) for name in contents.names()}
    except (OSError, zipfile.BadZipFile, ValueError) as error:
        raise Unreadable(f"{path}: a file in the package cannot be read ({error})") from error
    sums = _check_sums(contents, actual, report)
    manifest = _load_manifest(contents, report)
    if manifest is None:
        return report
    _check_signature(contents, manifest, trusted, report)
    try:
        _check_manifest_files(manifest, actual, sums, report)
        items = list(manifest.get("items", []))
    except (AttributeError, TypeError, ValueError) as error:
        report.problem(MANIFEST, f"is malformed ({type(error).__name__}: {error})")
        return report
    for item in items:
        try:
            _check_continuity(contents, item, trusted, report)
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            name = item.get("continuity") if isinstance(item, dict) else None
            report.problem(str(name or MANIFEST), f"is malformed ({type(error).__name__}: {error})")
    return report


def _check_sums(contents: Contents, actual: dict[str, str], report: Report) -> dict[str, str]:
    """SHA256SUMS must list every other file, each with the hash it has now."""
    if not contents.has(SUMS):
        report.problem(SUMS, "missing from the package")
        return {}
    listed: dict[str, str] = {}
    for number, line in enumerate(contents.read(SUMS).decode("utf-8", "replace").splitlines(), 1):
        match = SUMS_LINE.match(line)
        if match is None:
            report.problem(SUMS, f"line {number} is not '<sha256>  <file>'")
            continue
        listed[match.group(2)] = match.group(1)
    for name, expected in listed.items():
        if name not in actual:
            report.problem(name, "listed in SHA256SUMS but missing from the package (removed)")
        elif actual[name] != expected:
            report.problem(name, f"SHA-256 is {actual[name]} but SHA256SUMS says {expected} (changed)")
    for name in actual:
        if name != SUMS and name not in listed:
            report.problem(name, "not listed in SHA256SUMS (added to the package)")
    return listed


def _load_manifest(contents: Contents, report: Report) -> dict[str, Any] | None:
    if not contents.has(MANIFEST):
        report.problem(MANIFEST, "missing from the package")
        return None
    try:
        manifest = json.loads(contents.read(MANIFEST))
    except ValueError as error:
        report.problem(MANIFEST, f"is not valid JSON ({error})")
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != PACKAGE_FORMAT:
        report.problem(MANIFEST, f"is not a {PACKAGE_FORMAT} manifest")
        return None
    return manifest


def _check_signature(
    contents: Contents, manifest: dict[str, Any], trusted: set[bytes] | None, report: Report
) -> None:
    """The manifest's detached Ed25519 signature, by the key the package names (and the caller trusts)."""
    signing = manifest.get("signing_key") or {}
    key_file, key_id = str(signing.get("file", "")), str(signing.get("key_id", ""))
    key = _public_key(contents, key_file, key_id, report)
    if key is None:
        return
    if not contents.has(SIGNATURE):
        report.problem(SIGNATURE, "missing from the package")
        return
    try:
        key.verify(contents.read(SIGNATURE), contents.read(MANIFEST))
    except InvalidSignature:
        report.problem(
            SIGNATURE,
            f"does not verify with {key_file} (key id {key_id}): "
            "manifest.json was changed after signing, or was signed with another key",
        )
    if trusted is not None and _raw(key) not in trusted:
        report.problem(key_file, f"key id {key_id} is not one of the keys you said to trust")
    else:
        report.notes.append(f"manifest signed by key id {key_id}")


def _public_key(contents: Contents, name: str, key_id: str, report: Report) -> Ed25519PublicKey | None:
    if not name or not contents.has(name):
        report.problem(name or MANIFEST, "the signing key the manifest names is missing")
        return None
    try:
        key = _load_pem(contents.read(name))
    except ValueError as error:
        report.problem(name, f"is not an Ed25519 public key ({error})")
        return None
    if key_id_of(key) != key_id:
        report.problem(name, f"has key id {key_id_of(key)}, not {key_id}")
        return None
    return key


def _load_pem(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 key")
    return key


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(key: Ed25519PublicKey) -> str:
    """A key's id: the first 32 hex digits of the SHA-256 of its raw public bytes."""
    return hashlib.sha256(_raw(key)).hexdigest()[:32]


def _check_manifest_files(
    manifest: dict[str, Any], actual: dict[str, str], sums: dict[str, str], report: Report
) -> None:
    """The signed manifest and SHA256SUMS describe the same files with the same hashes."""
    described = {str(entry.get("path")): entry for entry in manifest.get("files", [])}
    for name, entry in described.items():
        if name not in actual:
            report.problem(name, "listed in manifest.json but missing from the package (removed)")
        elif actual[name] != entry.get("sha256"):
            report.problem(name, f"SHA-256 is {actual[name]} but manifest.json says {entry.get('sha256')}")
        elif sums and sums.get(name) != entry.get("sha256"):
            report.problem(SUMS, f"disagrees with manifest.json about {name}")
    for name in actual:
        if name not in described and name not in UNLISTED_IN_MANIFEST:
            report.problem(name, "not listed in manifest.json (added to the package)")


# --- continuity statements ------------------------------------------------------------------------


def _check_continuity(
    contents: Contents, item: dict[str, Any], trusted: set[bytes] | None, report: Report
) -> None:
    """One item's statement: its entries hash right, are proven under signed checkpoints, cite the item."""
    name = str(item.get("continuity", ""))
    if not name or not contents.has(name):
        report.problem(name or MANIFEST, f"the continuity statement of {item.get('path')} is missing")
        return
    try:
        statement = json.loads(contents.read(name))
    except ValueError as error:
        report.problem(name, f"is not valid JSON ({error})")
        return
    if statement.get("format") != CONTINUITY_FORMAT:
        report.problem(name, f"is not a {CONTINUITY_FORMAT} statement")
        return
    if (statement.get("item") or {}).get("sha256") != item.get("sha256"):
        report.problem(name, "its item's SHA-256 differs from the one manifest.json gives")
    checkpoints = {int(c["seq"]): c for c in statement.get("checkpoints", []) if "seq" in c}
    for seq, checkpoint in checkpoints.items():
        _check_checkpoint(contents, name, seq, checkpoint, report)
        _check_trusted(contents, str(checkpoint.get("key_id", "")), trusted, report)
    entries = statement.get("entries", [])
    unproven = sum(_check_entry(name, entry, checkpoints, report) for entry in entries)
    if unproven:
        report.notes.append(
            f"{name}: {unproven} of {len(entries)} entries lie under version 1 checkpoints, which "
            "sign the chain's head only: covered by number, without an inclusion proof"
        )
    if not any(_records_upload(entry, item) for entry in entries):
        report.problem(name, "no entry records the creation of this item from its uploaded bytes")


def _records_upload(entry: dict[str, Any], item: dict[str, Any]) -> bool:
    fields = entry.get("fields") or {}
    details = fields.get("details") or {}
    return fields.get("tag") == "evidence:item:created" and details.get("sha256") == item.get("sha256")


def entry_hash(fields: dict[str, Any]) -> str:
    """An audit entry's hash: SHA-256 of its fields in canonical JSON (as the server computes it)."""
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _check_entry(
    name: str, entry: dict[str, Any], checkpoints: dict[int, dict[str, Any]], report: Report
) -> bool:
    """Check one cited entry; True when it is covered by number only (a version 1 checkpoint)."""
    fields = entry.get("fields") or {}
    seq = fields.get("seq")
    if entry_hash(fields) != entry.get("entry_hash"):
        report.problem(name, f"audit entry {seq} does not match its hash (edited)")
        return False
    checkpoint = checkpoints.get(int(entry.get("checkpoint") or -1))
    if checkpoint is None:
        report.problem(name, f"audit entry {seq} cites no checkpoint that the statement holds")
        return False
    proof = entry.get("proof")
    if checkpoint.get("version") != 2 or not isinstance(proof, dict):
        if not isinstance(seq, int) or seq > int(checkpoint["seq"]):
            report.problem(name, f"audit entry {seq} comes after checkpoint {checkpoint['seq']}")
        return True
    problem = _proof_problem(seq, str(entry["entry_hash"]), proof, checkpoint)
    if problem:
        report.problem(name, f"audit entry {seq}: {problem}")
    return False


def _proof_problem(seq: Any, hash_hex: str, proof: dict[str, Any], checkpoint: dict[str, Any]) -> str | None:
    first, last = int(checkpoint["first_seq"]), int(checkpoint["seq"])
    index, size = int(proof.get("leaf_index", -1)), int(proof.get("tree_size", -1))
    if not isinstance(seq, int) or not first <= seq <= last:
        return f"is not among the entries {first}..{last} that checkpoint {last} seals"
    if index != seq - first or size != last - first + 1:
        return f"its proof's position ({index} of {size}) does not fit checkpoint {last}"
    try:
        path = [bytes.fromhex(node) for node in proof.get("path", [])]
        root = root_from_path(index, size, leaf_hash(bytes.fromhex(hash_hex)), path)
    except ValueError as error:
        return f"its inclusion proof is malformed ({error})"
    if root is None or root.hex() != checkpoint.get("merkle_root"):
        return f"its inclusion proof does not lead to checkpoint {last}'s signed Merkle root"
    return None


def _check_checkpoint(
    contents: Contents, name: str, seq: int, checkpoint: dict[str, Any], report: Report
) -> None:
    """A checkpoint's statement says what its fields say and is signed by a key in the package."""
    expected = checkpoint_statement(checkpoint)
    if expected is None or expected != checkpoint.get("statement"):
        report.problem(name, f"checkpoint {seq}'s statement does not match its fields (edited)")
        return
    key_id = str(checkpoint.get("key_id", ""))
    key_file = f"keys/{key_id}.pem"
    if not contents.has(key_file):
        report.problem(name, f"checkpoint {seq} was signed by key id {key_id}, which is not in keys/")
        return
    key = _public_key(contents, key_file, key_id, report)
    if key is None:
        return
    try:
        key.verify(bytes.fromhex(str(checkpoint.get("signature", ""))), expected.encode())
    except (InvalidSignature, ValueError):
        report.problem(name, f"checkpoint {seq}'s signature does not verify with {key_file}")
    if "time_stamp" in checkpoint:
        _check_time_stamp(name, seq, checkpoint["time_stamp"], expected.encode(), report)


def _imprints(message: bytes) -> list[bytes]:
    """The DER-encoded digests an RFC 3161 answer over `message` may carry."""
    digests = [hashlib.new(name, message).digest() for name in ("sha256", "sha384", "sha512")]
    return [bytes([0x04, len(digest)]) + digest for digest in digests]


def _check_time_stamp(name: str, seq: int, stamp: Any, statement: bytes, report: Report) -> None:
    """An RFC 3161 answer must be over this checkpoint's statement: its message imprint is the
    statement's SHA-256, -384 or -512 (a DER OCTET STRING holding the digest). The authority's own
    signature is checked with `openssl ts -verify` and the authority's certificate (README.txt)."""
    try:
        der = base64.b64decode(str(stamp.get("response", "")), validate=True)
    except (ValueError, AttributeError):
        report.problem(name, f"checkpoint {seq}'s time-stamp is not base64")
        return
    if not any(imprint in der for imprint in _imprints(statement)):
        report.problem(name, f"checkpoint {seq}'s time-stamp is not over its statement")
        return
    report.notes.append(
        f"{name}: checkpoint {seq} was time-stamped by {stamp.get('authority')} at {stamp.get('stamped_at')}"
    )


def _check_trusted(contents: Contents, key_id: str, trusted: set[bytes] | None, report: Report) -> None:
    """With keys given to trust, a checkpoint's key must be one of them too."""
    key_file = f"keys/{key_id}.pem"
    if trusted is None or not contents.has(key_file):
        return
    try:
        raw = _raw(_load_pem(contents.read(key_file)))
    except ValueError:
        return  # reported by the checkpoint's own check
    if raw not in trusted:
        report.problem(key_file, f"key id {key_id} is not one of the keys you said to trust")


def checkpoint_statement(checkpoint: dict[str, Any]) -> str | None:
    """The exact text a checkpoint's signature covers (version 1: the head; version 2: a Merkle root too)."""
    try:
        if checkpoint.get("version") == 2:
            return (
                f"witnessbox-audit-checkpoint/2\n{int(checkpoint['seq'])}\n{checkpoint['head_hash']}\n"
                f"{int(checkpoint['first_seq'])}\n{checkpoint['merkle_root']}\n{checkpoint['signed_at']}\n"
            )
        return (
            f"witnessbox-audit-checkpoint/1\n{int(checkpoint['seq'])}\n{checkpoint['head_hash']}\n"
            f"{checkpoint['signed_at']}\n"
        )
    except (KeyError, TypeError, ValueError):
        return None


# --- Merkle trees (RFC 9162) ----------------------------------------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    """The Merkle leaf of one audit entry's hash."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """An interior Merkle node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_path(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes | None:
    """The root an RFC 9162 inclusion proof leads to (section 2.1.3.2); None when it cannot fit."""
    if index >= size or index < 0:
        return None
    fn, sn, node = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            node = node_hash(node, sibling)
        fn, sn = fn >> 1, sn >> 1
    return node if sn == 0 else None


# --- the command ----------------------------------------------------------------------------------


def default_package() -> Path:
    """With no argument: the unpacked package this file sits in, else the current folder."""
    here = Path(__file__).resolve().parent
    return here if (here / SUMS).exists() else Path.cwd()


def _trusted(keys: list[Path], published: list[Path]) -> list[bytes] | None:
    """The public keys the caller trusts (PEM files, and the keys in published keys.json files)."""
    pems = [path.read_bytes() for path in keys]
    for path in published:
        pems += [str(key["public_key"]).encode() for key in json.loads(path.read_text())["keys"]]
    return pems if keys or published else None


def main(argv: list[str] | None = None) -> int:
    """Check a package and print the outcome; the exit status says it too (0 good, 1 wrong, 2 unreadable)."""
    parser = argparse.ArgumentParser(description="Check a Witnessbox disclosure package.")
    parser.add_argument("package", nargs="?", type=Path, help="the ZIP, or the unpacked folder")
    parser.add_argument(
        "--key", action="append", type=Path, help="a public key (PEM) the manifest must be signed by"
    )
    parser.add_argument(
        "--published", action="append", type=Path,
        help="the force's published keys (a saved /.well-known/witnessbox/keys.json); trust only these",
    )
    args = parser.parse_args(argv)
    package: Path = args.package or default_package()
    try:
        trusted = _trusted(args.key or [], args.published or [])
        report = verify(package, trusted)
    except (Unreadable, OSError, ValueError, KeyError, TypeError) as error:
        print(f"cannot read the package: {error}", file=sys.stderr)
        return 2
    for line in report.lines():
        print(line)
    if report.ok:
        print(f"OK: {package.name}: every file, the signed manifest and every continuity statement hold")
        for note in report.notes:
            print(f"  note: {note}")
        return 0
    print(f"FAILED: {len(report.problems)} problem(s) in {package.name}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
