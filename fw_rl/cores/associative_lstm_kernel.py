"""The associative LSTM's sequence as one compiled loop, forward and backward.

At Table 1's size (``H = 20``: 10 complex units, 4 copies) a step of the PyTorch form
(``associative_lstm.py``) is some thirty tiny operations forward and as many backward, and
their dispatch is the cost: an associative-retrieval update took 4x the LSTM's. Here the
whole sequence runs in one numba-compiled loop per example, with the backward pass derived
by hand. For each example and step ``t`` (``p = h_{t-1}`` and the copies' memories ``M``
zeroed at a reset; complex numbers as ``[re, im]``; ``P_s`` the copies' permutations)::

    a   = drive_t + R^T p                    (drive_t = W_x x_t + b, one product before)
    f, w, r = sigmoid(a_gates);   K_k = a_k / max(1, |a_k|)  for k = r_i, r_o, u
    M_s = f . M_s + K_ri[P_s] * (w . K_u);   ret = (1/N) sum_s K_ro[P_s] * M_s
    h_t = r . ret / max(1, |ret|)

and backward, with ``g_z = dL/dRe z + i dL/dIm z``, so that through ``z = a * b``
``g_a = g_z * conj(b)``, and through ``z = c . a`` (``c`` real) ``g_c = Re(conj(a) g_z)``.

The backward pass recomputes each step's gates, keys, memories and read from the saved
pre-activations and starting memories, so those lines appear in both loops: an equation
changed in one must be changed in the other (and in ``associative_lstm.py``); the tests
compare all three. (Saving those activations in the forward loop instead was tried once and
not kept: in one unkept trial the backward loop gained about as much time as the forward
loop lost, so the recomputation is not where the backward loop's time goes.)
Outputs and gradients equal the PyTorch form's
(``tests/cores/test_associative_lstm.py``, ``gradcheck`` included). Used on the CPU for
float tensors where numba imports.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from fw_rl.cores.compiled import as_array, compile_loop, time_forward_backward


def _forward_loop(drive, h0, recurrent, memory, perms, keep, constants,
                  out, pres, before, final):  # fmt: skip  # pragma: no cover - compiled by numba
    """``drive`` ``[T, B, 9U]`` (gates f, w, r, then r_i, r_o, u as ``[re, im]``), ``h0``
    ``[B, 2U]``, ``recurrent`` ``[2U, 9U]``, ``memory`` ``[B, N, 2, U]``, ``perms`` ``[N, U]``,
    ``keep`` ``[T, B]``; writes ``out`` ``[T, B, 2U]``, the pre-activations ``pres``
    ``[T, B, 9U]``, the memories each step starts from ``before`` ``[T, B, N, 2, U]`` (after
    a reset) and ``final`` ``[B, N, 2, U]``."""
    inv_copies, one = constants[0], constants[1]
    steps, batch, width = drive.shape
    copies, units = perms.shape
    hidden = 2 * units
    for b in range(batch):
        h = h0[b].copy()
        mem = memory[b].copy()
        pre = np.empty(width, drive.dtype)
        gate = np.empty(3 * units, drive.dtype)
        key = np.empty((3, 2, units), drive.dtype)
        ret = np.empty((2, units), drive.dtype)
        for t in range(steps):
            k = keep[t, b]
            for i in range(hidden):
                h[i] *= k
            for s in range(copies):
                for c in range(2):
                    for j in range(units):
                        mem[s, c, j] *= k
                        before[t, b, s, c, j] = mem[s, c, j]
            for j in range(width):
                pre[j] = drive[t, b, j]
            for i in range(hidden):
                hi = h[i]
                if hi != 0:
                    for j in range(width):
                        pre[j] += hi * recurrent[i, j]
            for j in range(width):
                pres[t, b, j] = pre[j]
            for j in range(3 * units):
                gate[j] = one / (one + math.exp(-pre[j]))
            for q in range(3):
                for j in range(units):
                    re = pre[3 * units + 2 * q * units + j]
                    im = pre[3 * units + (2 * q + 1) * units + j]
                    size = re * re + im * im
                    factor = one / math.sqrt(size) if size > one else one
                    key[q, 0, j], key[q, 1, j] = re * factor, im * factor
            for j in range(units):
                ret[0, j] = 0
                ret[1, j] = 0
            for s in range(copies):
                for j in range(units):
                    p = perms[s, j]
                    f, w = gate[j], gate[units + j]
                    v_re, v_im = w * key[2, 0, j], w * key[2, 1, j]
                    i_re, i_im = key[0, 0, p], key[0, 1, p]
                    m_re = f * mem[s, 0, j] + i_re * v_re - i_im * v_im
                    m_im = f * mem[s, 1, j] + i_re * v_im + i_im * v_re
                    mem[s, 0, j], mem[s, 1, j] = m_re, m_im
                    o_re, o_im = key[1, 0, p], key[1, 1, p]
                    ret[0, j] += o_re * m_re - o_im * m_im
                    ret[1, j] += o_re * m_im + o_im * m_re
            for j in range(units):
                re, im = ret[0, j] * inv_copies, ret[1, j] * inv_copies
                size = re * re + im * im
                factor = one / math.sqrt(size) if size > one else one
                scale = gate[2 * units + j] * factor
                h[j], h[units + j] = scale * re, scale * im
                out[t, b, j], out[t, b, units + j] = h[j], h[units + j]
        final[b] = mem


def _backward_loop(grad_out, grad_final, pres, recurrent, perms, keep, constants,
                   before, grad_drive, grad_h0, grad_memory):  # fmt: skip  # pragma: no cover
    """Backpropagation through :func:`_forward_loop`'s steps, one example at a time,
    recomputing each step's activations from its pre-activations and ``before``."""
    inv_copies, one, half = constants[0], constants[1], constants[2]
    two = one + one
    steps, batch, width = pres.shape
    copies, units = perms.shape
    hidden = 2 * units
    dtype = pres.dtype
    for b in range(batch):
        gh = np.zeros(hidden, dtype)
        gmem = np.zeros((copies, 2, units), dtype)
        if grad_final.shape[0]:
            gmem[:] = grad_final[b]
        gate = np.empty(3 * units, dtype)
        key = np.empty((3, 2, units), dtype)
        factor = np.empty((3, units), dtype)
        size_k = np.empty((3, units), dtype)
        mem = np.empty((copies, 2, units), dtype)
        ret = np.empty((2, units), dtype)
        gpre = np.empty(width, dtype)
        gkey = np.empty((3, 2, units), dtype)
        gret = np.empty((2, units), dtype)
        gv = np.empty((2, units), dtype)
        ggate = np.empty(3 * units, dtype)
        for t in range(steps - 1, -1, -1):
            for i in range(hidden):
                gh[i] += grad_out[t, b, i]
            k = keep[t, b]
            pre = pres[t, b]  # the step again from its pre-activations: gates, keys, memories
            for j in range(3 * units):
                gate[j] = one / (one + math.exp(-pre[j]))
            for q in range(3):
                for j in range(units):
                    re = pre[3 * units + 2 * q * units + j]
                    im = pre[3 * units + (2 * q + 1) * units + j]
                    size = re * re + im * im
                    size_k[q, j] = size
                    factor[q, j] = one / math.sqrt(size) if size > one else one
                    key[q, 0, j], key[q, 1, j] = re * factor[q, j], im * factor[q, j]
            for j in range(units):
                ret[0, j] = 0
                ret[1, j] = 0
            for s in range(copies):
                for j in range(units):
                    p = perms[s, j]
                    f, w = gate[j], gate[units + j]
                    v_re, v_im = w * key[2, 0, j], w * key[2, 1, j]
                    i_re, i_im = key[0, 0, p], key[0, 1, p]
                    m_re = f * before[t, b, s, 0, j] + i_re * v_re - i_im * v_im
                    m_im = f * before[t, b, s, 1, j] + i_re * v_im + i_im * v_re
                    mem[s, 0, j], mem[s, 1, j] = m_re, m_im
                    o_re, o_im = key[1, 0, p], key[1, 1, p]
                    ret[0, j] += o_re * m_re - o_im * m_im
                    ret[1, j] += o_re * m_im + o_im * m_re
            for q in range(3):
                for c in range(2):
                    for j in range(units):
                        gkey[q, c, j] = 0
            for j in range(3 * units):
                ggate[j] = 0
            # h = r . psi . ret, psi = 1 / max(1, |ret|)
            for j in range(units):
                re, im = ret[0, j] * inv_copies, ret[1, j] * inv_copies
                size = re * re + im * im
                psi = one / math.sqrt(size) if size > one else one
                r = gate[2 * units + j]
                g_re, g_im = gh[j], gh[units + j]
                g_q = re * g_re + im * g_im  # through q = r psi
                ggate[2 * units + j] = psi * g_q
                gr_re, gr_im = r * psi * g_re, r * psi * g_im
                if size >= one:  # d psi / d size = -1/2 size^(-3/2)
                    g_size = r * g_q * (-half) * psi * psi * psi
                    gr_re += two * g_size * re
                    gr_im += two * g_size * im
                gret[0, j], gret[1, j] = gr_re * inv_copies, gr_im * inv_copies
                gv[0, j] = 0
                gv[1, j] = 0
            # ret = sum_s K_ro[P_s] * M_s;  M_s = f . M_s' + K_ri[P_s] * v
            for s in range(copies):
                for j in range(units):
                    p = perms[s, j]
                    o_re, o_im = key[1, 0, p], key[1, 1, p]
                    m_re, m_im = mem[s, 0, j], mem[s, 1, j]
                    g_re, g_im = gret[0, j], gret[1, j]
                    gkey[1, 0, p] += g_re * m_re + g_im * m_im
                    gkey[1, 1, p] += g_im * m_re - g_re * m_im
                    gm_re = gmem[s, 0, j] + g_re * o_re + g_im * o_im
                    gm_im = gmem[s, 1, j] + g_im * o_re - g_re * o_im
                    f, w = gate[j], gate[units + j]
                    b_re, b_im = before[t, b, s, 0, j], before[t, b, s, 1, j]
                    ggate[j] += b_re * gm_re + b_im * gm_im
                    v_re, v_im = w * key[2, 0, j], w * key[2, 1, j]
                    i_re, i_im = key[0, 0, p], key[0, 1, p]
                    gkey[0, 0, p] += gm_re * v_re + gm_im * v_im
                    gkey[0, 1, p] += gm_im * v_re - gm_re * v_im
                    gv[0, j] += gm_re * i_re + gm_im * i_im
                    gv[1, j] += gm_im * i_re - gm_re * i_im
                    gmem[s, 0, j], gmem[s, 1, j] = k * f * gm_re, k * f * gm_im
            # v = w . K_u
            for j in range(units):
                w = gate[units + j]
                ggate[units + j] = key[2, 0, j] * gv[0, j] + key[2, 1, j] * gv[1, j]
                gkey[2, 0, j] += w * gv[0, j]
                gkey[2, 1, j] += w * gv[1, j]
            # K = a . phi, phi = 1 / max(1, |a|)
            for q in range(3):
                for j in range(units):
                    a_re = pre[3 * units + 2 * q * units + j]
                    a_im = pre[3 * units + (2 * q + 1) * units + j]
                    phi = factor[q, j]
                    g_re, g_im = gkey[q, 0, j], gkey[q, 1, j]
                    ga_re, ga_im = phi * g_re, phi * g_im
                    if size_k[q, j] >= one:
                        g_size = (a_re * g_re + a_im * g_im) * (-half) * phi * phi * phi
                        ga_re += two * g_size * a_re
                        ga_im += two * g_size * a_im
                    gpre[3 * units + 2 * q * units + j] = ga_re
                    gpre[3 * units + (2 * q + 1) * units + j] = ga_im
            for j in range(3 * units):
                gpre[j] = ggate[j] * gate[j] * (one - gate[j])
            for j in range(width):
                grad_drive[t, b, j] = gpre[j]
            # through a = drive + R^T p, p = keep . h_{t-1}
            for i in range(hidden):
                total = gpre[0] * 0
                for j in range(width):
                    total += recurrent[i, j] * gpre[j]
                gh[i] = k * total
        grad_h0[b] = gh
        if grad_memory.shape[0]:
            grad_memory[b] = gmem


def kernel_usable(*tensors: Tensor) -> bool:
    """Whether the compiled loop can run on these tensors (CPU floats, numba there)."""
    from fw_rl.cores.compiled import loop_can_take

    return loop_can_take(*tensors) and compile_loop(_forward_loop) is not None


class AssociativeLSTMKernel(torch.autograd.Function):
    """``out, final = AssociativeLSTMKernel.apply(drive, h0, recurrent, memory, perms, keep)``.

    ``drive`` ``[T, B, 9U]`` is ``W_x x_t + b``; ``recurrent`` ``[2U, 9U]`` the recurrent
    weights (transposed); ``memory`` ``[B, N, 2, U]`` the copies' memories as ``[re, im]``;
    ``perms`` ``[N, U]`` the copies' permutations; ``keep`` ``[T, B]``, 0 where the state
    is reset before step ``t``. ``out`` ``[T, B, 2U]`` holds the hidden states and
    ``final`` the memories after the last step.
    """

    @staticmethod
    def forward(ctx, drive, h0, recurrent, memory, perms, keep):
        steps, batch, _ = drive.shape
        copies, units = perms.shape
        out = drive.new_empty(steps, batch, 2 * units)
        pres = torch.empty_like(drive)
        before = drive.new_empty(steps, batch, copies, 2, units)
        final = drive.new_empty(batch, copies, 2, units)
        constants = np.array([1 / copies, 1, 0.5], dtype=out.numpy().dtype)
        perms_array = perms.detach().to(torch.int64).contiguous().numpy()
        compile_loop(_forward_loop)(
            as_array(drive), as_array(h0), as_array(recurrent), as_array(memory), perms_array,
            as_array(keep), constants, out.numpy(), pres.numpy(), before.numpy(), final.numpy(),
        )  # fmt: skip
        ctx.save_for_backward(h0, recurrent, keep, out, pres, before)
        ctx.settings = (perms_array, constants)
        ctx.set_materialize_grads(False)
        return out, final

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out, grad_final):
        h0, recurrent, keep, out, pres, before = ctx.saved_tensors
        perms_array, constants = ctx.settings
        steps, batch, width = pres.shape
        hidden = h0.shape[1]
        grad_out = torch.zeros_like(out) if grad_out is None else grad_out
        grad_final = before.new_empty(0, *before.shape[2:]) if grad_final is None else grad_final
        grad_drive = torch.empty_like(pres)
        grad_h0 = torch.empty_like(h0)
        memory_needs_grad = ctx.needs_input_grad[3]
        shape = (batch if memory_needs_grad else 0, *before.shape[2:])
        grad_memory = before.new_empty(shape)
        compile_loop(_backward_loop)(
            as_array(grad_out), as_array(grad_final), as_array(pres), as_array(recurrent),
            perms_array, as_array(keep), constants, as_array(before), grad_drive.numpy(),
            grad_h0.numpy(), grad_memory.numpy(),
        )  # fmt: skip
        grad_recurrent = None
        if ctx.needs_input_grad[2]:  # sum over steps and examples of p a^T
            previous = torch.cat([h0[None], out[:-1]]) * keep[:, :, None]
            grad_recurrent = previous.reshape(-1, hidden).t() @ grad_drive.reshape(-1, width)
        return (grad_drive, grad_h0, grad_recurrent,
                grad_memory if memory_needs_grad else None, None, None)  # fmt: skip


def warm_up(dtype: torch.dtype = torch.float32) -> float:
    """Run the compiled loops (forward and backward) once on a tiny input; returns the
    seconds it took (compiling, or loading numba's cache from disk)."""
    from fw_rl.cores.associative_lstm import AssociativeLSTM

    return time_forward_backward(AssociativeLSTM(3, 4).to(dtype), torch.randn(2, 2, 3, dtype=dtype))
