"""Time of one associative-retrieval training update per core (Table 1's set-up: batch 128,
K = 4 pairs so T = 11 steps, R = 20 hidden units, one torch thread), in its parts:

* data: the next batch, as ``torch.utils.data.DataLoader`` gives it and as the trainer's
  ``shuffled_batches`` gathers it (the same batches);
* update: forward, loss, backward, clipping and Adam's step.

    python benchmarks/bench_supervised.py [--cores fastweights gru lstm alstm] [--hidden 20]

Each figure is the median over ``--repeats`` timings of ``--updates`` updates. Run it from
two checkouts in one sitting to compare code (``benchmarks/before_after_supervised.sh``).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from fw_rl.tasks.associative_retrieval import NUM_CLASSES, VOCABULARY, make_splits
from fw_rl.tasks.classifier import SequenceClassifier


def median_ms(fn, updates: int, repeats: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(updates):
            fn()
        times.append((time.perf_counter() - start) / updates * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cores", nargs="+", default=["fastweights", "gru", "lstm", "alstm"])
    parser.add_argument("--hidden", type=int, default=20)
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    train = make_splits(0, 4, {"train": 100_000, "validation": 10, "test": 10})["train"]

    loader = iter(DataLoader(train, batch_size=128, shuffle=True, drop_last=True))
    print(f"data, DataLoader: {median_ms(lambda: next(loader), 100, args.repeats):.3f} ms")
    try:
        from fw_rl.tasks.training import shuffled_batches
    except ImportError:  # a checkout from before it
        pass
    else:
        ours = shuffled_batches(train, 128, torch.Generator().manual_seed(0))
        print(f"data, shuffled_batches: {median_ms(lambda: next(ours), 100, args.repeats):.3f} ms")

    x, y = train.inputs[:128], train.targets[:128]
    for core in args.cores:
        torch.manual_seed(0)
        model = SequenceClassifier(core, args.hidden, NUM_CLASSES, vocabulary=len(VOCABULARY))
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)

        def update(model=model, optimiser=optimiser) -> None:
            loss = F.cross_entropy(model(x), y)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimiser.step()

        print(f"update, {core}: {median_ms(update, args.updates, args.repeats):.2f} ms")


if __name__ == "__main__":
    main()
