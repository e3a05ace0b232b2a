"""How a worker's gradients reach the shared model, kept apart from the worker's loop.

A worker only calls ``pull(local_model)`` before a rollout and ``push(local_model)`` after
its backward pass. :class:`SharedMemoryServer` does this with Hogwild (Recht et al. 2011,
as in A3C): the shared parameters and optimiser statistics live in shared memory, every
worker writes its gradients and steps the optimiser without a lock. A server over the
network (Ray actors, RPC) implements the same two methods.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn


class ParameterServer(Protocol):
    def pull(self, local: nn.Module) -> None:
        """Copy the current shared parameters into ``local``."""

    def push(self, local: nn.Module) -> float:
        """Clip ``local``'s gradients, apply them to the shared parameters, zero them;
        returns the gradient norm before clipping."""


class SharedMemoryServer:
    """Hogwild updates of a model in shared memory.

    Ownership: the shared model's parameters and the optimiser's statistics are shared
    storage, written by every worker; ``.grad`` of the shared parameters is a per-process
    attribute, pointed at the worker's own gradient tensors just before ``step()``.
    """

    def __init__(
        self, shared_model: nn.Module, optimiser: torch.optim.Optimizer, max_grad_norm: float
    ) -> None:
        self.shared_model = shared_model
        self.optimiser = optimiser
        self.max_grad_norm = max_grad_norm
        self._shared_params = list(shared_model.parameters())
        optimised = {id(p) for g in optimiser.param_groups for p in g["params"]}
        if not all(id(p) in optimised for p in self._shared_params):
            raise ValueError(
                "the optimiser must hold the shared model's own parameters "
                "(send both to the worker in one pickle)"
            )

    def pull(self, local: nn.Module) -> None:
        with torch.no_grad():
            for mine, shared in zip(local.parameters(), self._shared_params):
                mine.copy_(shared)

    def push(self, local: nn.Module) -> float:
        norm = nn.utils.clip_grad_norm_(local.parameters(), self.max_grad_norm)
        for mine, shared in zip(local.parameters(), self._shared_params):
            shared.grad = mine.grad
        self.optimiser.step()
        for shared in self._shared_params:
            shared.grad = None
        local.zero_grad(set_to_none=False)
        return float(norm)
