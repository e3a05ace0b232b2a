"""The recall probe (``study.py recall``): what a fast-weights agent holds of the
observation k steps back."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import fw_rl
from fw_rl.agents.study.recall import _ridge_score, recall_profile
from fw_rl.scripts.study import main as study_main

pytest.importorskip("popgym")
ENV = "popgym:popgym-RepeatPreviousEasy-v0"  # Discrete(4) cards; the answer is 4 steps back
TINY = dict(num_envs=2, rollout_steps=32, minibatches=2, eval_interval=256, eval_episodes=1,
            verbose=False)  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recall") / "run"
    agent = fw_rl.PPO(ENV, core="fastweights", hidden_size=32, **TINY)
    agent.learn(total_frames=256, run_dir=folder)
    return folder


def test_the_probe_lines_up_each_observation_with_its_lag(run_dir):
    """The core's input at t holds the card of step t (lag 0), not those before it: a probe
    whose labels were off by a step would be at chance at lag 0."""
    profile = recall_profile(run_dir, episodes=40, lags=5)
    rows = profile["rows"]
    assert [r["lag"] for r in rows] == list(range(6)) and profile["score"] == "accuracy"
    first = rows[0]
    assert first["input_score"] > 0.95
    assert all(row["input_score"] < row["chance"] + 0.25 for row in rows[1:])
    for row in rows[1:]:
        assert 0.0 <= row["attention_share"] <= 1.0 and 0.0 < row["decay_share"] <= 1.0
    # decay alone gives the nearest step the most weight
    assert rows[1]["decay_share"] > rows[5]["decay_share"]


def test_the_ridge_probe_scores_a_known_answer():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5))
    y = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0)  # 4 classes, linear in x
    assert _ridge_score(x[:200], y[:200], x[200:], y[200:], classes=4) > 0.8
    noise = rng.integers(0, 4, size=400)
    assert _ridge_score(x[:200], noise[:200], x[200:], noise[200:], classes=4) < 0.45
    target = x @ np.array([1.0, -2.0, 0.0, 0.5, 0.0])
    assert _ridge_score(x[:200], target[:200, None], x[200:], target[200:, None], None) > 0.99


def test_the_command_writes_a_row_per_lag_and_refuses_a_core_without_fast_memory(
    run_dir, tmp_path, capsys
):
    assert study_main(["recall", str(run_dir), "--episodes", "8", "--lags", "3",
                       "--out", str(tmp_path)]) == 0  # fmt: skip
    with open(tmp_path / "recall.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["lag"] for r in rows] == ["0", "1", "2", "3"] and rows[0]["score"] == "accuracy"
    with open(tmp_path / "drive.csv") as f:
        drive = [float(r["median_fast_to_slow"]) for r in csv.DictReader(f)]
    assert len(drive) == 51  # RepeatPreviousEasy's 51 steps
    # the fast memory fills over the episode: with the paper's eta = 0.5 its term outgrows
    # the slow drive (measured: 8x to 600x in a trained RepeatPrevious agent)
    assert drive[0] == 0.0 and drive[30] > drive[2] > 1.0
    gru = tmp_path / "gru"
    fw_rl.PPO(ENV, core="gru", hidden_size=8, **TINY).learn(256, run_dir=gru)
    assert study_main(["recall", str(gru)]) == 2
    assert "no fast memory" in capsys.readouterr().err
    assert study_main(["recall", str(run_dir), "--lags", "0", "--out", str(tmp_path)]) == 2
    assert "--lags must be at least 1, got 0" in capsys.readouterr().err


def test_the_fast_memory_can_be_resized_for_the_probe(run_dir, tmp_path, capsys):
    """--fast-lr: played and probed at another eta (0: no fast term, so the fast read is 0
    and its ratio to the slow drive is 0 at every step); a bad rate is one line."""
    args = ["recall", str(run_dir), "--episodes", "8", "--lags", "2", "--out", str(tmp_path)]
    assert study_main([*args, "--fast-lr", "0"]) == 0
    with open(tmp_path / "drive.csv") as f:
        assert {float(r["median_fast_to_slow"]) for r in csv.DictReader(f)} == {0.0}
    assert study_main([*args, "--fast-lr", "-1"]) == 2
    assert "--fast-lr takes a finite rate >= 0, got -1.0" in capsys.readouterr().err
