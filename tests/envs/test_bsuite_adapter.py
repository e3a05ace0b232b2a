"""bsuite's envs through our Gymnasium adapter: step for step the same as bsuite's own,
logged by bsuite's logger and scored by bsuite's analysis, and learnt by a recurrent core."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

bsuite = pytest.importorskip("bsuite")

from fw_rl.envs.bsuite_adapter import BsuiteEnv  # noqa: E402
from fw_rl.envs.factory import env_info, make_vector_env  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("bsuite_id", ["memory_len/0", "memory_len/3", "memory_size/2"])
def test_the_adapter_steps_exactly_as_bsuites_own_env(bsuite_id):
    experiment, setting = bsuite_id.split("/")
    ours = BsuiteEnv(experiment, int(setting))
    theirs = bsuite.load_from_id(bsuite_id)  # the same setting: the same seed
    rng = np.random.default_rng(0)
    for _ in range(3):
        obs, info = ours.reset()
        step = theirs.reset()
        assert info["bsuite_id"] == bsuite_id
        np.testing.assert_array_equal(obs, step.observation)
        steps = 0
        while True:
            action = int(rng.integers(ours.action_space.n))
            obs, reward, terminated, truncated, _ = ours.step(action)
            step = theirs.step(action)
            steps += 1
            np.testing.assert_array_equal(obs, step.observation)
            assert reward == step.reward
            assert terminated == (step.last() and step.discount == 0)
            assert not truncated
            if step.last():
                break
        assert ours.max_episode_length in (None, steps)
    assert ours.observation_space.shape == theirs.observation_spec().shape
    assert ours.action_space.n == theirs.action_spec().num_values


def test_the_episode_length_is_the_rollout_of_a_memory_setting():
    info = env_info("bsuite/memory_len-v0", {"setting": 4})  # memory_length 5
    assert info.episode_limit == 6 and info.default_rollout == 6


def test_a_bad_setting_is_refused_in_one_line():
    with pytest.raises(ValueError, match=r"setting must be an index of bsuite's memory_len"):
        BsuiteEnv("memory_len", 23)


def test_only_the_training_stream_writes_bsuites_log(tmp_path):
    kwargs = {"setting": 0, "results_dir": str(tmp_path)}
    env_info("bsuite/memory_len-v0", kwargs)  # a look at the spaces
    make_vector_env("bsuite/memory_len-v0", kwargs, 2).close()  # an evaluation's envs
    assert not list(tmp_path.iterdir())
    vec = make_vector_env("bsuite/memory_len-v0", kwargs, 1, training=True)
    vec.reset(seed=0)
    for _ in range(4):
        vec.step(np.zeros(1, np.int64))
    assert [p.name for p in tmp_path.iterdir()] == ["bsuite_id_-_memory_len-0.csv"]


def test_a_short_sweep_is_logged_and_scored_by_bsuites_analysis(tmp_path):
    script = ROOT / "scripts" / "bsuite_memory.py"
    run = [sys.executable, str(script), "run", "--core", "lstm", "--experiment", "memory_len"]
    run += ["--settings", "0", "1", "--out", str(tmp_path)]
    tiny = ["--", "--hidden-size", "8", "--encoder-size", "8", "--total-frames", "600"]
    proc = subprocess.run(run + tiny, capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    again = subprocess.run(run + tiny, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert again.stdout.count("finished, skipped") == 2  # a sweep resumes
    proc = subprocess.run(
        [sys.executable, str(script), "score", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(tmp_path / "scores.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    settings = {r["setting"] for r in rows}
    assert settings == {"all", "memory_len/0", "memory_len/1"}
    assert all(0.0 <= float(r["score"]) <= 1.0 for r in rows)
    # 600 frames are not bsuite's 10,000 episodes: the sweep is scored, and said partial
    assert [(r["finished"], r["settings"]) for r in rows if r["setting"] == "all"] == [("0", "23")]
    assert "| 0 of 23 (partial) |" in (tmp_path / "scores.md").read_text()
    # bsuite's logger counted the episodes of the 600 frames: 2 and 3 steps each
    log = tmp_path / "lstm" / "csv" / "bsuite_id_-_memory_len-0.csv"
    with open(log, newline="") as f:
        assert int(list(csv.DictReader(f))[-1]["steps"]) == 600


def test_stopping_a_sweep_stops_its_trainer_too(tmp_path):
    """SIGTERM to the sweep is passed on to the setting's trainer: none is left running."""
    import os
    import signal
    import time

    script = ROOT / "scripts" / "bsuite_memory.py"
    run = [sys.executable, str(script), "run", "--core", "lstm", "--experiment", "memory_len"]
    run += ["--settings", "0", "1", "--out", str(tmp_path)]
    long = ["--", "--hidden-size", "8", "--encoder-size", "8", "--total-frames", "10000000"]
    sweep = subprocess.Popen(run + long, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    metrics = tmp_path / "lstm" / "runs" / "memory_len-0" / "metrics.csv"
    deadline = time.monotonic() + 120
    while not metrics.is_file() and time.monotonic() < deadline and sweep.poll() is None:
        time.sleep(0.5)
    assert metrics.is_file(), "the trainer never started"

    def trainers() -> list[int]:
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                line = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "a3c.py" in line and str(tmp_path) in line:
                found.append(int(pid))
        return found

    assert trainers()
    sweep.send_signal(signal.SIGTERM)
    try:
        out, _ = sweep.communicate(timeout=120)
        left = trainers()
    finally:
        for pid in trainers():  # never leave one running on past the test
            os.kill(pid, signal.SIGKILL)
    assert sweep.returncode == 130 and "memory_len-0: stopped" in out
    assert "memory_len-1" not in out  # the sweep went no further
    assert left == []


def test_a_sweeps_runs_play_one_stream_with_no_time_limit(tmp_path):
    """bsuite sets the episodes a run plays, however long they take: its runs name
    --max-minutes 0 (A3C's default stops at 15 minutes) and one stream, 1 x 1."""
    from fw_rl.agents.config import A3CConfig
    from fw_rl.cli import parse_config
    from fw_rl.scripts.bsuite_memory import run_flags

    flags, run_dir = run_flags("lstm", "memory_len", 0, tmp_path)
    config = parse_config(A3CConfig, "", flags)
    assert (config.workers, config.envs_per_worker, config.max_minutes) == (1, 1, 0.0)
    assert config.run_dir == str(run_dir)


@pytest.mark.slow
def test_a_recurrent_core_learns_a_cue_it_must_remember(tmp_path):
    """bsuite's memory_len with memory_length 5: the cue is shown at the first step only
    and asked for at the last, so a memoryless policy gets a mean return of 0."""
    run = tmp_path / "run"
    command = [sys.executable, str(ROOT / "scripts" / "a3c.py"), "--env", "bsuite/memory_len-v0"]
    command += ["--env-kwargs", '{"setting": 4}', "--core", "lstm", "--hidden-size", "32"]
    command += ["--workers", "2", "--envs-per-worker", "8", "--total-frames", "60000"]
    command += ["--eval-interval", "20000", "--stop-at-return", "0.95", "--run-dir", str(run)]
    command += ["--no-progress"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(run / "eval.csv", newline="") as f:
        best = max(float(r["mean_return"]) for r in csv.DictReader(f))
    assert best >= 0.9


def test_evaluation_envs_of_different_seeds_play_different_episodes(capsys):
    """Each evaluation env plays one episode from reset(seed=s): bsuite's fixed per-setting
    seed would make every one the same context; the logged training stream keeps it."""
    pytest.importorskip("bsuite")
    from fw_rl.envs.factory import make_vector_env

    env = make_vector_env("bsuite/memory_len-v0", {"setting": 3}, 40)
    obs, _ = env.reset(seed=100)
    assert len(np.unique(obs, axis=0)) == 2  # both contexts, the one bit 0 and 1
    again, _ = env.reset(seed=100)
    np.testing.assert_array_equal(obs, again)  # the same seeds, the same episodes
    assert "Loaded bsuite_id" not in capsys.readouterr().out  # not printed per env


def test_scores_across_seeds_say_which_settings_pass_in_every_seed(tmp_path):
    """Agents named <name>-seed<N>: each experiment's score per seed, the mean, and each
    setting's passes counted over the seeds; a single seed gets no such row, and a sweep
    still running is marked partial and left out of the seeds' row."""
    from fw_rl.scripts.bsuite_memory import write_scores

    def rows(core, overall, passed, finished=23):
        found = [
            {"core": core, "experiment": "memory_len", "setting": "all", "score": overall,
             "finished": finished, "settings": 23}
        ]  # fmt: skip
        for setting in range(3):
            score = 1.0 if setting in passed else 0.0
            found.append(
                {"core": core, "experiment": "memory_len", "setting": f"memory_len/{setting}",
                 "score": score}
            )  # fmt: skip
        return found

    table = rows("gru-seed0", 0.5, {0, 1}) + rows("gru-seed1", 0.25, {0, 2})
    table += rows("lstm-seed0", 0.4, {0}) + rows("gru-seed2", 1.0, {0, 1, 2}, finished=3)
    write_scores(tmp_path, table)
    text = (tmp_path / "scores.md").read_text()
    assert "| gru | memory_len | 0, 1 | 0.50, 0.25 | 0.38 | 0 | 1 (1), 2 (1) |" in text
    assert "| lstm | memory_len | 0 |" not in text  # one seed: the per-agent row only
    assert "| lstm-seed0 | memory_len | 0.40 | 0 | 23 of 23 |" in text
    assert "| gru-seed2 | memory_len | 1.00 | 0, 1, 2 | 3 of 23 (partial) |" in text


def test_score_leaves_out_an_agent_whose_run_stopped_before_its_first_log(tmp_path, capsys):
    """bsuite's logger makes csv/ before its first file: such an agent is named and left
    out; with no other agent, one line and exit 2 (no pandas traceback)."""
    from fw_rl.scripts.bsuite_memory import main

    (tmp_path / "fastweights" / "csv").mkdir(parents=True)
    with pytest.raises(SystemExit) as stopped:
        main(["score", str(tmp_path)])
    assert stopped.value.code == 2
    captured = capsys.readouterr()
    assert "fastweights: no bsuite log yet" in captured.out
    assert "holds no bsuite logs" in captured.err
