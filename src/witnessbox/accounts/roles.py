"""The roles of the force's people, and the permissions the policy decides on."""

from enum import StrEnum


class Role(StrEnum):
    """What a person does in the force (shared/DOMAIN.md); a person may hold several."""

    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    INVESTIGATOR = "investigator"
    DISCLOSURE_OFFICER = "disclosure_officer"
    PROFESSIONAL_STANDARDS = "professional_standards"
    TRAINING_OFFICER = "training_officer"
    AUDITOR = "auditor"
    SYSTEM_ADMINISTRATOR = "system_administrator"
    RECORDS_MANAGER = "records_manager"  # the force's retention schedule, holds and deletions


class Permission(StrEnum):
    """Actions, named area:object:action, that `policy.decide` answers for."""

    ITEM_LIST = "evidence:item:list"
    ITEM_VIEW = "evidence:item:view"
    ITEM_PLAY = "evidence:item:play"
    ITEM_DOWNLOAD = "evidence:item:download"
    ITEM_CONFIRM = "evidence:item:confirm"
    ITEM_SHARE = "sharing:item:share"
    ITEM_CATEGORISE = "evidence:item:categorise"
    ITEM_VIEW_QUARANTINE = "evidence:item:view_quarantine"
    ITEM_ATTRIBUTE = "evidence:item:attribute"
    UPLOAD_CREATE = "ingest:upload:create"
    CASE_CREATE = "cases:case:create"
    CASE_MANAGE = "cases:case:manage"
    HOLD_MANAGE = "cases:hold:manage"
    USER_MANAGE = "accounts:user:manage"
    DEVICE_MANAGE = "devices:device:manage"
    CAMERA_SIGN_OUT = "devices:camera:sign_out"
    AUDIT_VERIFY = "audit:trail:verify"
    JOB_VIEW = "jobs:job:view"
    SCHEDULE_DECIDE = "disclosure:schedule:decide"  # a case's MG6C/MG6D decisions (decision 0022)
    EXTERNAL_SHARE_CREATE = "disclosure:share:create"  # share outside the force (disclosure/service.py)
    SCRUB_ACKNOWLEDGE = "retention:scrub:acknowledge"  # answer an integrity finding with a reason (0024)
    # retention (decision 0023): the schedule; the review queue, deletion approvals and recoveries;
    # subject access requests
    RETENTION_SCHEDULE = "retention:schedule:manage"
    RETENTION_REVIEW = "retention:item:review"
    SUBJECT_ACCESS_MANAGE = "retention:subject_access:manage"
    # redaction (decision 0026): editing plans, detecting, previewing and rendering redacted copies;
    # seeing footage unredacted (everyone but the training officer)
    REDACTION_EDIT = "redaction:plan:edit"
    ITEM_VIEW_UNREDACTED = "evidence:item:view_unredacted"


ROLE_LABELS = {
    Role.OFFICER: "Officer / PCSO",
    Role.SUPERVISOR: "Supervisor",
    Role.INVESTIGATOR: "Investigator",
    Role.DISCLOSURE_OFFICER: "Disclosure officer",
    Role.PROFESSIONAL_STANDARDS: "Professional standards",
    Role.TRAINING_OFFICER: "Training officer",
    Role.AUDITOR: "Auditor",
    Role.SYSTEM_ADMINISTRATOR: "System administrator",
    Role.RECORDS_MANAGER: "Records manager",
}
