"""The matrix form's step on the fast memory: ``A_t = lambda A_{t-1} + eta h h^T`` (eq. 1)
and its first read ``A_t q`` (eq. 2).

PyTorch writes the update as two passes over the ``[B, H, H]`` memory (scale it, then add
the outer product) and reads it again for ``A_t q``. An acting step is nothing but these
passes at large ``B H^2``, so without autograd on the CPU, with numba installed, one
compiled loop does all three in a single pass (timed by section 1 of
``benchmarks/bench_fast_weights_ops.py``, figures in ``benchmarks/RESULTS.md``). The results
equal PyTorch's up to float rounding (``tests/test_fast_weights.py``); with gradients, on
other devices, or without numba, PyTorch's operations are used.
"""

from __future__ import annotations

import torch
from torch import Tensor

from fw_rl.cores.compiled import compile_loop, loop_can_take


def matvec(matrices: Tensor, vectors: Tensor) -> Tensor:
    """``[B, M, H] @ [B, H] -> [B, M]``, as a row vector times the transposed matrices:
    on the CPU faster than ``bmm`` with a single column (``benchmarks/RESULTS.md``)."""
    return torch.bmm(vectors[:, None, :], matrices.transpose(1, 2))[:, 0]


def _update_and_read(memory, h, query, decay, fast_lr, new_memory, read):  # pragma: no cover
    """The one-pass loop, compiled by numba (plain Python is far too slow to call)."""
    batch, hidden, _ = memory.shape
    for b in range(batch):
        for i in range(hidden):
            scaled = fast_lr * h[b, i]
            total = 0.0
            for j in range(hidden):
                value = decay * memory[b, i, j] + scaled * h[b, j]
                new_memory[b, i, j] = value
                total += value * query[b, j]
            read[b, i] = total


def compiled_kernel():
    """The compiled one-pass loop, or None where numba cannot be imported (about 0.5 s to
    compile on first use, then cached on disk)."""
    return compile_loop(_update_and_read)


def fused_available(*tensors: Tensor) -> bool:
    """Whether :func:`update_memory` runs the one-pass loop for these tensors."""
    return (
        not (torch.is_grad_enabled() and any(t.requires_grad for t in tensors))
        and loop_can_take(*tensors)
        and compiled_kernel() is not None
    )


def update_memory(
    memory: Tensor,
    h: Tensor,
    query: Tensor | None,
    decay: float,
    fast_lr: float,
    fused: bool = True,
) -> tuple[Tensor, Tensor | None]:
    """``A_t = decay * memory + fast_lr * h h^T`` (a new tensor) and ``A_t query`` (None
    without a query); ``fused=False`` keeps to PyTorch's operations."""
    if fused and query is not None and fused_available(memory, h, query):
        new_memory = torch.empty_like(memory, memory_format=torch.contiguous_format)
        read = torch.empty_like(query, memory_format=torch.contiguous_format)
        compiled_kernel()(
            memory.detach().contiguous().numpy(),
            h.detach().contiguous().numpy(),
            query.detach().contiguous().numpy(),
            float(decay),
            float(fast_lr),
            new_memory.numpy(),
            read.numpy(),
        )
        return new_memory, read
    # in place on the fresh product: one [B, H, H] allocation per step, not two
    new_memory = (memory * decay).addcmul_(h[:, :, None], h[:, None, :], value=fast_lr)
    return new_memory, None if query is None else matvec(new_memory, query)
