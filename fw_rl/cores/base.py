"""The interface every recurrent core shares, close to ``torch.nn.RNN``'s.

``out, state = core(x, state=None, reset=None)``

* ``x``: ``[T, B, input_size]`` (``[B, T, input_size]`` with ``batch_first=True``).
* ``out``: ``[T, B, hidden_size]`` (or batch first): the hidden state after each step.
* ``state``: a tuple of tensors, each with the batch on dimension 0, from
  ``core.initial_state(batch_size)`` or a previous call; ``None`` means the initial state.
* ``reset``: optional ``[T, B]`` bool mask (``[B, T]`` batch first); where true, the state
  (hidden and any fast memory) is zeroed *before* that step, so one call can run across
  episode boundaries.

Feeding a sequence in two halves, carrying the state, gives the same output as one call.
``detach_state`` cuts the graph between calls for truncated backpropagation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn

State = tuple[Tensor, ...]


def detach_state(state: State) -> State:
    """The same state with the autograd graph cut (truncated backpropagation)."""
    return tuple(s.detach() for s in state)


def mask_state(state: State, keep: Tensor) -> State:
    """Zero the state of the batch entries where ``keep`` (``[B]``, float or bool) is 0."""
    keep = keep.to(state[0].dtype)
    return tuple(s * keep.view(-1, *([1] * (s.dim() - 1))) for s in state)


class RecurrentCore(nn.Module, ABC):
    """Base class: checks inputs, handles ``batch_first`` and the default state.

    Subclasses implement :meth:`state_shapes` and :meth:`_forward` on time-major tensors.
    """

    def __init__(self, input_size: int, hidden_size: int, batch_first: bool = False) -> None:
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.batch_first = batch_first

    @abstractmethod
    def state_shapes(self, batch_size: int) -> tuple[tuple[int, ...], ...]:
        """Shapes of the state tensors for a batch."""

    @abstractmethod
    def _forward(
        self, x: Tensor, state: State | None, reset: Tensor | None
    ) -> tuple[Tensor, State]:
        """Run ``x`` ``[T, B, I]`` from ``state`` (checked; None for the initial state);
        ``reset`` is ``[T, B]`` bool or None."""

    def _zeros_if_none(self, state: State | None, x: Tensor) -> State:
        return self.initial_state(x.shape[1], x.device, x.dtype) if state is None else state

    def initial_state(self, batch_size: int, device=None, dtype=None) -> State:
        """Zeros: no history, empty fast memory."""
        p = next(self.parameters())
        device = p.device if device is None else device
        dtype = p.dtype if dtype is None else dtype
        return tuple(
            torch.zeros(s, device=device, dtype=dtype) for s in self.state_shapes(batch_size)
        )

    def forward(
        self, x: Tensor, state: State | None = None, reset: Tensor | None = None
    ) -> tuple[Tensor, State]:
        x, state, reset = self._prepare(x, state, reset)
        out, state = self._forward(x, state, reset)
        return (out.transpose(0, 1) if self.batch_first else out), state

    def _prepare(self, x: Tensor, state: State | None, reset: Tensor | None):
        if not isinstance(x, Tensor) or x.dim() != 3 or x.shape[-1] != self.input_size:
            layout = "[B, T, input]" if self.batch_first else "[T, B, input]"
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(
                f"x must be a 3-D tensor {layout} with input={self.input_size}, got {shape}"
            )
        if self.batch_first:
            x = x.transpose(0, 1)
            reset = None if reset is None else reset.transpose(0, 1)
        steps, batch = x.shape[:2]
        if state is not None:
            expected = self.state_shapes(batch)
            got = (
                tuple(tuple(s.shape) for s in state) if isinstance(state, (tuple, list)) else state
            )
            if got != expected:
                raise ValueError(
                    f"state for batch {batch} must have shapes {expected}, got {got}: "
                    "was it made by another core, hidden size or batch size?"
                )
            state = tuple(state)
        if reset is not None:
            if reset.shape != (steps, batch):
                raise ValueError(
                    f"reset must have shape [T, B] = {(steps, batch)} (time-major) "
                    f"or [B, T] with batch_first, got {tuple(reset.shape)}"
                )
            reset = reset.to(torch.bool)
            if not reset.any():
                reset = None
        return x, state, reset

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, hidden_size={self.hidden_size}"
