"""The small measurements behind the fast-weights core's design choices.

    python benchmarks/bench_fast_weights_ops.py [--skip-long]

1. The acting step's memory update ``A_t = lambda A + eta h h^T`` at batch 16, H = 256:
   the ways PyTorch offers to write it, the ``A_t h`` read that follows, and the one-pass
   numba loop that acting without gradients uses (``fw_rl/cores/memory_update.py``).
2. The attention form's backward pass: accumulating the keys' gradients
   ``grad_k[:, :t] += w (x) dv`` with ``addcmul_`` or ``baddbmm_``.
3. Where ``mode="auto"`` switches from attention to the matrix: both forms' forward and
   backward at long T (batch 128).

One torch thread, ``tune_malloc()`` applied; best of several repeats (microseconds, or
milliseconds for section 3). Results are quoted in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import timeit

import torch

from fw_rl.cores import FastWeightsRNN
from fw_rl.cores.memory_update import matvec, update_memory
from fw_rl.system import tune_malloc


def best_us(fn, number: int = 200, repeat: int = 5) -> float:
    fn()
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def memory_update() -> None:
    batch, hidden, decay, fast_lr = 16, 256, 0.95, 0.5
    memory, h = torch.randn(batch, hidden, hidden), torch.randn(batch, hidden)

    def addr_loop():
        out = torch.empty_like(memory)
        for b in range(batch):
            torch.addr(memory[b], h[b], h[b], beta=decay, alpha=fast_lr, out=out[b])
        return out

    def one_pass():
        with torch.no_grad():
            return update_memory(memory, h, h, decay, fast_lr)

    variants = {
        "mul, then addcmul_ in place (autograd)": lambda: (memory * decay).addcmul_(
            h[:, :, None], h[:, None, :], value=fast_lr
        ),
        "+ the A_t h read (bmm, row vector)": lambda: matvec(
            (memory * decay).addcmul_(h[:, :, None], h[:, None, :], value=fast_lr), h
        ),
        "update and read in one pass (numba)": one_pass,
        "baddbmm(beta, alpha), one column": lambda: torch.baddbmm(
            memory, h[:, :, None], h[:, None, :], beta=decay, alpha=fast_lr
        ),
        "addr per example": addr_loop,
        "(one pass, no decay: addcmul)": lambda: torch.addcmul(
            memory, h[:, :, None], h[:, None, :], value=fast_lr
        ),
        "A_t h read alone (bmm, row vector)": lambda: matvec(memory, h),
    }
    print(f"1. memory update, batch {batch}, H {hidden}")
    for name, fn in variants.items():
        print(f"   {name:40s} {best_us(fn):8.1f} us")


def key_gradients() -> None:
    print("2. keys' gradient accumulation, batch 128")
    for hidden, steps in ((20, 11), (20, 50), (100, 50)):
        grad_keys = torch.zeros(128, 101, hidden)[:, :steps]  # a view, as in the backward
        weights, dv = torch.randn(128, steps, 1), torch.randn(128, 1, hidden)
        add = best_us(lambda g=grad_keys, w=weights, v=dv: g.addcmul_(w, v))
        bmm = best_us(lambda g=grad_keys, w=weights, v=dv: g.baddbmm_(w, v))
        print(f"   H {hidden:3d}, t {steps:3d}: addcmul_ {add:7.1f} us   baddbmm_ {bmm:7.1f} us")


def long_sequences() -> None:
    print("3. forward + backward at long T, batch 128 (ms)")
    for steps, hidden in ((200, 20), (400, 20), (200, 50), (400, 50), (400, 100)):
        x = torch.randn(steps, 128, 32)
        row = []
        for mode in ("attention", "matrix"):
            torch.manual_seed(0)
            core = FastWeightsRNN(32, hidden, mode=mode)

            def train_step(core=core, x=x):
                core(x)[0].sum().backward()

            row.append(best_us(train_step, number=1, repeat=2) / 1e3)
        auto = FastWeightsRNN(32, hidden).choose_mode(steps)
        print(
            f"   T {steps:3d}, H {hidden:3d}: attention {row[0]:8.1f}   matrix {row[1]:8.1f}"
            f"   auto picks {auto}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-long", action="store_true", help="skip section 3 (minutes)")
    args = parser.parse_args()
    print(f"tune_malloc applied: {tune_malloc()}")
    torch.set_num_threads(1)
    memory_update()
    key_gradients()
    if not args.skip_long:
        long_sequences()


if __name__ == "__main__":
    main()
