"""Baseline cores built on PyTorch's fused recurrent layers: LSTM and IRNN."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fw_rl.cores.base import RecurrentCore, State, mask_state
from fw_rl.cores.declaration import CoreDeclaration


class _TorchRNNCore(RecurrentCore):
    """Runs an ``nn.LSTM`` / ``nn.RNN`` in segments split where any episode restarts.

    Between resets the whole segment goes through PyTorch's fused loop; at a reset step the
    state of the restarting batch entries is zeroed. A segment of one step (every acting
    step) goes through the fused cell function instead (``torch.lstm_cell``,
    ``torch.rnn_relu_cell``): the same equations on the same weights, without the sequence
    layer's set-up (``benchmarks/bench_cores.py``).
    """

    rnn: nn.RNNBase

    def _forward(
        self, x: Tensor, state: State | None, reset: Tensor | None
    ) -> tuple[Tensor, State]:
        state = self._zeros_if_none(state, x)
        if reset is None:
            bounds = [0, x.shape[0]]
        else:
            starts = torch.nonzero(reset.any(dim=1)).flatten().tolist()
            bounds = sorted({0, *starts, x.shape[0]})
        outs = []
        for start, end in zip(bounds[:-1], bounds[1:]):
            if reset is not None:
                state = mask_state(state, ~reset[start])
            if end - start == 1:
                state = self._cell(x[start], state)
                outs.append(state[0].unsqueeze(0))
                continue
            out, torch_state = self.rnn(x[start:end], self._to_torch(state))
            state = self._from_torch(torch_state)
            outs.append(out)
        return torch.cat(outs) if len(outs) > 1 else outs[0], state

    def _cell(self, x: Tensor, state: State) -> State:
        """One step ``[B, I]`` from ``state``: the layer's own cell function and weights."""
        raise NotImplementedError

    def _weights(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        rnn = self.rnn
        return rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0

    @staticmethod
    def _to_torch(state: State):
        return tuple(s.unsqueeze(0) for s in state)

    @staticmethod
    def _from_torch(torch_state) -> State:
        if isinstance(torch_state, Tensor):
            torch_state = (torch_state,)
        return tuple(s.squeeze(0) for s in torch_state)


class OneStateCore(_TorchRNNCore):
    """A layer whose state is one tensor ``(h,)`` and whose one-step cell is
    ``cell_function(x, h, w_ih, w_hh, b_ih, b_hh)`` (``torch.rnn_relu_cell``,
    ``torch.gru_cell``)."""

    cell_function = staticmethod(torch.rnn_relu_cell)

    def state_shapes(self, batch_size: int):
        return ((batch_size, self.hidden_size),)

    def _to_torch(self, state: State):
        return state[0].unsqueeze(0)

    def _cell(self, x: Tensor, state: State) -> State:
        return (self.cell_function(x, state[0], *self._weights()),)


class LSTMCore(_TorchRNNCore):
    """``torch.nn.LSTM`` (one layer) behind the common interface. State ``(h, c)``."""

    def __init__(self, input_size: int, hidden_size: int, batch_first: bool = False) -> None:
        super().__init__(input_size, hidden_size, batch_first)
        self.rnn = nn.LSTM(input_size, hidden_size)

    def state_shapes(self, batch_size: int):
        return ((batch_size, self.hidden_size), (batch_size, self.hidden_size))

    def _to_torch(self, state: State):
        h, c = state
        return h.unsqueeze(0), c.unsqueeze(0)

    def _cell(self, x: Tensor, state: State) -> State:
        return torch.lstm_cell(x, state, *self._weights())


class IRNNCore(OneStateCore):
    """ReLU RNN with identity-initialised recurrent weights (Le, Jaitly and Hinton 2015).

    Args:
        recurrent_scale: the recurrent matrix starts as ``recurrent_scale * I``.
        input_std: the input weights start normal with this standard deviation.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        recurrent_scale: float = 1.0,
        input_std: float = 0.001,
        batch_first: bool = False,
    ) -> None:
        super().__init__(input_size, hidden_size, batch_first)
        self.rnn = nn.RNN(input_size, hidden_size, nonlinearity="relu")
        with torch.no_grad():
            self.rnn.weight_hh_l0.copy_(recurrent_scale * torch.eye(hidden_size))
            self.rnn.weight_ih_l0.normal_(0.0, input_std)
            self.rnn.bias_hh_l0.zero_()
            self.rnn.bias_ih_l0.zero_()


LSTM = CoreDeclaration(
    name="lstm",
    cls=LSTMCore,
    versions={1: {}},
    history={1: "torch.nn.LSTM, one layer"},
    summary="LSTM (torch.nn.LSTM, one layer)",
)

IRNN = CoreDeclaration(
    name="irnn",
    cls=IRNNCore,
    versions={1: {"recurrent_scale": 1.0, "input_std": 0.001}},
    history={1: "ReLU RNN, recurrent weights 1.0 I"},
    summary="ReLU RNN with identity-initialised recurrent weights (Le et al. 2015)",
)
