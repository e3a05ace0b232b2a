"""The supervised training loop (fw_rl/tasks/training.py): resume, stopping rules,
signals, divergence."""

import json

import pytest
import torch
from task_helpers import TINY

from fw_rl.scripts import assoc_retrieval


def test_supervised_resume_keeps_the_runs_settings_and_refuses_another_model(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["--core", "lstm", "--hidden", "12", "--lr", "2e-3", "--updates", "40"]
    argv += ["--eval-interval", "20", "--train-size", "500", "--validation-size", "100"]
    argv += ["--test-size", "100", "--run-dir", str(run), "--no-progress"]
    assert assoc_retrieval.main(argv) == 0
    # --resume with only the new budget: core, sizes and learning rate come from the run
    assert assoc_retrieval.main(["--updates", "60", "--resume", str(run), "--no-progress"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert (config["core"], config["hidden"], config["lr"], config["updates"]) == (
        "lstm", 12, 2e-3, 60,
    )  # fmt: skip
    updates = [line.split(",")[0] for line in (run / "curve.csv").read_text().splitlines()]
    assert updates == ["update", "20", "40", "60"]
    capsys.readouterr()
    assert assoc_retrieval.main(["--hidden", "13", "--resume", str(run), "--no-progress"]) == 2
    assert "hidden: checkpoint 12, asked 13" in capsys.readouterr().err


def test_a_finished_supervised_run_is_not_trained_again_and_keeps_its_results(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["--core", "lstm", "--hidden", "8", "--updates", "40", "--eval-interval", "20"]
    argv += ["--train-size", "500", "--validation-size", "100", "--test-size", "100"]
    assert assoc_retrieval.main([*argv, "--run-dir", str(run), "--no-progress"]) == 0
    results = (run / "results.json").read_text()
    capsys.readouterr()
    for more in ([], ["--updates", "30"]):  # its own budget, or less than it has done
        assert assoc_retrieval.main(["--resume", str(run), *more, "--no-progress"]) == 2
        assert "has done 40 updates" in capsys.readouterr().err
    assert (run / "results.json").read_text() == results
    assert assoc_retrieval.main(["--resume", str(run), "--updates", "60", "--no-progress"]) == 0
    assert json.loads((run / "results.json").read_text())["updates"] == 60
    # a run stopped before its test (no results.json) is tested on resume, not refused
    (run / "results.json").unlink()
    assert assoc_retrieval.main(["--resume", str(run), "--no-progress"]) == 0
    assert (run / "results.json").is_file()
    # --resume takes the run's folder, alone
    for bad, message in (
        (["--resume", str(run / "checkpoint.pt")], "takes a run's folder"),
        (["--resume", str(run), "--run-dir", str(tmp_path / "other")], "not both"),
    ):
        with pytest.raises(SystemExit) as stop:
            assoc_retrieval.main([*bad, "--no-progress"])
        assert stop.value.code == 2 and message in capsys.readouterr().err


def test_training_stops_when_converged(tmp_path):
    """--patience: evaluations without a better validation error; --stop-at-error: a
    target. Both end the run before its cap and say why."""
    argv = ["--core", "lstm", "--hidden", "8", "--lr", "1e-9", "--updates", "500"]
    argv += ["--eval-interval", "10", "--train-size", "300", "--validation-size", "100"]
    argv += ["--test-size", "100", "--no-progress"]
    assert assoc_retrieval.main([*argv, "--patience", "3", "--run-dir", str(tmp_path / "a")]) == 0
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    assert results["updates"] < 500 and "no better validation error for 3" in results["stopped"]
    stop_at = ["--stop-at-error", "1.0", "--run-dir", str(tmp_path / "b")]
    assert assoc_retrieval.main([*argv, *stop_at]) == 0  # any error is <= 1
    results = json.loads((tmp_path / "b" / "results.json").read_text())
    assert results["updates"] == 10 and "--stop-at-error" in results["stopped"]
    assert assoc_retrieval.main([*argv, "--run-dir", str(tmp_path / "c")]) == 0
    assert json.loads((tmp_path / "c" / "results.json").read_text())["updates"] == 500


def test_sigterm_saves_a_supervised_run_which_then_resumes(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    run = tmp_path / "run"
    command = [sys.executable, "-m", "fw_rl.scripts.assoc_retrieval", "--hidden", "8",
               "--updates", "100000", "--eval-interval", "10", *TINY, "--no-progress",
               "--run-dir", str(run)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not (run / "checkpoint.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    if not (run / "checkpoint.pt").exists():  # the cause, not a later "no checkpoint"
        process.kill()
        pytest.fail("no checkpoint in 120 s: " + process.communicate()[0].decode()[-2000:])
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=180)[0].decode()
    assert process.returncode == 143, output
    assert "interrupted: saved" in output and not (run / "results.json").exists()
    curve = (run / "curve.csv").read_text().splitlines()
    done = int(curve[-1].split(",")[0])
    assert done >= 10
    argv = ["--resume", str(run), "--updates", str(done + 20), "--no-progress"]
    assert assoc_retrieval.main(argv) == 0
    assert json.loads((run / "results.json").read_text())["updates"] == done + 20


def test_a_run_whose_loss_turns_nan_stops_and_tests_its_best_weights(tmp_path):
    from torch.utils.data import TensorDataset

    from fw_rl.tasks.training import SupervisedConfig, TrainingFailed, train_classifier

    class TurnsNaN(torch.nn.Module):
        """A linear classifier whose outputs become NaN after ``after`` training calls."""

        def __init__(self, after):
            super().__init__()
            self.linear, self.calls, self.after = torch.nn.Linear(4, 3), 0, after

        def forward(self, x):
            self.calls += self.training
            logits = self.linear(x)
            return logits * float("nan") if self.calls > self.after else logits

    gen = torch.Generator().manual_seed(0)
    data = TensorDataset(
        torch.randn(256, 4, generator=gen), torch.randint(0, 3, (256,), generator=gen)
    )
    splits = {"train": data, "validation": data, "test": data}
    config = SupervisedConfig(core="lstm", hidden=4, updates=1000, eval_interval=10,
                              batch_size=32, progress=False)  # fmt: skip
    said = []
    code, results = train_classifier(TurnsNaN(25), splits, config, tmp_path / "a", say=said.append)
    assert (
        code == 0 and results["updates"] == 25 and "became nan at update 26" in results["stopped"]
    )
    assert 0 <= results["test_error"] <= 1 and said  # the weights best before it: a number
    with pytest.raises(TrainingFailed, match="before the first validation"):
        train_classifier(TurnsNaN(5), splits, config, tmp_path / "b", say=said.append)


def test_cosine_schedule_runs_from_lr_to_zero():
    from fw_rl.tasks.training import cosine_lr

    assert cosine_lr(0.01, 0, 100) == pytest.approx(0.01)
    assert cosine_lr(0.01, 50, 100) == pytest.approx(0.005)
    assert cosine_lr(0.01, 100, 100) == pytest.approx(0.0, abs=1e-12)


def _curve_lrs(run):
    rows = [line.split(",") for line in (run / "curve.csv").read_text().splitlines()]
    column = rows[0].index("lr")
    return [float(r[column]) for r in rows[1:]]


def test_plateau_schedule_cuts_the_rate_and_a_resume_keeps_the_cut(tmp_path):
    """A learning rate of 1e-9 never improves validation after the first evaluation: with
    --lr-patience 2 the rate halves every 2 evaluations, and a resumed run continues
    from the rate it had reached, not from --lr."""
    run = tmp_path / "run"
    argv = ["--core", "gru", "--hidden", "8", "--lr", "1e-9", "--updates", "50"]
    argv += ["--eval-interval", "10", "--train-size", "300", "--validation-size", "100"]
    argv += ["--test-size", "100", "--no-progress", "--lr-schedule", "plateau"]
    argv += ["--lr-patience", "2", "--lr-decay", "0.5", "--run-dir", str(run)]
    assert assoc_retrieval.main(argv) == 0
    lrs = _curve_lrs(run)
    assert lrs[0] == pytest.approx(1e-9) and lrs[-1] < lrs[0]
    assert all(b in (pytest.approx(a), pytest.approx(a / 2)) for a, b in zip(lrs, lrs[1:]))
    assert assoc_retrieval.main(["--updates", "70", "--resume", str(run), "--no-progress"]) == 0
    resumed = _curve_lrs(run)
    assert resumed[: len(lrs)] == lrs and resumed[len(lrs)] <= lrs[-1]


def test_a_bad_schedule_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        assoc_retrieval.main(["--lr-decay", "1.5"])
    assert stop.value.code == 2 and "--lr-decay must be in (0, 1)" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["fixed", "padded", "tensors"])
def test_shuffled_batches_are_the_data_loaders_in_its_order(kind):
    """The trainer gathers batches by indexing; they are DataLoader's own, epoch after
    epoch (a run resumed or rerun sees the batches it saw before the change)."""
    from torch.utils._pytree import tree_flatten
    from torch.utils.data import DataLoader, TensorDataset

    from fw_rl.tasks.associative_retrieval import make_splits
    from fw_rl.tasks.training import shuffled_batches

    if kind == "tensors":
        data = TensorDataset(torch.randn(50, 3), torch.arange(50))
    else:
        sizes = {"train": 50, "validation": 1, "test": 1}
        data = make_splits(0, 2, sizes, max_pairs=4 if kind == "padded" else None)["train"]
    loader = DataLoader(
        data, batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(3),
        drop_last=True,
    )  # fmt: skip
    expected = [batch for _ in range(3) for batch in loader]  # 3 epochs of 6 batches
    ours = shuffled_batches(data, 8, torch.Generator().manual_seed(3))
    got = [next(ours) for _ in expected]
    assert len(expected) == 18
    for want, have in zip(expected, got):
        want_leaves, want_shape = tree_flatten(want)
        have_leaves, have_shape = tree_flatten(have)
        assert have_shape == want_shape  # the same nesting: [[inputs, starts], targets]
        assert all(torch.equal(a, b) for a, b in zip(want_leaves, have_leaves))
