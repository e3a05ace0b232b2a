"""The GRU (``gru.py``) as one compiled loop over a sequence, forward and backward.

PyTorch's CPU GRU runs a step as a dozen small operations forward and as many backward;
at PPO's sizes (H = 128, a few sequences a minibatch) their dispatch is the cost. Here a
sequence runs in one numba-compiled loop per example, with a backward pass derived by hand.
For each example and step ``t`` (``p = h_{t-1}``, zeroed at a reset; ``gi = W_i x_t + b_i``
for every step at once before the loop, PyTorch's gate order r, z, n)::

    gh = W_h p + b_h
    r  = sigmoid(gi_r + gh_r),  u = sigmoid(gi_z + gh_z),  n = tanh(gi_n + r gh_n)
    h_t = (1 - u) n + u p

and backward, with ``g`` the gradient of ``h_t``::

    du_pre = g (p - n) u (1 - u),   dn_pre = g (1 - u) (1 - n^2),   dr_pre = dn_pre gh_n r (1 - r)
    dgi = (dr_pre, du_pre, dn_pre),  dgh = (dr_pre, du_pre, dn_pre r)
    dp  = g u + W_h^T dgh

The forward pass saves ``p``, ``r``, ``u``, ``n`` and ``gh_n`` (``5 T B H``); ``dW_h`` and
``db_h`` are one operation each after the loop, and ``gi``'s gradient goes back through
PyTorch's input projection. Outputs and gradients equal ``torch.nn.GRU``'s
(``tests/cores/test_gru.py``, ``gradcheck`` included).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from fw_rl.cores.compiled import (
    FASTMATH_KEEPING_INF,
    as_array,
    compile_loop,
    loop_can_take,
    time_forward_backward,
)


def _forward_loop(
    gi, h0, weight, bias, keep, one, out, keys, resets, updates, news, hidden_n,
):  # fmt: skip  # pragma: no cover - compiled by numba
    """``gi`` ``[T, B, 3H]``, ``weight`` ``W_h`` ``[3H, H]``, ``bias`` ``b_h`` ``[3H]``;
    writes ``out`` and the saved ``keys`` (``p``), ``resets`` (``r``), ``updates`` (``u``),
    ``news`` (``n``) and ``hidden_n`` (``gh_n``), each ``[T, B, H]``. ``one`` is 1 in the
    arrays' dtype (a float64 literal would turn float32 arithmetic into float64)."""
    steps, batch, width = gi.shape
    hidden = width // 3
    gh = np.empty(width, gi.dtype)
    for b in range(batch):
        h = h0[b].copy()
        for t in range(steps):
            if keep[t, b] == 0:
                h[:] = 0.0
            keys[t, b] = h
            for i in range(width):
                total = bias[i]
                for j in range(hidden):
                    total += weight[i, j] * h[j]
                gh[i] = total
            for i in range(hidden):
                r = one / (one + np.exp(-(gi[t, b, i] + gh[i])))
                u = one / (one + np.exp(-(gi[t, b, hidden + i] + gh[hidden + i])))
                n = np.tanh(gi[t, b, 2 * hidden + i] + r * gh[2 * hidden + i])
                resets[t, b, i] = r
                updates[t, b, i] = u
                news[t, b, i] = n
                hidden_n[t, b, i] = gh[2 * hidden + i]
                h[i] = (one - u) * n + u * h[i]
            out[t, b] = h


def _backward_loop(
    grad_out, weight, keep, one, keys, resets, updates, news, hidden_n, grad_gi, grad_gh,
    grad_h0,
):  # fmt: skip  # pragma: no cover - compiled by numba
    """Writes ``grad_gi`` and ``grad_gh`` (``[T, B, 3H]``, the gradients of ``gi`` and of
    ``gh = W_h p + b_h``) and ``grad_h0`` ``[B, H]``."""
    steps, batch, hidden = grad_out.shape
    for b in range(batch):
        grad_h = np.zeros(hidden, grad_out.dtype)  # of h_t, from the later steps
        for t in range(steps - 1, -1, -1):
            for i in range(hidden):
                g = grad_out[t, b, i] + grad_h[i]
                r = resets[t, b, i]
                u = updates[t, b, i]
                n = news[t, b, i]
                du = g * (keys[t, b, i] - n) * u * (one - u)
                dn = g * (one - u) * (one - n * n)
                dr = dn * hidden_n[t, b, i] * r * (one - r)
                grad_gi[t, b, i] = dr
                grad_gi[t, b, hidden + i] = du
                grad_gi[t, b, 2 * hidden + i] = dn
                grad_gh[t, b, i] = dr
                grad_gh[t, b, hidden + i] = du
                grad_gh[t, b, 2 * hidden + i] = dn * r
                grad_h[i] = g * u  # through h_t = ... + u p
            for i in range(3 * hidden):  # through gh = W_h p + b_h
                d = grad_gh[t, b, i]
                for j in range(hidden):
                    grad_h[j] += weight[i, j] * d
            if keep[t, b] == 0:  # the state was zeroed before this step
                grad_h[:] = 0.0
        grad_h0[b] = grad_h


# exp(-x) overflows to inf for a saturated gate (1 / (1 + inf) = 0 is the right sigmoid):
# compiled without fastmath's "no infs" promise, under which that would be undefined
_forward_loop.fastmath = _backward_loop.fastmath = FASTMATH_KEEPING_INF


def kernel_usable(*tensors: Tensor) -> bool:
    """Whether the compiled loop can run on these tensors (CPU floats, numba there)."""
    return loop_can_take(*tensors) and compile_loop(_forward_loop) is not None


def _one(like: Tensor):
    """1 as a numpy scalar of ``like``'s dtype."""
    return like.numpy().dtype.type(1)


class GRUKernel(torch.autograd.Function):
    """``out = GRUKernel.apply(gi, h0, weight_hh, bias_hh, keep)``.

    ``gi`` ``[T, B, 3H]`` is ``W_i x_t + b_i`` (``torch.nn.GRU``'s ``weight_ih_l0``,
    ``bias_ih_l0``); ``weight_hh`` ``[3H, H]`` and ``bias_hh`` ``[3H]`` are its
    ``weight_hh_l0`` and ``bias_hh_l0``; ``keep`` ``[T, B]``, 0 where the state is reset
    before step ``t``. ``out`` ``[T, B, H]`` holds the hidden states (the last is the state).
    """

    @staticmethod
    def forward(ctx, gi, h0, weight, bias, keep):
        steps, batch, width = gi.shape
        hidden = width // 3
        out = gi.new_empty(steps, batch, hidden)
        saved = [gi.new_empty(steps, batch, hidden) for _ in range(5)]
        compile_loop(_forward_loop)(
            as_array(gi), as_array(h0), as_array(weight), as_array(bias), as_array(keep),
            _one(out), out.numpy(), *(s.numpy() for s in saved),
        )  # fmt: skip
        ctx.save_for_backward(weight, keep, *saved)
        ctx.set_materialize_grads(False)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        weight, keep, keys, *rest = ctx.saved_tensors
        steps, batch, hidden = keys.shape
        if grad_out is None:
            grad_out = torch.zeros_like(keys)
        grad_gi = keys.new_empty(steps, batch, 3 * hidden)
        grad_gh = torch.empty_like(grad_gi)
        grad_h0 = keys.new_empty(batch, hidden)
        compile_loop(_backward_loop)(
            as_array(grad_out), as_array(weight), as_array(keep), _one(keys), as_array(keys),
            *(as_array(s) for s in rest), grad_gi.numpy(), grad_gh.numpy(), grad_h0.numpy(),
        )  # fmt: skip
        flat = grad_gh.reshape(-1, 3 * hidden)
        grad_weight = flat.t() @ keys.reshape(-1, hidden) if ctx.needs_input_grad[2] else None
        grad_bias = flat.sum(0) if ctx.needs_input_grad[3] else None
        return grad_gi, grad_h0, grad_weight, grad_bias, None


def warm_up(dtype: torch.dtype = torch.float32) -> float:
    """Run the compiled loops (forward and backward) once on a tiny input; returns the
    seconds it took (compiling, or loading numba's cache from disk)."""
    from fw_rl.cores.gru import GRUCore

    return time_forward_backward(GRUCore(3, 4).to(dtype), torch.randn(2, 2, 3, dtype=dtype))
