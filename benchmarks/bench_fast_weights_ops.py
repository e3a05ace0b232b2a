"""The small measurements behind the fast-weights core's design choices.

    python benchmarks/bench_fast_weights_ops.py [--skip-grid]

1. The acting step's memory update ``A_t = lambda A + eta h h^T`` at batch 16, H = 256:
   the ways PyTorch offers to write it, the ``A_t h`` read that follows, and the one-pass
   numba loop that acting without gradients uses (``fw_rl/cores/fast_weights/acting.py``).
2. The attention form's backward pass: accumulating the keys' gradients
   ``grad_k[:, :t] += w (x) dv`` with ``addcmul_`` or ``baddbmm_``.
3. Where ``mode="auto"`` picks the compiled matrix form or attention: both timed, forward
   and backward, over a grid of batch (1, 16, 128), T (2-400) and H (16-256), and the cost
   model ``fw_rl.cores.fast_weights.cost_model.predicted_us`` refitted to the grid.

One torch thread, ``tune_malloc()`` applied; best of several repeats (microseconds, or
milliseconds for section 3). Results are quoted in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import timeit

import numpy as np
import torch

from fw_rl.cores import FastWeightsRNN
from fw_rl.cores.fast_weights.acting import matvec, update_memory
from fw_rl.cores.fast_weights.cost_model import predicted_us
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


GRID_BATCHES = (1, 16, 128)
GRID_STEPS = (2, 11, 25, 100, 400)
GRID_HIDDEN = (16, 32, 64, 128, 256)


def fit_cost_model(cells: list[tuple[int, int, int, float, float]]) -> None:
    """Least squares, in relative error, of the two forms' cost models (the ones
    ``fw_rl.cores.fast_weights.cost_model.predicted_us`` uses) on the measured cells."""
    batch, steps, hidden, compiled, attention = (np.array(c, dtype=float) for c in zip(*cells))
    terms = np.stack([steps * batch, steps * batch * hidden**2], 1) / compiled[:, None]
    a, b = np.linalg.lstsq(terms, np.ones_like(compiled), rcond=None)[0]
    terms = np.stack([steps, steps * batch * hidden, steps**2 * batch * hidden], 1)
    c, d, e = np.linalg.lstsq(terms / attention[:, None], np.ones_like(attention), rcond=None)[0]
    a, b, c, d, e = 1e3 * np.array([a, b, c, d, e])  # ms to us
    print(f"   fitted (us): compiled T B ({a:.3g} + {b:.3g} H^2)")
    print(f"                attention T ({c:.3g} + {d:.3g} B H + {e:.3g} T B H)")


def crossover() -> None:
    """Both forms timed over a grid of batch, T and H; auto's pick and what it costs."""
    print("3. where auto picks the compiled matrix or attention: forward + backward (ms)")
    cells, losses = [], []
    for batch in GRID_BATCHES:
        for steps in GRID_STEPS:
            for hidden in GRID_HIDDEN:
                if predicted_us("attention", steps, batch, hidden) > 2e6:
                    continue  # seconds per call: beyond what the grid needs
                x = torch.randn(steps, batch, 32)
                row = []
                for mode in ("matrix", "attention"):
                    torch.manual_seed(0)
                    core = FastWeightsRNN(32, hidden, mode=mode)
                    assert mode == "attention" or core.runs_compiled(steps, x)

                    def train_step(core=core, x=x):
                        core(x)[0].sum().backward()

                    form = "compiled" if mode == "matrix" else mode
                    number = max(1, int(2e4 / predicted_us(form, steps, batch, hidden)))
                    row.append(best_us(train_step, number=number, repeat=3) / 1e3)
                auto = FastWeightsRNN(32, hidden).choose_mode(steps, batch, x)
                loss = row[0 if auto == "matrix" else 1] / min(row)
                cells.append((batch, steps, hidden, *row))
                losses.append(loss)
                print(
                    f"   B {batch:3d} T {steps:3d} H {hidden:3d}: compiled {row[0]:8.2f}"
                    f"  attention {row[1]:8.2f}  auto picks {auto:9s} {loss:.2f}x the best",
                    flush=True,
                )
    print(
        f"   auto's pick is the faster in {sum(v == 1 for v in losses)} of {len(losses)}"
        f" cells; at worst {max(losses):.2f}x the faster"
    )
    fit_cost_model(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-grid", action="store_true", help="skip section 3 (minutes)")
    args = parser.parse_args()
    print(f"tune_malloc applied: {tune_malloc()}")
    torch.set_num_threads(1)
    memory_update()
    key_gradients()
    if not args.skip_grid:
        crossover()


if __name__ == "__main__":
    main()
