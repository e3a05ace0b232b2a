"""Known answers for each action head: log-probabilities, entropies, samples, greedy
actions, the previous action's encoding, and what reaches the env."""

import math

import numpy as np
import pytest
import torch
from gymnasium import spaces

from fw_rl.agents.action_heads import (
    BoxHead,
    MultiBinaryHead,
    MultiDiscreteHead,
    head_for,
)
from fw_rl.agents.losses import actor_critic_loss
from fw_rl.agents.model import ActorCritic
from fw_rl.agents.ppo import ppo_loss


def test_discrete_head_is_the_categorical():
    head = head_for(spaces.Discrete(3))
    logits = torch.tensor([[0.0, math.log(2), math.log(3)]])
    assert head.log_prob(logits, torch.tensor([2])).item() == pytest.approx(math.log(0.5))
    p = torch.tensor([1 / 6, 2 / 6, 3 / 6])
    assert head.entropy(logits).item() == pytest.approx(-(p * p.log()).sum().item())
    assert head.greedy(logits).tolist() == [2]
    encoded = head.encode(torch.tensor([1, -1]))
    assert encoded.tolist() == [[0, 1, 0], [0, 0, 0]]  # -1: no action yet


def test_multidiscrete_head_sums_independent_categoricals():
    head = head_for(spaces.MultiDiscrete([2, 3]))
    assert isinstance(head, MultiDiscreteHead) and head.params_size == 5
    logits = torch.tensor([[0.0, 0.0, 0.0, math.log(2), math.log(3)]])
    actions = torch.tensor([[1, 2]])
    assert head.log_prob(logits, actions).item() == pytest.approx(math.log(0.5 * 0.5))
    p = torch.tensor([1 / 6, 2 / 6, 3 / 6])
    expected = math.log(2) - (p * p.log()).sum().item()
    assert head.entropy(logits).item() == pytest.approx(expected)
    assert head.greedy(logits).tolist() == [[0, 2]]  # argmax takes the first of a tie
    assert head.encode(torch.tensor([[1, 2], [-1, -1]])).tolist() == [
        [0, 1, 0, 0, 1],
        [0, 0, 0, 0, 0],
    ]
    torch.manual_seed(0)
    draws = head.sample(logits.expand(4000, 5))
    assert draws.shape == (4000, 2)
    assert (draws[:, 1] == 2).float().mean().item() == pytest.approx(0.5, abs=0.03)


def test_multibinary_head_is_independent_bernoullis():
    head = head_for(spaces.MultiBinary(2))
    assert isinstance(head, MultiBinaryHead)
    logits = torch.tensor([[0.0, math.log(3)]])  # p = 0.5, 0.75
    actions = torch.tensor([[1, 0]])
    assert head.log_prob(logits, actions).item() == pytest.approx(math.log(0.5 * 0.25))
    h = lambda p: -(p * math.log(p) + (1 - p) * math.log(1 - p))  # noqa: E731
    assert head.entropy(logits).item() == pytest.approx(h(0.5) + h(0.75))
    assert head.greedy(logits).tolist() == [[0, 1]]
    assert head.to_env(actions).dtype == spaces.MultiBinary(2).dtype


def test_box_head_is_a_diagonal_gaussian_clipped_only_at_the_env():
    space = spaces.Box(-2.0, 2.0, (1,), np.float32)
    head = head_for(space)
    assert isinstance(head, BoxHead) and head.params_size == 2
    params = torch.tensor([[0.5, math.log(2.0)]])  # mean 0.5, std 2
    action = torch.tensor([[3.0]])
    expected = -0.5 * ((3.0 - 0.5) / 2.0) ** 2 - math.log(2.0) - 0.5 * math.log(2 * math.pi)
    assert head.log_prob(params, action).item() == pytest.approx(expected)
    assert head.entropy(params).item() == pytest.approx(0.5 * math.log(2 * math.pi * math.e * 4))
    assert head.greedy(params).tolist() == [[0.5]]
    assert head.to_env(action).tolist() == [[2.0]]  # clipped to the bound when sent
    assert head.encode(action).tolist() == [[1.0]]  # the clipped action, scaled to [-1, 1]
    assert head.encode(torch.full((1, 1), math.nan)).tolist() == [[0.0]]  # none yet


def test_losses_take_the_head():
    """A3C's and PPO's losses give the head's log-probability and entropy."""
    head = head_for(spaces.Box(-1.0, 1.0, (2,), np.float32))
    params = torch.tensor([[[0.0, 0.0, 0.0, 0.0]]], requires_grad=True)
    actions = torch.tensor([[[1.0, -1.0]]])
    ones = torch.ones(1, 1)
    parts = actor_critic_loss(params, ones, actions, ones, ones, 0.5, 0.0, head=head)
    assert parts.policy.item() == pytest.approx(-head.log_prob(params, actions).item())
    loss = ppo_loss(params, ones, actions, head.log_prob(params, actions).detach(), ones,
                    ones, ones, head=head)  # fmt: skip
    assert loss.policy.item() == pytest.approx(-1.0)  # ratio 1, advantage 1
    assert loss.entropy.item() == pytest.approx(head.entropy(params).item())


@pytest.mark.parametrize(
    "space",
    [
        spaces.Discrete(3),
        spaces.MultiDiscrete([2, 3]),
        spaces.MultiBinary(3),
        spaces.Box(-1.0, 1.0, (2,), np.float32),
    ],
    ids=["Discrete", "MultiDiscrete", "MultiBinary", "Box"],
)
def test_model_steps_with_any_head_as_one_call(space):
    """Acting one step at a time (carrying the previous action) equals one call over the
    sequence with the actions taken, for every head."""
    torch.manual_seed(0)
    model = ActorCritic((4,), space, "gru", hidden_size=8, encoder_size=6)
    obs = torch.randn(5, 2, 4)
    reset = torch.zeros(5, 2, dtype=torch.bool)
    reset[3, 0] = True
    state = model.initial_state(2)
    stepped, actions = [], []
    for t in range(5):
        logits, _, state = model.act(obs[t], state, reset[t])
        action = model.head.sample(logits)
        state = state.after(action)
        stepped.append(logits)
        actions.append(action)
    actions = torch.stack(actions)
    whole, _, _ = model(obs, model.initial_state(2), reset, actions)
    torch.testing.assert_close(whole, torch.stack(stepped))


@pytest.mark.parametrize(
    "space", [spaces.Discrete(3, start=-1), spaces.MultiDiscrete([3, 2], start=[5, -2])]
)
def test_an_offset_start_is_added_for_the_env_only(space):
    """The agent's actions are indices from 0 (its log-probabilities and the previous action
    it is fed); the env gets the space's own values."""
    head = head_for(space)
    params = torch.zeros(200, head.params_size)
    actions = head.sample(params)
    assert actions.min() == 0  # indices
    to_env = head.to_env(actions)
    assert all(space.contains(a) for a in to_env)
    assert np.array_equal(to_env - actions.numpy(), np.broadcast_to(space.start, to_env.shape))
    assert torch.isfinite(head.log_prob(params, actions)).all()


def test_an_unbounded_box_makes_its_head_without_numpys_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # inf - inf would warn
        head = head_for(spaces.Box(-np.inf, np.inf, (2, 2), np.float32))
    params = torch.zeros(3, head.params_size)
    assert np.isfinite(head.to_env(head.sample(params))).all()
