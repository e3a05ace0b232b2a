"""The matrix form of the fast-weights RNN as one compiled loop, forward and backward.

At small ``H`` every PyTorch operation is tiny and its dispatch is the cost: a step of
either form is about twenty of them, forward and backward, where ``nn.LSTM`` runs one
native kernel. Here the whole sequence runs in one numba-compiled loop per example, with
a backward pass derived by hand from eqs. 1-2. For each example and step ``t``
(``p = h_{t-1}``, zeroed with ``A`` at a reset)::

    A_t = lambda A_{t-1} + eta p p^T                                        (eq. 1)
    z   = drive_t + W p          (drive_t = C x_t + b, one matrix product before the loop)
    h^0 = f(N_0(z)),  h^s = f(N(z + r A_t h^{s-1})),  h_t = h^S               (eq. 2)

(``r``, the read's gain, is 1 in the paper's core; the ``fast_gain`` variant learns it.)

and backward, with ``g`` the gradient of ``h^s`` and ``dv`` that of the layer norm's input::

    dA_t += r dv_s h^{s-1}^T,  u = A_t^T dv_s,  dr += <u, h^{s-1}>,  g <- r u
                                                          (through z + r A_t h^{s-1})
    dp    = W^T dz + eta (dA_t + dA_t^T) p,   dA_{t-1} = lambda dA_t      (through eq. 1)

(``dr`` costs ``O(H)`` a step, from the ``u`` that ``g`` needs anyway.)

The forward pass saves only the keys ``p``, the normalised vectors and the layer norms'
``1/std`` (``O(S T B H)``, less than the attention form); the backward pass recomputes the
memories ``A_t`` of one example at a time (``T H^2`` scratch). ``dW``, ``dC``, ``db`` and
the layer norm's gain and bias are summed after the loop with one operation each.

Outputs and gradients equal PyTorch's matrix form (``tests/cores/test_fast_weights.py``,
``gradcheck`` included). Used on the CPU for float tensors where numba imports; see
:func:`kernel_available`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from fw_rl.cores.compiled import as_array, compile_loop, loop_can_take
from fw_rl.cores.fast_weights.spec import FastWeightsSpec

# the backward pass's scratch, T H^2 per example: above this the kernel is not used
SCRATCH_LIMIT_BYTES = 256 * 2**20


def _forward_loop(
    drive, h0, weight, gain, bias, normed, memory, keep, constants,
    out, keys, normalised, rstd, final,
):  # fmt: skip  # pragma: no cover - compiled by numba
    """``normed[s]``: whether inner step ``s`` (0 = ``h^0``) has the layer norm; ``gain``
    and ``bias`` are ``[H]`` (ones and zeros without one); ``constants`` see
    :func:`_constants`."""
    decay, fast_lr, eps, inverse_hidden, one, read_gain = constants
    zero = decay - decay
    steps, batch, hidden = drive.shape
    levels = normed.shape[0]  # S + 1
    for b in range(batch):
        if memory.shape[0]:
            memory_b = memory[b].copy()
        else:  # none carried in
            memory_b = np.zeros((hidden, hidden), drive.dtype)
        h = h0[b].copy()
        z = np.empty(hidden, drive.dtype)
        v = np.empty(hidden, drive.dtype)
        for t in range(steps):
            if keep[t, b] == 0:
                h[:] = 0.0
                memory_b[:, :] = 0.0
            keys[t, b] = h
            for i in range(hidden):  # z = drive + W p;  A_t = lambda A + eta p p^T
                total = drive[t, b, i]
                scaled = fast_lr * h[i]
                for j in range(hidden):
                    total += weight[i, j] * h[j]
                    memory_b[i, j] = decay * memory_b[i, j] + scaled * h[j]
                z[i] = total
            for s in range(levels):
                if s == 0:
                    v[:] = z
                else:  # v = z + r A_t h^{s-1}
                    for i in range(hidden):
                        total = zero
                        for j in range(hidden):
                            total += memory_b[i, j] * h[j]
                        v[i] = z[i] + read_gain * total
                if normed[s]:
                    mean = zero
                    for i in range(hidden):
                        mean += v[i]
                    mean *= inverse_hidden
                    variance = zero
                    for i in range(hidden):
                        variance += (v[i] - mean) * (v[i] - mean)
                    inverse = one / np.sqrt(variance * inverse_hidden + eps)
                    rstd[s, t, b] = inverse
                    for i in range(hidden):
                        x = (v[i] - mean) * inverse
                        normalised[s, t, b, i] = x
                        h[i] = max(x * gain[i] + bias[i], zero)
                else:
                    rstd[s, t, b] = 1.0
                    for i in range(hidden):
                        normalised[s, t, b, i] = v[i]
                        h[i] = max(v[i], zero)
            out[t, b] = h
        final[b] = memory_b


def _backward_loop(
    grad_out, grad_final, weight, gain, bias, normed, memory, keep, constants,
    keys, normalised, rstd, grad_drive, grad_h0, grad_memory, grad_gain, grad_bias,
    grad_read,
):  # fmt: skip  # pragma: no cover - compiled by numba
    """``grad_gain`` and ``grad_bias`` are ``[B, H]`` and ``grad_read`` (of ``r``) ``[B]``:
    per example, summed by the caller."""
    decay, fast_lr, _, inverse_hidden, _, read_gain = constants
    zero = decay - decay
    steps, batch, hidden = grad_out.shape
    levels = normed.shape[0]
    for b in range(batch):
        memories = np.empty((steps, hidden, hidden), grad_out.dtype)  # A_t, recomputed
        for t in range(steps):
            p = keys[t, b]
            if t > 0:
                previous = memories[t - 1]
            elif memory.shape[0]:
                previous = memory[b]
            else:  # none carried in
                previous = np.zeros((hidden, hidden), grad_out.dtype)
            factor = decay if keep[t, b] != 0 else zero  # zeroed at a reset
            for i in range(hidden):
                scaled = fast_lr * p[i]
                for j in range(hidden):
                    memories[t, i, j] = factor * previous[i, j] + scaled * p[j]
        if grad_final.shape[0]:
            grad_a = grad_final[b].copy()
        else:
            grad_a = np.zeros((hidden, hidden), grad_out.dtype)
        grad_h = np.zeros(hidden, grad_out.dtype)  # of h_t, from the later steps
        g = np.empty(hidden, grad_out.dtype)
        grad_v = np.empty(hidden, grad_out.dtype)
        grad_v1 = np.zeros(hidden, grad_out.dtype)  # of z + A_t h^0; stays 0 when S = 0
        grad_z = np.empty(hidden, grad_out.dtype)
        queries = np.empty((levels, hidden), grad_out.dtype)  # h^0 .. h^S
        for t in range(steps - 1, -1, -1):
            for s in range(levels):
                for i in range(hidden):
                    x = normalised[s, t, b, i]
                    queries[s, i] = max(x * gain[i] + bias[i], zero) if normed[s] else max(x, zero)
            for i in range(hidden):
                g[i] = grad_out[t, b, i] + grad_h[i]
                grad_z[i] = 0.0
            memory_t = memories[t]
            for s in range(levels - 1, -1, -1):
                if normed[s]:  # back through h = relu(x gain + bias), x = (v - mean) rstd
                    mean_gx = zero
                    mean_gxx = zero
                    for i in range(hidden):
                        du = g[i] if queries[s, i] > zero else zero
                        x = normalised[s, t, b, i]
                        grad_gain[b, i] += du * x
                        grad_bias[b, i] += du
                        gx = du * gain[i]
                        grad_v[i] = gx
                        mean_gx += gx
                        mean_gxx += gx * x
                    mean_gx *= inverse_hidden
                    mean_gxx *= inverse_hidden
                    inverse = rstd[s, t, b]
                    for i in range(hidden):
                        x = normalised[s, t, b, i]
                        grad_v[i] = inverse * (grad_v[i] - mean_gx - x * mean_gxx)
                else:
                    for i in range(hidden):
                        grad_v[i] = g[i] if queries[s, i] > zero else zero
                for i in range(hidden):
                    grad_z[i] += grad_v[i]
                if s > 1:  # v = z + r A_t h^{s-1}
                    g[:] = 0.0
                    for i in range(hidden):
                        dv = grad_v[i]
                        read_dv = read_gain * dv
                        for j in range(hidden):
                            grad_a[i, j] += read_dv * queries[s - 1, j]
                            g[j] += memory_t[i, j] * dv
                elif s == 1:  # the same, with dA_t += r dv h^0^T left to the pass below
                    g[:] = 0.0
                    for i in range(hidden):
                        dv = grad_v[i]
                        grad_v1[i] = read_gain * dv
                        for j in range(hidden):
                            g[j] += memory_t[i, j] * dv
                if s > 0:  # g holds u = A_t^T dv: dr += <u, h^{s-1}>, then g = r u
                    total = zero
                    for j in range(hidden):
                        total += g[j] * queries[s - 1, j]
                        g[j] *= read_gain
                    grad_read[b] += total
            grad_drive[t, b] = grad_z
            # p feeds z = drive + W p and A_t = lambda A_{t-1} + eta p p^T
            p = keys[t, b]
            grad_h[:] = 0.0
            for i in range(hidden):
                dz = grad_z[i]
                dv = grad_v1[i]
                scaled = fast_lr * p[i]
                total = zero
                for j in range(hidden):
                    a = grad_a[i, j] + dv * queries[0, j]
                    total += a * p[j]
                    grad_h[j] += weight[i, j] * dz + scaled * a
                    grad_a[i, j] = decay * a
                grad_h[i] += fast_lr * total
            if keep[t, b] == 0:  # the state was zeroed before this step
                grad_h[:] = 0.0
                grad_a[:, :] = 0.0
        grad_h0[b] = grad_h
        if grad_memory.shape[0]:
            grad_memory[b] = grad_a


def kernel_available(*tensors: Tensor) -> bool:
    """Whether :class:`FastWeightsKernel` can run on these tensors: all on the CPU, one
    float dtype, and numba importable."""
    return loop_can_take(*tensors) and compile_loop(_forward_loop) is not None


def scratch_fits(steps: int, hidden: int, dtype: torch.dtype) -> bool:
    """Whether the backward pass's ``T H^2`` scratch per example stays under the limit."""
    return steps * hidden * hidden * dtype.itemsize <= SCRATCH_LIMIT_BYTES


def _constants(
    decay: float, fast_lr: float, eps: float, hidden: int, read_gain: float, dtype
) -> np.ndarray:
    """``lambda``, ``eta``, the layer norm's ``eps``, ``1/H``, 1 and the read's gain ``r`` in
    the arrays' dtype: a float64 scalar would turn the float32 loops into float64 ones (half
    the SIMD width)."""
    return np.array([decay, fast_lr, eps, 1 / hidden, 1, read_gain], dtype=dtype)


class FastWeightsKernel(torch.autograd.Function):
    """``out, final = FastWeightsKernel.apply(spec, drive, h0, W, gain, bias, memory, keep,
    read_gain)`` with ``spec`` a :class:`~fw_rl.cores.fast_weights.spec.FastWeightsSpec`.

    ``drive`` ``[T, B, H]`` is ``C x_t + b``; ``gain`` and ``bias`` are None without
    layer norm; ``memory`` ``[B, H, H]`` or None (zeros); ``keep`` ``[T, B]`` or None, 0
    where the state is reset before step ``t``; ``read_gain`` the scalar ``r`` on the fast
    term (a 0-d tensor, the ``fast_gain`` variant's) or None (1, the paper's). ``out``
    ``[T, B, H]`` holds the hidden states and ``final`` the fast memory after the last step.
    """

    @staticmethod
    def forward(
        ctx, spec: FastWeightsSpec, drive, h0, weight, gain, bias, memory, keep, read_gain=None
    ):
        inner, prelim = spec.inner_steps, spec.norm_preliminary
        steps, batch, hidden = drive.shape
        use_norm = gain is not None
        normed = np.array([use_norm and prelim] + [use_norm] * inner, dtype=np.bool_)
        if not use_norm:
            gain, bias = drive.new_ones(hidden), drive.new_zeros(hidden)
        if memory is None:  # (arrays of batch 0 stand for the memories not there)
            memory = drive.new_empty(0, hidden, hidden)
        if keep is None:
            keep = drive.new_ones(steps, batch)
        out = drive.new_empty(steps, batch, hidden)
        keys = drive.new_empty(steps, batch, hidden)
        normalised = drive.new_empty(inner + 1, steps, batch, hidden)
        rstd = drive.new_empty(inner + 1, steps, batch)
        final = drive.new_empty(batch, hidden, hidden)
        read = 1.0 if read_gain is None else float(read_gain)
        constants = _constants(spec.decay, spec.fast_lr, spec.eps, hidden, read, out.numpy().dtype)
        compile_loop(_forward_loop)(
            as_array(drive), as_array(h0), as_array(weight), as_array(gain), as_array(bias), normed,
            as_array(memory), as_array(keep), constants,
            out.numpy(), keys.numpy(), normalised.numpy(), rstd.numpy(), final.numpy(),
        )  # fmt: skip
        ctx.save_for_backward(weight, gain, bias, memory, keep, keys, normalised, rstd)
        ctx.settings = (normed, use_norm, constants)
        ctx.set_materialize_grads(False)
        return out, final

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out, grad_final):
        weight, gain, bias, memory, keep, keys, normalised, rstd = ctx.saved_tensors
        normed, use_norm, constants = ctx.settings
        steps, batch, hidden = keys.shape
        grad_out = keys.new_zeros(steps, batch, hidden) if grad_out is None else grad_out
        grad_final = keys.new_empty(0, hidden, hidden) if grad_final is None else grad_final
        grad_drive = torch.empty_like(keys)
        grad_h0 = keys.new_empty(batch, hidden)
        memory_needs_grad = ctx.needs_input_grad[6]
        if memory_needs_grad:
            grad_memory = torch.empty_like(memory)
        else:  # none carried in, or one that needs no gradient: batch 0, nothing written
            grad_memory = memory.new_empty(0, hidden, hidden)
        grad_gain = keys.new_zeros(batch, hidden)
        grad_bias = keys.new_zeros(batch, hidden)
        grad_read = keys.new_zeros(batch)
        compile_loop(_backward_loop)(
            as_array(grad_out), as_array(grad_final), as_array(weight), as_array(gain),
            as_array(bias), normed, as_array(memory), as_array(keep), constants, as_array(keys),
            as_array(normalised), as_array(rstd), grad_drive.numpy(), grad_h0.numpy(),
            grad_memory.numpy(), grad_gain.numpy(), grad_bias.numpy(), grad_read.numpy(),
        )  # fmt: skip
        grad_weight = None
        if ctx.needs_input_grad[3]:  # dW = sum over steps and examples of dz p^T
            grad_weight = grad_drive.reshape(-1, hidden).t() @ keys.reshape(-1, hidden)
        gains = (grad_gain.sum(0), grad_bias.sum(0)) if use_norm else (None, None)
        grad_memory = grad_memory if memory_needs_grad else None
        grad_read = grad_read.sum() if ctx.needs_input_grad[8] else None
        return None, grad_drive, grad_h0, grad_weight, *gains, grad_memory, None, grad_read
