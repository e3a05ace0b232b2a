"""numba-compiled loops, made on first use.

numba is a dependency, but it may lag behind a new numpy, so it is imported only when a
loop is first needed, and every caller has a PyTorch fallback for when it cannot be.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

# every fastmath flag but "no NaNs" and "no infs": reassociation (vectorised sums) stays
FASTMATH_KEEPING_INF = {"nsz", "arcp", "contract", "afn", "reassoc"}


@functools.cache
def compile_loop(function):
    """``function`` compiled by numba (``fastmath``, no bounds checks), or None where numba
    cannot be imported. Compiled for each dtype on first call, and cached on disk next to
    the module where that is writable. A function with a ``fastmath`` attribute is compiled
    with those flags instead of all of them (:data:`FASTMATH_KEEPING_INF`: a loop whose
    ``exp`` may overflow to inf must not let LLVM assume there is none)."""
    try:
        import numba
    except ImportError:
        return None
    options = dict(fastmath=getattr(function, "fastmath", True), boundscheck=False, nogil=True)
    try:
        return numba.njit(cache=True, **options)(function)
    except RuntimeError:  # nowhere writable to cache the compiled loop: compile each run
        return numba.njit(**options)(function)


def loop_can_take(*tensors: Tensor) -> bool:
    """Whether a compiled loop can read these tensors: all on the CPU, in one float dtype
    (``float32`` or ``float64``)."""
    return (
        all(t.device.type == "cpu" for t in tensors)
        and len({t.dtype for t in tensors}) == 1
        and tensors[0].dtype in (torch.float32, torch.float64)
    )


def as_array(t: Tensor):
    """``t`` as a numpy array the loops can take (contiguous, no autograd), sharing memory
    where it can."""
    return t.detach().contiguous().numpy()


def time_forward_backward(core: torch.nn.Module, x: Tensor) -> float:
    """Run ``core`` forward and backward once on ``x`` (a core's warm-up: compiling its
    loops, or loading them from numba's cache); the seconds it took."""
    import time

    start = time.perf_counter()
    out, _ = core(x)
    out.sum().backward()
    return time.perf_counter() - start
