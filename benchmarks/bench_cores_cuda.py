"""Training speed of the cores on a CUDA device (the CPU figures: bench_cores.py).

    python benchmarks/bench_cores_cuda.py [--quick]

Forward and backward, batch 128, T = 11 and 100, H = 20 .. 512, float32: ``nn.LSTM``
(cuDNN), the fast-weights core's matrix form (PyTorch's operations: the compiled loop is a
CPU path), its attention form, and ``"auto"``. Each figure is the best of several rounds
with the device synchronised around every step.
"""

from __future__ import annotations

import argparse

import torch
from bench_cores import training

MEMORY_LIMIT = 40e9  # skip the matrix form where it would save more than this
KINDS = ("nn.LSTM", "fw-pytorch-matrix", "fw-attention", "fw-auto")  # no compiled loop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    parser.add_argument("--device", default="cuda", help="a CUDA device (default: cuda)")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench_cores_cuda.py needs a CUDA device; torch sees none")
    print(f"{torch.cuda.get_device_name(args.device)}, torch {torch.__version__}")
    hiddens = (20, 128) if args.quick else (20, 50, 100, 128, 256, 512)
    repeats = 2 if args.quick else 3
    training(repeats, hiddens, (11, 100), KINDS, args.device, MEMORY_LIMIT)


if __name__ == "__main__":
    main()
