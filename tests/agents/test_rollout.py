"""The rollout collector (agents/rollout.py): resets, replay, episode returns."""

import pytest
import torch

from fw_rl.agents.model import ActorCritic
from fw_rl.agents.rollout import RolloutCollector
from fw_rl.envs import CatchVectorEnv


def small_model(core="fastweights", size=6):
    torch.manual_seed(0)
    return ActorCritic((size, size), 3, core, hidden_size=16, encoder_size=12)


@pytest.mark.parametrize("core", ["fastweights", "lstm", "irnn"])
def test_rollout_resets_state_at_episode_starts_and_replays_exactly(core):
    model = small_model(core)
    env = CatchVectorEnv(3, size=6, autoreset_mode="SameStep", copy=False)
    collector = RolloutCollector(env, model, seed=0)
    collector.collect(3)  # start mid-episode: the next rollout carries a state in
    r = collector.collect(9)  # episodes last 5 steps: starts at steps 2 and 7
    assert r.resets[:, 0].tolist() == [False, False, True, False, False, False, False, True, False]
    assert torch.equal(r.dones[:-1], r.resets[1:])
    assert any(s.abs().sum() > 0 for s in r.start_state.core)
    # the batched pass with gradients sees exactly what the acting pass saw
    prev = model.previous_actions(9, 3, r.start_state, r.resets, r.actions)
    assert (prev[r.resets] == -1).all()
    assert torch.equal(prev[1:][~r.resets[1:]], r.actions[:-1][~r.resets[1:]])
    assert torch.equal(r.start_state.last_action, prev[0])  # carried in from the last rollout
    logits, _, end = model(r.obs, r.start_state, r.resets, r.actions)
    torch.testing.assert_close(logits, r.logits, rtol=1e-5, atol=1e-5)
    assert torch.equal(end.last_action, r.actions[-1])
    # at an episode start the state is fresh: same policy as from the initial state
    fresh, _, _ = model(r.obs[2:7], None, None, r.actions[2:7])
    torch.testing.assert_close(logits[2:7], fresh, rtol=1e-5, atol=1e-5)
    # ... and without the reset the carried state would change it
    carried, _, _ = model(r.obs, r.start_state, None, r.actions)
    assert not torch.allclose(carried[2:7], fresh, atol=1e-5)


def test_rollout_counts_finished_episode_returns():
    model = small_model(size=5)
    collector = RolloutCollector(
        CatchVectorEnv(4, size=5, autoreset_mode="SameStep", copy=False), model, seed=1
    )
    r = collector.collect(8)  # two episodes of 4 steps per board
    assert len(r.finished_returns) == 8 and set(r.finished_returns) <= {-1.0, 1.0}
    assert r.rewards.sum().item() == sum(r.finished_returns)
