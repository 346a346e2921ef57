"""Use cases for disclosure packages: ask for one, build it (a job), follow it, download it.

Asking authorises and audits at once (the package, and an "exported" entry on each item); the
build seals the audit trail first, so every entry a continuity statement cites is already under
a signed checkpoint, then streams the ZIP and records its hash.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from witnessbox.accounts.models import User
from witnessbox.accounts.roles import Permission, Role
from witnessbox.accounts.service import require
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.cases.service import CaseService
from witnessbox.core.actor import SYSTEM, Actor
from witnessbox.core.clock import Clock
from witnessbox.core.errors import Conflict, NotFound
from witnessbox.core.ids import new_id
from witnessbox.db.session import Database
from witnessbox.disclosure.packages import continuity
from witnessbox.disclosure.packages.builder import Original, Written, write_zip
from witnessbox.disclosure.packages.contents import (
    MANIFEST,
    SIGNATURE,
    SIGNING_KEY,
    SUMS,
    Exhibit,
    Heading,
    RedactedCopy,
    file_entry,
    manifest,
    readme,
    sha256_of,
    sums,
)
from witnessbox.disclosure.packages.models import DisclosurePackage, PackageState
from witnessbox.disclosure.packages.schemas import PackageOut
from witnessbox.evidence.models import Derivative, DerivativeKind, Item
from witnessbox.evidence.service import EvidenceService
from witnessbox.jobs.models import JobRecord
from witnessbox.jobs.runner import JobRunner, Progress
from witnessbox.storage import BlobStore

BUILD_PACKAGE = "disclosure.build_package"
VERIFIER = Path(__file__).resolve().parent.parent / "verifier.py"


@dataclass(frozen=True)
class Download:
    """What the route needs to send a built package."""

    path: Path
    filename: str
    sha256: str


class PackageService:
    """Disclosure packages from request to download."""

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        clock: Clock,
        evidence: EvidenceService,
        cases: CaseService,
        blobs: BlobStore,
        jobs: JobRunner,
        directory: Path,
        anchor: Callable[[], object] | None = None,
    ) -> None:
        self.db, self.audit, self.clock = db, audit, clock
        self.evidence, self.cases, self.blobs, self.jobs = evidence, cases, blobs, jobs
        self.directory = directory
        self.anchor = anchor  # time-stamp and copy out what was just sealed, so statements carry it

    # --- asking for a package -----------------------------------------------------------------

    def request(
        self,
        *,
        actor: Actor,
        server_url: str,
        case_id: str | None = None,
        item_ids: list[str] | None = None,
        reason: str | None = None,
        redacted_item_ids: list[str] | None = None,
    ) -> DisclosurePackage:
        """Authorise (case managers, items they may download), record and audit, then enqueue the build.

        Items named in `redacted_item_ids` go in as their latest redacted copy instead of the original.
        """
        require(actor, Permission.CASE_MANAGE)
        title, chosen = self._what(actor, case_id, item_ids or [])
        for item_id in chosen:
            self.evidence.authorise(item_id, Permission.ITEM_DOWNLOAD, actor=actor, reason=reason)
        copies = self._redacted_copies(chosen, redacted_item_ids or [])
        now = self.clock.now()
        with self.db.transaction() as uow:
            package = DisclosurePackage(
                id=new_id(),
                case_id=case_id,
                title=title[:255],
                item_ids=chosen,
                redacted_copies=copies or None,
                reason=(reason or "").strip() or None,
                server_url=server_url.rstrip("/")[:255],
                requested_by=actor.id,
                requested_by_name=actor.name,
                state=PackageState.QUEUED,
                created_at=now,
            )
            uow.session.add(package)
            self._audit_request(uow.session, package, actor)
            package.job_id = self.jobs.enqueue(uow, BUILD_PACKAGE, package.id).id
        return package

    def _what(self, actor: Actor, case_id: str | None, item_ids: list[str]) -> tuple[str, list[str]]:
        if case_id:
            case = self.cases.get(case_id, actor=actor)  # NotFound for those outside the case
            chosen = [item.id for item in self.cases.items(case_id, actor=actor)]
            title = f"{case.reference}: {case.title}"
        else:
            chosen = list(dict.fromkeys(item_ids))
            title = f"Selection of {len(chosen)} recording{'' if len(chosen) == 1 else 's'}"
        if not chosen:
            raise Conflict("there is nothing to export: the case holds no recordings you may see")
        return title, chosen

    def _redacted_copies(self, chosen: list[str], redacted: list[str]) -> dict[str, str]:
        """item id -> the redacted copy (derivative id) to export in its place, frozen now."""
        copies = {}
        for item_id in dict.fromkeys(redacted):
            if item_id not in chosen:
                raise Conflict(f"item {item_id} is not in the package, so it cannot go in as a redacted copy")
            copy = self.evidence.get(item_id).derivative(DerivativeKind.REDACTED)
            if copy is None:
                raise Conflict(f"item {item_id} has no redacted copy: render one before exporting it so")
            copies[item_id] = copy.id
        return copies

    def _audit_request(self, session: Session, package: DisclosurePackage, actor: Actor) -> None:
        details = {"title": package.title, "items": len(package.item_ids), "reason": package.reason}
        subject = Subject("disclosure_package", package.id)
        tag = AuditTag.DISCLOSURE_PACKAGE_REQUESTED
        self.audit.record(session, tag, actor=actor, subject=subject, details=details)
        for item_id in package.item_ids:
            self.audit.record(
                session,
                AuditTag.DISCLOSURE_ITEM_EXPORTED,
                actor=actor,
                subject=Subject("item", item_id),
                details={"package": package.id, "title": package.title, "reason": package.reason,
                         "redacted_copy": (package.redacted_copies or {}).get(item_id)},
            )

    # --- building it (the job) ----------------------------------------------------------------

    def build(self, package_id: str, progress: Progress) -> str:
        """Seal the audit trail, write the statements and the ZIP, record its hash; a rerun is harmless."""
        package = self._start(package_id)
        if package is None:
            return "already built"
        sealed_at = self._seal()
        exhibits = self._exhibits(package.item_ids, package.redacted_copies or {})
        small = self._small_files(package, exhibits, sealed_at)
        self.directory.mkdir(parents=True, exist_ok=True)
        originals = [_file_of(e) for e in exhibits]
        written = write_zip(self.path_of(package_id), originals, small, self.blobs.read, progress)
        self._complete(package_id, written)
        return f"{written.file_count} files, {written.size} bytes, sha256 {written.sha256}"

    def path_of(self, package_id: str) -> Path:
        """Where a package's ZIP lies under the data directory."""
        return self.directory / f"{package_id}.zip"

    def _start(self, package_id: str) -> DisclosurePackage | None:
        with self.db.transaction() as uow:
            package = uow.session.get(DisclosurePackage, package_id, with_for_update=True)
            if package is None:
                raise NotFound(f"no disclosure package {package_id}")
            if package.state == PackageState.READY:
                return None
            package.state, package.error = PackageState.BUILDING, None
            return package

    def _seal(self) -> int:
        """Seal now, so what the statements cite is under a signed checkpoint; the sealed seq."""
        mark = self.audit.seal(actor=SYSTEM)
        if self.anchor is not None:
            self.anchor()  # an unreachable authority leaves the stamp out; the statement says so
        if mark is not None:
            return mark.seq
        with self.db.read() as session:
            return continuity.last_checkpoint_seq(session)

    def _exhibits(self, item_ids: list[Any], copies: dict[str, Any]) -> list[Exhibit]:
        with self.db.read() as session:
            items = {i.id: i for i in session.scalars(select(Item).where(Item.id.in_(item_ids)))}
            collars = _collars(session, {i.officer_id for i in items.values() if i.officer_id})
            chosen = {d.item_id: d for d in session.scalars(select(Derivative).where(
                Derivative.id.in_(list(copies.values()))))} if copies else {}
            return [_exhibit(items[i], collars, chosen.get(i)) for i in item_ids if i in items]

    def _small_files(
        self, package: DisclosurePackage, exhibits: list[Exhibit], sealed_at: int
    ) -> dict[str, bytes]:
        """Every file but the originals: statements, keys, README, verifier, manifest, signature, sums."""
        signer = self.audit.signer
        heading = Heading(
            package_id=package.id,
            title=package.title,
            case_reference=package.title.split(":", 1)[0] if package.case_id else None,
            requested_by=package.requested_by_name,
            reason=package.reason,
            created_at=self.clock.now(),
            server_url=package.server_url,
            key_id=signer.key_id,
        )
        small = self._statements(package.id, exhibits, sealed_at, heading)
        small.update({f"keys/{key_id}.pem": pem.encode() for key_id, pem in self._public_keys().items()})
        small[SIGNING_KEY] = signer.public_pem().encode()
        small["README.txt"] = readme(heading, exhibits)
        small["verify.py"] = VERIFIER.read_bytes()
        listed = [_listed(e) for e in exhibits]
        listed += [file_entry(p, sha256_of(d), len(d), _role(p)) for p, d in small.items()]
        small[MANIFEST] = manifest(heading, exhibits, listed)
        small[SIGNATURE] = bytes.fromhex(signer.sign(small[MANIFEST]))
        hashes = {e.path: _file_of(e).sha256 for e in exhibits}
        hashes |= {p: sha256_of(d) for p, d in small.items()}
        small[SUMS] = sums(hashes)
        return small

    def _statements(
        self, package_id: str, exhibits: list[Exhibit], sealed_at: int, heading: Heading
    ) -> dict[str, bytes]:
        files: dict[str, bytes] = {}
        with self.db.read() as session:
            for exhibit in exhibits:
                events = continuity.entries_about(session, exhibit, sealed_at)
                cited = continuity.cite(session, events, self.audit.inclusion)
                made = continuity.statement(exhibit, package_id, heading.created_at, cited)
                stem = exhibit.continuity.removesuffix(".json")
                files.update({f"{stem}.json": made.json, f"{stem}.html": made.html, f"{stem}.pdf": made.pdf})
        return files

    def _public_keys(self) -> dict[str, str]:
        """Every key that ever signed a checkpoint (rotation), or at least today's."""
        keys = dict(self.audit.public_keys())
        keys.setdefault(self.audit.signer.key_id, self.audit.signer.public_pem())
        return keys

    def _complete(self, package_id: str, written: Written) -> None:
        with self.db.transaction() as uow:
            package = uow.session.get(DisclosurePackage, package_id, with_for_update=True)
            assert package is not None
            package.state, package.completed_at = PackageState.READY, self.clock.now()
            package.sha256, package.size = written.sha256, written.size
            package.file_count = written.file_count
            package.filename = f"witnessbox-package-{package.id}.zip"
            self.audit.record(
                uow.session,
                AuditTag.DISCLOSURE_PACKAGE_COMPLETED,
                actor=SYSTEM,
                subject=Subject("disclosure_package", package.id),
                details={"sha256": written.sha256, "size": written.size, "files": written.file_count},
            )

    def give_up(self, package_id: str, error: str) -> None:
        """The build failed for good: say why on the package, and audit it."""
        with self.db.transaction() as uow:
            package = uow.session.get(DisclosurePackage, package_id, with_for_update=True)
            if package is None:
                return
            package.state, package.error = PackageState.FAILED, error
            self.audit.record(
                uow.session,
                AuditTag.DISCLOSURE_PACKAGE_FAILED,
                actor=SYSTEM,
                subject=Subject("disclosure_package", package.id),
                details={"error": error},
            )

    def discard_partial(self, package_id: str) -> None:
        """Remove what a killed build left behind."""
        self.path_of(package_id).with_name(f"{package_id}.zip.part").unlink(missing_ok=True)

    # --- following and downloading it ---------------------------------------------------------

    def get(self, package_id: str, *, actor: Actor) -> PackageOut:
        """A package the actor asked for (or, for professional standards, any); others are told not found."""
        with self.db.read() as session:
            return self._out(session, self._visible(session, package_id, actor))

    def list_for(self, *, actor: Actor, case_id: str | None = None) -> list[PackageOut]:
        """The packages the actor asked for, newest first; of one case when given."""
        query = select(DisclosurePackage).order_by(DisclosurePackage.created_at.desc())
        if not actor.has_role(Role.PROFESSIONAL_STANDARDS):
            query = query.where(DisclosurePackage.requested_by == actor.id)
        if case_id:
            query = query.where(DisclosurePackage.case_id == case_id)
        with self.db.read() as session:
            return [self._out(session, package) for package in session.scalars(query.limit(200))]

    def open_download(self, package_id: str, *, actor: Actor, first_request: bool) -> Download:
        """Authorise and (once per download, not per range) audit fetching a built package."""
        with self.db.read() as session:
            package = self._visible(session, package_id, actor)
        if package.state != PackageState.READY or not package.sha256 or not package.filename:
            raise Conflict(f"the package is {package.state}, not ready to download")
        if first_request:
            with self.db.transaction() as uow:
                self.audit.record(
                    uow.session,
                    AuditTag.DISCLOSURE_PACKAGE_DOWNLOADED,
                    actor=actor,
                    subject=Subject("disclosure_package", package.id),
                    details={"sha256": package.sha256},
                )
        return Download(self.path_of(package.id), package.filename, package.sha256)

    @staticmethod
    def _visible(session: Session, package_id: str, actor: Actor) -> DisclosurePackage:
        package = session.get(DisclosurePackage, package_id)
        if package is None or not (
            package.requested_by == actor.id or actor.has_role(Role.PROFESSIONAL_STANDARDS)
        ):
            raise NotFound(f"no disclosure package {package_id}")
        return package

    @staticmethod
    def _out(session: Session, package: DisclosurePackage) -> PackageOut:
        job = session.get(JobRecord, package.job_id) if package.job_id else None
        ready = package.state == PackageState.READY
        return PackageOut(
            id=package.id,
            title=package.title,
            case_id=package.case_id,
            state=str(package.state),
            progress=1.0 if ready else (job.progress if job else 0.0),
            items=len(package.item_ids),
            file_count=package.file_count,
            size=package.size,
            sha256=package.sha256,
            requested_by=package.requested_by_name,
            created_at=package.created_at,
            completed_at=package.completed_at,
            error=package.error or (job.error if job and not ready else None),  # e.g. waiting for disk
            download_url=f"/api/v1/packages/{package.id}/download" if ready else None,
        )


def _collars(session: Session, user_ids: set[str]) -> dict[str, str]:
    rows = session.execute(select(User.id, User.collar_number).where(User.id.in_(user_ids)))
    return {user_id: collar for user_id, collar in rows if collar}


def _exhibit(item: Item, collars: dict[str, str], copy: Derivative | None = None) -> Exhibit:
    redacted = RedactedCopy(copy.sha256, copy.size, dict(copy.parameters)) if copy is not None else None
    return Exhibit(
        item_id=item.id,
        sha256=item.sha256,
        size=item.size,
        filename=item.filename,
        camera=item.camera_serial,
        officer=item.officer,
        collar=collars.get(item.officer_id or ""),
        recorded_start=item.recorded_start,
        recorded_end=item.recorded_end,
        uploaded_at=item.uploaded_at,
        redacted=redacted,
    )


def _file_of(exhibit: Exhibit) -> Original:
    """The stored bytes that go in for an exhibit: its original, or the redacted copy chosen instead."""
    if exhibit.redacted is not None:
        return Original(exhibit.path, exhibit.redacted.sha256, exhibit.redacted.size)
    return Original(exhibit.path, exhibit.sha256, exhibit.size)


def _listed(exhibit: Exhibit) -> dict[str, Any]:
    made = _file_of(exhibit)
    return file_entry(made.path, made.sha256, made.size, "redacted copy" if exhibit.redacted else "original")


def _role(path: str) -> str:
    if path.startswith("continuity/"):
        return "continuity statement"
    if path.startswith("keys/") or path == SIGNING_KEY:
        return "public key"
    return {"README.txt": "readme", "verify.py": "verifier"}.get(path, "other")
