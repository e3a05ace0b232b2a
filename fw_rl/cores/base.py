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


class CoreContractError(ValueError):
    """A core whose ``_forward`` broke the interface: ``out`` or the state of the wrong
    shape or type (a core of one's own, not the caller's input)."""


def _shapes(state) -> tuple | str:
    """The shapes of a state's tensors, or what it is instead (never its values)."""
    if not isinstance(state, (tuple, list)):
        return type(state).__name__
    return tuple(tuple(s.shape) if isinstance(s, Tensor) else type(s).__name__ for s in state)


def detach_state(state: State) -> State:
    """The same state with the autograd graph cut (truncated backpropagation)."""
    return tuple(s.detach() for s in state)


def mask_state(state: State, keep: Tensor) -> State:
    """Zero the state of the batch entries where ``keep`` (``[B]``, float or bool) is 0."""
    keep = keep.to(state[0].dtype)
    return tuple(s * keep.view(-1, *([1] * (s.dim() - 1))) for s in state)


class RecurrentCore(nn.Module, ABC):
    """Base class: checks inputs and what ``_forward`` returns (:class:`CoreContractError`),
    handles ``batch_first`` and the default state.

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
        self.core_name = type(self).__name__  # for errors; make_core sets the name it took
        # what _forward returns is checked for cores from outside the package (a user's own,
        # or a subclass of ours): the package's cores are tested to keep the contract, and
        # acting at batch 1 pays for every check
        self.checks_returns = not type(self).__module__.startswith("fw_rl.")

    @abstractmethod
    def state_shapes(self, batch_size: int) -> tuple[tuple[int, ...], ...]:
        """Shapes of the state tensors for a batch."""

    @abstractmethod
    def _forward(
        self, x: Tensor, state: State | None, reset: Tensor | None
    ) -> tuple[Tensor, State]:
        """Run ``x`` ``[T, B, I]`` from ``state`` (checked; None for the initial state);
        ``reset`` is ``[T, B]`` bool or None. Returns ``out`` ``[T, B, hidden_size]`` and
        the state, a tuple of tensors shaped as :meth:`state_shapes` says."""

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
        result = self._forward(x, state, reset)
        if not self.checks_returns:
            out, state = result
            return (out.transpose(0, 1) if self.batch_first else out), state
        if not isinstance(result, tuple) or len(result) != 2:
            raise CoreContractError(
                f"core {self._name()!r}'s _forward returned {type(result).__name__}; a "
                "core's _forward must return the pair (out, state)"
            )
        out, state = result
        # what _forward returned, checked cheaply (acting runs this every step): shapes only
        steps, batch, _ = x.shape
        expected = self.state_shapes(batch)
        if (
            not isinstance(out, Tensor)
            or out.shape != (steps, batch, self.hidden_size)
            or not isinstance(state, tuple)
            or not all(isinstance(s, Tensor) for s in state)
            or tuple([s.shape for s in state]) != expected
        ):
            self._broken(x, out, state, expected)
        return (out.transpose(0, 1) if self.batch_first else out), state

    def _name(self) -> str:
        return getattr(self, "core_name", type(self).__name__)

    def _broken(self, x: Tensor, out, state, expected) -> None:
        """Raise :class:`CoreContractError` saying which rule ``_forward`` broke."""
        steps, batch = x.shape[:2]
        name = f"core {self._name()!r}"
        want = (steps, batch, self.hidden_size)
        if not isinstance(out, Tensor) or out.shape != want:
            got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise CoreContractError(
                f"{name} returned out of shape {got}; a core's _forward must return out of "
                f"shape (T, B, hidden_size) = {want}"
            )
        got = (
            f"a state of shapes {_shapes(state)}"
            if isinstance(state, tuple)
            else f"its state as {type(state).__name__}"
        )
        raise CoreContractError(
            f"{name} returned {got}; a core's _forward must return the state as a tuple of "
            f"tensors of shapes {expected}, as initial_state({batch}) has them"
        )

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
            got = _shapes(state)
            if isinstance(got, str):
                raise ValueError(
                    f"state must be a tuple of tensors of shapes {expected} (initial_state "
                    f"or a previous call's), got {got}"
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
