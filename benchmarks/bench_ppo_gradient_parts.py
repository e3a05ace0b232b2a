"""What logging each part's gradient norm (``agents/ppo.py``, ``GRADIENT_PARTS``) costs PPO's
update: one update on a 16 x 128 rollout of the 24 x 24 Catch, with and without the part
norms, alternated in one process, the best of 6 each.

    taskset -c 0 python benchmarks/bench_ppo_gradient_parts.py
"""

from __future__ import annotations

import time

import torch
from fixed_ppo_update import fixed_update  # benchmarks/, beside this script

from fw_rl.agents import ppo
from fw_rl.agents.config import PPOConfig


def main() -> None:
    torch.set_num_threads(1)
    parts = ppo.GRADIENT_PARTS
    print("| core | update with part norms ms | without ms | cost |\n|---|---|---|---|")
    for core in ("lstm", "fastweights"):
        update = fixed_update(PPOConfig(core=core, size=24))
        times: dict[bool, list[float]] = {True: [], False: []}
        try:
            for _ in range(6):
                for on in (True, False):
                    ppo.GRADIENT_PARTS = parts if on else ()
                    start = time.perf_counter()
                    update()
                    times[on].append(time.perf_counter() - start)
        finally:
            ppo.GRADIENT_PARTS = parts
        on, off = min(times[True]), min(times[False])
        print(f"| {core} | {on * 1e3:.1f} | {off * 1e3:.1f} | {(on / off - 1) * 100:+.1f} % |")


if __name__ == "__main__":
    main()
