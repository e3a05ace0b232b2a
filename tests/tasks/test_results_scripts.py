"""The analysis scripts kept beside the results: they run, and give the committed figures."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ASSOC = ROOT / "docs" / "results" / "assoc_retrieval"


def test_by_position_gives_the_committed_row_of_a_kept_run(tmp_path):
    run = ASSOC / "tuning_protocol" / "runs" / "fastweights_lr3e.3-constant-seed0"
    out = tmp_path / "by_position.md"
    done = subprocess.run(
        [sys.executable, str(ASSOC / "by_position.py"), str(run), "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    row = next(line for line in out.read_text().splitlines() if line.startswith(f"| {run.name}"))
    committed = (ASSOC / "by_position.md").read_text().splitlines()
    assert row in committed  # the same test error, positions, collisions and cosines
    assert "| 4.42 |" in row and "| 10 |" in row
