"""predict takes back only a state it returned for this agent (or None), and a bool or
bools for episode_start: anything else is one ValueError saying what is allowed, never an
AttributeError or torch's error from deep inside, and never a tensor's values."""

from __future__ import annotations

import re

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

import fw_rl

SMALL = dict(hidden_size=16, encoder_size=8, verbose=False)
OBS = np.zeros(4, np.float32)  # one CartPole observation


@pytest.fixture(scope="module")
def gru():
    return fw_rl.PPO("CartPole-v1", core="gru", **SMALL)


@pytest.mark.parametrize(
    "state, kind",
    [
        ((np.zeros((1, 16)), np.zeros((1, 16))), "tuple"),  # sb3-contrib RecurrentPPO's habit
        (torch.zeros(1, 16), "Tensor"),
        ({"h": torch.zeros(1, 16)}, "dict"),
        ([torch.zeros(1, 16)], "list"),
    ],
)
def test_a_state_predict_did_not_return_is_refused_by_its_type(gru, state, kind):
    told = (
        r"^state must be what predict returned for this agent \(an AgentState\), or None "
        f"for a fresh one; got {kind}$"
    )
    with pytest.raises(ValueError, match=told):
        gru.predict(OBS, state)


def test_another_agents_state_does_not_fit(gru):
    """An LSTM agent's state (h, c), or one of an agent with another action space, is
    named as not fitting: the core, hidden size and batch, shapes only."""
    _, lstm_state = fw_rl.PPO("CartPole-v1", core="lstm", **SMALL).predict(OBS)
    told = (
        r"^state does not fit this agent \(core 'gru', hidden_size 16, batch 1\): it holds "
        r"core state of shapes \(\(1, 16\), \(1, 16\)\) and a last action \(1,\) int64, this "
        r"agent's are \(\(1, 16\),\) and \(1,\) int64; pass the state predict returned for "
        r"this agent, or None$"
    )
    with pytest.raises(ValueError, match=told) as e:
        gru.predict(OBS, lstm_state)
    assert "tensor(" not in str(e.value)
    _, wider = fw_rl.PPO("CartPole-v1", core="gru", hidden_size=32, verbose=False).predict(OBS)
    with pytest.raises(ValueError, match=r"shapes \(\(1, 32\),\) .* are \(\(1, 16\),\)"):
        gru.predict(OBS, wider)
    _, pendulum = fw_rl.PPO("Pendulum-v1", core="gru", **SMALL).predict(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match=r"last action \(1, 1\) float32, this agent's are"):
        gru.predict(OBS, pendulum)
    # a state of this agent's for another batch is told as before
    _, three = gru.predict(np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match="^state is for a batch of 3, obs for 1: pass the"):
        gru.predict(OBS, three)
    _, one = gru.predict(OBS)
    gru.predict(OBS, one)  # its own state fits


@pytest.mark.parametrize("start", ["yes", 2, 0.5, [1, 0, -1], np.array([1, 0, 3]), [None]])
def test_episode_start_other_than_bools_is_refused_as_deterministic_is(gru, start):
    told = "^episode_start must be True or False \\(or 1 / 0\\), or one per observation, got "
    with pytest.raises(ValueError, match=told + re.escape(repr(start))):
        gru.predict(np.zeros((3, 4), np.float32), episode_start=start)


def test_episode_start_takes_a_bool_or_one_per_observation(gru):
    obs = np.zeros((3, 4), np.float32)
    bools = [True, np.bool_(False), [True, False, True], np.ones(3, bool)]
    bools.append(torch.tensor([False, True, False]))
    masks = [np.array([1.0, 0.0, 1.0]), [1, 0, 0], 1]  # 0 / 1 masks, as sb3-contrib takes
    for start in bools + masks:
        actions, _ = gru.predict(obs, episode_start=start)
        assert actions.shape == (3,)


class Bytes(gym.Env):
    """Observations of 4 bytes, as a camera's."""

    observation_space = spaces.Box(0, 255, (4,), np.uint8)
    action_space = spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(4, np.uint8), {}

    def step(self, action):
        return np.zeros(4, np.uint8), 0.0, True, False, {}


def make_bytes():
    return Bytes()


@pytest.mark.parametrize(
    "obs, told",
    [
        (np.full(4, 0.5), "^obs must be whole numbers within uint8 for Box"),  # not cast to 0
        (np.full(4, 300.0), "^obs must be whole numbers within uint8"),  # not wrapped to 44
        (np.full(4, -1), "^obs must be whole numbers within uint8"),
        ("hello", r"^obs must be numbers of shape \(4,\) .*got 'hello'$"),
        ({"pixels": 1}, r"^obs must be numbers of shape \(4,\)"),
    ],
)
def test_an_observation_a_box_would_change_or_cannot_read_is_refused(obs, told):
    agent = fw_rl.PPO(make_bytes, core="gru", **SMALL)
    with pytest.raises(ValueError, match=told):
        agent.predict(obs)
    agent.predict(np.full(4, 7.0))  # whole numbers within the bytes: taken
    agent.predict(np.full((3, 4), 255, np.int64))
