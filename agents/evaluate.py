"""Greedy evaluation on a fixed set of episode seeds, for any env the agents run on."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from fw_rl.agents.model import ActorCritic
from fw_rl.envs.factory import CATCH_ID, episode_successes, make_vector_env


@torch.no_grad()
def evaluate(
    model: ActorCritic,
    env_kwargs: dict,
    episodes: int,
    seed: int,
    greedy: bool = True,
    env_id: str = CATCH_ID,
    max_steps: int = 10_000,
    wrappers: Sequence[str] = (),
) -> dict[str, float]:
    """Play ``episodes`` episodes (seeds ``seed .. seed + episodes - 1``), one per env of
    one vector env, each until it ends or ``max_steps`` steps have passed.

    Returns ``mean_return``, ``success_rate`` (the fraction of episodes the env reports a
    success for, NaN where it reports none; Catch: a catch) and ``capped``, the fraction of
    episodes cut at ``max_steps`` (their return so far counts).
    """
    env = make_vector_env(env_id, env_kwargs, episodes, wrappers=wrappers)
    try:
        obs, _ = env.reset(seed=seed)
        state = model.initial_state(episodes)
        total = np.zeros(episodes)
        done = np.zeros(episodes, bool)
        success = np.full(episodes, np.nan)
        steps = 0
        while not done.all() and steps < max_steps:
            logits, _, state = model.act(torch.from_numpy(obs), state)
            actions = model.head.greedy(logits) if greedy else model.head.sample(logits)
            state = state.after(actions)
            obs, rewards, terminated, truncated, info = env.step(model.head.to_env(actions))
            steps += 1
            total += rewards * ~done
            ended = (terminated | truncated) & ~done
            if ended.any():
                said = episode_successes(env_id, total, info, ended)
                if said is not None and len(said) == ended.sum():
                    success[ended] = said
            done |= terminated | truncated
    finally:
        env.close()
    known = ~np.isnan(success)
    return {
        "mean_return": float(total.mean()),
        "success_rate": float(success[known].mean()) if known.any() else math.nan,
        "capped": float((~done).mean()),
    }
