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


def test_the_tuned_grids_take_each_chosen_setting_and_link_the_tunings_runs(tmp_path):
    """make_tuned_grids.py: a core with a choice joins both grids at its (rate, schedule);
    the tuning's finished runs of that setting become its first seeds, linked."""
    import json
    import shutil

    shutil.copy(ASSOC / "make_tuned_grids.py", tmp_path)
    (tmp_path / "grids").mkdir()
    shutil.copy(ASSOC / "grids" / "tuning_protocol.json", tmp_path / "grids")
    tuning = tmp_path / "tuning_protocol"
    best = {"lstm": {"20": {"lr": "0.003", "lr_schedule": "plateau"}}}
    (tuning / "runs").mkdir(parents=True)
    (tuning / "best.json").write_text(json.dumps(best))
    for name, schedule, seed, done in (
        ("a", "plateau", 0, True),
        ("b", "constant", 1, True),
        ("c", "plateau", 1, True),
        ("d", "plateau", 2, False),
    ):
        run = tuning / "runs" / name
        run.mkdir()
        config = {"core": "lstm", "lr": 0.003, "lr_schedule": schedule, "seed": seed}
        (run / "config.json").write_text(json.dumps(config))
        if done:
            (run / "done.json").write_text("{}")
    done = subprocess.run([sys.executable, str(tmp_path / "make_tuned_grids.py")],
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    r20 = json.loads((tmp_path / "grids" / "table1_tuned_R20.json").read_text())
    setting = ["--core", "lstm", "--lr", "0.003", "--lr-schedule", "plateau"]
    assert r20["axes"] == {"core": {"lstm": setting}} and r20["seeds"] == list(range(10))
    assert r20["flags"][r20["flags"].index("--hidden") + 1] == "20"
    r50 = json.loads((tmp_path / "grids" / "table1_tuned_R50_R100.json").read_text())
    assert "--hidden" not in r50["flags"] and set(r50["axes"]["hidden"]) == {"R50", "R100"}
    links = {p.name: p.resolve().name for p in (tmp_path / "table1_tuned_R20" / "runs").iterdir()}
    assert links == {"lstm-seed0": "a", "lstm-seed1": "c"}  # the chosen schedule, finished


def test_collapse_gives_the_committed_table_of_the_bsuite_reruns(tmp_path):
    """docs/results/memory/collapse.py reads the committed bsuite reruns (bsuite's CSV logs
    and the training logs) into the committed table, row for row."""
    import pytest

    pytest.importorskip("bsuite")
    memory = ROOT / "docs" / "results" / "memory"
    out = tmp_path / "collapse.md"
    done = subprocess.run(
        [sys.executable, str(memory / "collapse.py"), "--out", str(out)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in out.read_text().splitlines() if line.startswith("| 8 ")]
    committed = (memory / "bsuite_collapse" / "collapse.md").read_text().splitlines()
    assert len(rows) == 9 and all(row in committed for row in rows)
    assert "| 8 | default | 0 |" in "\n".join(rows)


def test_fast_gain_values_reads_each_finished_runs_gain(tmp_path):
    """docs/results/memory/fast_gain_values.py: g from a finished run's checkpoint, and
    eta' = g eta from its core options; an unfinished run is left out."""
    import csv
    import json

    import torch

    from fw_rl.checkpoint import save_checkpoint

    options = json.dumps({"fast_gain": True, "fast_lr": 0.5})
    for name, gain, finished in (("a-seed0", 0.25, True), ("a-seed1", -1.0, False)):
        run = tmp_path / "runs" / name
        run.mkdir(parents=True)
        save_checkpoint(
            run / "checkpoint.pt", model_state={"core.gain": torch.tensor(gain)},
            optimiser_state=None, counters={"frames": 2048},
            config={"core_options": options}, kind="ppo",
        )  # fmt: skip
        if finished:
            (run / "done.json").write_text("{}")
    script = ROOT / "docs" / "results" / "memory" / "fast_gain_values.py"
    done = subprocess.run(
        [sys.executable, str(script), "--study", str(tmp_path), "--out", "-"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    table = list(csv.DictReader(done.stdout.splitlines()))
    assert table == [
        {"run": "a-seed0", "frames": "2048", "gain": "0.250000", "effective_eta": "0.125000"}
    ]


def test_last_episodes_gives_the_committed_table_and_says_a_running_setting(tmp_path):
    """The committed last_episodes.md is what the script writes from the committed logs;
    a setting whose log stops before bsuite's 10,000 episodes is said unfinished, not
    given as its result."""
    script = ROOT / "docs" / "results" / "memory" / "last_episodes.py"
    memory = ROOT / "docs" / "results" / "memory"
    out = tmp_path / "last.md"
    proc = subprocess.run(
        [sys.executable, str(script), "--out", str(out)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == (memory / "last_episodes.md").read_text()
    logs = tmp_path / "runs" / "agent-seed0" / "csv"
    logs.mkdir(parents=True)
    header = "steps,episode,total_return,episode_len,episode_return,total_perfect,total_regret\n"
    rows = [f"{2 * e},{e},0,2,1,{e},0\n" for e in (1000, 9000, 10000)]
    (logs / "bsuite_id_-_memory_len-0.csv").write_text(header + "".join(rows))
    (logs / "bsuite_id_-_memory_len-1.csv").write_text(header + "".join(rows[:2]))
    proc = subprocess.run(
        [sys.executable, str(script), "--bsuite", str(tmp_path / "runs"), "--out", "-"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "| 1 | 1.000 (pass, +37.5) / 1.000 |" in proc.stdout
    assert "| 2 | unfinished (9,000 episodes) |" in proc.stdout
