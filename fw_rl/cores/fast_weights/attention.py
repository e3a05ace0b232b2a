"""The attention form of the fast-weights RNN (paper eq. 3) as one autograd Function.

For step ``t`` the fast memory is never built: with keys ``k_j = h_{j-1}`` (the hidden
state entering step ``j``; ``k_0`` is the initial state)::

    A_t h^s = sum_{j<=t} c_tj k_j <k_j, h^s>,   c_tj = eta * lambda^(t-j)          (eq. 3)

and ``c_tj = 0`` for keys before a reset of that example. A memory ``M`` carried in from an
earlier call adds ``lambda^(t+1) M h^s`` until the example's first reset.

Autograd would record about fifteen small operations per step and inner step, and save a
fresh stack of the ``t`` keys at every step (``O(T^2 H)`` memory). This Function runs the
whole sequence with a backward pass written by hand from the equations: the keys live in
one ``[B, T+1, H]`` buffer, gradients with respect to them are accumulated in place, and the
gradients of ``W``, ``C``, ``b`` and the layer norm's gain and bias are taken in one batched
operation each after the loop. Memory is ``O(T B H + S B T^2)``. Outputs and gradients
equal the matrix form's (``tests/test_fast_weights.py``, including ``gradcheck``).
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from fw_rl.cores.fast_weights.acting import matvec
from fw_rl.cores.fast_weights.spec import FastWeightsSpec

# the operator overloads themselves: calling them skips the overload lookup per call
_threshold_backward = torch.ops.aten.threshold_backward.default
_layer_norm_backward = torch.ops.aten.native_layer_norm_backward.default


@functools.lru_cache(maxsize=64)
def _decay_tables(steps: int, decay: float, fast_lr: float, dtype, device) -> tuple[Tensor, Tensor]:
    """``eta * lambda^(t-j)`` below the diagonal (``[T, T]``) and ``lambda^(t+1)`` (``[T]``);
    cached, as a training run calls with the same few lengths (never written to). Made as
    ordinary tensors even under ``torch.inference_mode``, so a later training call can save
    them for backward."""
    with torch.inference_mode(False), torch.no_grad():
        index = torch.arange(steps, dtype=dtype, device=device)
        lag = index[:, None] - index[None, :]
        coef = torch.tril(fast_lr * torch.full_like(lag, decay).pow(lag.clamp(min=0)))  # 0^0=1
        return coef, torch.full_like(index, decay).pow(index + 1)


def step_coefficients(
    steps: int, decay: float, fast_lr: float, keep: Tensor | None, like: Tensor
) -> tuple[Tensor, Tensor]:
    """``c_tj`` (``[T, T]``, or ``[B, T, T]`` with resets) and the carried memory's scale
    ``lambda^(t+1)`` (``[B, T]``, zero from an example's first reset on).

    ``keep`` is ``[T, B]``, 0 where the state is reset before step ``t``.
    """
    coef, scale = _decay_tables(steps, decay, fast_lr, like.dtype, like.device)
    scale = scale[None, :].expand(like.shape[1], steps)
    if keep is None:
        return coef, scale
    keep = keep.t()  # [B, T]
    segment = torch.cumsum(1 - keep, dim=1)  # resets so far, this step's included
    same = segment[:, :, None] == segment[:, None, :]
    # a key entering at a reset is the zeroed state: it adds nothing
    return coef * same * keep[:, None, :], scale * (segment == 0)


class FastWeightsAttention(torch.autograd.Function):
    """``out, final, attention = FastWeightsAttention.apply(spec, drive, h0, W, gain, bias,
    memory, keep, coef, scale, want_attention)`` with ``spec`` a
    :class:`~fw_rl.cores.fast_weights.spec.FastWeightsSpec`.

    ``drive`` ``[T, B, H]`` is ``C x_t + b``; ``gain`` and ``bias`` are None without layer
    norm; ``memory`` ``[B, H, H]`` or None; ``keep`` ``[T, B]`` or None; ``coef`` and
    ``scale`` from :func:`step_coefficients`. ``out`` ``[T, B, H]`` holds the hidden states,
    ``final`` ``[B, H, H]`` the fast memory of the last step (the matrix form's state), and
    ``attention`` ``[B, T, T]`` (empty unless ``want_attention``) ``c_tj <k_j, h^{S-1}>``,
    not differentiable.

    Buffers (``S`` inner steps): ``hs`` ``[B, T+1, H]`` the keys, ``hs[:, t+1]`` the output of
    step ``t``; ``queries`` ``[S, B, T, H]`` the vectors ``h^s`` that attend (``s < S``);
    ``inputs`` ``[S+1, T, B, H]`` what each layer norm (or ReLU) received: ``z`` and
    ``z + A_t h^s``; ``weights`` ``[S, B, T, T]`` the attention ``w_tj = c_tj <k_j, h^s>``.
    """

    @staticmethod
    def forward(
        ctx, spec: FastWeightsSpec, drive, h0, weight, gain, bias, memory, keep, coef, scale,
        want_attention,
    ):  # fmt: skip
        inner, prelim, eps = spec.inner_steps, spec.norm_preliminary, spec.eps
        steps, batch, hidden = drive.shape
        shape = (hidden,)
        normed = [gain is not None and prelim] + [gain is not None] * inner
        restarts = [False] * steps if keep is None else (keep == 0).any(dim=1).tolist()
        hs = drive.new_empty(batch, steps + 1, hidden)
        hs[:, 0] = h0
        queries = drive.new_empty(inner, batch, steps, hidden)
        inputs = drive.new_empty(inner + 1, steps, batch, hidden)
        weights = drive.new_zeros(max(inner, 1), batch, steps, steps)
        # views made once: indexing costs as much as a small operation
        slots = hs.unbind(1)
        query_views = [q.unbind(1) for q in queries.unbind(0)] + [slots[1:]]  # [s][t]
        input_views = [x.unbind(0) for x in inputs.unbind(0)]  # [s][t]
        weight_t = weight.t()
        keys_t = hs.transpose(1, 2)  # [B, H, T+1]
        coef_rows = coef.unsqueeze(-2).unbind(-3)  # [t]: c_tj as [1, T] or [B, 1, T]
        weight_rows = [w.unsqueeze(2).unbind(1) for w in weights.unbind(0)]  # [s][t]: [B, 1, T]
        stats = []  # the layer norms' (mean, rstd) per step and inner step: [B, 1] each
        for t, drive_t in enumerate(drive.unbind(0)):
            h_prev = slots[t] * keep[t, :, None] if restarts[t] else slots[t]
            z = v = torch.addmm(drive_t, h_prev, weight_t, out=input_views[0][t])
            keys, keys_tt = hs[:, : t + 1], keys_t[:, :, : t + 1]
            c = coef_rows[t][..., : t + 1]
            q = z  # replaced by h^0 before it is used
            for s in range(inner + 1):
                if s > 0:  # v = z + A_t h^{s-1}, eq. 3
                    scores = torch.bmm(q.unsqueeze(1), keys_tt)  # <k_j, q>: [B, 1, t+1]
                    w = torch.mul(scores, c, out=weight_rows[s - 1][t][..., : t + 1])
                    fast = torch.bmm(w, keys).squeeze(1)
                    if memory is not None:
                        fast = fast.addcmul_(scale[:, t, None], matvec(memory, q))
                    v = torch.add(z, fast, out=input_views[s][t])
                if normed[s]:
                    u, mean, rstd = torch.native_layer_norm(v, shape, gain, bias, eps)
                    stats.append((mean, rstd))
                else:
                    u = v
                    stats.append(None)
                q = torch.clamp_min(u, 0.0, out=query_views[s][t])  # f = ReLU: h^s
            if want_attention and inner == 0:  # what h^0 would attend with
                scores = torch.bmm(q.unsqueeze(1), keys_tt)
                torch.mul(scores, c, out=weight_rows[0][t][..., : t + 1])
        # tensors go through autograd, so saved-tensor hooks (offloading, memory counts)
        # see them; only the layer norms' per-row statistics stay on ctx
        ctx.save_for_backward(
            weight, gain, bias, memory, keep, coef, scale, hs, queries, inputs, weights
        )
        ctx.stats = stats
        ctx.settings = (inner, normed, restarts)
        attention = weights[-1].clone() if want_attention else drive.new_empty(0)
        ctx.mark_non_differentiable(attention)
        ctx.set_materialize_grads(False)  # an unused output's gradient comes as None
        # the state the matrix form carries: A of the last step, sum_j c_j k_j k_j^T (+ M)
        keys = hs[:, :steps]
        final = torch.bmm((keys * coef[..., -1, :, None]).transpose(1, 2), keys)
        if memory is not None:
            final.addcmul_(scale[:, -1, None, None], memory)
        return hs[:, 1:].transpose(0, 1).contiguous(), final, attention

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out, grad_final, _grad_attention):
        weight, gain, bias, memory, keep, coef, scale = ctx.saved_tensors[:7]
        hs, queries, inputs, weights = ctx.saved_tensors[7:]
        stats = ctx.stats
        inner, normed, restarts = ctx.settings
        batch, steps, hidden = hs.shape
        steps -= 1
        shape = (hidden,)
        slots = hs.unbind(1)
        query_views = [q.unbind(1) for q in queries.unbind(0)] + [slots[1:]]  # [s][t]
        input_views = [x.unbind(0) for x in inputs.unbind(0)]  # [s][t]
        grad_hs = torch.zeros_like(hs)  # gradients of the keys, accumulated in place
        if grad_out is not None:
            grad_hs[:, 1:] = grad_out.transpose(0, 1)
        if grad_final is not None:  # d/dk_j of sum_j c_j k_j^T G k_j = c_j (G + G^T) k_j
            symmetric = grad_final + grad_final.transpose(1, 2)
            keys = hs[:, :steps]
            grad_hs[:, :steps].addcmul_(coef[..., -1, :, None], torch.bmm(keys, symmetric))
        grad_slots = grad_hs.unbind(1)
        # the gradients of each z + A_t h^s, kept where the sum over inner steps or the
        # carried memory's gradient needs them
        keep_grad_v = inner > 1 or memory is not None
        grad_v = hs.new_empty(inner if keep_grad_v else 0, batch, steps, hidden)
        grad_v_views = [g.unbind(1) for g in grad_v.unbind(0)]  # [s][t]
        grad_z = hs.new_empty(steps, batch, hidden)
        grad_u = [None] * ((inner + 1) * steps)  # gradient of each layer norm's output
        memory_t = None if memory is None else memory.transpose(1, 2)
        keys_t = hs.transpose(1, 2)  # [B, H, T+1]
        coef_rows = coef.unsqueeze(-2).unbind(-3)  # [t]: c_tj as [1, T] or [B, 1, T]
        weight_rows = [w.unsqueeze(2).unbind(1) for w in weights.unbind(0)]  # [s][t]: [B, 1, T]
        for t in reversed(range(steps)):
            keys, grad_keys = hs[:, : t + 1], grad_hs[:, : t + 1]
            keys_tt = keys_t[:, :, : t + 1]
            c = coef_rows[t][..., : t + 1]
            g = grad_slots[t + 1]  # complete: every later step has added to it
            for s in reversed(range(inner + 1)):  # back through h^S .. h^0
                q = query_views[s][t]
                if normed[s]:
                    mean, rstd = stats[t * (inner + 1) + s]
                    du = _threshold_backward(g, q, 0)
                    grad_u[s * steps + t] = du
                    dv = _layer_norm_backward(
                        du, input_views[s][t], shape, mean, rstd, gain, bias,
                        (True, False, False),
                    )[0]  # fmt: skip
                else:
                    dv = _threshold_backward(g, q, 0)
                if s == 0:
                    break
                if keep_grad_v:
                    grad_v_views[s - 1][t].copy_(dv)
                else:
                    dv_inner = dv
                # v = z + sum_j w_j k_j with w_j = c_j <k_j, q>, q = h^{s-1}
                q, w = query_views[s - 1][t], weight_rows[s - 1][t][..., : t + 1].transpose(1, 2)
                dv_row = dv.unsqueeze(1)
                r = torch.bmm(dv_row, keys_tt).mul_(c)  # [B, 1, t+1]: c_j <k_j, dv>
                g = torch.bmm(r, keys).squeeze(1)
                grad_keys.addcmul_(w, dv_row)
                grad_keys.addcmul_(r.transpose(1, 2), q.unsqueeze(1))
                if memory is not None:
                    g.addcmul_(scale[:, t, None], matvec(memory_t, dv))
            # z feeds h^0 and every z + A_t h^s
            if inner == 0:
                dz = grad_z[t].copy_(dv)
            else:
                if not keep_grad_v:
                    dv_sum = dv_inner
                else:
                    dv_sum = grad_v_views[0][t] if inner == 1 else grad_v[:, :, t].sum(0)
                dz = torch.add(dv_sum, dv, out=grad_z[t])
            grad_slots[t].addmm_(dz * keep[t, :, None] if restarts[t] else dz, weight)
        g = grad_slots[0]
        grads = [grad_z, g, None, None, None, None]
        needs_grad = ctx.needs_input_grad[1:]  # as the tensors' positions: spec comes first
        if needs_grad[2]:  # W, applied to the (reset-masked) previous state
            prev = hs[:, :steps].transpose(0, 1)
            if keep is not None:
                prev = prev * keep[:, :, None]
            grads[2] = grad_z.reshape(-1, hidden).t() @ prev.reshape(-1, hidden)
        if gain is not None and not any(normed):  # a layer norm that is never used
            grads[3], grads[4] = torch.zeros_like(gain), torch.zeros_like(bias)
        elif gain is not None and (needs_grad[3] or needs_grad[4]):
            first = 0 if normed[0] else 1  # every inner step is normed; h^0 may not be
            # ordered as ``inputs``: by inner step, then step
            means, rstds = zip(
                *(stats[t * (inner + 1) + s] for s in range(first, inner + 1) for t in range(steps))
            )
            _, grads[3], grads[4] = torch.ops.aten.native_layer_norm_backward(
                torch.stack(grad_u[first * steps :]).view(-1, hidden),
                inputs[first:].reshape(-1, hidden),
                shape,
                torch.stack(means).view(-1, 1),
                torch.stack(rstds).view(-1, 1),
                gain,
                bias,
                (False, True, True),
            )
        if memory is not None and needs_grad[5]:
            # d/dM of sum_t,s lambda^(t+1) <dv, M h^(s-1)>: scaled outer products
            scaled = grad_v * scale[None, :, :, None]  # [S, B, T, H]
            grads[5] = torch.einsum("sbti,sbtj->bij", scaled, queries)
            if grad_final is not None:  # final = ... + lambda^T M
                grads[5].addcmul_(scale[:, -1, None, None], grad_final)
        return (None, *grads, *[None] * 4)  # no gradient for spec, keep, coef, scale, flag
