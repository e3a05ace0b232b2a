"""Speed and memory of the recurrent cores (fast weights in each form, LSTM core, nn.LSTM).

    python benchmarks/bench_cores.py [--quick] [--only acting training memory] [--out FILE]

1. Acting latency: one step at batch 1 and 16 with a carried state, as the A3C actor calls
   it (``torch.no_grad``), H = 64, 128, 256.
2. Training throughput: forward and backward, batch 128, T = 11 and 100, H = 20 .. 512,
   for the matrix form as PyTorch's operations and as the compiled loop, the attention
   form and ``"auto"``.
3. Memory for backpropagation: the bytes autograd saves for the backward pass (counted
   exactly with ``torch.autograd.graph.saved_tensors_hooks``), as T and H grow, for the
   matrix form as PyTorch's operations and as the compiled loop, and attention; and the
   mode ``"auto"`` chooses.

One torch thread, as in an A3C worker; each figure is the best of several repeats.
"""

from __future__ import annotations

import argparse
import functools
import time

import torch
from torch import nn

from fw_rl.cores import FastWeightsRNN, LSTMCore
from fw_rl.system import tune_malloc

BATCH = 128
INPUT = 32
MEMORY_LIMIT = 3e9  # skip configurations that would save more than this for backward


def best_time(fn, repeats: int, min_time: float = 0.2) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        count, start = 0, time.perf_counter()
        while True:
            fn()
            count += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        best = min(best, elapsed / count)
    return best


def saved_bytes(fn) -> int:
    """Bytes of distinct storages autograd saves for backward while ``fn`` runs."""
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor):
        s = t.untyped_storage()
        storages[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(storages.values())


def predicted_matrix_bytes(steps: int, hidden: int) -> int:
    """What PyTorch's matrix form saves: about two ``[B, H, H]`` memories per step."""
    return 4 * steps * BATCH * hidden * hidden * 2


def predicted_attention_bytes(steps: int, hidden: int) -> int:
    # keys (T+1) H, h^0 and the two layer-norm inputs 3 T H, attention weights T^2 per
    # example (see fw_rl/cores/fast_weights/attention.py), and the [T, T] decay table
    return 4 * (BATCH * (hidden * (4 * steps + 1) + steps * steps) + steps * steps)


def scratch_mb(steps: int, hidden: int) -> float:
    """The compiled loop's backward scratch: one example's ``T`` memories at a time."""
    return 4 * steps * hidden * hidden / 2**20


def too_big(kind: str, steps: int, hidden: int, limit: float = MEMORY_LIMIT) -> bool:
    if kind == "fw-pytorch-matrix" or (
        kind == "fw-compiled" and not make(kind, hidden).runs_compiled(steps)
    ):
        return predicted_matrix_bytes(steps, hidden) > limit
    if kind == "fw-attention":
        return predicted_attention_bytes(steps, hidden) > 2 * limit
    return False


def make(kind: str, hidden: int) -> nn.Module:
    """``nn.LSTM``, ``LSTMCore``, or the fast-weights core: ``fw-compiled`` (the matrix
    form, compiled where it can be), ``fw-pytorch-matrix``, ``fw-attention``, ``fw-auto``."""
    torch.manual_seed(0)
    if kind == "nn.LSTM":
        return nn.LSTM(INPUT, hidden)
    if kind == "LSTMCore":
        return LSTMCore(INPUT, hidden)
    if kind == "fw-pytorch-matrix":
        return FastWeightsRNN(INPUT, hidden, mode="matrix", compiled=False)
    if kind == "fw-compiled":
        return FastWeightsRNN(INPUT, hidden, mode="matrix")
    return FastWeightsRNN(INPUT, hidden, mode=kind.split("-")[1])


def acting(repeats: int) -> list[str]:
    lines = [
        "| H | batch | nn.LSTM us | LSTMCore us | fastweights-matrix us |"
        " fastweights-attention us | fastweights-auto us | auto / LSTM |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for hidden in (64, 128, 256):
        for batch in (1, 16):
            row = {}
            for kind in ("nn.LSTM", "LSTMCore", "fw-matrix", "fw-attention", "fw-auto"):
                core = make(kind, hidden)
                x = torch.randn(1, batch, INPUT)
                state = [core(x)[1]]  # nn.LSTM: the layer on one step, without the core

                def step(core=core, x=x, state=state):
                    with torch.no_grad():
                        _, state[0] = core(x, state[0])

                row[kind] = best_time(step, repeats, 0.1) * 1e6
            lines.append(
                f"| {hidden} | {batch} | {row['nn.LSTM']:.0f} | {row['LSTMCore']:.0f} | "
                f"{row['fw-matrix']:.0f} | "
                f"{row['fw-attention']:.0f} | {row['fw-auto']:.0f} | "
                f"{row['fw-auto'] / row['LSTMCore']:.2f}x |"
            )
            print(lines[-1], flush=True)
    return lines


TRAINING_KINDS = ("nn.LSTM", "fw-pytorch-matrix", "fw-compiled", "fw-attention", "fw-auto")


def training(
    repeats: int,
    hiddens,
    steps_list,
    kinds=TRAINING_KINDS,
    device: str = "cpu",
    memory_limit: float = MEMORY_LIMIT,
) -> list[str]:
    """The training table; on a CUDA ``device`` every step waits for the device."""
    synchronize = torch.cuda.synchronize if torch.device(device).type == "cuda" else None
    lines = [
        "| T | H | " + " | ".join(f"{k} ms" for k in kinds) + " | auto mode | auto / nn.LSTM |",
        "|---" * (len(kinds) + 4) + "|",
    ]
    for steps in steps_list:
        for hidden in hiddens:
            x = torch.randn(steps, BATCH, INPUT, device=device)
            steps_of = {}
            for kind in kinds:
                if kind.startswith("fw") and too_big(kind, steps, hidden, memory_limit):
                    continue

                def train_step(core, x=x):
                    core(x)[0].sum().backward()
                    if synchronize is not None:
                        synchronize(device)

                steps_of[kind] = functools.partial(train_step, make(kind, hidden).to(device))
            # the kinds in turn, round after round: the order they run in and the state
            # the allocator is left in move single figures by up to 10 %
            times = {kind: [] for kind in steps_of}
            for _ in range(repeats):
                for kind, train_step in steps_of.items():
                    times[kind].append(best_time(train_step, 1) * 1e3)
            row = {kind: min(times[kind]) if kind in times else float("nan") for kind in kinds}
            auto_mode = make("fw-auto", hidden).to(device).choose_mode(steps, BATCH, x)
            lines.append(
                f"| {steps} | {hidden} | "
                + " | ".join(f"{row[k]:.2f}" if row[k] < 10 else f"{row[k]:.1f}" for k in kinds)
                + f" | {auto_mode} | {row['fw-auto'] / row['nn.LSTM']:.2f}x |"
            )
            print(lines[-1], flush=True)
    return lines


def memory(hiddens, steps_list) -> list[str]:
    kinds = ("nn.LSTM", "fw-pytorch-matrix", "fw-compiled", "fw-attention")
    lines = [
        "| T | H | " + " | ".join(f"{k} MB" for k in kinds) + " | auto picks | "
        "auto's MB / the least fast-weights MB | compiled backward scratch MB |",
        "|---" * (len(kinds) + 5) + "|",
    ]
    for steps in steps_list:
        for hidden in hiddens:
            row = {}
            x = torch.randn(steps, BATCH, INPUT)
            for kind in kinds:
                if too_big(kind, steps, hidden):
                    row[kind] = float("inf")
                    continue
                core = make(kind, hidden)
                row[kind] = saved_bytes(lambda core=core, x=x: core(x)[0].sum()) / 2**20
            auto = make("fw-auto", hidden).choose_mode(steps, BATCH)
            compiled = make("fw-compiled", hidden).runs_compiled(steps)
            kind = {"attention": "fw-attention"}.get(
                auto, "fw-compiled" if compiled else "fw-pytorch-matrix"
            )
            least = min(row[k] for k in kinds[1:])

            def shown(mb: float) -> str:
                return "skipped (too big)" if mb == float("inf") else f"{mb:.1f}"

            scratch = f"{scratch_mb(steps, hidden):.1f}" if compiled else "not compiled"
            lines.append(
                f"| {steps} | {hidden} | "
                + " | ".join(shown(row[k]) for k in kinds)
                + f" | {kind.removeprefix('fw-')} | {row[kind] / least:.2f}x | {scratch} |"
            )
            print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    parser.add_argument("--out", default=None, help="also write the tables to this file")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["acting", "training", "memory"],
        default=["acting", "training", "memory"],
        help="the tables to measure",
    )
    parser.add_argument(
        "--default-malloc",
        action="store_true",
        help="leave glibc's allocator settings alone (see fw_rl.system)",
    )
    args = parser.parse_args()
    if not args.default_malloc:
        print(f"tune_malloc applied: {tune_malloc()}")
    torch.set_num_threads(1)
    repeats = 2 if args.quick else 3
    hiddens = (20, 128) if args.quick else (20, 50, 100, 128, 256, 512)
    steps_list = (11, 100)
    tables = {
        "acting": (
            "Acting latency, one step with a carried state (torch.no_grad)",
            lambda: acting(repeats),
        ),
        "training": (
            f"Training step (forward + backward), batch {BATCH}, input {INPUT}",
            lambda: training(repeats, hiddens, steps_list),
        ),
        "memory": (
            f"Memory saved for backward, batch {BATCH}",
            lambda: memory(hiddens, (11, 100, 400)),
        ),
    }
    sections = [(tables[k][0], tables[k][1]()) for k in tables if k in args.only]
    text = "\n\n".join(f"### {title}\n\n" + "\n".join(lines) for title, lines in sections)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
