"""A built disclosure package: a case of uploaded recordings, exported by its disclosure officer."""

import secrets
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tests.factories.ingest import hold_jobs, upload_bytes
from tests.factories.media import STARTED
from tests.factories.people import Force, make_force
from witnessbox.bootstrap import Container


@dataclass
class Exported:
    """The package and what went into it."""

    container: Container
    force: Force
    case_id: str
    item_ids: list[str]
    originals: dict[str, bytes]  # item id -> the uploaded bytes
    package_id: str
    zip_path: Path
    unpacked: Path


@dataclass
class Seeded:
    """A case of uploaded recordings, worked by its investigator and a disclosure officer."""

    force: Force
    case_id: str
    originals: dict[str, bytes]  # item id -> the uploaded bytes


def seed_case(container: Container, recordings: int = 2) -> Seeded:
    """Upload `recordings` recordings and put them in a case with a disclosure officer as member."""
    hold_jobs(container)
    force = make_force(container)
    originals = {}
    for index in range(recordings):
        data = secrets.token_bytes(200_000 + index)
        originals[upload_bytes(container, data, started_at=STARTED, filename=f"clip{index}.mp4")] = data
    investigator = force.actor("investigator")
    case = container.cases.create("OP-PKG-1", "Burglary at the mill", actor=investigator)
    container.cases.add_items(case.id, list(originals), actor=investigator, reason="footage of the arrest")
    container.cases.add_member(case.id, force.collar("case_member"), actor=investigator)
    return Seeded(force, case.id, originals)


def export_case(container: Container, folder: Path, recordings: int = 2) -> Exported:
    """Seed a case, have its disclosure officer ask for its package, run the build, unpack it."""
    seeded = seed_case(container, recordings)
    package = container.packages.request(
        actor=seeded.force.actor("case_member"), server_url="https://bwv.example.police.uk",
        case_id=seeded.case_id, reason="MG6 file for CPS",
    )
    assert package.job_id is not None
    container.jobs.run(package.job_id)
    zip_path = container.packages.path_of(package.id)
    unpacked = folder / "unpacked"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(unpacked)
    return Exported(container, seeded.force, seeded.case_id, list(seeded.originals), seeded.originals,
                    package.id, zip_path, unpacked)
