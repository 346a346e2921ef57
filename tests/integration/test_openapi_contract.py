"""The OpenAPI description tells the truth: schemathesis, with all its checks, finds no mismatch.

Schemathesis reads /api/openapi.json from the real app (ASGI, real database and files), then
generates requests from it: the schema's examples, boundary and negative cases (coverage),
random ones (fuzzing), and chains that follow created resources (stateful). Every response is
checked against what the description promises: documented status and media type, response
schema and headers, no 5xx, valid input accepted, invalid input refused, 401 without a
credential, 405 with `Allow` for methods the path does not have.

It runs once per role, each with its own API token, so refusals (403, 404) and acceptances
are both exercised. Uploads (tus, tested by tests/integration/test_tus_upload.py with real
clients) and the live event stream (which never ends) are left out.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import schemathesis
from schemathesis.engine import Status, events, from_schema
from schemathesis.engine.recorder import ScenarioRecorder

from tests.factories.ingest import hold_jobs, upload_bytes
from tests.factories.media import tiny_recording
from tests.factories.people import Force, make_force
from witnessbox.bootstrap import Container
from witnessbox.web.app import create_app

ROLES = ("owner", "supervisor", "investigator", "sysadmin")
LEFT_OUT = r"^/api/v1/(uploads|events)"  # tus uploads; the live event stream (server-sent events)
EXAMPLES = 5  # per operation and phase: enough to find mismatches, small enough for two cores


@dataclass
class Run:
    """What schemathesis did for one role."""

    requests: int = 0
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _ready_recording(container: Container, folder: Path) -> str:
    """A real recording uploaded from the owner's camera and processed (proxy, thumbnails), so bytes are served."""
    sent = hold_jobs(container)
    item_id = upload_bytes(container, tiny_recording(folder).read_bytes())
    while sent.sent:
        job_id, _delay = sent.sent.pop(0)
        container.jobs.run(job_id)
    return item_id


def _token(force: Force, role: str) -> str:
    return force.container.tokens.issue_user_token(f"contract {role}", actor=force.actor(role))[1]


def _schema(container: Container, token: str) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict({
        "headers": {"Authorization": f"Bearer {token}"},
        "checks": {"enabled": True},
        "generation": {"max-examples": EXAMPLES, "deterministic": True},
        "phases": {"stateful": {"max-steps": 20}},
        # A redaction plan has rules no JSON Schema states (a box inside the frame, unique region ids,
        # one box per moment, times within the recording): a plan of the right shape breaking one is
        # refused with 422 naming it (decision 0026).
        "operations": [{"include-path-regex": "/redaction/plan$", "checks": {"positive_data_acceptance": {
            "expected-statuses": ["2xx", "401", "403", "404", "409", "422"]}}}],
    })
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", create_app(container), config=config)
    return schema.exclude(path_regex=LEFT_OUT)


def run_schemathesis(container: Container, token: str) -> Run:
    """Run every phase over the API as the token's owner; collect requests, failures and errors."""
    run = Run()
    for event in from_schema(_schema(container, token)).execute():
        if isinstance(event, events.ScenarioFinished):
            run.requests += len(event.recorder.interactions)
            if event.status == Status.FAILURE:
                run.failures += _failures(event.recorder)
        elif isinstance(event, events.NonFatalError):
            run.errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            run.errors.append(f"fatal: {event.exception!r}")
    return run


def _failures(recorder: ScenarioRecorder) -> Iterator[str]:
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.status == Status.FAILURE and check.failure_info is not None:
                case = recorder.cases[case_id].value
                yield f"{case.method} {case.formatted_path}: {check.name}: {check.failure_info.failure.title}"


@pytest.fixture
def force(container: Container) -> Force:
    """The test force: a person per persona, the owner holding the test camera."""
    return make_force(container)


@pytest.mark.slow
@pytest.mark.backend_free  # the description and the answers are the same on any database: once, on SQLite
def test_the_api_keeps_the_promises_of_its_description(container: Container, force: Force, tmp_path: Path) -> None:
    """GIVEN the app on a real database with a processed recording and four roles holding API tokens
    WHEN schemathesis runs all its checks over every /api/ operation as each role
    THEN it finds no failure and no error, and it really sent requests."""
    _ready_recording(container, tmp_path / "camera")
    total, started = 0, time.monotonic()
    problems: list[str] = []
    for role in ROLES:
        run = run_schemathesis(container, _token(force, role))
        total += run.requests
        problems += [f"{role}: {line}" for line in sorted(set(run.failures)) + run.errors]
    elapsed = time.monotonic() - started
    print(f"schemathesis: {total} requests in {elapsed:.0f} s over {len(ROLES)} roles")
    assert not problems, "\n".join(problems)
    assert total > 1000
