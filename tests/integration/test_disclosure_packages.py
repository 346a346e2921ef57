"""Disclosure packages: built by a job from a case, checked with sha256sum, openssl and the verifier,
audited from request to download, refused to those who may not export."""

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import LiveServer, fresh_database_url, settings_for
from tests.factories.packages import Exported, export_case, seed_case
from tests.factories.people import PASSWORD, PERSONAS
from tests.factories.tsa import running_authority
from tests.integration.test_full_disk import fill, small_disk
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import Container, build
from witnessbox.core.errors import Forbidden, NotFound
from witnessbox.disclosure import verifier
from witnessbox.jobs.models import JobRecord, JobState

PYTHON = Path(sys.executable)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    """One case of two recordings exported once for the module (building a force takes a second)."""
    folder = tmp_path_factory.mktemp("packages")
    with fresh_database_url(folder) as url, running_authority(folder / "tsa") as authority:
        container = build(settings_for(folder, url).model_copy(update={
            "audit_tsa_url": authority.url, "audit_tsa_certificate": authority.ca_certificate,
        }))
        try:
            yield export_case(container, folder)
        finally:
            container.close()


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def test_sha256sum_checks_the_package_as_it_is(exported: Exported) -> None:
    """GIVEN a built package, unpacked WHEN `sha256sum -c SHA256SUMS` runs THEN every file is OK."""
    result = _run(["sha256sum", "--strict", "-c", "SHA256SUMS"], exported.unpacked)
    assert result.returncode == 0, result.stdout + result.stderr
    listed = (exported.unpacked / "SHA256SUMS").read_text().splitlines()
    files = [p for p in exported.unpacked.rglob("*") if p.is_file() and p.name != "SHA256SUMS"]
    assert len(listed) == len(files) == result.stdout.count(": OK")


def test_openssl_verifies_the_manifest_signature(exported: Exported) -> None:
    """GIVEN the package WHEN openssl checks manifest.json.sig with signing-key.pem THEN it verifies,
    and the key is the server's own."""
    result = _run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "signing-key.pem", "-rawin",
         "-in", "manifest.json", "-sigfile", "manifest.json.sig"],
        exported.unpacked,
    )
    assert result.returncode == 0 and "Signature Verified Successfully" in result.stdout, result
    server_key = exported.container.audit.signer.public_pem()
    assert (exported.unpacked / "signing-key.pem").read_text() == server_key


def _checkpoints(exported: Exported) -> list[dict[str, object]]:
    return [mark for path in sorted(exported.unpacked.glob("continuity/*.json"))
            for mark in json.loads(path.read_text())["checkpoints"]]


def test_cited_checkpoints_carry_the_authoritys_time_stamp_that_openssl_verifies(
    exported: Exported, tmp_path: Path
) -> None:
    """GIVEN a force that time-stamps its checkpoints WHEN a package is built THEN every checkpoint its
    statements cite carries the authority's answer (the build anchors what it sealed before citing it),
    `openssl ts -verify` accepts it over the checkpoint's statement, and the verifier says so."""
    marks = _checkpoints(exported)
    assert marks and all("time_stamp" in mark for mark in marks)
    mark = marks[-1]
    stamp = mark["time_stamp"]
    assert isinstance(stamp, dict)
    (tmp_path / "n.txt").write_text(str(mark["statement"]), encoding="utf-8", newline="")
    (tmp_path / "n.tsr").write_bytes(base64.b64decode(stamp["response"]))
    authority = exported.container.settings.audit_tsa_certificate
    result = _run(["openssl", "ts", "-verify", "-data", "n.txt", "-in", "n.tsr", "-CAfile", str(authority)],
                  tmp_path)
    assert "Verification: OK" in result.stdout, result.stdout + result.stderr
    report = verifier.verify(exported.zip_path)
    assert report.ok and any("was time-stamped by" in note for note in report.notes)


def test_a_time_stamp_over_another_statement_is_named(exported: Exported, tmp_path: Path) -> None:
    """GIVEN a statement whose checkpoint's time-stamp was made over something else (one byte of its
    message imprint changed; SHA256SUMS updated, the signed manifest cannot be) WHEN verified THEN
    that statement, and only it, is named, with the time-stamp as a reason."""
    folder = Path(shutil.copytree(exported.unpacked, tmp_path / "package"))
    name = sorted(p.relative_to(folder).as_posix() for p in folder.glob("continuity/*.json"))[0]
    statement = json.loads((folder / name).read_text())
    mark = statement["checkpoints"][0]
    der = bytearray(base64.b64decode(mark["time_stamp"]["response"]))
    at = next(bytes(der).find(digest) for digest in (
        hashlib.new(name, mark["statement"].encode()).digest() for name in ("sha256", "sha384", "sha512"))
        if digest in der)
    der[at] ^= 0xFF
    mark["time_stamp"]["response"] = base64.b64encode(bytes(der)).decode()
    (folder / name).write_text(json.dumps(statement))
    sums = folder / "SHA256SUMS"
    digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    sums.write_text("".join(f"{digest}  {name}\n" if line.endswith(f"  {name}") else line + "\n"
                            for line in sums.read_text().splitlines()))
    report = verifier.verify(folder)
    assert {file for file, _ in report.problems} == {name}
    assert (name, f"checkpoint {mark['seq']}'s time-stamp is not over its statement") in report.problems


def test_originals_are_the_uploaded_bytes_under_readable_names(exported: Exported) -> None:
    """GIVEN the case's recordings WHEN exported THEN each original is byte-identical, named by time,
    collar, camera and id, and the manifest gives its facts."""
    manifest = json.loads((exported.unpacked / "manifest.json").read_text())
    assert manifest["case_reference"] == "OP-PKG-1" and manifest["reason"] == "MG6 file for CPS"
    by_item = {item["item_id"]: item for item in manifest["items"]}
    assert set(by_item) == set(exported.item_ids)
    for item_id, data in exported.originals.items():
        item = by_item[item_id]
        assert item["path"] == f"originals/20261126_083000_1142_WBX00001_{item_id[-8:]}.mp4"
        assert (exported.unpacked / item["path"]).read_bytes() == data
        assert item["sha256"] == hashlib.sha256(data).hexdigest() and item["size"] == len(data)
        assert item["camera"] == "WBX00001" and item["officer"] == "1142 Alex Morgan"
        assert item["recorded_start"].startswith("2026-11-26T08:30:00") and item["uploaded_at"]
    assert (exported.unpacked / "verify.py").read_bytes() == Path(verifier.__file__).read_bytes()


def test_the_verifier_passes_a_good_package_every_way_it_is_run(exported: Exported) -> None:
    """GIVEN a good package WHEN checked as a ZIP, unpacked, by `python verify.py` inside it and by
    `witnessbox verify` THEN all say OK with exit status 0."""
    assert verifier.verify(exported.zip_path).ok and verifier.verify(exported.unpacked).ok
    inside = _run([str(PYTHON), "verify.py"], exported.unpacked)
    cli = _run([str(PYTHON), "-m", "witnessbox", "verify", str(exported.zip_path)], exported.unpacked)
    shipped = _run([str(PYTHON), "verify.py", str(exported.zip_path)], exported.unpacked)
    for result in (inside, cli, shipped):
        assert result.returncode == 0 and result.stdout.startswith("OK"), result.stdout + result.stderr


def test_export_is_audited_sealed_and_the_zip_hash_recorded(exported: Exported) -> None:
    """GIVEN the built package THEN the request, each item's export and the completion (with the ZIP's
    own hash) are audited, the statements cite entries up to the export, all under a checkpoint."""
    container = exported.container
    out = container.packages.get(exported.package_id, actor=exported.force.actor("case_member"))
    assert out.state == "ready" and out.progress == 1.0
    assert out.sha256 == hashlib.sha256(exported.zip_path.read_bytes()).hexdigest()
    assert out.size == exported.zip_path.stat().st_size and out.file_count == 15
    with container.db.read() as session:
        tags = [e.tag for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
        completed = session.scalars(
            select(AuditEvent).where(AuditEvent.tag == str(AuditTag.DISCLOSURE_PACKAGE_COMPLETED))
        ).one()
    assert tags.count(AuditTag.DISCLOSURE_ITEM_EXPORTED) == 2 and AuditTag.DISCLOSURE_PACKAGE_REQUESTED in tags
    assert completed.details["sha256"] == out.sha256
    for path in exported.unpacked.glob("continuity/*.json"):
        statement = json.loads(path.read_text())
        cited = [entry["fields"]["tag"] for entry in statement["entries"]]
        assert cited[0] == AuditTag.INGEST_UPLOAD_CREATED and cited[-1] == AuditTag.DISCLOSURE_ITEM_EXPORTED
        assert AuditTag.EVIDENCE_ITEM_CREATED in cited
        assert (path.with_suffix(".pdf")).read_bytes().startswith(b"%PDF")
        assert statement["item"]["sha256"] in (path.with_suffix(".html")).read_text()
    assert container.audit.verify().ok


def test_a_rerun_of_the_build_is_harmless(exported: Exported) -> None:
    """GIVEN a ready package WHEN its job runs again THEN nothing is rebuilt."""
    assert exported.container.packages.build(exported.package_id, lambda _: None) == "already built"


def test_only_those_who_manage_the_case_may_export_it(exported: Exported) -> None:
    """GIVEN the case WHEN an officer, or an investigator outside the case, asks for a package THEN
    refused (forbidden; not found); a package is shown to whoever asked for it, not to others."""
    packages, force = exported.container.packages, exported.force
    with pytest.raises(Forbidden):
        packages.request(actor=force.actor("owner"), server_url="x", case_id=exported.case_id)
    outsider = replace(force.actor("investigator"), id="an-investigator-outside-the-case")
    with pytest.raises(NotFound):
        packages.request(actor=outsider, server_url="x", case_id=exported.case_id)
    with pytest.raises(NotFound):
        packages.get(exported.package_id, actor=force.actor("investigator"))
    with pytest.raises(NotFound):
        packages.request(actor=force.actor("case_member"), server_url="x", item_ids=["0" * 26])


@pytest.fixture
def served(live_server: LiveServer, tmp_path: Path) -> Exported:
    """A package built by the running server's own worker."""
    live_server.stop()
    container = build(live_server.settings)
    try:
        made = export_case(container, tmp_path)
    finally:
        container.close()
    live_server.start()
    return made


def test_api_serves_the_package_with_ranges_and_audits_the_download(
    live_server: LiveServer, served: Exported
) -> None:
    """GIVEN a built package WHEN its requester downloads it over the API (whole, then a range) THEN
    the bytes are the package's, a Range gets 206, others get 404, and one download is audited."""
    url = f"/api/v1/packages/{served.package_id}"
    with live_server.signed_in(PERSONAS["case_member"][0], PASSWORD) as client:
        shown = client.get(url).json()
        whole = client.get(shown["download_url"])
        part = client.get(shown["download_url"], headers={"Range": "bytes=10-19"})
        listed = client.get("/api/v1/packages", params={"case_id": served.case_id}).json()
    assert whole.status_code == 200 and hashlib.sha256(whole.content).hexdigest() == shown["sha256"]
    assert part.status_code == 206 and part.content == whole.content[10:20]
    assert [p["id"] for p in listed] == [served.package_id]
    with live_server.signed_in(PERSONAS["investigator"][0], PASSWORD) as client:
        assert client.get(url).status_code == 404
    with httpx.Client(base_url=live_server.url) as anonymous:
        assert anonymous.get(f"{url}/download").status_code == 401
    container = build(live_server.settings, migrate=False)
    try:
        with container.db.read() as session:
            downloads = session.scalars(
                select(AuditEvent).where(AuditEvent.tag == str(AuditTag.DISCLOSURE_PACKAGE_DOWNLOADED))
            ).all()
    finally:
        container.close()
    assert len(downloads) == 1


def test_an_original_that_no_longer_matches_its_hash_fails_the_build(container: Container) -> None:
    """GIVEN a stored original altered on disk after upload WHEN its package is built THEN every attempt
    fails, the package ends failed with the reason (audited), and no ZIP or partial file is left."""
    seeded = seed_case(container, recordings=1)
    [item_id] = seeded.originals
    stored = container.evidence.blobs.local_path(container.evidence.get(item_id).sha256)
    assert stored is not None
    stored.chmod(0o600)
    data = bytearray(stored.read_bytes())
    data[100] ^= 0xFF
    stored.write_bytes(bytes(data))
    actor = seeded.force.actor("case_member")
    package = container.packages.request(actor=actor, server_url="x", case_id=seeded.case_id)
    assert package.job_id is not None
    for _attempt in range(3):
        container.jobs.run(package.job_id)
    failed = container.packages.get(package.id, actor=actor)
    assert failed.state == "failed" and failed.download_url is None
    assert failed.error is not None and "no longer matches its recorded SHA-256" in failed.error
    assert list(container.packages.directory.iterdir()) == []
    with container.db.read() as session:
        assert session.scalars(
            select(AuditEvent).where(AuditEvent.tag == str(AuditTag.DISCLOSURE_PACKAGE_FAILED))
        ).one().details["error"] == failed.error


def test_a_selection_is_exported_as_its_own_package(exported: Exported, tmp_path: Path) -> None:
    """GIVEN one recording of the case WHEN its disclosure officer exports just that selection THEN the
    package holds that one original and verifies."""
    packages, actor = exported.container.packages, exported.force.actor("case_member")
    chosen = exported.item_ids[0]
    package = packages.request(actor=actor, server_url="https://bwv.example.police.uk", item_ids=[chosen])
    assert package.job_id is not None and package.case_id is None
    exported.container.jobs.run(package.job_id)
    zip_path = packages.path_of(package.id)
    with zipfile.ZipFile(zip_path) as archive:
        originals = [name for name in archive.namelist() if name.startswith("originals/")]
        assert [archive.read(name) for name in originals] == [exported.originals[chosen]]
    assert verifier.verify(zip_path).ok
    assert packages.get(package.id, actor=actor).title == "Selection of 1 recording"


def test_a_full_packages_disk_makes_the_build_wait_and_it_completes_later(container: Container) -> None:
    """GIVEN the packages disk has too little space WHEN the build runs THEN it waits (queued, no attempt
    used, the reason shown on the package), leaves nothing, and builds once space returns."""
    seeded = seed_case(container, recordings=1)
    actor = seeded.force.actor("case_member")
    with small_disk(container.packages.directory) as disk:
        filler = fill(disk, leave=64 * 1024)
        package = container.packages.request(actor=actor, server_url="x", case_id=seeded.case_id)
        assert package.job_id is not None
        assert container.jobs.run(package.job_id) == JobState.QUEUED
        waiting = container.packages.get(package.id, actor=actor)
        assert waiting.state == "building" and "it will be built once there is space" in (waiting.error or "")
        with container.db.read() as session:
            job = session.get(JobRecord, package.job_id)
            assert job is not None and job.attempts == 0
        assert [p for p in disk.iterdir() if p != filler] == []
        filler.unlink()
        assert container.jobs.run(package.job_id) == JobState.SUCCEEDED
        ready = container.packages.get(package.id, actor=actor)
        assert ready.state == "ready" and ready.error is None
        assert verifier.verify(container.packages.path_of(package.id)).ok
