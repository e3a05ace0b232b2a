"""Compile the fast-weights core's numba loops ahead of time.

numba compiles each loop on its first call and caches it on disk (next to the module,
where that is writable), so only the first run after an install pays for it. ``make``
runs this during set-up: ``python -m fw_rl.cores.fast_weights.warm_up``.
"""

from __future__ import annotations

import time

import torch


def warm_up(dtype: torch.dtype = torch.float32) -> float:
    """Run the compiled training loop (forward and backward) and the acting update once
    on a tiny input; returns the seconds it took (compiling, or loading the cache)."""
    from fw_rl.cores.fast_weights.rnn import FastWeightsRNN

    start = time.perf_counter()
    core = FastWeightsRNN(4, 8, mode="matrix").to(dtype)
    x = torch.randn(3, 2, 4, dtype=dtype)
    out, _ = core(x)
    out.sum().backward()
    with torch.no_grad():
        state = core.initial_state(2)
        for t in range(2):
            _, state = core(x[t : t + 1], state)
    return time.perf_counter() - start


if __name__ == "__main__":
    print(f"fast-weights kernels compiled or loaded in {warm_up():.1f} s")
