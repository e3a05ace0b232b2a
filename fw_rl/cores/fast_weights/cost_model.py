"""How ``mode="auto"`` picks a form: a cost model fitted to measurements.

The constants are fitted to a grid of batch 1, 16 and 128, ``T`` = 2-400 and ``H`` =
16-256, forward and backward on the CPU with one thread; section 3 of
``benchmarks/bench_fast_weights_ops.py`` times that grid and refits them, and
``benchmarks/RESULTS.md`` holds the measurements and where the forms cross over.
"""

from __future__ import annotations

# microseconds per step for forward + backward
_COST_PER_STEP = {
    # the compiled loop: per example and step, a fixed part and the H x H memory's passes
    "compiled": lambda steps, batch, hidden: batch * (0.60 + 5.3e-4 * hidden**2),
    # attention: PyTorch's dispatch per step, then the H-wide and the t x H products
    "attention": lambda steps, batch, hidden: (
        73.0 + 0.032 * batch * hidden + 2.34e-4 * steps * batch * hidden
    ),
}


def predicted_us(form: str, steps: int, batch: int, hidden: int) -> float:
    """The time a training call takes in ``form`` (``"compiled"`` matrix or
    ``"attention"``), by the cost model fitted to measurements."""
    return steps * _COST_PER_STEP[form](steps, batch, hidden)


def faster_form(steps: int, batch: int, hidden: int, compiled_runs: bool) -> str:
    """``"matrix"`` or ``"attention"`` for a call of ``steps`` steps on ``batch`` examples.

    One step (acting) takes the matrix: a single rank-1 update is the cheapest. Where the
    compiled loop runs: the matrix whenever ``T >= H`` (its ``H^2`` per step is then less
    than attention's ``T H``, and the keys outgrow the caches), else the form the cost model
    predicts faster. Without the compiled loop: attention for 2 to ``8 H`` steps.
    """
    if steps == 1:
        return "matrix"
    if compiled_runs:
        if steps >= hidden:
            return "matrix"
        compiled = predicted_us("compiled", steps, batch, hidden)
        attention = predicted_us("attention", steps, batch, hidden)
        return "matrix" if compiled <= attention else "attention"
    return "attention" if steps <= 8 * hidden else "matrix"
