"""The associative LSTM of Danihelka, Wayne, Uria, Kalchbrenner and Graves (ICML 2016), the
fourth model of Ba et al.'s Table 1.

The hidden state is ``H / 2`` complex numbers, stored as a real vector ``[re, im]`` of ``H``.
For each step (section 3 of Danihelka et al.; ``*`` is the elementwise complex product,
``.`` the elementwise real product of a gate with both parts of a complex vector)::

    [g_f, g_i, g_o, r_i, r_o, u] = W [x_t, h_{t-1}] + b          (gates H/2 each, the rest H)
    g_f, g_i, g_o = sigmoid(.)        r_i, r_o, u = bound(.)      (keys and update)
    c_{s,t} = g_f . c_{s,t-1} + P_s(r_i) * (g_i . u)      for each copy s = 1 .. N
    h_t     = g_o . bound( (1/N) sum_s P_s(r_o) * c_{s,t} )

where ``bound(z) = z / max(1, |z|)`` scales each complex number to modulus at most 1 and
``P_s`` is a fixed random permutation of the ``H / 2`` complex units, one per copy
(``P_1`` the identity), which spreads the interference between stored items differently
in each copy so that averaging the copies' reads reduces it. The variant is the paper's
main one: the read key ``r_o`` is learned (not tied to the conjugate of ``r_i``), and the
gates act on whole complex units. State ``(h [B, H], c [B, N * H])``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fw_rl.cores.associative_lstm_kernel import AssociativeLSTMKernel, kernel_usable
from fw_rl.cores.base import RecurrentCore, State
from fw_rl.cores.declaration import CoreDeclaration


def bound_factor(size: Tensor) -> Tensor:
    """``1 / max(1, |z|)`` from ``size = |z|^2``: what ``bound`` scales ``z`` by.

    Computed as ``1 / sqrt(max(1, |z|^2))``: the modulus's own gradient is infinite at
    ``z = 0``, and ``0 * inf`` there made a NaN that ended a training run."""
    return torch.rsqrt(torch.clamp(size, min=1.0))


def bound(re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
    """Each complex number ``re + i im`` divided by ``max(1, |z|)``."""
    factor = bound_factor(re * re + im * im)
    return re * factor, im * factor


class AssociativeLSTM(RecurrentCore):
    """Associative LSTM (Danihelka et al. 2016) behind the common core interface.

    Args:
        input_size: features of ``x``.
        hidden_size: ``H``, real units of the hidden state (``H / 2`` complex ones); even.
        copies: ``N``, redundant copies of the associative memory (the paper used 1-8;
            ours defaults to 4).
        permutation_seed: seed of the fixed permutations ``P_2 .. P_N`` (kept in the
            module's buffers, so saved and loaded with it).
        compiled: run a sequence of more than one step on the CPU as one numba-compiled
            loop with a hand-derived backward pass (``associative_lstm_kernel.py``; the
            same outputs and gradients); False, or where numba cannot run (a GPU,
            float16), the PyTorch steps below.
        batch_first: ``x`` is ``[B, T, input]``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        copies: int = 4,
        permutation_seed: int = 0,
        compiled: bool = True,
        batch_first: bool = False,
    ) -> None:
        super().__init__(input_size, hidden_size, batch_first)
        if hidden_size % 2:
            raise ValueError(f"hidden_size must be even (H / 2 complex units), got {hidden_size}")
        if isinstance(copies, bool) or not isinstance(copies, int) or copies < 1:
            raise ValueError(f"copies must be an int >= 1, got {copies!r}")
        if not isinstance(compiled, bool):
            raise ValueError(f"compiled must be True or False, got {compiled!r}")
        self.copies, self.compiled = copies, compiled
        units = hidden_size // 2
        # three gates of H/2 and three complex vectors of H (keys r_i, r_o and update u)
        self.linear = nn.Linear(input_size + hidden_size, 3 * units + 3 * hidden_size)
        bound_ = 1.0 / math.sqrt(hidden_size)
        with torch.no_grad():
            self.linear.weight.uniform_(-bound_, bound_)
            self.linear.bias.zero_()
        generator = torch.Generator().manual_seed(permutation_seed)
        permutations = [torch.arange(units)]
        permutations += [torch.randperm(units, generator=generator) for _ in range(copies - 1)]
        self.register_buffer("permutations", torch.stack(permutations))  # [N, H/2]

    def state_shapes(self, batch_size: int):
        return ((batch_size, self.hidden_size), (batch_size, self.copies * self.hidden_size))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, copies={self.copies}, compiled={self.compiled}"

    def _forward(
        self, x: Tensor, state: State | None, reset: Tensor | None
    ) -> tuple[Tensor, State]:
        h, c = self._zeros_if_none(state, x)
        batch, units = x.shape[1], self.hidden_size // 2
        weight, bias = self.linear.weight, self.linear.bias
        drive = F.linear(x, weight[:, : self.input_size], bias)  # W_x x_t + b, every step
        recurrent = weight[:, self.input_size :].t()
        c4 = c.view(batch, self.copies, 2, units)
        # one acting step: PyTorch's matrix product beats the loop's (measured at H = 128)
        if self.compiled and len(x) > 1 and kernel_usable(drive, h, c, recurrent):
            keep = drive.new_ones(x.shape[:2]) if reset is None else (~reset).to(drive.dtype)
            out, final = AssociativeLSTMKernel.apply(
                drive, h, recurrent, c4, self.permutations, keep
            )
            return out, (out[-1], final.reshape(batch, -1))
        memory = torch.complex(c4[:, :, 0], c4[:, :, 1])  # [B, N, H/2]
        outs = []
        keeps = [None] * len(x) if reset is None else (~reset).to(h.dtype)[:, :, None].unbind(0)
        # unbind, not drive[t]: indexing's backward would fill a zero [T, B, .] per step
        for drive_t, keep in zip(drive.unbind(0), keeps):
            if keep is not None:
                h, memory = h * keep, memory * keep[:, None]
            h, memory = self._step(torch.addmm(drive_t, h, recurrent), memory)
            outs.append(h)
        c = torch.view_as_real(memory).permute(0, 1, 3, 2).reshape(batch, -1)
        return torch.stack(outs), (h, c)

    def _step(self, pre: Tensor, memory: Tensor) -> tuple[Tensor, Tensor]:
        """One step from the pre-activations ``[B, 3 H/2 + 3 H]`` and the complex memory
        ``[B, N, H/2]``: the new ``h [B, H]`` and memory. The same equations as the module
        docstring's, with complex tensors, so a step is a few dozen operations, not a
        hundred (an associative-retrieval update 1.4x faster, ``benchmarks/RESULTS.md``)."""
        batch, units = pre.shape[0], self.hidden_size // 2
        forget, write, read = torch.sigmoid(pre[:, : 3 * units]).view(batch, 3, units).unbind(1)
        parts = pre[:, 3 * units :].view(batch, 3, 2, units)  # r_i, r_o, u as [re, im]
        parts = parts * bound_factor(parts.square().sum(2, keepdim=True))
        r_i, r_o, update = torch.complex(parts[:, :, 0], parts[:, :, 1]).unbind(1)
        keys = torch.stack([r_i, r_o], 1)[:, :, self.permutations]  # [B, 2, N, H/2]
        memory = forget[:, None] * memory + keys[:, 0] * (write * update)[:, None]
        retrieved = (keys[:, 1] * memory).mean(1)
        size = torch.view_as_real(retrieved).square().sum(-1)
        retrieved = retrieved * (read * bound_factor(size))
        h = torch.view_as_real(retrieved).transpose(1, 2).reshape(batch, self.hidden_size)
        return h, memory


def _warm_up() -> float:
    from fw_rl.cores.associative_lstm_kernel import warm_up

    return warm_up()


ALSTM = CoreDeclaration(
    name="alstm",
    cls=AssociativeLSTM,
    versions={1: {"copies": 4, "permutation_seed": 0}},
    history={1: "associative LSTM, 4 copies"},
    summary="associative LSTM (Danihelka et al. 2016), 4 copies, a learned read key",
    warm_up=_warm_up,
)
