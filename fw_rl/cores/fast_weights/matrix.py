"""The matrix form as PyTorch's operations, one step at a time (eqs. 1-2 as written).

It keeps the fast memory ``A`` as a ``[B, H, H]`` tensor and runs on any device; autograd
stores one ``A`` per step (``O(T B H^2)``). It is the reference that the compiled loop
(``kernel.py``) and the attention form (``attention.py``) are tested against, and what
runs where they cannot (another device, ``compiled=False``, no numba, too much scratch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fw_rl.cores.fast_weights.acting import matvec, update_memory
from fw_rl.cores.fast_weights.spec import FastWeightsSpec


def run_matrix(
    spec: FastWeightsSpec,
    drive: Tensor,
    h: Tensor,
    memory: Tensor | None,
    reset: Tensor | None,
    slow: nn.Module,
    norm: nn.Module,
    fused: bool = True,
    norm0: nn.Module | None = None,
    gain: Tensor | None = None,
) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """``drive`` ``[T, B, H]`` (``C x_t + b``), ``h`` ``[B, H]``, ``memory`` ``[B, H, H]``
    or None (zeros), ``reset`` ``[T, B]`` or None -> outputs ``[T, B, H]`` and the state
    ``(h_T, A_T)``. ``slow`` is ``W``, ``norm`` the layer norm (or ``nn.Identity``);
    ``fused`` lets acting steps use the one-pass update of ``acting.py``. The diagnosis
    variants: ``norm0``, a layer norm of its own for ``h^0``; ``spec.read_before_write``,
    the inner loop reads ``A_{t-1}`` and ``h_{t-1}`` is written after it; ``gain``, a
    learned scalar ``g`` on the fast term, ``f(LN(z + g A_t h^s))``."""

    def read(fast: Tensor) -> Tensor:
        return fast if gain is None else gain * fast

    hidden = h.shape[-1]
    if memory is None:
        memory = h.new_zeros(h.shape[0], hidden, hidden)
    restarts = [False] * drive.shape[0] if reset is None else reset.any(dim=1).tolist()
    outs = []
    for t, restart in enumerate(restarts):
        if restart:
            keep = (~reset[t]).to(h.dtype)
            h, memory = h * keep[:, None], memory * keep[:, None, None]
        z = drive[t] + slow(h)
        first = norm if norm0 is None else norm0
        query = F.relu(first(z) if spec.norm_preliminary else z)  # h^0
        if spec.read_before_write:  # the variant: read A_{t-1}, write h_{t-1} after
            fast, written = (matvec(memory, query) if spec.inner_steps else None), h
            h = query
            for s in range(spec.inner_steps):
                if s > 0:
                    fast = matvec(memory, h)
                h = F.relu(norm(z + read(fast)))
            memory, _ = update_memory(memory, written, None, spec.decay, spec.fast_lr)
            outs.append(h)
            continue
        # eq. 1, A_t = lambda A_{t-1} + eta h_{t-1} h_{t-1}^T, and A_t h^0 with it
        memory, fast = update_memory(
            memory, h, query if spec.inner_steps else None, spec.decay, spec.fast_lr, fused=fused
        )
        h = query
        for s in range(spec.inner_steps):  # eq. 2: h^{s+1} = f(LN(z + A_t h^s))
            if s > 0:
                fast = matvec(memory, h)
            h = F.relu(norm(z + read(fast)))
        outs.append(h)
    return torch.stack(outs), (h, memory)
