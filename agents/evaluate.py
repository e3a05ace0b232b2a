"""Greedy evaluation on a fixed set of episode seeds."""

from __future__ import annotations

import numpy as np
import torch

from fw_rl.agents.model import ActorCritic
from fw_rl.envs import CatchVectorEnv


@torch.no_grad()
def evaluate(
    model: ActorCritic, env_kwargs: dict, episodes: int, seed: int, greedy: bool = True
) -> dict[str, float]:
    """Play ``episodes`` episodes (seeds ``seed .. seed + episodes - 1``) in one batch.

    Returns the mean return and the catch rate. Catch episodes all last ``size - 1`` steps,
    so the boards finish together.
    """
    env = CatchVectorEnv(episodes, autoreset_mode="SameStep", copy=False, **env_kwargs)
    obs, _ = env.reset(seed=seed)
    state = model.initial_state(episodes)
    total = np.zeros(episodes)
    done = np.zeros(episodes, bool)
    while not done.all():
        logits, _, state = model.act(torch.from_numpy(obs), state)
        if greedy:
            actions = logits.argmax(-1)
        else:
            actions = torch.distributions.Categorical(logits=logits).sample()
        state = state.after(actions)
        obs, rewards, terminated, truncated, _ = env.step(actions.numpy())
        total += rewards * ~done
        done |= terminated | truncated
    return {"mean_return": float(total.mean()), "catch_rate": float((total > 0).mean())}
