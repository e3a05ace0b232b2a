"""The actor-critic network: observation encoder, recurrent core, policy and value heads."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from fw_rl.cores import RecurrentCore, State, make_core


class ActorCritic(nn.Module):
    """``board -> Linear + ReLU -> core -> (policy logits, value)``.

    The core's hidden size is given here once (``hidden_size``) and read back from the
    core everywhere else.

    Args:
        observation_shape: shape of one observation (``(size, size)`` for Catch).
        num_actions: size of the discrete action space.
        core: a registered core name (``fw_rl.cores.CORES``).
        hidden_size: the core's hidden size.
        encoder_size: width of the encoder's output (the core's input).
        core_options: extra options for the core (e.g. ``{"decay": 0.9}``).
    """

    def __init__(
        self,
        observation_shape: tuple[int, ...],
        num_actions: int,
        core: str,
        hidden_size: int,
        encoder_size: int = 128,
        core_options: dict | None = None,
    ) -> None:
        super().__init__()
        self.observation_shape = tuple(observation_shape)
        self.encoder = nn.Sequential(
            nn.Linear(math.prod(self.observation_shape), encoder_size), nn.ReLU()
        )
        self.core: RecurrentCore = make_core(
            core, encoder_size, hidden_size, **(core_options or {})
        )
        self.policy = nn.Linear(self.core.hidden_size, num_actions)
        self.value = nn.Linear(self.core.hidden_size, 1)
        with torch.no_grad():  # start near a uniform policy
            self.policy.weight.mul_(0.01)
            self.policy.bias.zero_()

    def initial_state(self, batch_size: int) -> State:
        return self.core.initial_state(batch_size)

    def forward(
        self, obs: Tensor, state: State | None = None, reset: Tensor | None = None
    ) -> tuple[Tensor, Tensor, State]:
        """obs ``[T, B, *observation_shape]``, reset ``[T, B]`` ->
        logits ``[T, B, A]``, values ``[T, B]``, state."""
        steps, batch = obs.shape[:2]
        features = self.encoder(obs.reshape(steps, batch, -1))
        hidden, state = self.core(features, state, reset)
        return self.policy(hidden), self.value(hidden).squeeze(-1), state

    def forward_with_attention(
        self, obs: Tensor, state: State | None = None, reset: Tensor | None = None
    ):
        """As ``forward``, plus the fast memory's attention over past steps ``[T, B, T]``
        (fast-weights core only; see ``FastWeightsRNN.forward_with_attention``)."""
        if not hasattr(self.core, "forward_with_attention"):
            raise TypeError(f"the {type(self.core).__name__} core has no attention to show")
        steps, batch = obs.shape[:2]
        features = self.encoder(obs.reshape(steps, batch, -1))
        hidden, state, attention = self.core.forward_with_attention(features, state, reset)
        return self.policy(hidden), self.value(hidden).squeeze(-1), state, attention

    def act(self, obs: Tensor, state: State, reset: Tensor | None = None):
        """One step for a batch: obs ``[B, ...]``, reset ``[B]`` ->
        logits ``[B, A]``, values ``[B]``, state."""
        logits, values, state = self(obs[None], state, None if reset is None else reset[None])
        return logits[0], values[0], state
