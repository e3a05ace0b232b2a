"""The gated recurrent unit (Cho et al. 2014) as a core: ``torch.nn.GRU``, one layer.

The strongest of the 13 memory models in POPGym's study under PPO (Morad et al. 2023),
and the baseline users of other libraries ask for first. For each step (PyTorch's form)::

    r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

State ``(h [B, H],)``. PyTorch's initialisation (uniform in +-1/sqrt(H)). On the CPU a
sequence of more than one step and at most :data:`COMPILED_MAX_BATCH` examples (PPO's
minibatches of a few sequences) runs as one numba-compiled loop with a hand-derived
backward pass (``gru_kernel.py``): the same outputs and gradients as ``torch.nn.GRU``,
which runs everywhere else (acting steps, larger batches, a GPU, ``compiled=False``,
numba missing). The loop runs each example on its own, so a large batch is faster in
PyTorch's batched matrix products (``benchmarks/bench_gru_kernel.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fw_rl.cores.base import State
from fw_rl.cores.declaration import CoreDeclaration
from fw_rl.cores.gru_kernel import GRUKernel, kernel_usable
from fw_rl.cores.torch_rnn import OneStateCore

# the largest batch the compiled loop runs: its forward and backward were as fast as
# torch.nn.GRU's or faster up to 16 examples, and slower at 128 (T = 128, H = 128 and T = 11,
# H = 100; benchmarks/bench_gru_kernel.py --crossover, benchmarks/RESULTS.md)
COMPILED_MAX_BATCH = 16


class GRUCore(OneStateCore):
    """``torch.nn.GRU`` (one layer) behind the common interface. State ``(h,)``.

    Args:
        compiled: run a sequence of more than one step and at most
            :data:`COMPILED_MAX_BATCH` examples on the CPU as the compiled loop of
            ``gru_kernel.py`` (the same function); False keeps to ``torch.nn.GRU``.
    """

    cell_function = staticmethod(torch.gru_cell)

    def __init__(
        self, input_size: int, hidden_size: int, compiled: bool = True, batch_first: bool = False
    ) -> None:
        super().__init__(input_size, hidden_size, batch_first)
        if not isinstance(compiled, bool):
            raise ValueError(f"compiled must be True or False, got {compiled!r}")
        self.compiled = compiled
        self.rnn = nn.GRU(input_size, hidden_size)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, compiled={self.compiled}"

    def runs_compiled(self, steps: int, batch: int, like: Tensor) -> bool:
        """Whether a call of ``steps`` steps on ``batch`` examples like ``like`` runs the
        compiled loop."""
        return (
            self.compiled
            and steps > 1
            and batch <= COMPILED_MAX_BATCH
            and kernel_usable(like, self.rnn.weight_hh_l0)
        )

    def _forward(
        self, x: Tensor, state: State | None, reset: Tensor | None
    ) -> tuple[Tensor, State]:
        if not self.runs_compiled(x.shape[0], x.shape[1], x):
            return super()._forward(x, state, reset)
        (h,) = self._zeros_if_none(state, x)
        w_ih, w_hh, b_ih, b_hh = self._weights()
        gi = F.linear(x, w_ih, b_ih)  # W_i x_t + b_i for every step at once
        keep = x.new_ones(x.shape[:2]) if reset is None else (~reset).to(x.dtype)
        out = GRUKernel.apply(gi, h, w_hh, b_hh, keep)
        return out, (out[-1],)


def _warm_up() -> float:
    from fw_rl.cores.gru_kernel import warm_up

    return warm_up()


GRU = CoreDeclaration(
    name="gru",
    cls=GRUCore,
    versions={1: {}},
    history={1: "torch.nn.GRU, one layer"},
    summary="GRU (torch.nn.GRU, one layer; Cho et al. 2014)",
    warm_up=_warm_up,
)
