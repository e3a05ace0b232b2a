"""One PPO update on a fixed rollout, repeatable: the benchmarks that time an update share it.

``fixed_update(config)`` builds the model, collects one rollout of ``config``'s env and
returns a function that runs ``ppo_update`` on it with a learning rate of 0, so every call
is the same update.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from fw_rl.agents import ppo
from fw_rl.agents.config import PPOConfig
from fw_rl.agents.model import build_model
from fw_rl.agents.rollout import RolloutCollector
from fw_rl.envs.factory import make_vector_env


def fixed_update(config: PPOConfig, seed: int = 0) -> Callable[[], None]:
    torch.manual_seed(seed)
    model = build_model(config)
    env = make_vector_env(config.env, config.env_options, config.num_envs)
    try:
        rollout = RolloutCollector(env, model, seed=seed).collect(
            config.rollout_steps, state_every=config.steps_per_sequence
        )
    finally:
        env.close()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.0)  # the same update every time
    return lambda: ppo.ppo_update(model, optimiser, rollout, config)
