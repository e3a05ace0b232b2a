"""The sb3-contrib peer (agents/sb3_recurrent_ppo.py, scripts/sb3_recurrent_ppo.py): its runs
are written like ours, resume, and refuse bad input in one line."""

import csv

import pytest

from fw_rl.checkpoint import load_checkpoint

pytest.importorskip("sb3_contrib")

from fw_rl.scripts import sb3_recurrent_ppo as script  # noqa: E402

SMALL = ["--env", "Catch-v0", "--n-envs", "4", "--n-steps", "16", "--batch-size", "32"]
SMALL += ["--n-epochs", "1", "--hidden-size", "8", "--eval-episodes", "5"]


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_run_writes_our_files_and_resumes_to_a_larger_budget(tmp_path):
    run = tmp_path / "run"
    flags = [*SMALL, "--total-frames", "128", "--eval-interval", "64", "--run-dir", str(run)]
    assert script.main(flags) == 0
    payload = load_checkpoint(run, kind="sb3_recurrent_ppo")
    assert payload["counters"]["frames"] == 128 and payload["config"]["core"] == "sb3-lstm"
    assert [int(r["frames"]) for r in _rows(run / "metrics.csv")] == [64, 128]
    assert [int(r["frames"]) for r in _rows(run / "eval.csv")] == [64, 128]
    assert script.main(["--resume", str(run), "--total-frames", "256"]) == 0
    assert [int(r["frames"]) for r in _rows(run / "metrics.csv")] == [64, 128, 192, 256]
    assert load_checkpoint(run, kind="sb3_recurrent_ppo")["counters"]["updates"] == 4


def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys):
    run = tmp_path / "run"
    assert script.main(["--env", "NoSuchEnv-v0", "--run-dir", str(run)]) == 2
    assert "NoSuchEnv" in capsys.readouterr().err and not run.exists()
    with pytest.raises(SystemExit) as exit_info:
        script.main([*SMALL, "--net-arch", "[64, -1]", "--run-dir", str(run)])
    assert exit_info.value.code == 2 and "--net-arch" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        script.main([*SMALL, "--batch-size", "65", "--run-dir", str(run)])
    assert "larger than a rollout" in capsys.readouterr().err and not run.exists()
