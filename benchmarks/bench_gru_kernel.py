"""The GRU core's compiled loop against ``torch.nn.GRU`` (``compiled=False``), side by side.

1. PPO: one update (``ppo_update``: 4 epochs x 4 minibatches of 4 sequences of 128 steps,
   H = 128, the previous action fed) on one 16 x 128 rollout of POPGym's
   RepeatPreviousEasy, as the POPGym grid runs it; the LSTM and fast weights beside them.
2. Supervised: one associative-retrieval update (batch 128, K = 4 so T = 11, R = 20, 50,
   100), as Table 1 runs it (where the core keeps to ``torch.nn.GRU``: batch > 16).
3. ``--crossover``: the core alone, forward and backward of a sequence, both forms forced,
   at batch 1-128 (T = 128, H = 128 as PPO; T = 11, H = 20 and 100 as Table 1): where the
   per-example loop stops paying (``COMPILED_MAX_BATCH`` in ``fw_rl/cores/gru.py``).

One torch thread; the configurations alternate within each of ``--rounds`` rounds, and
each figure is the range (lowest-highest) over the rounds of the median of ``--repeats``
timings (so machine drift hits every configuration alike).

    taskset -c 0 python benchmarks/bench_gru_kernel.py [--rounds 3] [--crossover]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F
from fixed_ppo_update import fixed_update  # benchmarks/, beside this script

from fw_rl.agents.config import PPOConfig
from fw_rl.tasks.associative_retrieval import NUM_CLASSES, VOCABULARY, make_splits
from fw_rl.tasks.classifier import SequenceClassifier

PPO_CORES = {  # label -> (core, compute options)
    "gru, compiled loop": ("gru", {}),
    "gru, torch.nn.GRU": ("gru", {"compiled": False}),
    "lstm": ("lstm", {}),
    "fastweights": ("fastweights", {}),
}
SUPERVISED_CORES = {"gru, compiled loop": {}, "gru, torch.nn.GRU": {"compiled": False}}


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def ppo_updates() -> dict:
    """label -> a function running one PPO update on a fixed rollout (lr 0: the same one)."""
    updates = {}
    for label, (core, compute) in PPO_CORES.items():
        config = PPOConfig(
            env="popgym:popgym-RepeatPreviousEasy-v0",
            core=core,
            core_compute=json.dumps(compute),
        )
        updates[f"PPO update, {label}"] = fixed_update(config)
    return updates


def supervised_updates(hidden_sizes) -> dict:
    train = make_splits(0, 4, {"train": 1_000, "validation": 10, "test": 10})["train"]
    x, y = train.inputs[:128], train.targets[:128]
    updates = {}
    for hidden in hidden_sizes:
        for label, compute in SUPERVISED_CORES.items():
            torch.manual_seed(0)
            model = SequenceClassifier(
                "gru", hidden, NUM_CLASSES, vocabulary=len(VOCABULARY), core_options=compute
            )
            optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)

            def update(model=model, optimiser=optimiser) -> None:
                for _ in range(20):
                    loss = F.cross_entropy(model(x), y)
                    optimiser.zero_grad()
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                    optimiser.step()

            updates[f"20 supervised updates, R = {hidden}, {label}"] = update
    return updates


def crossover_runs() -> dict:
    """label -> forward and backward of the core alone, each form forced."""
    from fw_rl.cores import gru as gru_module
    from fw_rl.cores.gru import GRUCore

    runs = {}
    for steps, hidden, inputs in ((128, 128, 64), (11, 20, 20), (11, 100, 20)):
        for batch in (1, 4, 16, 32, 128):
            torch.manual_seed(0)
            compiled = GRUCore(inputs, hidden)
            plain = GRUCore(inputs, hidden, compiled=False)
            plain.load_state_dict(compiled.state_dict())
            x = torch.randn(steps, batch, inputs)
            for form, core in (("compiled loop", compiled), ("torch.nn.GRU", plain)):

                def run(core=core, x=x) -> None:
                    limit = gru_module.COMPILED_MAX_BATCH
                    gru_module.COMPILED_MAX_BATCH = 10**9  # force the loop where asked
                    try:
                        out, _ = core(x)
                    finally:
                        gru_module.COMPILED_MAX_BATCH = limit
                    out.sum().backward()

                runs[f"core, T = {steps}, H = {hidden}, B = {batch}, {form}"] = run
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--hidden", type=int, nargs="+", default=[20, 50, 100])
    parser.add_argument("--crossover", action="store_true", help="only part 3")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.crossover:
        updates = crossover_runs()
    else:
        updates = {**ppo_updates(), **supervised_updates(args.hidden)}
    for fn in updates.values():  # compile (or load) the loops, warm the caches
        fn()
    results: dict[str, list[float]] = {label: [] for label in updates}
    for _ in range(args.rounds):
        for label, fn in updates.items():
            results[label].append(median_ms(fn, args.repeats))
    print(f"| what | ms (range over {args.rounds} rounds, each a median of {args.repeats}) |")
    print("|---|---|")
    for label, times in results.items():
        print(f"| {label} | {min(times):.1f}-{max(times):.1f} |")


if __name__ == "__main__":
    main()
