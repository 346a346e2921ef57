"""Checkpoint signing on a PKCS#11 token (an HSM, or SoftHSM2 in tests), through python-pkcs11.

The private key never leaves the token: the server holds a logged-in session and asks the
token for CKM_EDDSA signatures. The token and key are named by an RFC 7512 PKCS#11 URI:
`pkcs11:token=audit;object=audit-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/witnessbox/pin`
"""

import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pkcs11
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import PKCS11Error
from pkcs11.types import SignMixin

from witnessbox.audit.signing import CheckpointKey, CheckpointSigner, SigningKeyRefused


@dataclass(frozen=True)
class TokenKeyUri:
    """What a pkcs11: URI names: the module, the token, the key's label and how to get the PIN."""

    module: Path
    token: str
    label: str
    pin: str

    @classmethod
    def parse(cls, uri: str) -> "TokenKeyUri":
        """Read the attributes this server needs; refuse a URI that lacks one."""
        path, _, query = uri.removeprefix("pkcs11:").partition("?")
        found = _pairs(path, ";") | _pairs(query, "&")
        missing = [name for name in ("module-path", "token", "object") if name not in found]
        if missing or not ("pin-value" in found or "pin-source" in found):
            needed = ", ".join(missing) or "pin-source or pin-value"
            raise SigningKeyRefused(f"the pkcs11: URI needs {needed}")
        return cls(Path(found["module-path"]), found["token"], found["object"], _pin(found))


class TokenSigner(CheckpointSigner):
    """Signs with an Ed25519 key that stays on a PKCS#11 token; verifies with its public half."""

    def __init__(
        self, session: pkcs11.Session, private: SignMixin, public_key: Ed25519PublicKey
    ) -> None:
        CheckpointKey.__init__(self, public_key)
        self._session, self._lock = session, threading.Lock()  # one session, used one signature at a time

        def sign_on_token(statement: bytes) -> bytes:
            with self._lock:
                return bytes(private.sign(statement, mechanism=Mechanism.EDDSA))

        self._sign_raw = sign_on_token

    @classmethod
    def from_uri(cls, uri: str) -> "TokenSigner":
        """Open the token the URI names, log in, and find the key pair labelled `object`."""
        named = TokenKeyUri.parse(uri)
        if not named.module.exists():
            raise SigningKeyRefused(f"PKCS#11 module {named.module} is not installed")
        try:
            token = pkcs11.lib(str(named.module)).get_token(token_label=named.token)
            if Mechanism.EDDSA not in set(token.slot.get_mechanisms()):
                raise SigningKeyRefused(f"token {named.token!r} cannot make Ed25519 signatures (CKM_EDDSA)")
            session = token.open(user_pin=named.pin)
            private = session.get_key(ObjectClass.PRIVATE_KEY, KeyType.EC_EDWARDS, label=named.label)
            if not isinstance(private, SignMixin):
                raise SigningKeyRefused(f"key {named.label!r} on token {named.token!r} cannot sign")
            public = session.get_key(ObjectClass.PUBLIC_KEY, KeyType.EC_EDWARDS, label=named.label)
        except PKCS11Error as error:
            refused = f"PKCS#11 token {named.token!r}, key {named.label!r}: {error!r}"
            raise SigningKeyRefused(refused) from error
        point = _raw_point(public[Attribute.EC_POINT])
        return cls(session, private, Ed25519PublicKey.from_public_bytes(point))


def _pairs(text: str, separator: str) -> dict[str, str]:
    pairs = (part.partition("=") for part in text.split(separator) if part)
    return {unquote(name): unquote(value) for name, _, value in pairs}


def _pin(found: dict[str, str]) -> str:
    if "pin-value" in found:
        return found["pin-value"]
    source = found["pin-source"].removeprefix("file:")
    return Path(source).read_text().strip()


def _raw_point(point: bytes) -> bytes:
    """The 32 key bytes: tokens give CKA_EC_POINT either raw or as a DER OCTET STRING (04 20 ...)."""
    if len(point) == 34 and point[:2] == b"\x04\x20":
        return point[2:]
    return point
