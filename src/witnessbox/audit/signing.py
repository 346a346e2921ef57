"""The server's Ed25519 key that signs audit checkpoints (and disclosure manifests).

The key can live in the data directory (the default, created on first use), in a file of its
own outside it (readable by the server's user only), or on a PKCS#11 token (audit/pkcs11.py),
so whoever holds the data directory cannot sign a rewritten history. All three sign through
the same interface: `sign(bytes) -> hex`, `verify`, `key_id`, `public_pem()`.
"""

import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

DEFAULT_KEY_NAME = "audit-ed25519.pem"


class SigningKeyRefused(Exception):
    """The configured signing key is unsafe or unusable; the server does not start with it."""


class CheckpointKey:
    """The public half: verifies statements signed by one key, known by its key_id."""

    def __init__(self, public_key: Ed25519PublicKey) -> None:
        self.public_key = public_key
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = hashlib.sha256(raw).hexdigest()[:32]

    @classmethod
    def from_pem(cls, pem: str) -> "CheckpointKey":
        """A published or stored public key (PEM, SubjectPublicKeyInfo)."""
        key = serialization.load_pem_public_key(pem.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return cls(key)

    def verify(self, statement: bytes, signature: str) -> bool:
        """Whether the signature over the statement is this key's."""
        try:
            self.public_key.verify(bytes.fromhex(signature), statement)
        except (InvalidSignature, ValueError):
            return False
        return True

    def public_pem(self) -> str:
        """The public key, for publishing beside exported audit trails."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()


class CheckpointSigner(CheckpointKey):
    """Signs and verifies checkpoint statements with one key pair (in memory here; on a token in hsm.py)."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        super().__init__(private_key.public_key())
        self._sign_raw: Callable[[bytes], bytes] = private_key.sign

    @classmethod
    def from_directory(cls, key_dir: Path) -> "CheckpointSigner":
        """Load the key from key_dir, creating it (owner-readable only) on first use."""
        path = key_dir / DEFAULT_KEY_NAME
        if path.exists():
            return cls(_read_private_key(path))
        return cls(create_key_file(path))

    @classmethod
    def from_file(cls, path: Path, *, data_dir: Path) -> "CheckpointSigner":
        """Load a key kept apart from the data: refused inside the data directory or if others may read it."""
        if path.resolve().is_relative_to(data_dir.resolve()):
            raise SigningKeyRefused(f"{path} is inside the data directory {data_dir}: keep it apart")
        try:
            mode = path.stat().st_mode
        except FileNotFoundError as error:
            missing = f"{path} does not exist (`witnessbox audit rotate-key` creates it)"
            raise SigningKeyRefused(missing) from error
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SigningKeyRefused(f"{path} is open to group or others (mode {mode & 0o777:o}): chmod 600")
        return cls(_read_private_key(path))

    def sign(self, statement: bytes) -> str:
        """Sign a statement; hex signature."""
        return self._sign_raw(statement).hex()


def create_key_file(path: Path) -> Ed25519PrivateKey:
    """A new Ed25519 key in a file only its owner may read (never overwriting one)."""
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
        out.flush()
        os.fsync(out.fileno())
    return key


def _read_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyRefused(f"{path} is not an Ed25519 private key")
    return key
