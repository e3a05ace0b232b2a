"""The fast-memory ablation (``study.py ablate``): a fast-weights agent evaluated with its
fast memory, without it (eta = 0) and with other episodes' fast memories."""

from __future__ import annotations

import csv

import pytest
import torch

import fw_rl
from fw_rl.agents.model import AgentState
from fw_rl.agents.study.ablate import _OtherEpisodesMemory, ablate_fast_memory
from fw_rl.scripts.study import main as study_main

pytest.importorskip("popgym")
ENV = "popgym:popgym-RepeatPreviousEasy-v0"
TINY = dict(num_envs=2, rollout_steps=32, minibatches=2, eval_interval=256, eval_episodes=1,
            verbose=False)  # fmt: skip


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A study folder of three finished runs: fast weights at eta 0.5 and 0, and a GRU."""
    root = tmp_path_factory.mktemp("ablate")
    slow = {"fast_lr": 0.0}
    runs = [("fw", "fastweights", {}), ("slow", "fastweights", slow), ("gru", "gru", {})]
    for name, core, options in runs:
        run = root / "runs" / name
        fw_rl.PPO(ENV, core=core, core_options=options, hidden_size=32, **TINY).learn(
            256, run_dir=run
        )
        (run / "done.json").write_text("{}")
    return root


def test_each_episode_is_handed_the_next_ones_fast_memory_and_its_own_hidden_state():
    seen = {}

    class Recorder:
        head = None

        def act(self, obs, state):
            seen["state"] = state
            return None

    hidden = torch.arange(3.0)[:, None].expand(3, 2)
    memory = torch.arange(3.0)[:, None, None].expand(3, 2, 2)
    _OtherEpisodesMemory(Recorder()).act(None, AgentState((hidden, memory), torch.zeros(3)))
    got_hidden, got_memory = seen["state"].core
    assert torch.equal(got_hidden, hidden)  # the hidden state stays the episode's own
    assert got_memory[:, 0, 0].tolist() == [2.0, 0.0, 1.0]  # episode b gets b - 1's memory


def test_taking_out_a_fast_memory_changes_the_agent_and_restores_it_after(study):
    run = study / "runs" / "fw"
    result = ablate_fast_memory(run, episodes=20)
    assert result["fast_lr"] == 0.5
    # an untrained-ish agent whose fast term outweighs the slow drive plays otherwise
    # without it: the returns differ (20 episodes of 51 steps)
    assert result["mean_return_without_fast"] != result["mean_return"]
    again = ablate_fast_memory(run, episodes=20)
    assert again["mean_return"] == result["mean_return"]  # eta restored, same episodes


def test_with_no_fast_memory_the_three_evaluations_agree(study):
    result = ablate_fast_memory(study / "runs" / "slow", episodes=20)
    assert result["fast_lr"] == 0.0
    assert result["mean_return"] == result["mean_return_without_fast"]
    assert result["mean_return"] == result["mean_return_other_memory"]


def test_the_command_writes_a_row_per_fast_weights_run_and_refuses_other_cores(
    study, tmp_path, capsys
):
    assert study_main(["ablate", str(study), "--episodes", "4", "--out", str(tmp_path)]) == 0
    with open(tmp_path / "ablation.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["run"], r["fast_lr"]) for r in rows] == [("fw", "0.5"), ("slow", "0")]
    assert study_main(["ablate", str(study / "runs" / "gru"), "--out", str(tmp_path)]) == 2
    assert "gru agent: its core has no fast memory" in capsys.readouterr().err
    assert study_main(["ablate", str(tmp_path), "--out", str(tmp_path)]) == 2
    assert "is not a run folder (holding checkpoint.pt)" in capsys.readouterr().err
    # a checkpoint file is a run too; --out where nothing can be written is one line
    checkpoint = str(study / "runs" / "fw" / "checkpoint.pt")
    assert study_main(["ablate", checkpoint, "--episodes", "2", "--out", str(tmp_path)]) == 0
    with open(tmp_path / "ablation.csv") as f:
        assert [r["run"] for r in csv.DictReader(f)] == ["fw"]
    assert study_main(["ablate", checkpoint, "--out", str(tmp_path / "ablation.csv")]) == 2
    assert "error: cannot write" in capsys.readouterr().err


def test_the_fast_memory_put_in_at_evaluation_changes_a_slow_run_and_is_restored(
    study, tmp_path, capsys
):
    """--fast-lr: each run at each rate; at the rate it was trained with, the agent as
    trained; a fast term put into the slow part (eta 0 -> 0.5) plays otherwise."""
    args = ["ablate", str(study), "--episodes", "20", "--out", str(tmp_path)]
    assert study_main([*args, "--fast-lr", "0", "0.5"]) == 0
    with open(tmp_path / "fast_lr_at_evaluation.csv") as f:
        rows = {(r["run"], r["evaluated_fast_lr"]): r for r in csv.DictReader(f)}
    assert set(rows) == {("fw", "0"), ("fw", "0.5"), ("slow", "0"), ("slow", "0.5")}
    with open(tmp_path / "ablation.csv") as f:
        ablation = {r["run"]: r for r in csv.DictReader(f)}
    assert rows[("slow", "0")]["trained_fast_lr"] == "0"
    assert rows[("slow", "0")]["mean_return"] == ablation["slow"]["mean_return"]
    assert rows[("fw", "0.5")]["mean_return"] == ablation["fw"]["mean_return"]
    assert rows[("fw", "0")]["mean_return"] == ablation["fw"]["mean_return_without_fast"]
    assert rows[("slow", "0.5")]["mean_return"] != rows[("slow", "0")]["mean_return"]
    assert ablate_fast_memory(study / "runs" / "slow", episodes=20)["fast_lr"] == 0.0
    assert study_main([*args, "--fast-lr", "-1"]) == 2
    assert "--fast-lr takes finite rates >= 0, got [-1.0]" in capsys.readouterr().err
    assert study_main([*args, "--fast-lr", "inf"]) == 2
