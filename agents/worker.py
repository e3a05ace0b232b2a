"""One A3C worker: act on its own envs, compute the loss, push gradients.

:func:`run_worker` is the loop and knows nothing of processes or of how gradients travel:
it takes a :class:`~fw_rl.agents.parameter_server.ParameterServer`, a ``should_stop`` callable
and a ``report`` callable. :func:`fw_rl.agents.parallel.worker_process` wraps it for a
``torch.multiprocessing`` process; a Ray actor can wrap it the same way.

Each rollout: act ``T`` steps without gradients (one step at a time through the core,
carrying its state), then run the rollout again in one batched call with gradients from
the state it started in, so backpropagation goes through time over the rollout
(truncated there). The parameters do not change in between, so both passes agree.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from gymnasium.vector import VectorEnv

from fw_rl.agents.config import A3CConfig
from fw_rl.agents.losses import actor_critic_loss, gae_advantages
from fw_rl.agents.model import ActorCritic, AgentState, build_model
from fw_rl.agents.parameter_server import ParameterServer
from fw_rl.envs.factory import (
    CATCH_ID,
    episode_successes,
    final_observations,
    make_vector_env,
)

FAULT_VARIABLE = "FW_RL_INJECT_FAULT"  # tests: "raise:<worker>:<update>" or "nan:<w>:<u>"


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the update was not applied."""


@dataclass
class UpdateReport:
    """What a worker tells the trainer after each update."""

    worker: int
    frames: int
    episode_returns: list[float] = field(default_factory=list)
    episode_successes: list[bool] = field(default_factory=list)
    loss: float = 0.0
    entropy: float = 0.0
    value_loss: float = 0.0
    grad_norm: float = 0.0


def _injected_fault(worker: int) -> tuple[str, int] | None:
    spec = os.environ.get(FAULT_VARIABLE, "")
    if not spec:
        return None
    kind, target, update = spec.split(":")
    return (kind, int(update)) if int(target) == worker else None


@dataclass
class Rollout:
    """``T`` steps of ``K`` envs, time-major. ``resets[t]``: step ``t`` starts an episode
    (the agent's state is zeroed before it); ``dones[t]``: step ``t`` ended one.

    ``rewards`` are the env's, plus ``gamma * V(final observation)`` at a step that
    truncated an episode (a time limit, not the task, ended it): the return is bootstrapped
    there and, like any episode end, not carried across into the next episode."""

    obs: torch.Tensor  # [T, K, *observation]
    actions: torch.Tensor  # [T, K]
    rewards: torch.Tensor  # [T, K]
    dones: torch.Tensor  # [T, K] bool
    resets: torch.Tensor  # [T, K] bool
    logits: torch.Tensor  # [T, K, A] the policy the actions were drawn from
    start_state: AgentState  # the agent's state before step 0
    bootstrap: torch.Tensor  # [K] value of the observation after step T - 1
    finished_returns: list[float]
    finished_successes: list[bool] = field(default_factory=list)  # where the env says


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
    def collect(self, steps: int) -> Rollout:
        env, model = self.env, self.model
        k = env.num_envs
        obs_buf = torch.empty(steps, k, *env.single_observation_space.shape)
        actions = torch.empty(steps, k, dtype=torch.long)
        rewards = torch.empty(steps, k)
        dones = torch.empty(steps, k, dtype=torch.bool)
        resets = torch.empty(steps, k, dtype=torch.bool)
        logits_buf = torch.empty(steps, k, env.single_action_space.n)
        start_state, finished, successes = self.state, [], []
        state, starts, obs = self.state, self.starts, self.obs
        for t in range(steps):
            obs_buf[t].copy_(torch.from_numpy(obs))  # the env reuses its buffer
            resets[t] = starts
            logits, _, state = model.act(obs_buf[t], state, starts)
            logits_buf[t] = logits
            actions[t] = torch.multinomial(torch.softmax(logits, -1), 1)[:, 0]
            state = state.after(actions[t])
            obs, reward, terminated, truncated, info = env.step(actions[t].numpy())
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
            start_state,
            bootstrap,
            finished,
            successes,
        )

    def truncation_values(
        self, obs: np.ndarray, info: dict, state: AgentState, truncated: np.ndarray
    ) -> torch.Tensor:
        """``V(final observation)`` where an episode was truncated (0 elsewhere), from the
        state the agent had reached in it (before the reset of the next episode)."""
        final = final_observations(obs, info, truncated)
        _, value, _ = self.model.act(torch.from_numpy(final), state, None)
        return value * torch.from_numpy(truncated).to(value.dtype)


def run_worker(
    worker: int,
    config: A3CConfig,
    server: ParameterServer,
    should_stop: Callable[[], bool],
    report: Callable[[UpdateReport], None],
) -> None:
    """Train until ``should_stop()``; each update is reported through ``report``."""
    k, steps = config.envs_per_worker, config.steps_per_rollout
    torch.manual_seed(config.seed * 10_007 + worker)
    env = make_vector_env(config.env, config.env_options, k, training=True)
    info = config.env_info
    local = build_model(config, info.observation_space, info.action_space)
    collector = RolloutCollector(
        env, local, config.seed * 1_000_003 + worker * k, config.gamma, config.env
    )
    fault = _injected_fault(worker)
    update = 0
    while not should_stop():
        server.pull(local)
        r = collector.collect(steps)
        # the same steps again, with gradients, from the state the rollout started in
        logits, values, _ = local(r.obs, r.start_state, r.resets, r.actions)
        advantages = gae_advantages(
            r.rewards, values.detach(), r.dones, r.bootstrap, config.gamma, config.gae_lambda
        )
        returns = advantages + values.detach()
        parts = actor_critic_loss(
            logits, values, r.actions, advantages, returns, config.value_cost, config.entropy_cost
        )
        update += 1
        if fault is not None and update == fault[1]:
            if fault[0] == "raise":
                raise RuntimeError(f"injected fault in worker {worker} at update {update}")
            parts.total = parts.total * float("nan")
        if not torch.isfinite(parts.total):
            raise NonFiniteLossError(
                f"worker {worker}: loss is {parts.total.item()} at update {update} "
                f"(policy {parts.policy.item():.4g}, value {parts.value.item():.4g}); "
                "try a lower --lr or --max-grad-norm"
            )
        parts.total.backward()
        grad_norm = server.push(local)
        report(
            UpdateReport(
                worker,
                steps * k,
                r.finished_returns,
                r.finished_successes,
                parts.total.item(),
                parts.entropy.item(),
                parts.value.item(),
                grad_norm,
            )
        )
