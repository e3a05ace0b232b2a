"""Steps per second of Catch-v0: raw env, through gym.make's wrappers, and the vector env.

Also measures bsuite's Catch and EnvPool's Catch-v0 at the same size when they are
installed, so the ratios in RESULTS.md are measured side by side in one run:

    python benchmarks/bench_env.py [--size 24] [--repeats 5]

Each figure is the best of ``--repeats`` timed runs (a shared 2-core machine is noisy).
Episodes are reset as they end, so resets are included in every figure.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import fw_rl.envs  # noqa: F401  (registers Catch-v0)
from fw_rl.envs import CatchEnv, CatchVectorEnv


def best_rate(run, steps: int, repeats: int) -> float:
    """Best steps/second over ``repeats`` calls of ``run(steps)``."""
    run(max(1, steps // 10))  # warm up
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        done = run(steps)
        best = max(best, done / (time.perf_counter() - start))
    return best


def single_env_runner(env):
    env.reset(seed=0)

    def run(steps: int) -> int:
        for _ in range(steps):
            _, _, terminated, truncated, _ = env.step(1)
            if terminated or truncated:
                env.reset()
        return steps

    return run


def vector_env_runner(env, num_envs: int):
    env.reset(seed=0)
    actions = np.ones(num_envs, np.int64)

    def run(steps: int) -> int:
        for _ in range(steps):
            env.step(actions)
        return steps * num_envs

    return run


def bsuite_runner(size: int):
    from bsuite.environments import catch

    env = catch.Catch(rows=size, columns=size, seed=0)
    env.reset()

    def run(steps: int) -> int:
        for _ in range(steps):
            if env.step(1).last():
                env.reset()
        return steps

    return run


def envpool_runner(size: int, num_envs: int):
    import envpool

    env = envpool.make(
        "Catch-v0",
        env_type="gymnasium",
        num_envs=num_envs,
        batch_size=num_envs,
        height=size,
        width=size,
    )
    env.reset()
    actions = np.ones(num_envs, np.int32)

    def run(steps: int) -> int:
        for _ in range(steps):
            env.step(actions)
        return steps * num_envs

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    size, repeats = args.size, args.repeats
    rows: list[tuple[str, float]] = []

    def report(name: str, rate: float) -> None:
        rows.append((name, rate))
        print(f"{name:42s} {rate / 1e6:8.3f} M steps/s  {1e6 / rate:8.3f} us/step", flush=True)

    report("CatchEnv (raw)", best_rate(single_env_runner(CatchEnv(size=size)), 100_000, repeats))
    report(
        "gym.make('Catch-v0') (wrappers)",
        best_rate(single_env_runner(gym.make("Catch-v0", size=size)), 50_000, repeats),
    )
    try:
        report("bsuite Catch", best_rate(bsuite_runner(size), 50_000, repeats))
    except ImportError:
        print("bsuite not installed: skipped")
    for n in (1, 64, 1024):
        for copy in (True, False):
            env = CatchVectorEnv(n, size=size, copy=copy)
            report(
                f"CatchVectorEnv n={n} copy={copy}",
                best_rate(vector_env_runner(env, n), max(200, 200_000 // n), repeats),
            )
    try:
        report("EnvPool Catch-v0 n=1024", best_rate(envpool_runner(size, 1024), 300, repeats))
    except ImportError:
        print("envpool not installed: skipped")

    rates = dict(rows)
    if "bsuite Catch" in rates:
        print(
            f"raw CatchEnv / bsuite: {rates['CatchEnv (raw)'] / rates['bsuite Catch']:.1f}x "
            "(target >= 5x)"
        )
    if "EnvPool Catch-v0 n=1024" in rates:
        ours = rates["CatchVectorEnv n=1024 copy=True"]
        print(
            f"CatchVectorEnv n=1024 / EnvPool: {ours / rates['EnvPool Catch-v0 n=1024']:.1f}x "
            "(target >= 10x)"
        )


if __name__ == "__main__":
    main()
