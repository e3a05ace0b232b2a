"""POPGym's MMER of a study's runs, by hand (fw_rl.agents.study.mmer)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

pytest.importorskip("rliable")

from fw_rl.agents.study.mmer import collect, write_mmer_report  # noqa: E402


def fake_run(study: Path, env: str, core: str, seed: int, train_returns: list[float]) -> None:
    run = study / "runs" / f"{env}-{core}-seed{seed}"
    run.mkdir(parents=True)
    spec = {"labels": {"env": env, "core": core}, "seed": seed}
    (run / "study.json").write_text(json.dumps(spec))
    (run / "config.json").write_text(json.dumps({"core": core, "total_frames": 100}))
    (run / "done.json").write_text("{}")
    with open(run / "eval.csv", "w", newline="") as f:
        csv.writer(f).writerows([["frames", "elapsed_s", "mean_return"], [100, 1.0, 0.0]])
    with open(run / "metrics.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["frames", "elapsed_s", "mean_return"])
        for i, r in enumerate(train_returns):
            writer.writerow([10 * (i + 1), float(i), r])


def test_mmer_is_the_best_mean_return_over_training_normalised(tmp_path):
    for seed in range(3):
        for env in ("A", "B"):
            fake_run(tmp_path, env, "fastweights", seed, ["nan", -0.2, 0.6 + 0.1 * seed, 0.1])
            fake_run(tmp_path, env, "lstm", seed, [-0.5, -0.4 + 0.1 * seed, -0.6])
    scores = collect(tmp_path, "env", "core")
    assert scores["fastweights"]["A"] == pytest.approx([0.8, 0.85, 0.9])  # 0.5 * max + 0.5
    assert scores["lstm"]["B"] == pytest.approx([0.3, 0.35, 0.4])
    paths = write_mmer_report(tmp_path, reps=200)
    text = (tmp_path / "mmer.md").read_text()
    assert [p.name for p in paths] == ["mmer.csv", "mmer.md"]
    assert "Across 2 envs, 3 seeds each" in text
    row = next(line for line in text.splitlines() if line.startswith("| fastweights | 0.8"))
    assert "| 1.00 [1.00, 1.00] |" in row  # every fast-weights run beats every LSTM run


def test_another_trainers_runs_join_and_the_summary_keeps_the_envs_all_have(tmp_path):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for seed in range(3):
        for env in ("A", "B"):
            fake_run(ours, env, "lstm", seed, [0.0, 0.2])
        fake_run(theirs, "A", "sb3_lstm", seed, [0.6])
    out = tmp_path / "joint"
    write_mmer_report(ours, out, baseline="lstm", reps=200, others=(theirs,))
    text = (out / "mmer.md").read_text()
    assert "| B | 0.600 [0.600, 0.600] (3) | - |" in text
    assert "Across 1 envs, 3 seeds each" in text
    row = next(line for line in text.splitlines() if line.startswith("| sb3_lstm | 0.800"))
    assert "| 1.00 [1.00, 1.00] |" in row


def test_a_study_of_one_core_compares_by_the_core_as_it_ran(tmp_path):
    """A grid with no core axis (one core at non-default options) is labelled by the
    core's recorded label; studies with no env in common say so in one error."""
    from fw_rl.agents.study.report import ReportError

    for seed in range(3):
        fake_run(tmp_path / "variant", "A", "fastweights", seed, [0.0, 0.4])
    for path in (tmp_path / "variant" / "runs").iterdir():
        spec = json.loads((path / "study.json").read_text())
        del spec["labels"]["core"]
        (path / "study.json").write_text(json.dumps(spec))
        config = {"core": "fastweights", "core_options": '{"fast_lr": 0.005}', "total_frames": 100}
        (path / "config.json").write_text(json.dumps(config))
    scores = collect(tmp_path / "variant", "env", "core")
    (label,) = scores
    assert "fastweights" in label and "0.005" in label
    assert scores[label]["A"] == pytest.approx([0.7, 0.7, 0.7])
    for seed in range(3):
        fake_run(tmp_path / "other", "B", "lstm", seed, [0.0])
    with pytest.raises(ReportError, match="no env has runs of every core"):
        write_mmer_report(tmp_path / "variant", tmp_path / "out", reps=50,
                          others=(tmp_path / "other",))  # fmt: skip


def test_a_grid_of_one_env_names_it_by_the_env_the_runs_ran(tmp_path):
    """A grid with the env among its flags (no env axis) is reported by the env's short name."""
    from fw_rl.agents.study.mmer import env_short_name

    assert env_short_name("popgym:popgym-RepeatFirstEasy-v0") == "RepeatFirstEasy"
    assert env_short_name("bsuite/memory_len-v0") == "memory_len"
    assert env_short_name("CartPole-v1") == "CartPole"
    for seed in range(2):
        fake_run(tmp_path, "A", "gru", seed, [0.0, 1.0])
    for path in (tmp_path / "runs").iterdir():
        spec = json.loads((path / "study.json").read_text())
        spec["labels"] = {"model": "gru"}
        (path / "study.json").write_text(json.dumps(spec))
        config = {"core": "gru", "total_frames": 100, "env": "popgym:popgym-RepeatFirstEasy-v0"}
        (path / "config.json").write_text(json.dumps(config))
    assert collect(tmp_path, "env", "model") == {"gru": {"RepeatFirstEasy": [1.0, 1.0]}}
