"""The server's Ed25519 key that signs audit checkpoints."""

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class CheckpointSigner:
    """Signs and verifies checkpoint statements with one key pair."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self.public_key: Ed25519PublicKey = private_key.public_key()
        raw = self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = hashlib.sha256(raw).hexdigest()[:32]

    @classmethod
    def from_directory(cls, key_dir: Path) -> "CheckpointSigner":
        """Load the key from key_dir, creating it (owner-readable only) on first use."""
        path = key_dir / "audit-ed25519.pem"
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{path} is not an Ed25519 private key")
            return cls(key)
        return cls(_create_key(path))

    def sign(self, statement: bytes) -> str:
        """Sign a statement; hex signature."""
        return self._private.sign(statement).hex()

    def verify(self, statement: bytes, signature: str) -> bool:
        """Whether the signature over the statement is ours."""
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


def _create_key(path: Path) -> Ed25519PrivateKey:
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
