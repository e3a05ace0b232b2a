"""The A3C on environments other than Catch: the truncation bootstrap by hand, bad
input, and short runs on POPGym envs (a Discrete and a Tuple observation)."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from test_a3c_train import read_csv, run_a3c

from fw_rl.agents.losses import gae_advantages
from fw_rl.agents.model import ActorCritic
from fw_rl.agents.rollout import RolloutCollector
from fw_rl.envs.factory import make_vector_env


class Constant(gym.Env):
    """Observation [1], reward 1 each step; terminates after 3 steps if ``terminate``
    (else a ``TimeLimit`` of 3 truncates it)."""

    observation_space = spaces.Box(0, 1, (1,))
    action_space = spaces.Discrete(2)

    def __init__(self, terminate: bool = False) -> None:
        self.terminate = terminate

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.ones(1, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.ones(1, np.float32), 1.0, self.terminate and self.t == 3, False, {}


class WithMission(Constant):
    """MiniGrid's shape of observation: an image and a text mission."""

    observation_space = spaces.Dict(
        {"image": spaces.Box(0, 255, (3, 3, 3), np.uint8), "mission": spaces.Text(20)}
    )


@pytest.fixture(scope="module", autouse=True)
def constant_envs():
    gym.register("TestTruncated-v0", entry_point=Constant, max_episode_steps=3)
    gym.register("TestTerminated-v0", entry_point=Constant, kwargs={"terminate": True})
    gym.register("TestMission-v0", entry_point=WithMission)
    yield
    for name in ("TestTruncated-v0", "TestTerminated-v0", "TestMission-v0"):
        gym.registry.pop(name)


def value_five_model():
    torch.manual_seed(0)
    model = ActorCritic((1,), 2, "lstm", hidden_size=4, encoder_size=4)
    with torch.no_grad():
        model.value.weight.zero_()
        model.value.bias.fill_(5.0)  # V = 5 for every observation and state
    return model


@pytest.mark.parametrize(
    "env_id, rewards, returns",
    [
        # truncated at steps 2 and 5: bootstrapped there from V(final obs) = 5, gamma 0.5
        ("TestTruncated-v0", [1, 1, 3.5, 1, 1, 3.5], [2.375, 2.75, 3.5, 2.375, 2.75, 3.5]),
        # terminated: the episode's return ends there, nothing is bootstrapped
        ("TestTerminated-v0", [1, 1, 1, 1, 1, 1], [1.75, 1.5, 1, 1.75, 1.5, 1]),
    ],
)
def test_a_truncated_episode_is_bootstrapped_from_its_final_observation(env_id, rewards, returns):
    model = value_five_model()
    collector = RolloutCollector(
        make_vector_env(env_id, {}, 1), model, seed=0, gamma=0.5, env_id=env_id
    )
    r = collector.collect(6)
    assert r.dones[:, 0].tolist() == [False, False, True, False, False, True]
    np.testing.assert_allclose(r.rewards[:, 0].numpy(), rewards)
    assert r.finished_returns == [3.0, 3.0]  # the env's own returns, not the bootstrapped ones
    values = torch.full((6, 1), 5.0)
    advantages = gae_advantages(r.rewards, values, r.dones, r.bootstrap, 0.5, 1.0)
    np.testing.assert_allclose((advantages + values)[:, 0].numpy(), returns)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--env", "NoSuchEnv-v0"], "--env 'NoSuchEnv-v0': Environment `NoSuchEnv` doesn't exist"),
        (["--env", "no_such_module:Foo-v0"], "cannot import the module 'no_such_module'"),
        (["--env", ":Foo-v0"], "module:name needs a module before the colon"),
        (["--env", "gymnasium:"], "module:name needs a name after the colon"),
        (["--core", ":leaky"], "--core ':leaky': a core of your own is module:NAME, both given"),
        (["--env-kwargs", "{bad"], "--env-kwargs must be a JSON object"),
        (["--env", "CartPole-v1", "--env-kwargs", '{"x": 1}'], '--env-kwargs {"x": 1}'),
        (["--env", "TestMission-v0"], "--env-wrappers minigrid.wrappers:ImgObsWrapper"),
        (["--env", "CartPole-v1", "--size", "10"], "--size set Catch-v0's env, not CartPole-v1's"),
        (["--env-kwargs", '{"size": 10}'], "set Catch-v0's size with --size"),
    ],
)
def test_bad_env_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, args, message):
    from fw_rl.scripts.a3c import main

    with pytest.raises(SystemExit) as exit_:
        main([*args, "--run-dir", str(tmp_path / "run")])
    assert exit_.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert message in error
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "env_id, flat_size",
    [
        ("popgym:popgym-RepeatPreviousEasy-v0", 4),  # Discrete(4), one-hot
        ("popgym:popgym-AutoencodeEasy-v0", 6),  # Tuple(Discrete(2), Discrete(4))
    ],
)
def test_a_short_run_on_a_popgym_env_trains_evaluates_and_resumes(tmp_path, env_id, flat_size):
    pytest.importorskip("popgym")
    run = tmp_path / "run"
    common = ["--core", "fastweights", "--hidden-size", "16", "--encoder-size", "16"]
    flags = [*common, "--workers", "1", "--envs-per-worker", "4", "--no-progress"]
    flags += ["--eval-interval", "1000", "--eval-episodes", "4"]
    proc, _ = run_a3c("--env", env_id, *flags, "--total-frames", "2000", "--run-dir", run)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["env"] == env_id and config["env_kwargs"] == "{}"
    # Catch's board flags are kept in config.json but not printed for another env
    assert "visible_steps" in config and "| visible_steps |" not in proc.stdout
    assert "| rollout_steps |" in proc.stdout
    assert config["rollout_steps"] > 0 and config["eval_max_steps"] > 0  # resolved
    evals = read_csv(run / "eval.csv")
    assert len(evals) >= 1 and float(evals[0]["capped"]) == 0.0
    assert all(np.isfinite(float(row["mean_return"])) for row in evals)
    from fw_rl.checkpoint import load_checkpoint

    payload = load_checkpoint(run)
    assert payload["model"]["encoder.0.weight"].shape[1] == flat_size
    proc, _ = run_a3c("--total-frames", "3000", "--no-progress", "--resume", run)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert load_checkpoint(run)["counters"]["frames"] >= 3000
