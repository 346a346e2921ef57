"""Every kind of audited action, named area:object:action."""

from enum import StrEnum


class AuditTag(StrEnum):
    """The audit trail's vocabulary. Add here; never rename (old entries keep their tag)."""

    DEVICE_CAMERA_REGISTERED = "devices:camera:registered"
    DEVICE_DOCK_REGISTERED = "devices:dock:registered"
    DEVICE_DOCK_REVOKED = "devices:dock:revoked"
    DEVICE_DOCK_TOKEN_ROTATED = "devices:dock:token_rotated"
    DEVICE_CAMERA_ASSIGNED = "devices:camera:assigned"
    DEVICE_CAMERA_RETURNED = "devices:camera:returned"
    DEVICE_DOCK_CAMERA_ADDED = "devices:dock:camera_added"

    SHARING_ITEM_SHARED = "sharing:item:shared"
    SHARING_SHARE_REVOKED = "sharing:share:revoked"

    CASE_CASE_CREATED = "cases:case:created"
    CASE_MEMBER_ADDED = "cases:member:added"
    CASE_ITEM_ADDED = "cases:item:added"
    CASE_ITEM_REMOVED = "cases:item:removed"
    CASE_MEMBER_REMOVED = "cases:member:removed"

    INGEST_UPLOAD_CREATED = "ingest:upload:created"
    INGEST_UPLOAD_REFUSED = "ingest:upload:refused"
    INGEST_UPLOAD_TERMINATED = "ingest:upload:terminated"
    INGEST_UPLOAD_EXPIRED = "ingest:upload:expired"
    INGEST_UPLOAD_DUPLICATE = "ingest:upload:duplicate"

    EVIDENCE_ITEM_CREATED = "evidence:item:created"
    EVIDENCE_ITEM_VERIFIED = "evidence:item:verified"
    EVIDENCE_ITEM_VERIFY_FAILED = "evidence:item:verify_failed"
    EVIDENCE_ITEM_PROBED = "evidence:item:probed"
    EVIDENCE_ITEM_QUARANTINED = "evidence:item:quarantined"
    EVIDENCE_ITEM_READY = "evidence:item:ready"
    EVIDENCE_ITEM_CONFIRMED = "evidence:item:confirmed"
    EVIDENCE_ITEM_LISTED = "evidence:item:listed"
    EVIDENCE_ITEM_VIEWED = "evidence:item:viewed"
    EVIDENCE_ITEM_REASON_GIVEN = "evidence:item:reason_given"
    EVIDENCE_ITEM_RESTRICTED = "evidence:item:restricted"
    EVIDENCE_ITEM_CATEGORISED = "evidence:item:categorised"
    EVIDENCE_ITEM_ATTRIBUTED = "evidence:item:attributed"
    EVIDENCE_ITEM_PLAYED = "evidence:item:played"
    EVIDENCE_ITEM_DOWNLOADED = "evidence:item:downloaded"
    EVIDENCE_DERIVATIVE_CREATED = "evidence:derivative:created"
    EVIDENCE_SEARCH_RUN = "evidence:search:run"
    EVIDENCE_SEARCH_SAVED = "evidence:search:saved"
    EVIDENCE_SEARCH_DELETED = "evidence:search:deleted"
    EVIDENCE_ANNOTATION_ADDED = "evidence:annotation:added"
    EVIDENCE_ANNOTATION_REMOVED = "evidence:annotation:removed"

    JOB_RUN_SUCCEEDED = "jobs:run:succeeded"
    JOB_RUN_FAILED = "jobs:run:failed"
    JOB_RUN_REQUEUED = "jobs:run:requeued"

    ACCOUNT_USER_CREATED = "accounts:user:created"
    ACCOUNT_USER_ROLES_CHANGED = "accounts:user:roles_changed"
    ACCOUNT_USER_ENABLED = "accounts:user:enabled"
    ACCOUNT_USER_DISABLED = "accounts:user:disabled"
    ACCOUNT_USER_IMPORTED = "accounts:user:imported"
    ACCOUNT_PASSWORD_CHANGED = "accounts:password:changed"
    ACCOUNT_TEAM_CREATED = "accounts:team:created"
    ACCOUNT_TEAM_MEMBER_SET = "accounts:team:member_set"
    ACCOUNT_TOKEN_ISSUED = "accounts:token:issued"
    ACCOUNT_TOKEN_REVOKED = "accounts:token:revoked"
    ACCOUNT_SESSION_REVOKED = "accounts:session:revoked"
    ACCOUNT_TOTP_ENABLED = "accounts:totp:enabled"
    ACCOUNT_TOTP_FAILED = "accounts:totp:failed"
    ACCOUNT_TOTP_DISABLED = "accounts:totp:disabled"
    ACCOUNT_SSO_SIGNIN = "accounts:sso:signed_in"
    ACCOUNT_ACCESS_DENIED = "accounts:access:denied"
    ACCOUNT_SESSION_STARTED = "accounts:session:started"
    ACCOUNT_SESSION_ENDED = "accounts:session:ended"
    ACCOUNT_SIGNIN_FAILED = "accounts:signin:failed"

    REPORTS_REMINDER_SENT = "reports:reminder:sent"

    DISCLOSURE_PACKAGE_REQUESTED = "disclosure:package:requested"
    DISCLOSURE_ITEM_EXPORTED = "disclosure:item:exported"
    DISCLOSURE_PACKAGE_COMPLETED = "disclosure:package:completed"
    DISCLOSURE_PACKAGE_FAILED = "disclosure:package:failed"
    DISCLOSURE_PACKAGE_DOWNLOADED = "disclosure:package:downloaded"
    DISCLOSURE_SCHEDULE_DECIDED = "disclosure:schedule:decided"
    DISCLOSURE_SCHEDULE_EXPORTED = "disclosure:schedule:exported"
    CASE_TRAWL_RUN = "cases:trawl:run"
    # external shares and the recipient portal (views, plays, downloads use the evidence tags above)
    DISCLOSURE_SHARE_CREATED = "disclosure:share:created"
    DISCLOSURE_SHARE_REVOKED = "disclosure:share:revoked"
    DISCLOSURE_SHARE_SENT = "disclosure:share:sent"
    DISCLOSURE_PORTAL_SIGNED_IN = "disclosure:portal:signed_in"
    DISCLOSURE_PORTAL_SIGNIN_FAILED = "disclosure:portal:signin_failed"
    DISCLOSURE_PORTAL_LOCKED = "disclosure:portal:locked"
    DISCLOSURE_PORTAL_OPENED = "disclosure:portal:opened"
    DISCLOSURE_PORTAL_SIGNED_OUT = "disclosure:portal:signed_out"

    AUDIT_CHECKPOINT_SIGNED = "audit:checkpoint:signed"
    AUDIT_KEY_ROTATED = "audit:key:rotated"  # the checkpoint signing key handed over to another

    # the integrity scrub of stored evidence (retention/scrub.py, decision 0024)
    RETENTION_SCRUB_FOUND = "retention:scrub:found"  # an object missing, altered, unreadable or unrecorded
    RETENTION_SCRUB_CLEARED = "retention:scrub:cleared"  # a later pass found that object whole (or recorded)
    RETENTION_SCRUB_ACKNOWLEDGED = "retention:scrub:acknowledged"  # an administrator's reason for a finding
    RETENTION_SCRUB_COMPLETED = "retention:scrub:completed"  # a whole pass over records and store
    # retention, holds and deletion (retention/, decision 0023)
    CASE_CASE_CLOSED = "cases:case:closed"
    RETENTION_SCHEDULE_CHANGED = "retention:schedule:changed"
    RETENTION_ITEM_WARNED = "retention:item:warned"
    RETENTION_ITEM_KEPT = "retention:item:kept"
    RETENTION_ITEM_APPROVED = "retention:item:approved"
    RETENTION_ITEM_RECYCLED = "retention:item:recycled"
    RETENTION_ITEM_RECOVERY_APPROVED = "retention:item:recovery_approved"
    RETENTION_ITEM_RECOVERED = "retention:item:recovered"
    RETENTION_ITEM_RESCUED = "retention:item:rescued"  # a hold came during its recycle window
    RETENTION_ITEM_PURGED = "retention:item:purged"
    RETENTION_BYTES_REMOVED = "retention:bytes:removed"
    RETENTION_HOLD_PLACED = "retention:hold:placed"
    RETENTION_HOLD_RELEASED = "retention:hold:released"
    RETENTION_SUBJECT_ACCESS_RECORDED = "retention:subject_access:recorded"
    RETENTION_SUBJECT_ACCESS_CLOSED = "retention:subject_access:closed"
    # redaction (redaction/, decision 0026): plan versions, face detection, renders of a plan
    REDACTION_PLAN_SAVED = "redaction:plan:saved"
    REDACTION_DETECTION_STARTED = "redaction:detection:started"
    REDACTION_DETECTION_COMPLETED = "redaction:detection:completed"
    REDACTION_DETECTION_FAILED = "redaction:detection:failed"
    REDACTION_RENDER_STARTED = "redaction:render:started"
    REDACTION_RENDER_COMPLETED = "redaction:render:completed"
    REDACTION_RENDER_FAILED = "redaction:render:failed"
    REDACTION_PREVIEW_SHOWN = "redaction:preview:shown"
