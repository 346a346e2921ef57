"""`witnessbox storage check`: the WORM conformance check against a real S3 server (SeaweedFS)."""

from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from tests.factories.s3 import S3Endpoint
from witnessbox.cli import app

pytestmark = pytest.mark.backend_free


def witnessbox(tmp_path: Path, env: dict[str, str], *args: str) -> Result:
    """Run the command line with the given settings (no database is touched by these commands)."""
    environment = {"WITNESSBOX_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200", **env}
    return CliRunner().invoke(app, list(args), env=environment)


def test_check_passes_on_an_object_lock_bucket(s3_endpoint: S3Endpoint, tmp_path: Path) -> None:
    """GIVEN a bucket with Object Lock WHEN `storage check` runs THEN every attempt is refused: all PASS, exit 0."""
    run = witnessbox(tmp_path, s3_endpoint.environment(s3_endpoint.make_bucket()), "storage", "check")
    lines = [line for line in run.output.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert run.exit_code == 0, run.output
    assert len(lines) == 9 and all(line.startswith("PASS") for line in lines), run.output
    for attempt in ("delete the locked version", "bypassing governance", "shorten the retention",
                    "downgrade COMPLIANCE to GOVERNANCE", "overwrite", "legal hold"):
        assert attempt in run.output


def test_check_fails_on_a_bucket_without_object_lock(s3_endpoint: S3Endpoint, tmp_path: Path) -> None:
    """GIVEN a plain bucket WHEN `storage check` runs THEN it fails, saying so, exit 1; and `serve` with
    storage_check_at_start refuses to start on it."""
    env = s3_endpoint.environment(s3_endpoint.make_bucket(object_lock=False))
    run = witnessbox(tmp_path, env, "storage", "check")
    assert run.exit_code == 1, run.output
    assert "FAIL  bucket has Object Lock enabled" in run.output
    assert "FAIL  write a probe under COMPLIANCE" in run.output
    serve = witnessbox(tmp_path, {**env, "WITNESSBOX_STORAGE_CHECK_AT_START": "true"}, "serve", "--port", "9")
    assert serve.exit_code == 1
    assert "refusing to start" in serve.output


def test_a_local_store_is_no_worm_store(tmp_path: Path) -> None:
    """GIVEN the default local store WHEN `storage check` runs THEN it says it is not a WORM store, exit 1."""
    run = witnessbox(tmp_path, {}, "storage", "check")
    assert run.exit_code == 1
    assert "FAIL  WORM store: not a WORM store" in run.output
