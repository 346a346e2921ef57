"""`witnessbox retention sweep` runs one sweep and says what it did."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.backend_free  # the verb's own database: a fresh SQLite file


def test_the_sweep_verb_runs_one_sweep(tmp_path: Path) -> None:
    """GIVEN a fresh data directory WHEN `witnessbox retention sweep` runs THEN it exits 0 and reports
    every count of the sweep."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WITNESSBOX_")}
    done = subprocess.run([sys.executable, "-m", "witnessbox", "retention", "sweep", "--data-dir",
                           str(tmp_path / "data")], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "computed 0, warned 0, recycled 0, rescued 0, purged 0" in done.stdout
