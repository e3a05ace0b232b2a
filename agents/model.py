"""The actor-critic network: observation encoder, recurrent core, policy and value heads."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import Tensor, nn

from fw_rl.cores import RecurrentCore, State, core_declaration, make_core

if TYPE_CHECKING:
    from fw_rl.agents.config import A3CConfig


class AgentState(NamedTuple):
    """What the agent carries from one step to the next: the core's recurrent state and
    the action it took last (``[B]``, -1 where none has been taken in the episode yet).

    The model zeroes both at a reset; after choosing actions, ``state.after(actions)``
    records them, so collectors, evaluation and watching need no rule of their own.
    """

    core: State
    last_action: Tensor

    def after(self, actions: Tensor) -> AgentState:
        return self._replace(last_action=actions.long())


class ActorCritic(nn.Module):
    """``[board -> Linear + ReLU, previous action] -> core -> (policy logits, value)``.

    The core's hidden size is given here once (``hidden_size``) and read back from the
    core everywhere else. With ``previous_action`` (ours, on by default) the core also
    gets the one-hot previous action (zeros at an episode's first step): once Catch's
    screen is blank it is the only way to know where the sampled actions moved the paddle.
    The previous action is part of the agent's state (:class:`AgentState`).

    Args:
        observation_shape: shape of one observation (``(size, size)`` for Catch; any
            other space flattened, one-hot for its discrete parts).
        num_actions: size of the discrete action space.
        core: a registered core name (``fw_rl.cores.CORES``).
        hidden_size: the core's hidden size.
        encoder_size: width of the encoder's output.
        core_options: extra options for the core (e.g. ``{"decay": 0.9}``).
        previous_action: feed the previous action to the core.
    """

    def __init__(
        self,
        observation_shape: tuple[int, ...],
        num_actions: int,
        core: str,
        hidden_size: int,
        encoder_size: int = 128,
        core_options: dict | None = None,
        previous_action: bool = True,
    ) -> None:
        super().__init__()
        self.observation_shape = tuple(observation_shape)
        self.num_actions = num_actions
        self.previous_action = previous_action
        self.encoder = nn.Sequential(
            nn.Linear(math.prod(self.observation_shape), encoder_size), nn.ReLU()
        )
        core_input = encoder_size + (num_actions if previous_action else 0)
        self.core_name = core
        self.core: RecurrentCore = make_core(core, core_input, hidden_size, **(core_options or {}))
        self.policy = nn.Linear(self.core.hidden_size, num_actions)
        self.value = nn.Linear(self.core.hidden_size, 1)
        with torch.no_grad():  # start near a uniform policy
            self.policy.weight.mul_(0.01)
            self.policy.bias.zero_()

    @property
    def has_attention(self) -> bool:
        """Whether the core declares an attention over past steps to show."""
        return core_declaration(self.core_name).has_attention

    def initial_state(self, batch_size: int) -> AgentState:
        none = torch.full((batch_size,), -1, dtype=torch.long)
        return AgentState(self.core.initial_state(batch_size), none)

    def previous_actions(
        self,
        steps: int,
        batch: int,
        state: AgentState | None,
        reset: Tensor | None,
        actions: Tensor | None,
    ) -> Tensor:
        """The action before each step, ``[T, B]``: the state's last one before step 0,
        ``actions[t - 1]`` before step ``t``, and -1 at a reset."""
        if state is not None:
            first = state.last_action
        else:
            first = torch.full((batch,), -1, dtype=torch.long)
        if steps > 1:
            if actions is None or actions.shape[0] < steps - 1:
                raise ValueError(
                    "a call of several steps needs the actions taken (actions [T, B]) "
                    "to know each step's previous action"
                )
            prev = torch.cat([first[None], actions[: steps - 1].long()])
        else:
            prev = first[None]
        return prev if reset is None else prev.masked_fill(reset, -1)

    def core_input(self, obs: Tensor, prev_actions: Tensor) -> Tensor:
        """obs ``[T, B, ...]``, prev_actions ``[T, B]`` (-1: none) -> ``[T, B, input]``."""
        steps, batch = obs.shape[:2]
        features = self.encoder(obs.reshape(steps, batch, -1).float())
        if not self.previous_action:
            return features
        one_hot = F.one_hot(prev_actions.clamp(min=0), self.num_actions).to(features.dtype)
        one_hot = one_hot * (prev_actions >= 0).unsqueeze(-1).to(features.dtype)
        return torch.cat([features, one_hot], dim=-1)

    def _inputs(self, obs, state, reset, actions):
        prev = self.previous_actions(obs.shape[0], obs.shape[1], state, reset, actions)
        return self.core_input(obs, prev), None if state is None else state.core

    def _next_state(self, core_state: State, obs, state, reset, actions) -> AgentState:
        steps, batch = obs.shape[:2]
        if actions is not None and actions.shape[0] >= steps:
            last = actions[steps - 1].long()
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
    return ActorCritic(
        model_observation_space(observation_space).shape,
        int(action_space.n),
        core=config.core,
        hidden_size=config.hidden_size,
        encoder_size=config.encoder_size,
        core_options=config.core_kwargs,
        previous_action=config.previous_action,
    )
