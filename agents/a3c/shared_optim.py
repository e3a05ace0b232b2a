"""Optimisers whose statistics live in shared memory, for Hogwild A3C (Mnih et al. 2016).

The A3C paper found RMSProp with statistics shared by all workers the most robust. Each
class creates its state eagerly and moves it to shared memory, so every worker process
that receives the optimiser (pickled by ``torch.multiprocessing`` together with the shared
model) reads and writes the same running averages and parameters, without locks.
"""

from __future__ import annotations

import torch


class _SharedStatistics:
    """Keeps the optimiser's state in shared memory, also after ``load_state_dict``."""

    def share_statistics(self) -> None:
        for state in self.state.values():
            for value in state.values():
                if isinstance(value, torch.Tensor):
                    value.share_memory_()

    def load_state_dict(self, state_dict) -> None:
        super().load_state_dict(state_dict)
        self.share_statistics()


class SharedRMSprop(_SharedStatistics, torch.optim.RMSprop):
    """RMSProp (``alpha`` 0.99, ``eps`` 0.1 as in A3C) with a shared ``square_avg``."""

    def __init__(self, params, lr: float = 7e-4, alpha: float = 0.99, eps: float = 0.1):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["step"] = torch.zeros(())
                self.state[p]["square_avg"] = torch.zeros_like(p)
        self.share_statistics()


class SharedAdam(_SharedStatistics, torch.optim.Adam):
    """Adam with shared first and second moments and step counts."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr=lr, betas=betas, eps=eps)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["step"] = torch.zeros(())
                self.state[p]["exp_avg"] = torch.zeros_like(p)
                self.state[p]["exp_avg_sq"] = torch.zeros_like(p)
        self.share_statistics()


OPTIMISERS: dict[str, type[torch.optim.Optimizer]] = {
    "rmsprop": SharedRMSprop,
    "adam": SharedAdam,
}


def make_shared_optimiser(name: str, params, lr: float) -> torch.optim.Optimizer:
    """A shared optimiser by name (``rmsprop`` or ``adam``)."""
    try:
        cls = OPTIMISERS[name]
    except KeyError:
        raise ValueError(
            f"unknown optimiser {name!r}; available: {', '.join(OPTIMISERS)}"
        ) from None
    return cls(params, lr=lr)
