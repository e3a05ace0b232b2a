"""One A3C worker: act on its own envs, compute the loss, push gradients.

:func:`run_worker` is the loop and knows nothing of processes or of how gradients travel:
it takes a :class:`~fw_rl.agents.a3c.parameter_server.ParameterServer`, a ``should_stop`` callable
and a ``report`` callable. :func:`fw_rl.agents.a3c.parallel.worker_process` wraps it for a
``torch.multiprocessing`` process; a Ray actor can wrap it the same way.

Each rollout (:class:`~fw_rl.agents.rollout.RolloutCollector`): act ``T`` steps without
gradients (one step at a time through the core, carrying its state), then run the rollout
again in one batched call with gradients from the state it started in, so backpropagation
goes through time over the rollout (truncated there). The parameters do not change in
between, so both passes agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from fw_rl.agents.a3c.faults import with_injected_faults
from fw_rl.agents.a3c.parameter_server import ParameterServer
from fw_rl.agents.config import A3CConfig
from fw_rl.agents.losses import NonFiniteLossError, actor_critic_loss, gae_advantages
from fw_rl.agents.model import build_model
from fw_rl.agents.rollout import RolloutCollector
from fw_rl.envs.factory import make_vector_env


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
    env = make_vector_env(
        config.env, config.env_options, k, training=True, wrappers=config.wrappers
    )
    info = config.env_info
    local = build_model(config, info.observation_space, info.action_space)
    collector = RolloutCollector(
        env, local, config.seed * 1_000_003 + worker * k, config.gamma, config.env
    )
    server = with_injected_faults(server, worker)  # the tests' faults (agents/a3c/faults.py)
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
            logits,
            values,
            r.actions,
            advantages,
            returns,
            config.value_cost,
            config.entropy_cost,
            local.head,
        )
        update += 1
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
