"""RFC 3161 time-stamps: the seam to a time-stamping authority the force chooses.

Requests are built, answers decoded and tokens verified by `rfc3161-client`; this module
only carries the bytes over HTTP and says what went wrong in the force's words.
"""

from pathlib import Path

import httpx
from cryptography import x509
from rfc3161_client import (
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)


class TimeStampFailed(Exception):
    """The authority could not be reached or did not grant a valid time-stamp."""


class TimeStampAuthority:
    """An RFC 3161 authority reached over HTTP at one URL."""

    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        self.url = url
        self.timeout_s = timeout_s

    def stamp(self, message: bytes) -> TimeStampResponse:
        """Ask for a time-stamp over SHA-256(message); the answer must carry our nonce and digest."""
        builder = TimestampRequestBuilder().data(message).nonce(nonce=True)
        request = builder.cert_request(cert_request=True).build()
        try:
            answer = httpx.post(
                self.url,
                content=request.as_bytes(),
                headers={"Content-Type": "application/timestamp-query"},
                timeout=self.timeout_s,
            )
            answer.raise_for_status()
            response = decode_timestamp_response(answer.content)
        except (httpx.HTTPError, ValueError) as error:
            raise TimeStampFailed(f"{self.url}: {error}") from error
        if response.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
            raise TimeStampFailed(f"{self.url} refused: status {response.status} {response.status_string}")
        info = response.tst_info
        if info.nonce != request.nonce or info.message_imprint.message != request.message_imprint.message:
            raise TimeStampFailed(f"{self.url} answered for another request")
        return response


def load_certificates(path: Path) -> list[x509.Certificate]:
    """The authority's certificates (its root first or alone) from a PEM file."""
    return x509.load_pem_x509_certificates(path.read_bytes())


def stamp_problem(response_der: bytes, message: bytes, roots: list[x509.Certificate]) -> str | None:
    """Why a stored time-stamp does not prove `message` under the authority's roots; None when it does."""
    builder = VerifierBuilder()
    for root in roots:
        builder = builder.add_root_certificate(root)
    try:
        builder.build().verify_message(decode_timestamp_response(response_der), message)
    except (VerificationError, ValueError) as error:
        return f"time-stamp does not verify: {error}"
    return None
