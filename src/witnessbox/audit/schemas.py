"""The JSON shape of the published audit head (times in UTC, ISO 8601)."""

from pydantic import BaseModel, Field


class AuditHeadOut(BaseModel):
    """The newest signed checkpoint: what anyone may keep, and later check was never withdrawn."""

    checkpoint: int = Field(description="the checkpoint's number")
    seq: int = Field(description="the last audit entry it covers")
    entry_hash: str = Field(pattern="^[0-9a-f]{64}$", description="SHA-256 chain hash of that entry")
    signed_at: str = Field(description="when it was signed, exactly as the statement says it")
    first_seq: int | None = Field(default=None, description="v2: the first entry its Merkle tree covers")
    merkle_root: str | None = Field(
        default=None, description="v2: RFC 9162 Merkle tree hash over entries first_seq..seq, hex"
    )
    statement: str = Field(description="the exact text the Ed25519 signature covers (UTF-8)")
    key_id: str
    signature: str = Field(description="Ed25519 signature over `statement`, hex")
    public_key: str = Field(description="the server's checkpoint key, PEM")
    time_stamp: str | None = Field(
        description="the RFC 3161 time-stamp answer over `statement`, base64 DER; null until stamped"
    )


class NoAuditHeadOut(BaseModel):
    """The answer before the first checkpoint is signed."""

    checkpoint: None = None
