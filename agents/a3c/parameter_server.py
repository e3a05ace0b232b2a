"""How a worker's gradients reach the shared model, kept apart from the worker's loop.

A worker only calls ``pull(local_model)`` before a rollout and ``push(local_model)`` after
its backward pass. :class:`SharedMemoryServer` does this with Hogwild (Recht et al. 2011,
as in A3C): the shared parameters and optimiser statistics live in shared memory, every
worker writes its gradients and steps the optimiser without a lock. A server over the
network implements the same two methods: :class:`FlatParameterServer` is the server's
side of that (the model and the optimiser in one place, updated with gradients that arrive
as one flat float32 buffer), and :mod:`fw_rl.agents.a3c.ray_backend` puts it in a Ray actor.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
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


# ---- one flat buffer: what travels between machines ---------------------------------------


def flat_parameters(module: nn.Module) -> np.ndarray:
    """All of ``module``'s parameters in one float32 vector (``parameters()`` order)."""
    with torch.no_grad():
        return torch.cat([p.reshape(-1) for p in module.parameters()]).float().numpy()


def flat_gradients(module: nn.Module) -> np.ndarray:
    """All of ``module``'s gradients in one float32 vector (zeros where there is none)."""
    parts = [
        (p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
        for p in module.parameters()
    ]
    return torch.cat(parts).float().numpy()


def load_flat_parameters(module: nn.Module, flat: np.ndarray) -> None:
    """Copy a vector made by :func:`flat_parameters` into ``module``'s parameters."""
    vector = torch.from_numpy(np.array(flat, dtype=np.float32))  # Ray hands out read-only
    expected = sum(p.numel() for p in module.parameters())
    if vector.numel() != expected:
        raise ValueError(f"a flat buffer of {vector.numel()} values for {expected} parameters")
    with torch.no_grad():
        nn.utils.vector_to_parameters(vector, module.parameters())


class FlatParameterServer:
    """The server's side of a networked parameter server: it owns the model and the
    optimiser, applies each push as it arrives (one at a time: no Hogwild races, the
    asynchrony is that of A3C across machines, workers computing on slightly old
    weights) and hands out the newest weights with a version number.

    ``push`` takes gradients already clipped by the worker (as :class:`SharedMemoryServer`
    clips them), so both servers make the same update for the same gradients.
    """

    def __init__(self, model: nn.Module, optimiser: torch.optim.Optimizer) -> None:
        self.model, self.optimiser = model, optimiser
        self._params = list(model.parameters())
        self.version = 0
        self._flat = flat_parameters(model)
        self.updates = 0

    def pull(self) -> tuple[int, np.ndarray]:
        """``(version, weights)``: the version grows by one with every applied push."""
        return self.version, self._flat

    def push(self, gradients: np.ndarray) -> tuple[int, np.ndarray]:
        """Apply one worker's (clipped) gradients; returns the new ``pull()``."""
        vector = torch.from_numpy(np.array(gradients, dtype=np.float32))
        if vector.numel() != self._flat.size:
            raise ValueError(
                f"a gradient of {vector.numel()} values for {self._flat.size} parameters"
            )
        offset = 0
        for p in self._params:
            p.grad = vector[offset : offset + p.numel()].view_as(p)
            offset += p.numel()
        self.optimiser.step()
        for p in self._params:
            p.grad = None
        self.version += 1
        self.updates += 1
        self._flat = flat_parameters(self.model)
        return self.pull()
