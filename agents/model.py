"""The actor-critic network: observation encoder, recurrent core, policy and value heads."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor, nn

from fw_rl.agents.action_heads import ActionHead, BoxHead, head_for
from fw_rl.cores import RecurrentCore, State, core_declaration, make_core

if TYPE_CHECKING:
    from fw_rl.agents.config import A3CConfig


class AgentState(NamedTuple):
    """What the agent carries from one step to the next: the core's recurrent state and
    the action it took last (``[B, *action shape]``; "none" where none has been taken in
    the episode yet: -1 for integer actions, NaN for a ``Box``, see ``action_heads.py``).

    The model zeroes both at a reset; after choosing actions, ``state.after(actions)``
    records them, so collectors, evaluation and watching need no rule of their own.
    """

    core: State
    last_action: Tensor

    def after(self, actions: Tensor) -> AgentState:
        return self._replace(last_action=actions.to(self.last_action.dtype))


def is_image(shape: tuple[int, ...], dtype) -> bool:
    """An image observation: ``H x W x C`` bytes (``uint8``), as Gymnasium's image envs and
    MiniGrid's ``ImgObsWrapper`` give; it goes through :class:`ConvEncoder`."""
    return len(shape) == 3 and dtype == torch.uint8


class ConvEncoder(nn.Module):
    """An ``H x W x C`` image (bytes, divided by 255) -> ``[..., encoder_size]``.

    Small images (the shorter side under 36 pixels: MiniGrid's 7 x 7 views) go through two
    3 x 3 convolutions that keep their size; larger ones through the DQN's three (8 x 8
    stride 4, 4 x 4 stride 2, 3 x 3 stride 1; Mnih et al. 2015); then a linear layer, ReLU.
    """

    def __init__(self, shape: tuple[int, int, int], encoder_size: int) -> None:
        super().__init__()
        height, width, channels = shape
        if min(height, width) < 36:
            convs = [nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU()]
            convs += [nn.Conv2d(16, 32, 3, padding=1), nn.ReLU()]
        else:
            convs = [nn.Conv2d(channels, 32, 8, stride=4), nn.ReLU()]
            convs += [nn.Conv2d(32, 64, 4, stride=2), nn.ReLU()]
            convs += [nn.Conv2d(64, 64, 3, stride=1), nn.ReLU()]
        self.convs = nn.Sequential(*convs, nn.Flatten())
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, channels, height, width)).shape[-1]
        self.out = nn.Sequential(nn.Linear(flat, encoder_size), nn.ReLU())

    def forward(self, x: Tensor) -> Tensor:
        lead = x.shape[:-3]
        images = x.reshape(-1, *x.shape[-3:]).permute(0, 3, 1, 2).float() / 255.0
        return self.out(self.convs(images)).reshape(*lead, -1)


class GaussianPolicy(nn.Module):
    """A ``Box`` action's policy layer: the mean from a linear layer, a learned log
    standard deviation that does not depend on the state; returns ``[mean, log_std]``."""

    def __init__(self, hidden_size: int, size: int) -> None:
        super().__init__()
        self.mean = nn.Linear(hidden_size, size)
        self.log_std = nn.Parameter(torch.zeros(size))

    def forward(self, hidden: Tensor) -> Tensor:
        mean = self.mean(hidden)
        return torch.cat([mean, self.log_std.expand_as(mean)], dim=-1)


class ActorCritic(nn.Module):
    """``[observation -> encoder, previous action] -> core -> (policy, value)``.

    The core's hidden size is given here once (``hidden_size``) and read back from the
    core everywhere else. With ``previous_action`` (ours, on by default) the core also
    gets the one-hot previous action (zeros at an episode's first step): once Catch's
    screen is blank it is the only way to know where the sampled actions moved the paddle.
    The previous action is part of the agent's state (:class:`AgentState`).

    The policy's output is its distribution's parameters (logits for discrete actions; a
    Gaussian's mean and log-std for a ``Box``), read by the action space's head
    (:mod:`fw_rl.agents.action_heads`). Observations are flattened into a linear layer +
    ReLU, or, for an image (``H x W x C`` bytes, ``observation_dtype=torch.uint8``), go
    through a small convolutional encoder (:class:`ConvEncoder`).

    Args:
        observation_shape: shape of one observation (``(size, size)`` for Catch; any
            other space flattened, one-hot for its discrete parts).
        action_space: the env's action space, or an int ``n`` for ``Discrete(n)``.
        core: a registered core name (``fw_rl.cores.CORES``).
        hidden_size: the core's hidden size.
        encoder_size: width of the encoder's output.
        core_options: extra options for the core (e.g. ``{"decay": 0.9}``).
        previous_action: feed the previous action to the core.
        observation_dtype: ``torch.uint8`` for an image observation.
    """

    def __init__(
        self,
        observation_shape: tuple[int, ...],
        action_space: spaces.Space | int,
        core: str,
        hidden_size: int,
        encoder_size: int = 128,
        core_options: dict | None = None,
        previous_action: bool = True,
        observation_dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.observation_shape = tuple(observation_shape)
        if isinstance(action_space, int):
            action_space = spaces.Discrete(action_space)
        self.head: ActionHead = head_for(action_space)
        self.previous_action = previous_action
        self.image = is_image(self.observation_shape, observation_dtype)
        if self.image:
            self.encoder = ConvEncoder(self.observation_shape, encoder_size)
        else:
            self.encoder = nn.Sequential(
                nn.Linear(math.prod(self.observation_shape), encoder_size), nn.ReLU()
            )
        core_input = encoder_size + (self.head.encoding_size if previous_action else 0)
        self.core_name = core
        self.core: RecurrentCore = make_core(core, core_input, hidden_size, **(core_options or {}))
        hidden = self.core.hidden_size
        if isinstance(self.head, BoxHead):
            self.policy = GaussianPolicy(hidden, self.head.size)
            first = self.policy.mean
        else:
            self.policy = first = nn.Linear(hidden, self.head.params_size)
        self.value = nn.Linear(hidden, 1)
        with torch.no_grad():  # start near a uniform policy (a Gaussian: mean 0, std 1)
            first.weight.mul_(0.01)
            first.bias.zero_()

    @property
    def has_attention(self) -> bool:
        """Whether the core declares an attention over past steps to show."""
        return core_declaration(self.core_name).has_attention

    def initial_state(self, batch_size: int) -> AgentState:
        return AgentState(self.core.initial_state(batch_size), self.head.none_actions(batch_size))

    def previous_actions(
        self,
        steps: int,
        batch: int,
        state: AgentState | None,
        reset: Tensor | None,
        actions: Tensor | None,
    ) -> Tensor:
        """The action before each step, ``[T, B, *action shape]``: the state's last one
        before step 0, ``actions[t - 1]`` before step ``t``, and "none" at a reset."""
        head = self.head
        first = state.last_action if state is not None else head.none_actions(batch)
        if steps > 1:
            if actions is None or actions.shape[0] < steps - 1:
                raise ValueError(
                    "a call of several steps needs the actions taken (actions [T, B]) "
                    "to know each step's previous action"
                )
            prev = torch.cat([first[None], actions[: steps - 1].to(first.dtype)])
        else:
            prev = first[None]
        if reset is None:
            return prev
        mask = reset.view(*reset.shape, *([1] * len(head.shape)))
        return prev.masked_fill(mask, head.none)

    def core_input(self, obs: Tensor, prev_actions: Tensor) -> Tensor:
        """obs ``[T, B, ...]``, prev_actions ``[T, B]`` (-1: none) -> ``[T, B, input]``."""
        steps, batch = obs.shape[:2]
        if self.image:
            features = self.encoder(obs)
        else:
            features = self.encoder(obs.reshape(steps, batch, -1).float())
        if not self.previous_action:
            return features
        encoded = self.head.encode(prev_actions).to(features.dtype)
        return torch.cat([features, encoded], dim=-1)

    def _inputs(self, obs, state, reset, actions):
        prev = self.previous_actions(obs.shape[0], obs.shape[1], state, reset, actions)
        return self.core_input(obs, prev), None if state is None else state.core

    def _next_state(self, core_state: State, obs, state, reset, actions) -> AgentState:
        steps, batch = obs.shape[:2]
        if actions is not None and actions.shape[0] >= steps:
            last = actions[steps - 1].to(self.head.dtype)
        else:  # the action after the last step is not chosen yet
            last = self.previous_actions(steps, batch, state, reset, actions)[-1]
        return AgentState(core_state, last)

    def forward(
        self,
        obs: Tensor,
        state: AgentState | None = None,
        reset: Tensor | None = None,
        actions: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, AgentState]:
        """obs ``[T, B, *observation_shape]``; reset ``[T, B]`` (step ``t`` starts an
        episode); actions ``[T, B]``, the actions taken at each step (needed for ``T > 1``:
        each step's input holds the one before) -> logits ``[T, B, A]``, values ``[T, B]``,
        state. The state's last action is ``actions[-1]``, or as it was when ``actions``
        ends before the last step (then record it with ``state.after``)."""
        inputs, core_state = self._inputs(obs, state, reset, actions)
        hidden, core_state = self.core(inputs, core_state, reset)
        state = self._next_state(core_state, obs, state, reset, actions)
        return self.policy(hidden), self.value(hidden).squeeze(-1), state

    def forward_with_attention(
        self,
        obs: Tensor,
        state: AgentState | None = None,
        reset: Tensor | None = None,
        actions: Tensor | None = None,
    ):
        """As ``forward``, plus the fast memory's attention over past steps ``[T, B, T]``
        (a core that declares ``has_attention``; see ``FastWeightsRNN.forward_with_attention``)."""
        if not self.has_attention:
            raise TypeError(f"the {self.core_name} core has no attention to show")
        inputs, core_state = self._inputs(obs, state, reset, actions)
        hidden, core_state, attention = self.core.forward_with_attention(inputs, core_state, reset)
        state = self._next_state(core_state, obs, state, reset, actions)
        return self.policy(hidden), self.value(hidden).squeeze(-1), state, attention

    def core_trace(self, obs: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Whole episodes from their start, for a probe: the core's inputs ``[T, B, I]``
        (the encoded observation and the previous action), its hidden states ``[T, B, H]``
        and the fast memory's attention ``[T, B, T]`` (a core with attention)."""
        if not self.has_attention:
            raise TypeError(f"the {self.core_name} core has no attention to show")
        inputs, core_state = self._inputs(obs, None, None, actions)
        hidden, _, attention = self.core.forward_with_attention(inputs, core_state, None)
        return inputs, hidden, attention

    def act(self, obs: Tensor, state: AgentState, reset: Tensor | None = None):
        """One step for a batch: obs ``[B, ...]``, reset ``[B]`` -> logits ``[B, A]``,
        values ``[B]``, state (record the chosen actions with ``state.after(actions)``)."""
        logits, values, state = self(obs[None], state, None if reset is None else reset[None])
        return logits[0], values[0], state


def build_model(
    config: A3CConfig,
    observation_space: spaces.Space | None = None,
    action_space: spaces.Space | None = None,
) -> ActorCritic:
    """The one place an A3C config becomes a model: every agent field of ``config``
    (``core``, ``hidden_size``, ``encoder_size``, ``core_options``, ``previous_action``)
    is used here, and the input and output sizes come from the env's spaces (those of
    ``config.env`` unless given; a space other than a ``Box`` is flattened as the vector
    envs flatten it, :func:`fw_rl.envs.factory.model_observation_space`)."""
    from fw_rl.envs.factory import check_spaces, model_observation_space

    if observation_space is None or action_space is None:
        info = config.env_info
        observation_space, action_space = info.observation_space, info.action_space
    check_spaces(observation_space, action_space)
    seen = model_observation_space(observation_space)
    return ActorCritic(
        seen.shape,
        action_space,
        core=config.core,
        hidden_size=config.hidden_size,
        encoder_size=config.encoder_size,
        core_options=config.core_kwargs,
        previous_action=config.previous_action,
        observation_dtype=torch.uint8 if seen.dtype == np.uint8 else torch.float32,
    )
