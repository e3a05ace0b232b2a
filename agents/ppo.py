"""Recurrent PPO with any core: the whole algorithm, top to bottom.

Proximal policy optimisation (Schulman et al. 2017) with generalised advantage estimation
(Schulman et al. 2016), for a recurrent agent (:class:`~fw_rl.agents.model.ActorCritic`
with any registered core), handled as CleanRL's ``ppo_atari_lstm.py`` handles its LSTM but
without its per-step loop:

1. **Rollout.** One process steps ``num_envs`` envs for ``rollout_steps`` steps with the
   current policy (:class:`~fw_rl.agents.rollout.RolloutCollector`, on the CPU), keeping the
   logits, the values and the agent's state before every ``sequence_length``-th step.
2. **Advantages.** GAE over the rollout (:func:`~fw_rl.agents.losses.gae_advantages`);
   episode ends stop it, truncated episodes are bootstrapped from their final observation.
3. **Sequences.** The rollout ``[T, K]`` is cut into ``K * T / L`` sequences of ``L`` steps
   (:func:`cut_into_sequences`), each with the state the rollout had at its start and its
   reset masks, so a sequence run alone gives the rollout's outputs (tested).
4. **Epochs.** ``epochs`` passes, each over ``minibatches`` random minibatches of whole
   sequences; each minibatch is one masked call of the core over ``[L, N]`` (no Python loop
   over steps), then the clipped loss (:func:`ppo_loss`), the gradient clipped, an Adam step
   (eps 1e-5). The learning rate decays linearly to 0 over the frame budget.

The update runs on ``--device`` (a GPU when one is there); the rollouts stay on the CPU,
where stepping envs one step at a time is cheapest, and the acting copy of the model gets
the new weights after each update. :class:`PPOTrainer` is the run around it, the same run
session as the A3C's (:class:`~fw_rl.agents.agent_run.AgentRun`): run directory, logs,
TensorBoard, evaluation, best and periodic checkpoints, resume, signals and exit codes.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from fw_rl.agents.action_heads import ActionHead, categorical_entropy, categorical_log_prob
from fw_rl.agents.agent_run import RUN_METRICS, AgentRun, Stop, default_run_dir
from fw_rl.agents.config import PPOConfig
from fw_rl.agents.losses import NonFiniteLossError, gae_advantages
from fw_rl.agents.model import ActorCritic, AgentState, build_model
from fw_rl.agents.rollout import Rollout, RolloutCollector
from fw_rl.checkpoint import load_model_state
from fw_rl.envs.factory import make_vector_env
from fw_rl.run_dir import describe_os_error
from fw_rl.run_session import EXIT_FAILED, EXIT_NONFINITE, EXIT_WRITE_FAILED

GRADIENT_PARTS = ("encoder", "core", "policy", "value")  # the ActorCritic's modules
METRICS_FIELDS = [
    *RUN_METRICS,
    "loss",
    "policy_loss",
    "value_loss",
    "entropy",
    "approx_kl",
    "clip_fraction",
    "grad_norm",
    *(f"grad_norm_{part}" for part in GRADIENT_PARTS),  # each part's, before the clip
    "lr",
]


# ---- the loss --------------------------------------------------------------------------------


@dataclass
class PPOLoss:
    total: Tensor
    policy: Tensor
    value: Tensor
    entropy: Tensor
    approx_kl: Tensor  # E[(r - 1) - log r], r the probability ratio (Schulman's k3)
    clip_fraction: Tensor  # the share of steps whose ratio was clipped


def ppo_loss(
    logits: Tensor,
    values: Tensor,
    actions: Tensor,
    old_log_probs: Tensor,
    old_values: Tensor,
    advantages: Tensor,
    returns: Tensor,
    clip: float = 0.2,
    value_clip: bool = True,
    value_cost: float = 0.5,
    entropy_cost: float = 0.01,
    head: ActionHead | None = None,
) -> PPOLoss:
    """The clipped PPO loss, averaged over the steps.

    ``r = pi(a) / pi_old(a)``; ``policy = -mean(min(r A, clip(r, 1 - c, 1 + c) A))``;
    ``value = mean(max((V - R)^2, (V_old + clip(V - V_old, -c, c) - R)^2)) / 2`` (without
    the clipped term when ``value_clip`` is off); ``entropy = mean(H(pi))``; and
    ``total = policy + value_cost * value - entropy_cost * entropy``. Any shape of steps:
    logits ``[..., A]`` (the distribution's parameters, ``head``'s; None: a categorical),
    actions ``[..., *action shape]``, the rest ``[...]``.
    """
    chosen = (categorical_log_prob if head is None else head.log_prob)(logits, actions)
    log_ratio = chosen - old_log_probs
    ratio = log_ratio.exp()
    unclipped = ratio * advantages
    clipped = ratio.clamp(1.0 - clip, 1.0 + clip) * advantages
    policy = -torch.min(unclipped, clipped).mean()
    value_error = (values - returns).pow(2)
    if value_clip:
        moved = old_values + (values - old_values).clamp(-clip, clip)
        value_error = torch.max(value_error, (moved - returns).pow(2))
    value = 0.5 * value_error.mean()
    entropy = (categorical_entropy if head is None else head.entropy)(logits).mean()
    total = policy + value_cost * value - entropy_cost * entropy
    with torch.no_grad():
        approx_kl = ((ratio - 1.0) - log_ratio).mean()
        clip_fraction = ((ratio - 1.0).abs() > clip).float().mean()
    return PPOLoss(total, policy, value, entropy, approx_kl, clip_fraction)


# ---- sequences -------------------------------------------------------------------------------


def _cat_states(states: list[AgentState]) -> AgentState:
    """States of batches ``K`` -> one state of batch ``len(states) * K`` (in that order)."""
    core = tuple(torch.cat(parts) for parts in zip(*(s.core for s in states), strict=True))
    return AgentState(core, torch.cat([s.last_action for s in states]))


def _select_state(state: AgentState, index: Tensor) -> AgentState:
    return AgentState(tuple(s[index] for s in state.core), state.last_action[index])


def _state_to(state: AgentState, device) -> AgentState:
    return AgentState(tuple(s.to(device) for s in state.core), state.last_action.to(device))


@dataclass
class Sequences:
    """A rollout cut into ``N`` sequences of ``L`` steps, time-major ``[L, N, ...]``, each
    with the agent's state before its first step (``start``, batch ``N``)."""

    obs: Tensor
    actions: Tensor
    resets: Tensor
    log_probs: Tensor  # log pi_old(a) of the rollout
    values: Tensor  # V_old
    advantages: Tensor
    returns: Tensor
    start: AgentState

    @property
    def count(self) -> int:
        return self.actions.shape[1]

    def select(self, index: Tensor) -> Sequences:
        """The sequences ``index`` (a minibatch)."""
        return Sequences(
            *(getattr(self, name)[:, index] for name in _STEP_FIELDS),
            _select_state(self.start, index),
        )

    def to(self, device) -> Sequences:
        return Sequences(
            *(getattr(self, name).to(device) for name in _STEP_FIELDS),
            _state_to(self.start, device),
        )


_STEP_FIELDS = ("obs", "actions", "resets", "log_probs", "values", "advantages", "returns")


def cut_into_sequences(
    rollout: Rollout,
    advantages: Tensor,
    returns: Tensor,
    length: int,
    head: ActionHead | None = None,
) -> Sequences:
    """Sequence ``c * K + k`` is steps ``c L .. (c + 1) L - 1`` of env ``k``, started from
    ``rollout.sequence_states[c]`` (collected with ``state_every=length``); the old
    log-probabilities from the rollout's policy by ``head`` (None: a categorical)."""
    steps, envs = rollout.actions.shape[:2]
    if steps % length:
        raise ValueError(f"a sequence length of {length} does not divide {steps} steps")
    chunks = steps // length
    if len(rollout.sequence_states) != chunks:
        raise ValueError(
            f"the rollout holds {len(rollout.sequence_states)} sequence states, not {chunks}: "
            f"collect it with state_every={length}"
        )

    def cut(x: Tensor) -> Tensor:  # [T, K, ...] -> [L, C * K, ...]
        rest = x.shape[2:]
        return (
            x.reshape(chunks, length, envs, *rest)
            .transpose(0, 1)
            .reshape(length, chunks * envs, *rest)
        )

    return Sequences(
        cut(rollout.obs),
        cut(rollout.actions),
        cut(rollout.resets),
        cut(
            (categorical_log_prob if head is None else head.log_prob)(
                rollout.logits, rollout.actions
            )
        ),
        cut(rollout.values),
        cut(advantages),
        cut(returns),
        _cat_states(rollout.sequence_states),
    )


# ---- the update ------------------------------------------------------------------------------


def _gradient_norm(module: torch.nn.Module) -> Tensor:
    """The L2 norm of ``module``'s gradients (0 where none has a gradient)."""
    norms = [p.grad.detach().norm() for p in module.parameters() if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(norms)) if norms else torch.zeros(())


def ppo_update(
    learner: ActorCritic,
    optimiser: torch.optim.Optimizer,
    rollout: Rollout,
    config: PPOConfig,
    device="cpu",
) -> dict[str, float]:
    """``config.epochs`` passes of minibatches over the rollout's sequences; returns the
    means of the loss's parts over the minibatches. Raises :class:`NonFiniteLossError`
    (before that minibatch's step) when the loss is not finite."""
    with torch.no_grad():
        advantages = gae_advantages(
            rollout.rewards,
            rollout.values,
            rollout.dones,
            rollout.bootstrap,
            config.gamma,
            config.gae_lambda,
        )
        returns = advantages + rollout.values
    sequences = cut_into_sequences(
        rollout, advantages, returns, config.steps_per_sequence, learner.head
    ).to(device)
    totals: dict[str, float] = {}
    steps = 0
    for _epoch in range(config.epochs):
        order = torch.randperm(sequences.count)
        for index in order.tensor_split(config.minibatches):  # exactly that many, near-equal
            batch = sequences.select(index.to(device))
            logits, values, _ = learner(batch.obs, batch.start, batch.resets, batch.actions)
            adv = batch.advantages
            if config.normalise_advantages and adv.numel() > 1:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            loss = ppo_loss(
                logits,
                values,
                batch.actions,
                batch.log_probs,
                batch.values,
                adv,
                batch.returns,
                config.clip,
                config.value_clip,
                config.value_cost,
                config.entropy_cost,
                learner.head,
            )
            if not torch.isfinite(loss.total):
                raise NonFiniteLossError(
                    f"loss is {loss.total.item()} (policy {loss.policy.item():.4g}, value "
                    f"{loss.value.item():.4g}); try a lower --lr or --max-grad-norm"
                )
            optimiser.zero_grad(set_to_none=True)
            loss.total.backward()
            part_norms = {  # before the clip, as grad_norm: which part's gradient grows
                f"grad_norm_{part}": _gradient_norm(getattr(learner, part))
                for part in GRADIENT_PARTS
            }
            grad_norm = torch.nn.utils.clip_grad_norm_(learner.parameters(), config.max_grad_norm)
            optimiser.step()
            parts = {
                "loss": loss.total,
                "policy_loss": loss.policy,
                "value_loss": loss.value,
                "entropy": loss.entropy,
                "approx_kl": loss.approx_kl,
                "clip_fraction": loss.clip_fraction,
                "grad_norm": grad_norm,
                **part_norms,
            }
            for k, v in parts.items():
                totals[k] = totals.get(k, 0.0) + float(v.detach())
            steps += 1
        if config.target_kl is not None and float(loss.approx_kl) > config.target_kl:
            break
    return {k: v / steps for k, v in totals.items()}


# ---- the run ---------------------------------------------------------------------------------


def resolve_config(config: PPOConfig) -> PPOConfig:
    """The config as used: the run directory and the evaluation's step cap written out."""
    run_dir = default_run_dir(config, PPOTrainer.kind)
    return replace(config, run_dir=run_dir, eval_max_steps=config.eval_step_cap)


class PPOTrainer(AgentRun):
    """Trains ``config``'s agent with recurrent PPO; :meth:`train` returns the exit code."""

    kind = "ppo"
    metrics_fields = METRICS_FIELDS

    def __init__(self, config: PPOConfig, out=None, payload: dict | None = None) -> None:
        super().__init__(resolve_config(config), out, payload)
        config = self.config
        self.device = torch.device(config.torch_device)
        # a resumed run draws new episodes and minibatches, not those it drew at the start
        torch.manual_seed(config.seed + 1_000_003 * self.counters["updates"])
        self.model = build_model(config)  # acts, on the CPU
        if self.payload is not None:
            load_model_state(self.model, self.payload, self.run_dir)
        on_cpu = self.device.type == "cpu"
        self.learner = self.model if on_cpu else copy.deepcopy(self.model).to(self.device)
        self.optimiser = torch.optim.Adam(self.learner.parameters(), lr=config.lr, eps=1e-5)
        if self.payload is not None and self.payload.get("optimiser"):
            self.optimiser.load_state_dict(self.payload["optimiser"])
        self.session.open()
        self.env = make_vector_env(
            config.env, config.env_options, config.num_envs, training=True, wrappers=config.wrappers
        )
        self.collector = RolloutCollector(
            self.env,
            self.model,
            seed=config.seed * 1_000_003 + self.counters["updates"] * config.num_envs,
            gamma=config.gamma,
            env_id=config.env,
        )
        self.last_update: dict[str, float] = {}

    def start_from(self, weights: dict) -> None:
        super().start_from(weights)
        if self.learner is not self.model:
            self.learner.load_state_dict(weights)

    def train(self) -> int:
        session = self.session
        session.announce()
        torch.set_num_threads(self.config.threads)
        self.warm_up()
        session.restart_clock()
        stop = Stop(EXIT_FAILED, "the trainer raised")
        try:
            with session.catching_signals(), self.progress_bar() as bar:
                stop = self._loop(bar)
                bar.close()
        finally:
            self.env.close()
            self.finish(stop)
        self.say_stopped(stop)
        return stop.exit_code

    def _loop(self, bar) -> Stop:
        config = self.config
        self.start_timers()
        try:
            while True:
                stop = self.interrupted() or self.budget_spent()
                if stop:
                    return stop
                try:
                    self.step()
                except NonFiniteLossError as e:
                    self.session.say(f"\n{e}")
                    reason = "non-finite loss: training stopped; the last good checkpoint is kept"
                    return Stop(EXIT_NONFINITE, reason, save=False)
                bar.update(config.rollout_steps * config.num_envs)
                stop = self.periodic(bar)
                if stop:
                    return stop
        except OSError as e:  # the run directory: a full disk, an I/O error
            return Stop(
                EXIT_WRITE_FAILED, f"cannot write to {self.run_dir}: {describe_os_error(e)}"
            )

    def step(self) -> None:
        """One rollout and the update on it."""
        config = self.config
        if config.anneal_lr:
            left = max(0.0, 1.0 - self.counters["frames"] / config.total_frames)
            for group in self.optimiser.param_groups:
                group["lr"] = config.lr * left
        rollout = self.collector.collect(
            config.rollout_steps, state_every=config.steps_per_sequence
        )
        update = ppo_update(self.learner, self.optimiser, rollout, config, self.device)
        if self.learner is not self.model:  # the acting copy gets the new weights
            self.model.load_state_dict(self.learner.state_dict())
        self.counters["frames"] += config.rollout_steps * config.num_envs
        self.counters["updates"] += 1
        self.record_episodes(rollout.finished_returns, rollout.finished_successes)
        self.last_update = {**update, "lr": self.optimiser.param_groups[0]["lr"]}

    def save(self):
        return self.session.save(self.model.state_dict(), self.optimiser.state_dict())

    def metrics_row(self) -> dict:
        return {k: self.last_update.get(k, math.nan) for k in METRICS_FIELDS[len(RUN_METRICS) :]}
