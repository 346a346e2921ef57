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


class FeedCheckpointOut(BaseModel):
    """One signed checkpoint of the feed; its key is published at /.well-known/witnessbox/keys.json."""

    checkpoint: int
    seq: int = Field(description="the last audit entry it covers")
    entry_hash: str = Field(pattern="^[0-9a-f]{64}$")
    first_seq: int | None = Field(description="v2: the first entry its Merkle tree covers")
    merkle_root: str | None = Field(description="v2: RFC 9162 Merkle tree hash over first_seq..seq, hex")
    signed_at: str
    statement: str = Field(description="the exact text the Ed25519 signature covers (UTF-8)")
    key_id: str
    signature: str = Field(description="Ed25519 signature over `statement`, hex")
    time_stamp: str | None = Field(
        description="RFC 3161 answer over `statement`, base64 DER; null until stamped"
    )


class CheckpointFeedOut(BaseModel):
    """Signed checkpoints in the order of the chain: keep them, and ask again with `after=next_after`."""

    checkpoints: list[FeedCheckpointOut]
    next_after: int | None = Field(description="pass as `after` for the next page; null when this is the end")


class NoAuditHeadOut(BaseModel):
    """The answer before the first checkpoint is signed."""

    checkpoint: None = None


class SigningKeyOut(BaseModel):
    """One key that signed the server's checkpoints and disclosure manifests, and when."""

    key_id: str = Field(description="first 32 hex digits of SHA-256 over the raw Ed25519 public key")
    algorithm: str = "Ed25519"
    public_key: str = Field(description="PEM, SubjectPublicKeyInfo")
    in_use_from: str = Field(description="when it began to sign (UTC, ISO 8601)")
    in_use_until: str | None = Field(description="when the next key took over; null while in use")
    signs: list[str] = ["audit checkpoints", "disclosure manifests"]


class SigningKeysOut(BaseModel):
    """Every signing key the server ever used, so any old checkpoint or manifest can be checked by key_id."""

    keys: list[SigningKeyOut]
