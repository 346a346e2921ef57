"""Authenticator-app codes (RFC 6238 TOTP): secrets, enrolment URIs and QR codes, checking a code.

Pure functions over pyotp and segno; SignInService stores the secret and the last
time-step used, so that one code signs in once.
"""

import hmac
from datetime import datetime

import pyotp
import segno

from witnessbox.core.clock import as_utc

ISSUER = "Witnessbox"
VALID_WINDOW = 1  # one 30-second step either side, for clocks that drift a little
CODE_DIGITS = 6
BASE32 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def new_secret() -> str:
    """A fresh random base32 secret (160 bits) for one person's authenticator."""
    return pyotp.random_base32()


def looks_like_secret(secret: str) -> bool:
    """Whether `secret` is a plausible base32 secret (16-64 characters), as new_secret makes."""
    return 16 <= len(secret) <= 64 and all(ch in BASE32 for ch in secret)


def enrolment_uri(secret: str, account: str) -> str:
    """The otpauth:// URI an authenticator app reads (from the QR code or typed in)."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """The URI as a QR code in an SVG data: URI, for an <img> that CSP's `img-src data:` allows."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=2))


def matching_step(secret: str, code: str, at: datetime, *, after: int | None = None) -> int | None:
    """The time-step `code` is valid for at `at` (within the window), or None.

    Steps at or before `after` (the last one used) are refused, so a code never works twice.
    """
    code = code.strip().replace(" ", "")
    if len(code) != CODE_DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(as_utc(at).timestamp())
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        step = current + offset
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None
