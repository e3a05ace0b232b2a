"""The study tool on a tiny grid: runs, skips what finished, resumes what was stopped,
and reports with rliable."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fw_rl.agents.study.grid import GridError, load_grid, parse_grid
from fw_rl.agents.study.report import (
    ReportError,
    RunCurves,
    improvement_probability,
    interval_estimates,
    write_report,
)
from fw_rl.checkpoint import load_checkpoint
from fw_rl.scripts import study

TINY = ["--size", "5", "--visible-steps", "-1", "--hidden-size", "8", "--encoder-size", "8"]
TINY += ["--workers", "1", "--envs-per-worker", "4", "--eval-episodes", "10"]
TINY += ["--eval-interval", "1000", "--total-frames", "3000"]


def write_grid(path: Path, seeds=(0, 1), total_frames=None) -> Path:
    flags = list(TINY)
    if total_frames is not None:
        flags[flags.index("--total-frames") + 1] = str(total_frames)
    grid = {
        "flags": flags,
        "axes": {
            "setting": {"plain": [], "blind": ["--visible-steps", "2"]},
            "core": {"lstm": ["--core", "lstm"], "irnn": ["--core", "irnn"]},
        },
        "seeds": list(seeds),
    }
    path.write_text(json.dumps(grid))
    return path


def test_grid_expands_axes_and_seeds_with_later_flags_winning(tmp_path):
    grid = load_grid(write_grid(tmp_path / "g.json", seeds=(0, 1, 2)))
    runs = grid.runs()
    assert len(runs) == 2 * 2 * 3
    assert [r.seed for r in runs[:4]] == [0] * 4  # seeds outermost
    blind = next(r for r in runs if r.name == "blind-irnn-seed2")
    assert blind.labels == {"setting": "blind", "core": "irnn"}
    flags = list(blind.flags)
    assert flags[-2:] == ["--seed", "2"]
    # the axis's --visible-steps 2 comes after the common -1, so it wins in argparse
    where = [i for i, f in enumerate(flags) if f == "--visible-steps"]
    assert [flags[i + 1] for i in where] == ["-1", "2"]


def test_a_grid_names_its_trainer(tmp_path):
    from fw_rl.agents.study.runner import trainer_command

    data = {"axes": {"core": {"lstm": ["--core", "lstm"]}}, "seeds": [0]}
    (a3c_run,) = parse_grid(data).runs()
    (supervised,) = parse_grid({**data, "script": "glimpses", "flags": ["--threads", "2"]}).runs()
    assert trainer_command(a3c_run, tmp_path)[1:3] == ["-m", "fw_rl.scripts.a3c"]
    assert trainer_command(supervised, tmp_path)[1:3] == ["-m", "fw_rl.scripts.glimpses"]
    assert parse_grid({**data, "script": "glimpses"}).to_dict()["script"] == "glimpses"
    pytest.importorskip("ray")
    from fw_rl.agents.study.on_ray import cpus_of

    assert cpus_of(supervised) == 2  # a supervised run asks Ray for its --threads


@pytest.mark.parametrize(
    "data, message",
    [
        ({"axes": {"core": {"a": []}}, "seeds": []}, "seeds"),
        ({"axes": {}, "seeds": [0]}, "axes"),
        ({"axes": {"core": {"a-b": []}}, "seeds": [0]}, "label 'a-b'"),
        ({"axes": {"core": {"a": "--core a"}}, "seeds": [0]}, "list of strings"),
        ({"flags": ["--seed", "1"], "axes": {"core": {"a": []}}, "seeds": [0]}, "--seed"),
        ({"axes": {"core": {"a": []}}, "seeds": [0], "sedes": 1}, "unknown keys"),
        ({"axes": {"core": {"a": []}}, "seeds": [0], "script": "train"}, "'script' must be"),
    ],
)
def test_bad_grids_say_what_is_wrong(data, message):
    with pytest.raises(GridError, match=message):
        parse_grid(data)


def test_bad_grid_file_is_exit_2(tmp_path, capsys):
    (tmp_path / "g.json").write_text("{not json")
    assert study.main(["run", str(tmp_path / "g.json"), "--out", str(tmp_path / "o")]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_run_skips_finished_runs_and_reports(tmp_path, capsys):
    grid = write_grid(tmp_path / "g.json", seeds=(0, 1, 2))
    out = tmp_path / "study"
    only = ["--only", "setting=plain"]
    assert study.main(["run", str(grid), "--out", str(out), "--jobs", "2", *only]) == 0
    finished = sorted(p.name for p in (out / "runs").iterdir())
    assert finished == [f"plain-{c}-seed{s}" for c in ("irnn", "lstm") for s in range(3)]
    assert all((out / "runs" / n / "done.json").is_file() for n in finished)
    stamps = {n: (out / "runs" / n / "done.json").stat().st_mtime_ns for n in finished}
    capsys.readouterr()
    assert study.main(["run", str(grid), "--out", str(out), *only]) == 0
    assert "6 finished, 0 to run" in capsys.readouterr().out
    assert stamps == {n: (out / "runs" / n / "done.json").stat().st_mtime_ns for n in finished}
    # the report: rliable aggregates per cell of the other axes, one figure per cell
    assert study.main(["report", str(out), "--reps", "200"]) == 0
    report = (out / "report.md").read_text()
    assert study.main(["report", str(out), "--reps", "200"]) == 0
    assert (out / "report.md").read_text() == report  # the bootstrap is seeded
    assert "### setting plain" in report and "P(AUC > lstm's)" in report
    capsys.readouterr()
    assert study.main(["report", str(out), "--baseline", "gru", "--out", str(tmp_path / "x")]) == 2
    refused = capsys.readouterr().err
    assert "--baseline 'gru' is not a value of --compare core in this study: irnn, lstm" in refused
    rows = [
        line
        for line in report.splitlines()
        if line.startswith("| irnn") or line.startswith("| lstm")
    ]
    assert len(rows) == 2 and all("| 3 |" in r for r in rows)
    assert (out / "curves-plain.png").stat().st_size > 10_000
    scores = (out / "scores.csv").read_text().splitlines()
    assert scores[0].startswith("run,setting,core,seed,budget,auc") and len(scores) == 1 + 6
    # --with: another study's runs join (here a copy of the same: 6 runs a core)
    import shutil

    shutil.copytree(out, tmp_path / "again")
    both = ["report", str(out), "--with", str(tmp_path / "again"), "--out", str(tmp_path / "r")]
    assert study.main([*both, "--reps", "200"]) == 0
    text = (tmp_path / "r" / "report.md").read_text()
    assert sum(line.startswith("| lstm | 6 |") for line in text.splitlines()) == 1


def test_interrupted_study_resumes_the_stopped_run(tmp_path):
    grid = write_grid(tmp_path / "g.json", seeds=(0,), total_frames=10_000_000)
    out = tmp_path / "study"
    command = [sys.executable, "-m", "fw_rl.scripts.study", "run", str(grid), "--out", str(out)]
    command += ["--only", "setting=plain", "core=lstm"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run = out / "runs" / "plain-lstm-seed0"
    deadline = time.time() + 120
    while not (run / "eval.csv").is_file() or len((run / "eval.csv").read_text().splitlines()) < 2:
        assert time.time() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 130 and "run the same command again" in err
    assert (run / "checkpoint.pt").is_file() and not (run / "done.json").exists()
    # the next call continues that run from its checkpoint (here: with a smaller budget)
    frames = load_checkpoint(run, kind="a3c")["counters"]["frames"]
    data = json.loads(grid.read_text())
    data["flags"][data["flags"].index("--total-frames") + 1] = str(frames + 1000)
    grid.write_text(json.dumps(data))
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    commands = [line for line in (run / "log.txt").read_text().splitlines() if line[:2] == "$ "]
    assert len(commands) == 2 and "--run-dir" in commands[0] and "--resume" in commands[1]
    assert (run / "done.json").is_file()
    assert load_checkpoint(run, kind="a3c")["counters"]["frames"] >= frames + 1000
    # a run whose checkpoint has its budget (stopped before done.json was written, or the
    # grid's budget cut below it) is finished: no trainer is started to refuse it
    (run / "done.json").unlink()
    data["flags"][data["flags"].index("--total-frames") + 1] = "1000"
    grid.write_text(json.dumps(data))
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    commands = [line for line in (run / "log.txt").read_text().splitlines() if line[:2] == "$ "]
    assert len(commands) == 2 and (run / "done.json").is_file()


def _curves(returns, budget=1000):
    frames = np.arange(1, len(returns) + 1) * budget / len(returns)
    r = np.asarray(returns, float)
    return RunCurves("r", {"core": "x"}, 0, budget, frames, frames / 100, r, frames, frames, r)


def test_runs_of_different_cores_under_one_label_are_never_pooled():
    from dataclasses import replace

    from fw_rl.agents.study.report import group_runs

    old = replace(_curves([0.0, 1.0]), name="a", core="fastweights (norm_preliminary=True)")
    new = replace(_curves([0.0, 1.0]), name="b", core="fastweights")
    assert len(group_runs([new, replace(new, name="c")], "core")[()]["fastweights"]) == 2
    # compared by core: each core as it ran gets a row of its own
    assert set(group_runs([old, new], "core")[()]) == {"fastweights", old.core}
    # compared along another axis, one label must hold one core
    old, new = (replace(r, labels={"core": "x", "variant": "v"}) for r in (old, new))
    with pytest.raises(ReportError, match="did not run the same core .*a: fastweights \\(norm"):
        group_runs([old, new], "variant")


def test_runs_of_one_core_in_different_agents_get_a_row_each():
    """Folders joined with --with: the previous action fed or not, A3C beside PPO; a key
    that older configs lack (made before it existed) splits nothing."""
    from dataclasses import replace

    from fw_rl.agents.study.report import group_runs, run_settings

    ppo = {"core": "lstm", "epochs": 4, "hidden_size": 128, "previous_action": True, "env": "E"}
    assert run_settings(ppo) == {
        "trainer": "ppo", "hidden_size": 128, "previous_action": True, "env": "E",
    }  # fmt: skip
    assert run_settings({"workers": 2, "hidden_size": 64})["trainer"] == "a3c"
    assert run_settings({"n_epochs": 4})["trainer"] == "sb3_recurrent_ppo"
    base = replace(_curves([0.0, 1.0]), core="lstm")
    fed, blind, a3c, older = (
        replace(base, name=n, settings=run_settings(c))
        for n, c in (
            ("fed", ppo),
            ("blind", {**ppo, "previous_action": False}),
            ("a3c", {"core": "lstm", "workers": 2, "hidden_size": 128, "previous_action": True}),
            ("older", {k: v for k, v in ppo.items() if k != "env"}),
        )
    )
    groups = group_runs([fed, blind, replace(fed, name="fed2")], "core")[()]
    assert {k: [r.name for r in v] for k, v in groups.items()} == {
        "lstm (previous_action=True)": ["fed", "fed2"],
        "lstm (previous_action=False)": ["blind"],
    }
    assert set(group_runs([fed, a3c], "core")[()]) == {"lstm (trainer=ppo)", "lstm (trainer=a3c)"}
    assert list(group_runs([fed, older], "core")[()]) == ["lstm"]
    options = replace(blind, core="fastweights (decay=0.9)")
    assert list(group_runs([options, replace(options, settings=fed.settings)], "core")[()]) == [
        "fastweights (decay=0.9, previous_action=False)",
        "fastweights (decay=0.9, previous_action=True)",
    ]


def test_improvement_needs_3_runs_a_side_and_a_complete_win_gets_its_exact_p():
    from fw_rl.agents.study.report import exact_permutation_p, improvement_text

    assert improvement_text([1.0, 2.0], [0.0, 0.5, 0.1], 100).startswith("- (2 v 3 runs)")
    five, others = [5.0, 6, 7, 8, 9], [0.0, 1, 2, 3, 4]
    assert exact_permutation_p(five, others) == pytest.approx(1 / 252)
    assert improvement_text(five, others, 200).endswith("; all 5 > all 5, p = 0.004")
    assert improvement_text(others, five, 200).endswith("; all 5 < all 5, p = 0.004")
    mixed = improvement_text([1.0, 3, 5], [2.0, 4, 6], 200)
    assert "p =" not in mixed and mixed.startswith("0.")
    assert exact_permutation_p([1.0, 3, 5], [2.0, 4, 6]) == pytest.approx(16 / 20)  # sums >= 9


def test_run_scores_by_hand():
    scores = _curves([-1.0, 0.0, 0.9, 1.0]).scores(threshold=0.9)
    assert scores["auc"] == pytest.approx((0 + 0.5 + 0.95 + 1.0) / 4)
    assert scores["frames_to"] == 750 and scores["reached"]
    never = _curves([-1.0, -0.5]).scores(threshold=0.9)
    assert never["frames_to"] == 1000 and not never["reached"]  # censored at the budget


def test_training_drop_is_the_best_tenth_minus_the_last():
    # 20 rows over the budget, two to a tenth: up to 0.9 in the 5th tenth, then down to 0.1
    rising_then_lost = [-0.5, -0.3, 0.0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 0.9]
    rising_then_lost += [0.8, 0.8, 0.6, 0.6, 0.4, 0.4, 0.2, 0.2, 0.1, 0.1]
    frames = np.arange(20) * 50.0 + 25  # two rows inside each tenth of 1000 frames
    run = RunCurves(
        "r",
        {"core": "x"},
        0,
        1000,
        frames,
        frames,
        np.zeros(20),
        frames,
        frames,
        np.array(rising_then_lost),
    )
    tenths = run.training_tenths()
    assert tenths[4] == pytest.approx(0.9) and tenths[-1] == pytest.approx(0.1)
    assert run.scores(0.9)["train_drop"] == pytest.approx(0.8)
    assert _curves([-1.0, 0.0, 0.5, 1.0]).scores(0.9)["train_drop"] == 0.0  # ends at its best
    # a tenth without a logged row is skipped, not counted as a return of 0
    gappy = RunCurves(
        "g",
        {"core": "x"},
        0,
        1000,
        np.array([50.0]),
        np.array([1.0]),
        np.array([0.0]),
        np.array([50.0, 950.0]),
        np.array([1.0, 9.0]),
        np.array([0.5, 0.2]),
    )
    assert np.isnan(gappy.training_tenths()[1:-1]).all()
    assert gappy.scores(0.9)["train_drop"] == pytest.approx(0.3)


def test_rliable_estimates_on_known_scores():
    values = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 100.0])
    (point, low, high) = interval_estimates({"a": values}, reps=500)["a"]
    assert point == pytest.approx(3.5)  # the mean of the middle half: 2, 3, 4, 5
    assert low <= point <= high
    p, low, high = improvement_probability(np.ones(5) * 2, np.ones(5), reps=200)
    assert p == 1.0 and low == 1.0
    p, *_ = improvement_probability(np.array([1.0, 3.0]), np.array([2.0, 2.0]), reps=200)
    assert p == pytest.approx(0.5)


def test_report_of_an_empty_folder_is_an_error(tmp_path):
    with pytest.raises(ReportError, match="no runs/"):
        write_report(tmp_path, tmp_path)
    (tmp_path / "runs").mkdir()
    with pytest.raises(ReportError, match="no finished runs"):
        write_report(tmp_path, tmp_path)


def test_help_shows_the_defaults_that_exist(capsys):
    """Every subcommand's --help gives an option's default; never "(default: None)" for a
    required option or one whose help already says what its absence means."""
    for command in ("run", "report", "ablate", "recall", "mmer"):
        with pytest.raises(SystemExit):
            study.main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "(default: None)" not in text, command
    with pytest.raises(SystemExit):
        study.main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "0: no (default: 0)" in text and "runs at once (default 1; on Ray: all, queued)" in text


def test_pinning_needs_enough_cores(tmp_path, capsys):
    grid = write_grid(tmp_path / "g.json")
    cores = os.cpu_count() or 1
    argv = ["run", str(grid), "--out", str(tmp_path / "o"), "--jobs", str(cores), "--pin", "2"]
    assert study.main(argv) == 2
    assert "cores" in capsys.readouterr().err


def test_generalise_evaluates_trained_runs_with_other_visible_steps(tmp_path):
    grid = write_grid(tmp_path / "g.json", seeds=(0, 1))
    out = tmp_path / "study"
    assert study.main(["run", str(grid), "--out", str(out), "--only", "setting=blind"]) == 0
    argv = ["generalise", str(out), "--visible-steps", "0", "2", "4", "--episodes", "30"]
    assert study.main([*argv, "--reps", "100", "--only", "setting=blind"]) == 0
    rows = (out / "generalisation.csv").read_text().splitlines()
    assert rows[0] == "run,labels,seed,trained_visible_steps,visible_steps,mean_return"
    assert len(rows) == 1 + 4 * 3  # 2 cores x 2 seeds, 3 conditions each
    assert all(",2," in r for r in rows[1:] if r.startswith("blind")) and "core" in rows[1]
    assert (out / "generalisation-blind.png").stat().st_size > 5_000
    table = (out / "generalisation.md").read_text()
    assert "### blind" in table and "| core | seeds | M = 0 | **M = 2** | M = 4 |" in table
    assert table.count("| lstm | 2 | +") + table.count("| lstm | 2 | -") == 1
    # the same weights and episodes give the same returns
    first = (out / "generalisation.csv").read_text()
    assert study.main([*argv, "--reps", "100"]) == 0
    assert (out / "generalisation.csv").read_text() == first


def test_attention_of_a_trained_fast_weights_agent(tmp_path, capsys):
    from fw_rl.agents.study.attention import attention_profile
    from fw_rl.scripts import a3c

    run = tmp_path / "run"
    flags = [*TINY[:-2], "--total-frames", "2000", "--visible-steps", "2", "--no-progress"]
    assert a3c.main([*flags, "--core", "fastweights", "--run-dir", str(run)]) == 0
    profile = attention_profile(run, episodes=20)
    steps = 4  # a 5 x 5 board: episodes of 4 steps
    assert profile["mean"].shape == (steps, steps) and profile["visible"] == 2
    assert (np.triu(profile["mean"]) == 0).all()  # no step attends to itself or later
    assert (profile["mean"] >= 0).all()  # ReLU states: non-negative weights
    shares = profile["visible_share"][1:]
    assert ((0 <= shares) & (shares <= 1)).all() and shares[0] == 1.0
    decay = 0.95  # the core's default: decay alone gives the visible steps this share
    expected = sum(decay ** (3 - 1 - j) for j in range(2)) / sum(decay ** (2 - j) for j in range(3))
    assert profile["decay_share"][3] == pytest.approx(expected)
    assert study.main(["attention", str(run), "--episodes", "20"]) == 0
    assert (run / "attention.png").stat().st_size > 5_000
    assert len((run / "attention.csv").read_text().splitlines()) == 1 + steps
    lstm = tmp_path / "lstm"
    assert a3c.main([*flags, "--core", "lstm", "--run-dir", str(lstm)]) == 0
    capsys.readouterr()
    assert study.main(["attention", str(lstm)]) == 2
    assert "its core has no attention to show" in capsys.readouterr().err


def test_generalise_leaves_out_runs_kept_without_weights(tmp_path, capsys):
    grid = write_grid(tmp_path / "g.json", seeds=(0,))
    out = tmp_path / "study"
    assert study.main(["run", str(grid), "--out", str(out), "--only", "setting=plain"]) == 0
    (out / "runs" / "plain-lstm-seed0" / "checkpoint.pt").unlink()  # as a fresh clone has it
    argv = ["generalise", str(out), "--visible-steps", "1", "--episodes", "10", "--reps", "50"]
    assert study.main(argv) == 0
    assert "1 finished runs have no checkpoint here" in capsys.readouterr().out
    rows = (out / "generalisation.csv").read_text().splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == ["plain-irnn-seed0"]
    (out / "runs" / "plain-irnn-seed0" / "checkpoint.pt").unlink()
    assert study.main(argv) == 0  # no weights left: the table and figure come from the CSV
    assert "1 rows of runs not evaluated now are kept" in capsys.readouterr().out
    table = (out / "generalisation.md").read_text()
    assert "### plain" in table and table.count("| irnn | 1 | ") == 1
    (out / "generalisation.csv").unlink()
    assert study.main(argv) == 2


def test_a_grid_runs_as_ray_tasks_across_the_cluster_and_resumes(ray_cluster, tmp_path, capsys):
    pytest.importorskip("ray")
    import threading

    from fw_rl.agents.study.grid import load_grid
    from fw_rl.agents.study.runner import StudyRunner

    grid = write_grid(tmp_path / "g.json", seeds=(0, 1))
    out = tmp_path / "study"
    where = ["--ray-address", ray_cluster.address]
    assert study.main(["run", str(grid), "--out", str(out), *where, "--only", "core=lstm"]) == 0
    runs = sorted((out / "runs").iterdir())
    assert [r.name for r in runs] == [
        f"{s}-lstm-seed{n}" for s in ("blind", "plain") for n in (0, 1)
    ]
    for run in runs:  # the run's files came back from whichever node ran it
        assert {"done.json", "metrics.csv", "eval.csv", "config.json", "checkpoint.pt"} <= {
            p.name for p in run.iterdir()
        }
    nodes = {
        line.split(":")[0]
        for run in runs
        for line in (run / "log.txt").read_text().splitlines()
        if line.startswith("# on node")
    }
    assert len(nodes) == 2  # spread over both nodes of the cluster
    capsys.readouterr()
    assert study.main(["run", str(grid), "--out", str(out), *where, "--only", "core=lstm"]) == 0
    assert "4 finished, 0 to run" in capsys.readouterr().out

    # stopped mid-run, a run comes back with its checkpoint and resumes from it next time
    long = load_grid(write_grid(tmp_path / "long.json", seeds=(0,), total_frames=10_000_000))
    runner = StudyRunner(long, tmp_path / "long", ray_address=ray_cluster.address, say=lambda _: 0)

    training = []

    def stop_when_training():
        started = time.time()
        deadline = started + 180
        while time.time() < deadline and not training:
            if any(
                evaluated_twice(e, started) for e in Path("/tmp").glob("fw_rl-run-*/run/eval.csv")
            ):
                training.append(True)
            time.sleep(0.2)
        runner._on_signal(signal.SIGINT, None)

    def evaluated_twice(eval_csv: Path, since: float) -> bool:  # this run's, not a past one's
        try:
            return eval_csv.stat().st_mtime >= since and len(eval_csv.read_text().splitlines()) >= 2
        except FileNotFoundError:  # a finished run's scratch folder, removed meanwhile
            return False

    stopper = threading.Thread(target=stop_when_training)
    stopper.start()
    results = runner.run(lambda s: s.labels == {"setting": "plain", "core": "irnn"})
    stopper.join()
    assert training, "the run was not seen training within 180 s"
    run = tmp_path / "long" / "runs" / "plain-irnn-seed0"
    assert [r.status for r in results] == ["interrupted"]
    assert (run / "checkpoint.pt").is_file() and not (run / "done.json").exists()
    # a budget the checkpoint has not reached (a slow machine may have trained past 3000
    # frames before the stop came: the run would then count as finished, with no resume)
    frames = load_checkpoint(run, kind="a3c")["counters"]["frames"]
    data = json.loads((tmp_path / "long.json").read_text())
    data["flags"][data["flags"].index("--total-frames") + 1] = str(frames + 2000)
    (tmp_path / "long.json").write_text(json.dumps(data))
    again = StudyRunner(
        load_grid(tmp_path / "long.json"),
        tmp_path / "long",
        ray_address=ray_cluster.address,
        say=lambda _: 0,
    )
    assert [r.status for r in again.run(lambda s: s.name == run.name)] == ["done"]
    tasks = [line for line in (run / "log.txt").read_text().splitlines() if line[:9] == "# on node"]
    assert len(tasks) == 2 and "--run-dir" in tasks[0] and "--resume" in tasks[1]


def test_a_run_no_node_can_hold_is_refused(ray_cluster, tmp_path, capsys):
    pytest.importorskip("ray")
    grid = json.loads(write_grid(tmp_path / "g.json", seeds=(0,)).read_text())
    grid["flags"][grid["flags"].index("--workers") + 1] = "8"
    (tmp_path / "g.json").write_text(json.dumps(grid))
    where = ["--ray-address", ray_cluster.address]
    assert study.main(["run", str(tmp_path / "g.json"), "--out", str(tmp_path / "s"), *where]) == 2
    assert "asks for 8 CPUs" in capsys.readouterr().err


@pytest.mark.parametrize(
    "path",
    sorted((Path(__file__).parents[2] / "docs/results").glob("*/grids/*.json")),
    ids=lambda p: f"{p.parents[1].name}/{p.name}",
)
def test_the_committed_study_grids_load(path):
    assert load_grid(path).runs()  # a bad label or flag would stop run_all.sh mid-way


A3C_GRIDS = [
    p
    for p in sorted((Path(__file__).parents[2] / "docs/results").glob("*/grids/*.json"))
    if json.loads(p.read_text()).get("script", "a3c") == "a3c"
]


@pytest.mark.parametrize("path", A3C_GRIDS, ids=lambda p: f"{p.parents[1].name}/{p.name}")
def test_the_committed_a3c_grids_pin_what_their_runs_ran_with(path):
    """A3C's defaults became make train's (16 boards, 15 minutes: issue #32); the committed
    grids ran without a time limit, so each run names it, and its boards, to run again as
    it ran. Adding flags changes no run's name: the finished runs stay finished."""
    for run in load_grid(path).runs():
        assert "--max-minutes" in run.flags and "--envs-per-worker" in run.flags, run.name
        assert run.name == "-".join([*run.labels.values(), f"seed{run.seed}"])
        flags = list(run.flags)
        minutes = [flags[i + 1] for i, f in enumerate(flags) if f == "--max-minutes"]
        assert float(minutes[-1]) == 0, run.name
    assert any(p.name == "popgym.json" for p in A3C_GRIDS)  # the memory study's too


def test_a_run_claimed_by_a_live_runner_is_left_to_it_and_a_dead_ones_claim_is_taken(tmp_path):
    from fw_rl.agents.study.runner import CLAIM_NAME, StudyRunner, claim, release

    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run_dir = tmp_path / "run"
        run_dir.mkdir()
        (run_dir / CLAIM_NAME).write_text(str(holder.pid))
        assert not claim(run_dir)  # another runner, alive
        grid = load_grid(write_grid(tmp_path / "g.json", seeds=(0,)))
        out = tmp_path / "study"
        spec = next(s for s in grid.runs() if s.name == "plain-lstm-seed0")
        (out / "runs" / spec.name).mkdir(parents=True)
        (out / "runs" / spec.name / CLAIM_NAME).write_text(str(holder.pid))
        results = StudyRunner(grid, out, say=lambda _: None).run(only=lambda s: s == spec)
        assert [r.status for r in results] == ["taken"]
        assert sorted(p.name for p in (out / "runs" / spec.name).iterdir()) == [CLAIM_NAME]
    finally:
        holder.kill()
        holder.wait()
    assert claim(run_dir)  # its runner is gone: the claim is stale
    assert (run_dir / CLAIM_NAME).read_text() == str(os.getpid())
    release(run_dir)
    assert not (run_dir / CLAIM_NAME).exists()


def test_a_supervised_run_that_ended_before_its_done_json_is_finished_once_tested(tmp_path):
    """The runner's check that stands in for a resume the trainer would refuse: a
    supervised run with its updates used up counts as finished once it has results."""
    from fw_rl.agents.study.runner import budget_spent
    from fw_rl.scripts import assoc_retrieval

    run = tmp_path / "run"
    argv = ["--core", "lstm", "--hidden", "8", "--updates", "40", "--eval-interval", "20"]
    argv += ["--train-size", "500", "--validation-size", "100", "--test-size", "100"]
    assert assoc_retrieval.main([*argv, "--run-dir", str(run), "--no-progress"]) == 0
    assert budget_spent(run) and budget_spent(run, ["--updates", "40"])
    assert not budget_spent(run, ["--updates", "80"])  # the grid asks for more: resume
    (run / "results.json").unlink()
    assert not budget_spent(run)  # not tested yet: a resume tests it
