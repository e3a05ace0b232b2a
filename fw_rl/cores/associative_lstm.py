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
from torch import Tensor, nn

from fw_rl.cores.base import RecurrentCore, State
from fw_rl.cores.declaration import CoreDeclaration


def bound(re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
    """Each complex number ``re + i im`` divided by ``max(1, |z|)``.

    Computed as ``sqrt(max(1, |z|^2))``: the modulus's own gradient is infinite at
    ``z = 0``, and ``0 * inf`` there made a NaN that ended a training run."""
    scale = torch.sqrt(torch.clamp(re * re + im * im, min=1.0))
    return re / scale, im / scale


def complex_product(a_re: Tensor, a_im: Tensor, b_re: Tensor, b_im: Tensor):
    """``(a_re + i a_im) * (b_re + i b_im)`` elementwise."""
    return a_re * b_re - a_im * b_im, a_re * b_im + a_im * b_re


class AssociativeLSTM(RecurrentCore):
    """Associative LSTM (Danihelka et al. 2016) behind the common core interface.

    Args:
        input_size: features of ``x``.
        hidden_size: ``H``, real units of the hidden state (``H / 2`` complex ones); even.
        copies: ``N``, redundant copies of the associative memory (the paper used 1-8;
            ours defaults to 4).
        permutation_seed: seed of the fixed permutations ``P_2 .. P_N`` (kept in the
            module's buffers, so saved and loaded with it).
        batch_first: ``x`` is ``[B, T, input]``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        copies: int = 4,
        permutation_seed: int = 0,
        batch_first: bool = False,
    ) -> None:
        super().__init__(input_size, hidden_size, batch_first)
        if hidden_size % 2:
            raise ValueError(f"hidden_size must be even (H / 2 complex units), got {hidden_size}")
        if isinstance(copies, bool) or not isinstance(copies, int) or copies < 1:
            raise ValueError(f"copies must be an int >= 1, got {copies!r}")
        self.copies = copies
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
        return f"{super().extra_repr()}, copies={self.copies}"

    def _keys(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        """``[B, H/2]`` -> each copy's permuted key ``[B, N, H/2]``."""
        return re[:, self.permutations], im[:, self.permutations]

    def step(self, x: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        """One step: ``x [B, I]``, ``h [B, H]``, ``c [B, N * H]`` -> ``h, c``."""
        batch, units = x.shape[0], self.hidden_size // 2
        pre = self.linear(torch.cat([x, h], dim=-1))
        gates = torch.sigmoid(pre[:, : 3 * units])
        forget, write, read = gates.split(units, dim=-1)  # [B, H/2] each
        r_i, r_o, u = pre[:, 3 * units :].split(self.hidden_size, dim=-1)
        r_i, r_o, u = (bound(*v.split(units, dim=-1)) for v in (r_i, r_o, u))
        ki_re, ki_im = self._keys(*r_i)  # [B, N, H/2]
        ko_re, ko_im = self._keys(*r_o)
        c_re, c_im = c.view(batch, self.copies, 2, units).unbind(2)  # [B, N, H/2]
        u_re, u_im = (write * u[0])[:, None], (write * u[1])[:, None]
        add_re, add_im = complex_product(ki_re, ki_im, u_re, u_im)
        c_re = forget[:, None] * c_re + add_re
        c_im = forget[:, None] * c_im + add_im
        read_re, read_im = complex_product(ko_re, ko_im, c_re, c_im)
        out_re, out_im = bound(read_re.mean(1), read_im.mean(1))
        h = torch.cat([read * out_re, read * out_im], dim=-1)
        c = torch.stack([c_re, c_im], dim=2).reshape(batch, -1)
        return h, c

    def _forward(
        self, x: Tensor, state: State | None, reset: Tensor | None
    ) -> tuple[Tensor, State]:
        h, c = self._zeros_if_none(state, x)
        outs = []
        for t in range(x.shape[0]):
            if reset is not None:
                keep = (~reset[t]).to(h.dtype)[:, None]
                h, c = h * keep, c * keep
            h, c = self.step(x[t], h, c)
            outs.append(h)
        return torch.stack(outs), (h, c)


ALSTM = CoreDeclaration(
    name="alstm",
    cls=AssociativeLSTM,
    versions={1: {"copies": 4, "permutation_seed": 0}},
    history={1: "associative LSTM, 4 copies"},
    summary="associative LSTM (Danihelka et al. 2016), 4 copies, a learned read key",
)
