"""The gated recurrent unit (Cho et al. 2014) as a core: ``torch.nn.GRU``, one layer.

The strongest of the 13 memory models in POPGym's study under PPO (Morad et al. 2023),
and the baseline users of other libraries ask for first. For each step (PyTorch's form)::

    r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

State ``(h [B, H],)``. PyTorch's initialisation (uniform in +-1/sqrt(H)).
"""

from __future__ import annotations

import torch
from torch import nn

from fw_rl.cores.declaration import CoreDeclaration
from fw_rl.cores.torch_rnn import OneStateCore


class GRUCore(OneStateCore):
    """``torch.nn.GRU`` (one layer) behind the common interface. State ``(h,)``."""

    cell_function = staticmethod(torch.gru_cell)

    def __init__(self, input_size: int, hidden_size: int, batch_first: bool = False) -> None:
        super().__init__(input_size, hidden_size, batch_first)
        self.rnn = nn.GRU(input_size, hidden_size)


GRU = CoreDeclaration(
    name="gru",
    cls=GRUCore,
    versions={1: {}},
    history={1: "torch.nn.GRU, one layer"},
    summary="GRU (torch.nn.GRU, one layer; Cho et al. 2014)",
)
