"""Actor-critic maths as pure functions (Mnih et al. 2016, algorithm S3), all time-major.

Shapes: ``T`` rollout steps, ``B`` boards. ``dones[t]`` is true when step ``t`` ended its
episode, so nothing after it is bootstrapped into step ``t``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from fw_rl.agents.action_heads import categorical_entropy, categorical_log_prob

if TYPE_CHECKING:
    from fw_rl.agents.action_heads import ActionHead


def gae_advantages(
    rewards: Tensor, values: Tensor, dones: Tensor, bootstrap: Tensor, gamma: float, lam: float
) -> Tensor:
    """Generalised advantage estimation (Schulman et al. 2016).

    ``delta_t = r_t + gamma (1 - done_t) V_{t+1} - V_t`` and
    ``A_t = delta_t + gamma lam (1 - done_t) A_{t+1}``; ``lam = 1`` gives the n-step
    return minus the value. Returns ``[T, B]``.
    """
    not_done = 1.0 - dones.to(rewards.dtype)
    next_values = torch.cat([values[1:], bootstrap[None]], dim=0)
    deltas = rewards + gamma * not_done * next_values - values
    advantages = torch.empty_like(rewards)
    running = torch.zeros_like(bootstrap)
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = deltas[t] + gamma * lam * not_done[t] * running
        advantages[t] = running
    return advantages


class NonFiniteLossError(FloatingPointError):
    """A loss that is NaN or infinite: the update is not applied (every algorithm's)."""


@dataclass
class LossParts:
    total: Tensor
    policy: Tensor
    value: Tensor
    entropy: Tensor


def actor_critic_loss(
    logits: Tensor,
    values: Tensor,
    actions: Tensor,
    advantages: Tensor,
    returns: Tensor,
    value_cost: float = 0.5,
    entropy_cost: float = 0.01,
    head: ActionHead | None = None,
) -> LossParts:
    """The A3C loss, averaged over the ``T * B`` steps.

    ``policy = -mean(log pi(a_t) * A_t)`` (advantages are constants),
    ``value = mean((R_t - V_t)^2) / 2``, ``entropy = mean(H(pi_t))``, and
    ``total = policy + value_cost * value - entropy_cost * entropy``.

    logits ``[T, B, A]`` (the distribution's parameters, ``head``'s; None: a categorical);
    values, advantages, returns ``[T, B]``; actions ``[T, B, *action shape]``.
    """
    log_prob = categorical_log_prob if head is None else head.log_prob
    chosen = log_prob(logits, actions)
    policy = -(chosen * advantages.detach()).mean()
    value = 0.5 * (returns.detach() - values).pow(2).mean()
    entropy = (categorical_entropy if head is None else head.entropy)(logits).mean()
    total = policy + value_cost * value - entropy_cost * entropy
    return LossParts(total, policy, value, entropy)
