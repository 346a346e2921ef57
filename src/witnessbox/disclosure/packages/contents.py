"""What goes into a package besides the originals: readable names, the manifest, SHA256SUMS, README.

Everything here is pure: given the facts, it returns bytes. The builder streams them into the ZIP.
"""

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from witnessbox.disclosure.verifier import CONTINUITY_FORMAT, MANIFEST, PACKAGE_FORMAT, SIGNATURE, SUMS

SIGNING_KEY = "signing-key.pem"
UNSAFE = re.compile(r"[^A-Za-z0-9-]+")
__all__ = ["CONTINUITY_FORMAT", "MANIFEST", "PACKAGE_FORMAT", "SIGNATURE", "SUMS"]


@dataclass(frozen=True)
class RedactedCopy:
    """The redacted copy exported in place of an item's original, and how it was made (decision 0026)."""

    sha256: str
    size: int
    recipe: dict[str, Any]  # the derivative's parameters: plan, plan version, model hash, software

    def facts(self, source_sha256: str) -> dict[str, Any]:
        """What the manifest says about the copy."""
        return {"kind": "redacted", "sha256": self.sha256, "size": self.size,
                "source_sha256": source_sha256, "recipe": self.recipe}


@dataclass(frozen=True)
class Exhibit:
    """One item as it goes into a package: its original's facts and where it lies in the ZIP."""

    item_id: str
    sha256: str
    size: int
    filename: str
    camera: str | None
    officer: str | None
    collar: str | None
    recorded_start: datetime
    recorded_end: datetime | None
    uploaded_at: datetime
    redacted: RedactedCopy | None = None  # exported in place of the original when chosen

    @property
    def stem(self) -> str:
        """`<date>_<time>_<collar>_<camera>_<short id>`: sorts by time, unique by the id's tail."""
        when = self.recorded_start.strftime("%Y%m%d_%H%M%S")
        parts = [when, _safe(self.collar or "nocollar"), _safe(self.camera or "nocamera"), self.item_id[-8:]]
        return "_".join(parts)

    @property
    def path(self) -> str:
        """Where the original (or the redacted copy chosen in its place) lies in the package."""
        if self.redacted is not None:
            return f"redacted/{self.stem}.mp4"
        extension = _safe(self.filename.rsplit(".", 1)[-1].lower()) if "." in self.filename else "mp4"
        return f"originals/{self.stem}.{extension or 'mp4'}"

    @property
    def continuity(self) -> str:
        """The path of the item's continuity statement (JSON; .html and .pdf beside it)."""
        return f"continuity/{self.stem}.json"

    def facts(self) -> dict[str, Any]:
        """What the manifest and the statement say about the item."""
        return {
            "item_id": self.item_id,
            "path": self.path,
            "sha256": self.sha256,
            "size": self.size,
            "original_filename": self.filename,
            "camera": self.camera,
            "officer": self.officer,
            "collar_number": self.collar,
            "recorded_start": iso(self.recorded_start),
            "recorded_end": iso(self.recorded_end) if self.recorded_end else None,
            "uploaded_at": iso(self.uploaded_at),
            # an original; a redacted copy gives its own hash, its source (the original's) and its recipe
            "derivative": self.redacted.facts(self.sha256) if self.redacted else None,
            "continuity": self.continuity,
        }


@dataclass(frozen=True)
class Heading:
    """What a package is and where it came from, for the manifest and the README."""

    package_id: str
    title: str
    case_reference: str | None
    requested_by: str
    reason: str | None
    created_at: datetime
    server_url: str
    key_id: str


def iso(moment: datetime) -> str:
    """A time as the package writes it: UTC, ISO 8601."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _safe(text: str) -> str:
    return UNSAFE.sub("-", text).strip("-")[:40] or "x"


def sha256_of(data: bytes) -> str:
    """The hex SHA-256 of some bytes."""
    return hashlib.sha256(data).hexdigest()


def file_entry(path: str, sha256: str, size: int, role: str) -> dict[str, Any]:
    """One line of the manifest's file list."""
    return {"path": path, "sha256": sha256, "size": size, "role": role}


def manifest(heading: Heading, exhibits: list[Exhibit], files: list[dict[str, Any]]) -> bytes:
    """The manifest: every file's hash and size, every item's facts; signed, so it is exact bytes."""
    body = {
        "format": PACKAGE_FORMAT,
        "package_id": heading.package_id,
        "title": heading.title,
        "case_reference": heading.case_reference,
        "requested_by": heading.requested_by,
        "reason": heading.reason,
        "created_at": iso(heading.created_at),
        "server_url": heading.server_url,
        "published_keys": f"{heading.server_url}/.well-known/witnessbox/keys.json",
        "signing_key": {"file": SIGNING_KEY, "key_id": heading.key_id, "algorithm": "Ed25519"},
        "items": [exhibit.facts() for exhibit in exhibits],
        "files": sorted(files, key=lambda entry: entry["path"]),
    }
    return (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode()


def sums(hashes: dict[str, str]) -> bytes:
    """SHA256SUMS in the form `sha256sum -c` reads: `<hex>  <path>`, one per file."""
    return "".join(f"{digest}  {path}\n" for path, digest in sorted(hashes.items())).encode()


def readme(heading: Heading, exhibits: list[Exhibit]) -> bytes:
    """The recipient's guide: what is here and how to check it with standard tools."""
    lines = [
        f"WITNESSBOX DISCLOSURE PACKAGE {heading.package_id}",
        "",
        f"Title: {heading.title}",
        f"Prepared for export by {heading.requested_by} on {iso(heading.created_at)}",
        f"Exported from: {heading.server_url}",
        f"Recordings: {len(exhibits)}",
        "",
        "WHAT IS HERE",
        "  originals/        the recordings exactly as uploaded from the camera (never altered)",
        "  redacted/         redacted copies, where chosen in place of an original: manifest.json",
        "                    gives each one's SHA-256, its original's SHA-256 and how it was made",
        "  continuity/       for each recording, its continuity statement: every audit entry about",
        "                    it from upload to this export. The .json file is what is checked;",
        "                    the .html and .pdf files are readable renderings of the same entries.",
        "  manifest.json     every file's SHA-256 and size and every recording's camera, officer,",
        "                    recorded start/end and upload time",
        "  manifest.json.sig the server's Ed25519 signature over manifest.json (64 raw bytes)",
        f"  {SIGNING_KEY}   the public key that made that signature (key id {heading.key_id})",
        "  keys/             the public keys that signed the audit checkpoints the statements cite",
        "  SHA256SUMS        the SHA-256 of every other file",
        "  verify.py         an open verifier that checks all of the above",
        "",
        "HOW TO CHECK IT (unpack the ZIP, then in the unpacked folder)",
        "1. Every file is intact:",
        "     sha256sum -c SHA256SUMS",
        "2. The manifest was signed by the server and not changed since (OpenSSL 3):",
        f"     openssl pkeyutl -verify -pubin -inkey {SIGNING_KEY} -rawin -in manifest.json \\",
        "       -sigfile manifest.json.sig",
        "   It prints 'Signature Verified Successfully'.",
        "3. The key is the force's: compare the key id above, or the key itself, with the keys the",
        f"   force publishes at {heading.server_url}/.well-known/witnessbox/keys.json",
        "4. Everything at once, including each continuity statement against the signed audit",
        "   checkpoints (needs Python 3.11+ and the 'cryptography' package):",
        "     python3 verify.py                 (inside the unpacked folder), or",
        "     python3 verify.py PACKAGE.zip",
        "     python3 verify.py --published keys.json PACKAGE.zip   (keys.json saved from the address",
        "       in step 3: then only the force's published keys are trusted, for the manifest and",
        "       for every audit checkpoint)",
        "   It prints OK, or one line per problem naming the file it concerns; exit status 0",
        "   when all is well, 1 when anything is wrong, 2 when the package cannot be read.",
        "5. When the force time-stamps its audit checkpoints, a checkpoint in a statement carries",
        "   the authority's answer ('time_stamp', base64 DER). verify.py checks it is over that",
        "   checkpoint's statement; to check the authority's signature and time, save the",
        "   checkpoint's 'statement' text exactly (no added newline) as N.txt and the decoded",
        "   'response' as N.tsr, then, with the authority's certificate:",
        "     openssl ts -verify -data N.txt -in N.tsr -CAfile AUTHORITY.pem",
        "   It prints 'Verification: OK'.",
        "",
    ]
    return "\n".join(lines).encode()
