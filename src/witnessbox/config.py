"""Settings from environment variables (WITNESSBOX_*) and an optional .env file.

Nothing here runs at import time: entry points call load_settings() and hand the
result to bootstrap, which is the only reader.
"""

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator can configure. Unset URLs default to the embedded deployment."""

    model_config = SettingsConfigDict(env_prefix="WITNESSBOX_", env_file=".env", extra="ignore")

    data_dir: Path = Path("witnessbox-data")
    database_url: str | None = None  # default: sqlite file in data_dir
    storage_url: str | None = None  # default: file:// content-addressed store in data_dir
    queue_url: str | None = None  # default: huey on a sqlite file in data_dir; redis://... for Redis
    queue_name: str = "witnessbox"  # several systems can share one Redis under different names
    workers: int = Field(default=2, ge=0)  # in-process job consumer threads for `serve`

    admin_username: str = "admin"
    # Unset: generated on first start into <data_dir>/admin-password (0600); its path is printed.
    admin_password: SecretStr | None = None
    public_url: str | None = None  # the address people use (behind a proxy), e.g. for the SSO callback
    trusted_proxies: str = ""  # comma-separated addresses of TLS proxies whose X-Forwarded-* to trust
    time_zone: str = "Europe/London"  # the force's zone (IANA name): pages show times in it, with the offset

    max_upload_bytes: int = 64 * 1024**3  # a long shift at a high bitrate stays well under 64 GiB
    upload_expiry_hours: int = 72  # an interrupted upload may resume for three days
    max_metadata_bytes: int = 64 * 1024
    offence_categories: list[str] = [
        "Domestic abuse",
        "Stop and search",
        "Use of force",
        "Public order",
        "Road traffic",
        "Violence against the person",
        "Theft",
        "Criminal damage",
        "Drugs",
        "Sexual offences",
        "Mental health",
        "Other",
    ]
    # The force's records system formats (Niche, Athena...); defaults fit e.g. 26/123456 and CR/12345/26.
    incident_number_pattern: str = r"^\d{2}/\d{3,7}$"
    crime_reference_pattern: str = r"^[A-Z]{2}/\d{3,7}/\d{2}$"
    # Two recordings are proposed as one incident when they overlap in time and their GPS tracks
    # come within this distance of each other within this many seconds.
    incident_distance_m: float = 100.0
    incident_time_window_s: float = 30.0
    # Retention (retention/, decision 0023): owners and supervisors are warned this many days before an
    # item is due; a deleted item stays recoverable this long; a "keep" or a recovery buys this long;
    # a disclosure package holds its items this long after it was made.
    retention_warning_days: int = Field(default=14, ge=0)
    retention_recycle_days: int = Field(default=30, ge=1)
    retention_keep_days: int = Field(default=90, ge=1)
    retention_package_hold_days: int = Field(default=365, ge=0)
    retention_sweep_minutes: int = Field(default=60, ge=1)
    stuck_job_minutes: int = 15
    # A running job's worker says it is alive every job_heartbeat_s; a job without a heartbeat for
    # job_lease_s is taken back and run again (its worker was killed), well before the stuck-job sweep.
    job_heartbeat_s: float = Field(default=15.0, gt=0)
    job_lease_s: float = Field(default=45.0, gt=0)
    # Every audit entry is covered by a signed checkpoint within this many seconds (the job workers'
    # housekeeping runs at most once a minute, so 60 is the shortest).
    audit_seal_seconds: int = Field(default=60, ge=60)
    # ... and as soon as this many entries are unsealed (signed in the write that reaches the count; the
    # sealer thread beside the job workers anchors it).
    audit_seal_entries: int = Field(default=1000, ge=1)
    # Anchors outside the server's reach (docs/operations.md, "Anchoring the audit trail"): an RFC 3161
    # time-stamping authority's URL, its certificate(s) (PEM) to check its answers, and an append-only
    # directory owned by another user where every checkpoint is copied once.
    audit_tsa_url: str | None = None
    audit_tsa_certificate: Path | None = None
    audit_anchor_dir: Path | None = None
    # The checkpoint signing key kept apart from the data: a key file only the server's user may read
    # (outside the data directory), or a PKCS#11 URI
    # (pkcs11:token=...;object=...?module-path=...&pin-source=file:...).
    # Unset: a key in the data directory, created on first use. A new key takes over at start (audited).
    audit_signing_key: str | None = None

    # Single sign-on with the force's identity provider (OpenID Connect); off while oidc_issuer is unset.
    oidc_issuer: str | None = None  # discovery document at issuer + /.well-known/openid-configuration
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_display_name: str = "force sign-in"  # shown as "Sign in with <name>"
    oidc_scopes: str = "openid profile email"  # add the scope that releases groups, if the provider has one
    oidc_groups_claim: str = "groups"
    # provider group -> Witnessbox roles, JSON in the env var: {"bwv-officers": ["officer"]}
    oidc_role_map: dict[str, list[str]] = Field(default_factory=dict)
    oidc_collar_claim: str = "preferred_username"  # the claim that carries the collar number
    oidc_create_users: bool = True  # False: only people already added (by collar number) may sign in

    # External shares (disclosure/service.py): e-mail for links and codes, who may share, the portal.
    smtp_host: str | None = None  # unset: the sharer is shown the link and the code once, to pass on
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "witnessbox@localhost"  # the sender of the link and code messages
    smtp_starttls: bool = True  # upgrade the connection with STARTTLS before signing in to the server
    investigators_may_disclose: bool = False  # True: investigators share outside the force too
    portal_code_attempts: int = Field(default=5, ge=1)  # wrong access codes before sign-in locks
    portal_lock_minutes: int = Field(default=15, ge=1)  # how long a locked share refuses codes
    portal_address_attempts: int = Field(default=20, ge=1)  # wrong codes from one address, any links
    portal_session_hours: int = Field(default=8, ge=1)  # a recipient signs in again after this

    # the integrity scrub of stored evidence (retention/scrub.py, decision 0024)
    scrub_rate_mbps: float = Field(default=50, ge=0)  # re-read rate in MB/s; 0 for no limit
    scrub_every_minutes: int = Field(default=5, ge=0, le=59)  # a slice of the background pass; 0: none
    scrub_slice_seconds: int = Field(default=60, ge=1)  # the longest one slice keeps a worker
    scrub_interval_hours: float = Field(default=24, ge=0)  # a new background pass at most this often
    scrub_derivatives: bool = True  # re-read proxies and thumbnails too, not only originals

    # S3 object storage (storage_url s3://bucket/prefix; storage/s3.py, decision 0028). Unset credentials:
    # boto3's own chain (AWS_ACCESS_KEY_ID and friends, profiles, instance roles).
    s3_endpoint_url: str | None = None  # e.g. https://s3.force.example; unset: AWS
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    # Object Lock on every object written: originals in this mode (COMPLIANCE: nobody can delete or
    # shorten it, the bucket's owner included), derivatives in GOVERNANCE; both for this many days
    # (31: the shortest retention class, so a purge never waits on the lock).
    object_lock_mode: Literal["COMPLIANCE", "GOVERNANCE"] = "COMPLIANCE"
    object_lock_days: int = Field(default=31, ge=1)
    s3_part_size_mb: int = Field(default=16, ge=5)  # multipart upload part size (memory per upload)
    s3_max_attempts: int = Field(default=5, ge=1)  # per request, exponential back-off with jitter
    s3_connect_timeout_s: float = Field(default=5.0, gt=0)
    s3_read_timeout_s: float = Field(default=30.0, gt=0)
    storage_check_at_start: bool = False  # `serve` runs `storage check` first; refuses to start on a failure
    # How stored bytes reach clients once the app authorised and audited them (decision 0029):
    # "app" (embedded: the app sends them, repeat ranges on a short-lived per-process grant), "nginx"
    # (X-Accel-Redirect to nginx's internal location; plays move to signed /bytes/ grants nginx checks),
    # "signed" (a redirect to the object store's signed URL).
    byte_path: Literal["app", "nginx", "signed"] = "app"
    # The revocation bound: an ended session or a revoked share stops bytes within this many seconds.
    byte_grant_seconds: int = Field(default=10, ge=1, le=300)
    # The key nginx and the app share for /bytes/ grants; unset: <data_dir>/byte-grant-secret (0600).
    byte_grant_secret: SecretStr | None = None

    # operations (decision 0031): log lines as text or one JSON object a line, readiness checks' limit
    log_format: Literal["text", "json"] = "text"
    ready_timeout_s: float = Field(default=2.0, gt=0)  # /health/ready gives each check this long

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {name!r}: use an IANA name such as Europe/London") from error
        return name

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'witnessbox.db'}"

    def resolved_storage_url(self) -> str:
        """The evidence store URL, defaulting to content-addressed files in the data directory."""
        return self.storage_url or (self.data_dir.resolve() / "blobs").as_uri()

    def resolved_queue_url(self) -> str:
        """The job queue URL, defaulting to a huey SQLite file in the data directory."""
        return self.queue_url or f"sqlite:///{self.data_dir.resolve() / 'queue.db'}"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit overrides (e.g. from CLI flags) on top."""
    given = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**given)  # type: ignore[arg-type]

