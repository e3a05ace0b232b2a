"""Action heads: one per kind of Gymnasium action space, each the distribution the policy
draws from and everything the agents do with an action of that space.

The network's policy layer outputs a vector of distribution parameters per step
(``params``, ``[..., head.params_size]``); the head turns it into log-probabilities,
entropies, samples and greedy actions, encodes the previous action for the core's input,
and turns an action into what the env's ``step`` takes.

========================  ==========================================  ====================
space                     distribution                                ``params``
========================  ==========================================  ====================
``Discrete(n)``           categorical                                 ``n`` logits
``MultiDiscrete(nvec)``   a categorical per dimension, independent    ``sum(nvec)`` logits
``MultiBinary(n)``        a Bernoulli per bit, independent            ``n`` logits
``Box(shape)``            a diagonal Gaussian, state-independent      mean and log-std,
                          learned log-std                             ``2 * prod(shape)``
========================  ==========================================  ====================

A ``Box`` action is sampled unbounded and **clipped to the space's bounds only when sent to
the env** (:meth:`BoxHead.to_env`); the loss uses the log-probability of the unclipped
sample. That keeps the Gaussian's log-probability and entropy exact (a squashing function
such as ``tanh`` changes the density and leaves the entropy without a closed form), and it
is what SB3's PPO and CleanRL's ``ppo_continuous_action`` do. The previous action fed to
the core is the clipped one, scaled to [-1, 1] where the bounds are finite.

"No action yet" (an episode's first step) is ``-1`` in every entry of an integer action
and NaN in every entry of a ``Box`` action; it is encoded as zeros.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import Tensor

from fw_rl.envs.factory import EnvError


def categorical_log_prob(logits: Tensor, actions: Tensor) -> Tensor:
    """``log softmax(logits)[a]``: logits ``[..., n]``, actions ``[...]`` -> ``[...]``."""
    log_probs = F.log_softmax(logits, dim=-1)
    return log_probs.gather(-1, actions.long().clamp(min=0).unsqueeze(-1)).squeeze(-1)


def categorical_entropy(logits: Tensor) -> Tensor:
    """``-sum p log p`` over the last dimension."""
    log_probs = F.log_softmax(logits, dim=-1)
    return -(log_probs.exp() * log_probs).sum(-1)


class ActionSpaceError(EnvError):
    """An action space no head handles, said in one line."""


class ActionHead:
    """The distribution of one action space (see the module docstring)."""

    space: spaces.Space
    params_size: int  # distribution parameters per step
    encoding_size: int  # features of the previous action fed to the core
    shape: tuple[int, ...]  # one action's shape ((): a single integer)
    dtype: torch.dtype

    @property
    def none(self) -> float:
        """The value of every entry of an action that was not taken."""
        return -1

    def none_actions(self, batch: int) -> Tensor:
        return torch.full((batch, *self.shape), self.none, dtype=self.dtype)

    def log_prob(self, params: Tensor, actions: Tensor) -> Tensor:
        raise NotImplementedError

    def entropy(self, params: Tensor) -> Tensor:
        raise NotImplementedError

    def sample(self, params: Tensor, generator: torch.Generator | None = None) -> Tensor:
        raise NotImplementedError

    def greedy(self, params: Tensor) -> Tensor:
        raise NotImplementedError

    def encode(self, actions: Tensor) -> Tensor:
        """Actions ``[..., *shape]`` (none allowed) -> features ``[..., encoding_size]``."""
        raise NotImplementedError

    def to_env(self, actions: Tensor) -> np.ndarray:
        """A batch of actions as the vector env's ``step`` takes them."""
        return actions.detach().numpy()


class DiscreteHead(ActionHead):
    """``Discrete(n, start)``: a categorical over ``n`` logits. The agent's actions are the
    choices' indices 0..n-1; the env gets ``start`` added (:meth:`to_env`)."""

    def __init__(self, space: spaces.Discrete) -> None:
        self.space, self.n, self.start = space, int(space.n), int(space.start)
        self.params_size = self.encoding_size = self.n
        self.shape, self.dtype = (), torch.long

    def to_env(self, actions: Tensor) -> np.ndarray:
        return actions.detach().numpy() + self.start

    def log_prob(self, params: Tensor, actions: Tensor) -> Tensor:
        return categorical_log_prob(params, actions)

    def entropy(self, params: Tensor) -> Tensor:
        return categorical_entropy(params)

    def sample(self, params: Tensor, generator: torch.Generator | None = None) -> Tensor:
        flat = torch.softmax(params.reshape(-1, self.n), -1)
        return torch.multinomial(flat, 1, generator=generator)[:, 0].reshape(params.shape[:-1])

    def greedy(self, params: Tensor) -> Tensor:
        return params.argmax(-1)

    def encode(self, actions: Tensor) -> Tensor:
        one_hot = F.one_hot(actions.long().clamp(min=0), self.n).float()
        return one_hot * (actions >= 0).unsqueeze(-1).float()


class MultiDiscreteHead(ActionHead):
    """``MultiDiscrete(nvec, start)`` (one dimension of choices): a categorical per entry,
    independent; the log-probability and entropy are the sums over entries. The agent's
    actions are indices from 0; the env gets ``start`` added (:meth:`to_env`)."""

    def __init__(self, space: spaces.MultiDiscrete) -> None:
        if len(space.nvec.shape) != 1:
            raise ActionSpaceError(
                f"unsupported action space: {space}; a MultiDiscrete action space must be "
                "one-dimensional"
            )
        self.space, self.nvec = space, [int(n) for n in space.nvec]
        self.start = np.asarray(getattr(space, "start", 0), dtype=np.int64)
        self.params_size = self.encoding_size = sum(self.nvec)
        self.shape, self.dtype = (len(self.nvec),), torch.long

    def to_env(self, actions: Tensor) -> np.ndarray:
        return actions.detach().numpy() + self.start

    def _log_probs(self, params: Tensor) -> list[Tensor]:
        return [F.log_softmax(p, -1) for p in params.split(self.nvec, dim=-1)]

    def log_prob(self, params: Tensor, actions: Tensor) -> Tensor:
        actions = actions.long().clamp(min=0)
        return sum(
            lp.gather(-1, actions[..., i : i + 1]).squeeze(-1)
            for i, lp in enumerate(self._log_probs(params))
        )

    def entropy(self, params: Tensor) -> Tensor:
        return sum(-(lp.exp() * lp).sum(-1) for lp in self._log_probs(params))

    def sample(self, params: Tensor, generator: torch.Generator | None = None) -> Tensor:
        parts = []
        for p in params.split(self.nvec, dim=-1):
            flat = torch.softmax(p.reshape(-1, p.shape[-1]), -1)
            parts.append(torch.multinomial(flat, 1, generator=generator)[:, 0])
        return torch.stack(parts, -1).reshape(*params.shape[:-1], len(self.nvec))

    def greedy(self, params: Tensor) -> Tensor:
        return torch.stack([p.argmax(-1) for p in params.split(self.nvec, dim=-1)], -1)

    def encode(self, actions: Tensor) -> Tensor:
        taken = (actions >= 0).float()
        parts = [
            F.one_hot(actions[..., i].long().clamp(min=0), n).float() * taken[..., i : i + 1]
            for i, n in enumerate(self.nvec)
        ]
        return torch.cat(parts, -1)


class MultiBinaryHead(ActionHead):
    """``MultiBinary(n)`` (one dimension): a Bernoulli per bit, independent."""

    def __init__(self, space: spaces.MultiBinary) -> None:
        n = space.n if isinstance(space.n, int) else None
        if n is None and len(space.shape) == 1:
            n = int(space.shape[0])
        if n is None:
            raise ActionSpaceError(
                f"unsupported action space: {space}; a MultiBinary action space must be "
                "one-dimensional"
            )
        self.space, self.n = space, int(n)
        self.params_size = self.encoding_size = self.n
        self.shape, self.dtype = (self.n,), torch.long

    def log_prob(self, params: Tensor, actions: Tensor) -> Tensor:
        bits = actions.clamp(min=0).to(params.dtype)
        return -F.binary_cross_entropy_with_logits(params, bits, reduction="none").sum(-1)

    def entropy(self, params: Tensor) -> Tensor:
        p = torch.sigmoid(params)
        return F.binary_cross_entropy_with_logits(params, p, reduction="none").sum(-1)

    def sample(self, params: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return torch.bernoulli(torch.sigmoid(params), generator=generator).long()

    def greedy(self, params: Tensor) -> Tensor:
        return (params > 0).long()

    def encode(self, actions: Tensor) -> Tensor:
        return actions.clamp(min=0).float()

    def to_env(self, actions: Tensor) -> np.ndarray:
        return actions.detach().numpy().astype(self.space.dtype)


class BoxHead(ActionHead):
    """``Box`` actions: a diagonal Gaussian, its mean from the network and a learned log
    standard deviation that does not depend on the state (``params`` = mean, log-std).
    Sampled unbounded, clipped to the bounds in :meth:`to_env` (see the module docstring).
    """

    def __init__(self, space: spaces.Box) -> None:
        if not np.issubdtype(space.dtype, np.floating):
            raise ActionSpaceError(f"unsupported action space: {space}; a Box must be float")
        self.space, self.size = space, int(math.prod(space.shape))
        self.params_size, self.encoding_size = 2 * self.size, self.size
        self.shape, self.dtype = tuple(space.shape), torch.float32
        low = np.broadcast_to(space.low, space.shape).astype(np.float64).reshape(-1)
        high = np.broadcast_to(space.high, space.shape).astype(np.float64).reshape(-1)
        bounded = np.isfinite(low) & np.isfinite(high)
        self._low, self._high = low, high
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf where unbounded: unused
            centre, half = (
                np.where(bounded, (low + high) / 2, 0.0),
                np.where(bounded, (high - low) / 2, 1.0),
            )
        self._centre = torch.tensor(centre, dtype=torch.float32)
        self._half = torch.tensor(half, dtype=torch.float32)

    @property
    def none(self) -> float:
        return math.nan

    def _normal(self, params: Tensor) -> torch.distributions.Normal:
        mean, log_std = params.split(self.size, dim=-1)
        return torch.distributions.Normal(mean, log_std.exp())

    def _flat(self, actions: Tensor) -> Tensor:
        return actions.reshape(*actions.shape[: actions.dim() - len(self.shape)], self.size)

    def log_prob(self, params: Tensor, actions: Tensor) -> Tensor:
        return self._normal(params).log_prob(self._flat(actions).to(params.dtype)).sum(-1)

    def entropy(self, params: Tensor) -> Tensor:
        return self._normal(params).entropy().sum(-1)

    def sample(self, params: Tensor, generator: torch.Generator | None = None) -> Tensor:
        mean, log_std = params.split(self.size, dim=-1)
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
        return (mean + log_std.exp() * noise).reshape(*params.shape[:-1], *self.shape)

    def greedy(self, params: Tensor) -> Tensor:
        return params[..., : self.size].reshape(*params.shape[:-1], *self.shape)

    def clip(self, actions: Tensor) -> Tensor:
        flat = self._flat(actions.detach()).double().numpy()
        return torch.from_numpy(np.clip(flat, self._low, self._high)).float()

    def encode(self, actions: Tensor) -> Tensor:
        flat = self._flat(actions).float()
        taken = ~torch.isnan(flat).any(-1, keepdim=True)
        flat = torch.nan_to_num(flat)
        low = torch.as_tensor(self._low, dtype=flat.dtype)
        high = torch.as_tensor(self._high, dtype=flat.dtype)
        clipped = torch.maximum(torch.minimum(flat, high), low)
        scaled = (clipped - self._centre) / self._half
        return scaled * taken.float()

    def to_env(self, actions: Tensor) -> np.ndarray:
        clipped = self.clip(actions).numpy().astype(self.space.dtype)
        return clipped.reshape(actions.shape[0], *self.shape)


def head_for(space: spaces.Space) -> ActionHead:
    """The head of an action space; :class:`ActionSpaceError` for one no head handles."""
    if isinstance(space, spaces.Discrete):
        return DiscreteHead(space)
    if isinstance(space, spaces.MultiDiscrete):
        return MultiDiscreteHead(space)
    if isinstance(space, spaces.MultiBinary):
        return MultiBinaryHead(space)
    if isinstance(space, spaces.Box):
        return BoxHead(space)
    raise ActionSpaceError(
        f"unsupported action space: {space}; allowed: Discrete, MultiDiscrete, MultiBinary, Box"
    )
