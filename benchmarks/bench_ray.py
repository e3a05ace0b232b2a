"""The Ray backend against the processes backend, and the parameter server's capacity.

    python benchmarks/bench_ray.py [--seconds 40] [--repeats 2] [--out benchmarks/ray.md]
    python benchmarks/bench_ray.py --workers 1 --out benchmarks/ray_1worker.md


1. Frames per second of the same run (default Catch-v0, 2 workers x 16 boards, the
   fast-weights and LSTM cores; ``--workers 1`` leaves the second core to the parameter
   server and Ray, as a cluster with a core for them would) with ``--backend processes``
   and ``--backend ray`` (a local Ray started by the run), alternating, ``--repeats`` times
   each; the rate comes from metrics.csv after every worker has started, so start-up is not counted.
2. The parameter-server actor alone (the default fast-weights agent's parameters): bytes per
   push and per pull, the round trip of one push + reply and of one pull from a driver, and
   the updates per second it applies when pushes arrive back to back (submitted without
   waiting, so the server is the bottleneck). From these and the measured rate of one
   worker: how many workers one server can feed before it saturates.
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_a3c import measure  # noqa: E402


def backend_rates(
    core: str, seconds: float, repeats: int, workers: int = 2
) -> dict[str, list[float]]:
    rates: dict[str, list[float]] = {"processes": [], "ray": []}
    for _ in range(repeats):
        for backend in rates:
            rates[backend].append(measure(core, workers, 16, seconds, extra=["--backend", backend]))
    return rates


def server_capacity(calls: int) -> dict[str, float]:
    import ray

    from fw_rl.agents.a3c.parameter_server import flat_parameters
    from fw_rl.agents.a3c.ray_backend import ParameterServerActor, split
    from fw_rl.agents.a3c.shared_optim import make_shared_optimiser
    from fw_rl.agents.config import A3CConfig
    from fw_rl.agents.model import build_model

    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    try:
        config = A3CConfig()
        model = build_model(config)
        optimiser = make_shared_optimiser(config.optimiser, model.parameters(), config.lr)
        server = ParameterServerActor.remote(
            config.to_dict(), model.state_dict(), optimiser.state_dict()
        )
        n = flat_parameters(model).size
        chunks = split(np.random.default_rng(0).normal(0, 1e-3, n).astype(np.float32))
        returns = 1 + len(chunks)  # as RayServer calls it: chunks sent inside the call

        def push():
            return server.push.options(num_returns=returns).remote([], *chunks)

        ray.get(push())  # warm

        start = time.perf_counter()
        for _ in range(calls):
            ray.get(push())
        round_trip = (time.perf_counter() - start) / calls

        start = time.perf_counter()
        for _ in range(calls):
            ray.get(server.pull.options(num_returns=returns).remote())
        pull = (time.perf_counter() - start) / calls

        start = time.perf_counter()
        ray.get([ref for _ in range(calls) for ref in push()])
        throughput = calls / (time.perf_counter() - start)
        return {
            "parameters": n,
            "bytes": 4 * n,
            "push_ms": 1e3 * round_trip,
            "pull_ms": 1e3 * pull,
            "updates_per_s": throughput,
        }
    finally:
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--cores", nargs="*", default=["fastweights", "lstm"])
    parser.add_argument("--workers", type=int, default=2, help="workers of 16 boards each")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "ray.md")
    args = parser.parse_args()

    lines = [
        f"{args.workers} worker(s) x 16 boards:",
        "",
        "| core | processes fps | ray fps | ray / processes |",
        "|---|---|---|---|",
    ]
    per_worker_updates = []
    frames_per_update = 16 * 23  # 16 boards x 23 rollout steps (24 x 24 board)
    for core in args.cores:
        rates = backend_rates(core, args.seconds, args.repeats, args.workers)
        p, r = statistics.median(rates["processes"]), statistics.median(rates["ray"])
        per_worker_updates.append(r / args.workers / frames_per_update)
        spread = " ".join(f"{x:,.0f}" for x in rates["ray"])
        lines.append(
            f"| {core} | {p:,.0f} ({' '.join(f'{x:,.0f}' for x in rates['processes'])}) "
            f"| {r:,.0f} ({spread}) | {r / p:.2f}x |"
        )
        print(lines[-1], flush=True)
        args.out.write_text("\n".join(lines) + "\n")  # kept if the rest fails
    c = server_capacity(args.calls)
    slowest = min(per_worker_updates, default=math.nan)
    lines += [
        "",
        "| parameter server | value |",
        "|---|---|",
        f"| parameters (fast-weights agent, 24 x 24) | {c['parameters']:,} |",
        f"| bytes per push / per pull (float32) | {c['bytes'] / 1e6:.2f} MB / "
        f"{c['bytes'] / 1e6:.2f} MB |",
        f"| push + reply with the new weights, round trip | {c['push_ms']:.2f} ms |",
        f"| pull alone, round trip | {c['pull_ms']:.2f} ms |",
        f"| updates applied per second, pushes back to back | {c['updates_per_s']:,.0f} |",
        f"| updates per second of one worker (16 boards, measured above) | {slowest:.1f} |",
        f"| workers one server can feed before it saturates | "
        f"{c['updates_per_s'] / slowest:,.0f} |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
