"""Known answers for the actor-critic maths, and a plain-loop reference."""

import math

import pytest
import torch

from fw_rl.agents.losses import actor_critic_loss, gae_advantages


def n_step_returns(rewards, dones, bootstrap, gamma):
    """The n-step return ``R_t = r_t + gamma (1 - done_t) R_{t+1}``, ``R_T = bootstrap``:
    what ``gae_advantages`` gives with ``V = 0`` and ``lambda = 1`` (as A3C uses it)."""
    return gae_advantages(rewards, torch.zeros_like(rewards), dones, bootstrap, gamma, 1.0)


def reference_returns(rewards, dones, bootstrap, gamma):
    """One board at a time, straight from the definition."""
    steps, batch = len(rewards), len(rewards[0])
    out = [[0.0] * batch for _ in range(steps)]
    for b in range(batch):
        running = bootstrap[b]
        for t in reversed(range(steps)):
            running = rewards[t][b] + (0.0 if dones[t][b] else gamma * running)
            out[t][b] = running
    return out


def test_n_step_returns_known_answer():
    # one episode ending at the last step: R_2 = 1, R_1 = 0.9, R_0 = 0.81 (bootstrap unused)
    returns = n_step_returns(
        torch.tensor([[0.0], [0.0], [1.0]]),
        torch.tensor([[False], [False], [True]]),
        torch.tensor([5.0]),
        0.9,
    )
    torch.testing.assert_close(returns, torch.tensor([[0.81], [0.9], [1.0]]))
    # an episode ends at step 1: R_2 = 3 + 0.5 * 10 = 8, R_1 = 2, R_0 = 1 + 0.5 * 2 = 2
    returns = n_step_returns(
        torch.tensor([[1.0], [2.0], [3.0]]),
        torch.tensor([[False], [True], [False]]),
        torch.tensor([10.0]),
        0.5,
    )
    torch.testing.assert_close(returns, torch.tensor([[2.0], [2.0], [8.0]]))


def test_n_step_returns_match_plain_loop():
    torch.manual_seed(0)
    rewards = torch.randn(7, 4, dtype=torch.double)
    dones = torch.rand(7, 4) < 0.3
    bootstrap = torch.randn(4, dtype=torch.double)
    expected = reference_returns(rewards.tolist(), dones.tolist(), bootstrap.tolist(), 0.97)
    torch.testing.assert_close(
        n_step_returns(rewards, dones, bootstrap, 0.97), torch.tensor(expected, dtype=torch.double)
    )


def test_gae_known_answer():
    # delta_1 = 0 + 0.9 * 1 - 0.2 = 0.7; delta_0 = 1 + 0.9 * 0.2 - 0.5 = 0.68
    # A_1 = 0.7; A_0 = 0.68 + 0.9 * 0.5 * 0.7 = 0.995
    adv = gae_advantages(
        torch.tensor([[1.0], [0.0]]),
        torch.tensor([[0.5], [0.2]]),
        torch.tensor([[False], [False]]),
        torch.tensor([1.0]),
        0.9,
        0.5,
    )
    torch.testing.assert_close(adv, torch.tensor([[0.995], [0.7]]))


def test_gae_with_lambda_one_is_n_step_return_minus_value():
    torch.manual_seed(1)
    rewards = torch.randn(9, 3, dtype=torch.double)
    values = torch.randn(9, 3, dtype=torch.double)
    dones = torch.rand(9, 3) < 0.25
    bootstrap = torch.randn(3, dtype=torch.double)
    adv = gae_advantages(rewards, values, dones, bootstrap, 0.99, 1.0)
    torch.testing.assert_close(adv, n_step_returns(rewards, dones, bootstrap, 0.99) - values)


def test_loss_known_answer_for_a_uniform_policy():
    logits = torch.zeros(2, 1, 3, requires_grad=True)
    values = torch.tensor([[0.5], [-1.0]], requires_grad=True)
    actions = torch.tensor([[0], [2]])
    advantages = torch.tensor([[1.0], [3.0]])
    returns = torch.tensor([[1.5], [1.0]])
    parts = actor_critic_loss(
        logits, values, actions, advantages, returns, value_cost=0.5, entropy_cost=0.01
    )
    # log pi = -ln 3 for every action: policy = ln 3 * mean(A) = 2 ln 3
    assert parts.policy.item() == pytest.approx(2 * math.log(3))
    # value = mean((R - V)^2) / 2 = (1 + 4) / 4
    assert parts.value.item() == pytest.approx(1.25)
    assert parts.entropy.item() == pytest.approx(math.log(3))
    assert parts.total.item() == pytest.approx(2 * math.log(3) + 0.625 - 0.01 * math.log(3))


def test_policy_gradient_raises_the_chosen_action_when_advantage_is_positive():
    logits = torch.zeros(1, 1, 3, requires_grad=True)
    advantages = torch.tensor([[2.0]], requires_grad=True)
    parts = actor_critic_loss(
        logits,
        torch.zeros(1, 1),
        torch.tensor([[1]]),
        advantages,
        torch.zeros(1, 1),
        entropy_cost=0.0,
    )
    parts.total.backward()
    assert logits.grad[0, 0, 1] < 0 < logits.grad[0, 0, 0]  # descent raises action 1
    assert advantages.grad is None  # advantages are constants
