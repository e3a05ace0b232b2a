"""Training speed of the cores on a CUDA device (the CPU figures: bench_cores.py).

    python benchmarks/bench_cores_cuda.py [--quick]

Forward and backward, batch 128, T = 11 and 100, H = 20 .. 512, float32: ``nn.LSTM``
(cuDNN), the fast-weights core's matrix form (PyTorch's operations: the compiled loop is a
CPU path), its attention form, and ``"auto"``. Each figure is the best of several rounds
with the device synchronised around every step.
"""

from __future__ import annotations

import argparse
import functools

import torch
from bench_cores import BATCH, INPUT, best_time, make, predicted_matrix_bytes

MEMORY_LIMIT = 40e9  # skip the matrix form where it would save more than this


def training(repeats: int, hiddens, steps_list, device: str) -> list[str]:
    kinds = ("nn.LSTM", "fw-pytorch-matrix", "fw-attention", "fw-auto")
    lines = [
        "| T | H | " + " | ".join(f"{k} ms" for k in kinds) + " | auto mode | auto / nn.LSTM |",
        "|---" * (len(kinds) + 4) + "|",
    ]
    for steps in steps_list:
        for hidden in hiddens:
            x = torch.randn(steps, BATCH, INPUT, device=device)
            steps_of = {}
            for kind in kinds:
                if kind == "fw-pytorch-matrix" and (
                    predicted_matrix_bytes(steps, hidden) > MEMORY_LIMIT
                ):
                    continue

                def train_step(core, x=x):
                    core(x)[0].sum().backward()
                    torch.cuda.synchronize(device)

                steps_of[kind] = functools.partial(train_step, make(kind, hidden).to(device))
            times = {kind: [] for kind in steps_of}
            for _ in range(repeats):
                for kind, train_step in steps_of.items():
                    times[kind].append(best_time(train_step, 1) * 1e3)
            row = {kind: min(times[kind]) if kind in times else float("nan") for kind in kinds}
            auto = make("fw-auto", hidden).to(device).choose_mode(steps, BATCH, x)
            lines.append(
                f"| {steps} | {hidden} | "
                + " | ".join(f"{row[k]:.2f}" for k in kinds)
                + f" | {auto} | {row['fw-auto'] / row['nn.LSTM']:.2f}x |"
            )
            print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    parser.add_argument("--device", default="cuda", help="a CUDA device (default: cuda)")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench_cores_cuda.py needs a CUDA device; torch sees none")
    print(f"{torch.cuda.get_device_name(args.device)}, torch {torch.__version__}")
    hiddens = (20, 128) if args.quick else (20, 50, 100, 128, 256, 512)
    training(2 if args.quick else 3, hiddens, (11, 100), args.device)


if __name__ == "__main__":
    main()
