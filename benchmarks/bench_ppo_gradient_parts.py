"""What logging each part's gradient norm (``agents/ppo.py``, ``GRADIENT_PARTS``) costs PPO's
update: one update on a 16 x 128 rollout of the 24 x 24 Catch, with and without the part
norms, alternated in one process, the best of 6 each.

    taskset -c 0 python benchmarks/bench_ppo_gradient_parts.py
"""

from __future__ import annotations

import time

import torch

from fw_rl.agents import ppo
from fw_rl.agents.config import PPOConfig
from fw_rl.agents.model import build_model
from fw_rl.agents.rollout import RolloutCollector
from fw_rl.envs.factory import make_vector_env


def main() -> None:
    torch.set_num_threads(1)
    parts = ppo.GRADIENT_PARTS
    print("| core | update with part norms ms | without ms | cost |\n|---|---|---|---|")
    for core in ("lstm", "fastweights"):
        config = PPOConfig(core=core, size=24)
        torch.manual_seed(0)
        model = build_model(config)
        env = make_vector_env(config.env, config.env_options, config.num_envs)
        rollout = RolloutCollector(env, model, seed=0).collect(
            config.rollout_steps, state_every=config.steps_per_sequence
        )
        env.close()
        optimiser = torch.optim.SGD(model.parameters(), lr=0.0)  # the same update every time
        times: dict[bool, list[float]] = {True: [], False: []}
        try:
            for _ in range(6):
                for on in (True, False):
                    ppo.GRADIENT_PARTS = parts if on else ()
                    start = time.perf_counter()
                    ppo.ppo_update(model, optimiser, rollout, config)
                    times[on].append(time.perf_counter() - start)
        finally:
            ppo.GRADIENT_PARTS = parts
        on, off = min(times[True]), min(times[False])
        print(f"| {core} | {on * 1e3:.1f} | {off * 1e3:.1f} | {(on / off - 1) * 100:+.1f} % |")


if __name__ == "__main__":
    main()
