"""Rollouts: a recurrent agent acting on a vector env, for every algorithm (A3C's workers,
PPO's trainer), time-major.

The collector carries the agent's state and each env's running return across rollouts;
an episode's end is a reset mask for the core (its state is zeroed before the next step),
and a truncated episode is bootstrapped from the value of its final observation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from gymnasium.vector import VectorEnv

from fw_rl.agents.model import ActorCritic, AgentState
from fw_rl.envs.factory import CATCH_ID, episode_successes, final_observations


@dataclass
class Rollout:
    """``T`` steps of ``K`` envs, time-major. ``resets[t]``: step ``t`` starts an episode
    (the agent's state is zeroed before it); ``dones[t]``: step ``t`` ended one.

    ``rewards`` are the env's, plus ``gamma * V(final observation)`` at a step that
    truncated an episode (a time limit, not the task, ended it): the return is bootstrapped
    there and, like any episode end, not carried across into the next episode."""

    obs: torch.Tensor  # [T, K, *observation]
    actions: torch.Tensor  # [T, K, *action shape] as sampled (a Box's unclipped)
    rewards: torch.Tensor  # [T, K]
    dones: torch.Tensor  # [T, K] bool
    resets: torch.Tensor  # [T, K] bool
    logits: torch.Tensor  # [T, K, P] the policy the actions were drawn from (its parameters)
    values: torch.Tensor  # [T, K] the value of each step's observation, as acted
    start_state: AgentState  # the agent's state before step 0
    bootstrap: torch.Tensor  # [K] value of the observation after step T - 1
    finished_returns: list[float]
    finished_successes: list[bool] = field(default_factory=list)  # where the env says
    # with ``collect(steps, state_every=L)``: the state before steps 0, L, 2L, ...
    sequence_states: list[AgentState] = field(default_factory=list)


class RolloutCollector:
    """Steps ``K`` envs of a same-step-autoreset vector env with a model, carrying the
    agent's state and each env's running return across rollouts.

    Args:
        env: the vector env (:func:`fw_rl.envs.factory.make_vector_env`).
        model: the actor-critic.
        seed: the seed of the first reset.
        gamma: the discount, for the value of a truncated episode's last observation.
        env_id: the env's id, to know where it reports successes.
    """

    def __init__(
        self,
        env: VectorEnv,
        model: ActorCritic,
        seed: int,
        gamma: float = 0.99,
        env_id: str = CATCH_ID,
    ) -> None:
        self.env, self.model, self.gamma, self.env_id = env, model, gamma, env_id
        k = env.num_envs
        self.obs, _ = env.reset(seed=seed)
        self.state = model.initial_state(k)
        self.starts = torch.ones(k, dtype=torch.bool)
        self.episode_return = np.zeros(k)

    @torch.no_grad()
    def collect(self, steps: int, state_every: int = 0) -> Rollout:
        """``steps`` steps of every env; with ``state_every`` the agent's state before each
        ``state_every``-th step is kept too (PPO's sequences start from them)."""
        env, model = self.env, self.model
        k = env.num_envs
        obs_buf = torch.empty(steps, k, *env.single_observation_space.shape)
        head = model.head
        actions = torch.empty(steps, k, *head.shape, dtype=head.dtype)
        rewards = torch.empty(steps, k)
        dones = torch.empty(steps, k, dtype=torch.bool)
        resets = torch.empty(steps, k, dtype=torch.bool)
        logits_buf = torch.empty(steps, k, head.params_size)
        values = torch.empty(steps, k)
        start_state, finished, successes, sequence_states = self.state, [], [], []
        state, starts, obs = self.state, self.starts, self.obs
        for t in range(steps):
            obs_buf[t].copy_(torch.from_numpy(obs))  # the env reuses its buffer
            resets[t] = starts
            if state_every and t % state_every == 0:
                sequence_states.append(state)
            logits, values[t], state = model.act(obs_buf[t], state, starts)
            logits_buf[t] = logits
            actions[t] = head.sample(logits)
            state = state.after(actions[t])
            obs, reward, terminated, truncated, info = env.step(head.to_env(actions[t]))
            done = terminated | truncated
            rewards[t] = torch.from_numpy(reward)
            self.episode_return += reward
            if truncated.any():
                rewards[t] += self.gamma * self.truncation_values(obs, info, state, truncated)
            if done.any():
                success = episode_successes(self.env_id, self.episode_return, info, done)
                if success is not None:
                    successes.extend(success.tolist())
                finished.extend(self.episode_return[done].tolist())
                self.episode_return[done] = 0.0
            dones[t] = starts = torch.from_numpy(done)
        _, bootstrap, _ = model.act(torch.from_numpy(obs), state, starts)
        self.state, self.starts, self.obs = state, starts, obs
        return Rollout(
            obs_buf,
            actions,
            rewards,
            dones,
            resets,
            logits_buf,
            values,
            start_state,
            bootstrap,
            finished,
            successes,
            sequence_states,
        )

    def truncation_values(
        self, obs: np.ndarray, info: dict, state: AgentState, truncated: np.ndarray
    ) -> torch.Tensor:
        """``V(final observation)`` where an episode was truncated (0 elsewhere), from the
        state the agent had reached in it (before the reset of the next episode)."""
        final = final_observations(obs, info, truncated)
        _, value, _ = self.model.act(torch.from_numpy(final), state, None)
        return value * torch.from_numpy(truncated).to(value.dtype)
