"""How to reach an S3-compatible object store and how it locks what it is given (no boto3 here)."""

from dataclasses import dataclass
from enum import StrEnum

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB  # S3 refuses smaller parts (but the last)
MAX_PARTS = 10_000  # S3's limit on the parts of one upload


class LockMode(StrEnum):
    """S3 Object Lock retention modes."""

    COMPLIANCE = "COMPLIANCE"  # nobody, the bucket's owner included, can delete or shorten it
    GOVERNANCE = "GOVERNANCE"  # a user with s3:BypassGovernanceRetention can


@dataclass(frozen=True)
class S3Options:
    """Connection, retry and Object Lock settings of an S3 blob store (decision 0028).

    Originals are locked in `lock_mode` (COMPLIANCE by default) and derivatives in
    `derivative_lock_mode` (GOVERNANCE by default: they can be made again from the original),
    both for `lock_days` from when they are written.
    """

    endpoint_url: str | None = None  # None: AWS itself
    region: str | None = None
    access_key_id: str | None = None  # None: boto3's own chain (AWS_* variables, profiles, roles)
    secret_access_key: str | None = None
    lock_mode: LockMode = LockMode.COMPLIANCE
    derivative_lock_mode: LockMode = LockMode.GOVERNANCE
    lock_days: int = 31
    anchor_lock_days: int = 3650  # the audit trail's anchor copies: kept far longer than any footage
    part_size: int = 16 * MIB
    max_attempts: int = 5  # every request, retried with exponential back-off and jitter
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.part_size < MIN_PART_SIZE:
            raise ValueError(f"an S3 part is at least {MIN_PART_SIZE // MIB} MiB")
        if self.lock_days < 1:
            raise ValueError("an Object Lock retention period is at least one day")
        if self.max_attempts < 1:
            raise ValueError("max_attempts is at least 1")
