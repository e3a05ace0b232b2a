"""Settings of a run, composed of parts: the agent (:class:`AgentConfig`, with the core's
:class:`~fw_rl.cores.config.CoreConfig`), the env (:class:`EnvConfig`) and the run
(:class:`RunConfig`) make a :class:`TrainerConfig`; each algorithm adds its own fields
(:class:`A3CConfig`, :class:`PPOConfig`). Each field is documented (the CLI's ``--help``)
and checked by the part that owns it."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import asdict, dataclass, fields
from typing import ClassVar

from fw_rl.cli import check_finite, option
from fw_rl.cores.config import CoreConfig
from fw_rl.cores.identity import upgrade_legacy_config
from fw_rl.cores.registry import registered_here_only
from fw_rl.envs.catch_family import CATCH_ID, CatchBoardFlags
from fw_rl.envs.factory import (
    TRAINING_ONLY_KWARGS,
    EnvError,
    EnvInfo,
    canonical_kwargs,
    env_info,
    is_process_local,
    parse_env_kwargs,
    parse_wrappers,
)
from fw_rl.envs.family import FAMILIES, EnvFamily, family_of


class ConfigError(ValueError):
    """A setting that is out of range, with what is allowed."""


def _need(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _need_at_least(config, minimum: float, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(config, name)
        _need(value >= minimum, f"--{name.replace('_', '-')} must be >= {minimum}, got {value}")


def _check_learning(config) -> None:
    """The fields every actor-critic algorithm has: gamma, GAE lambda, lr, gradient clip."""
    _need(0.0 <= config.gamma <= 1.0, f"--gamma must be in [0, 1], got {config.gamma}")
    _need(
        0.0 <= config.gae_lambda <= 1.0,
        f"--gae-lambda must be in [0, 1], got {config.gae_lambda}",
    )
    _need(config.lr > 0, f"--lr must be > 0, got {config.lr}")
    _need(config.max_grad_norm > 0, f"--max-grad-norm must be > 0, got {config.max_grad_norm}")


@dataclass
class AgentConfig(CoreConfig):
    """The agent's network around its core (:func:`fw_rl.agents.model.build_model`)."""

    hidden_size: int = option(128, "hidden units of the core", role="identity")
    encoder_size: int = option(
        128, "width of the board encoder (the core's input)", role="identity"
    )
    previous_action: bool = option(
        True,
        "feed the previous action to the core (after the screen goes blank it is the "
        "only way to know where the paddle went)",
        role="identity",
    )

    def _check_agent(self) -> None:
        try:
            self._resolve_core()
        except ValueError as e:
            raise ConfigError(str(e)) from None
        _need_at_least(self, 1, ("hidden_size", "encoder_size"))


@dataclass
class EnvConfig(CatchBoardFlags):
    """Which env the agent plays, and its options (:mod:`fw_rl.envs.factory`). An env
    family's shorthand flags (Catch-v0's board: ``--size`` ...) are fields of its own
    dataclass, inherited here; what they mean is the family's
    (:class:`~fw_rl.envs.family.EnvFamily`)."""

    env: str = option(
        CATCH_ID,
        "Gymnasium env id; module:EnvId imports the module that registers it first "
        "(popgym:popgym-RepeatPreviousEasy-v0); module:function calls a function that "
        "returns an env; modules are found in the current directory too",
        role="identity",
    )
    env_kwargs: str = option(
        "{}",
        "the env's keyword arguments as JSON, gym.make(ID, **kwargs); for Catch-v0 the "
        "board flags are the shorthands",
        role="identity",
    )
    env_wrappers: str = option(
        "",
        "wrappers applied to each env in order, MODULE:CLASS[,MODULE:CLASS...] "
        "(minigrid.wrappers:ImgObsWrapper)",
        role="identity",
    )

    # the flags that make a trainer play one stream of episodes (bsuite's protocol)
    one_stream_flags: ClassVar[str] = ""

    @property
    def one_stream(self) -> bool:
        """Whether the trainer plays a single stream of episodes (one env, one worker)."""
        raise NotImplementedError

    @property
    def family(self) -> EnvFamily:
        return family_of(self.env)

    def _check_env(self) -> None:
        """``--env-kwargs`` canonical; a family's flags only for its envs, and not twice;
        then the env made once (an unknown id or an unsupported space fails here)."""
        try:
            kwargs = parse_env_kwargs(self.env_kwargs)
            self.env_wrappers = ",".join(parse_wrappers(self.env_wrappers))
        except EnvError as e:
            raise ConfigError(str(e)) from None
        self.env_kwargs = canonical_kwargs(kwargs)
        family = self.family
        twice = sorted(set(kwargs) & set(family.flags))
        if twice:
            flags = ", ".join(f"--{k.replace('_', '-')}" for k in twice)
            raise ConfigError(
                f"set {family.name}'s {', '.join(twice)} with {flags}, not --env-kwargs"
            )
        for other in FAMILIES:
            changed = [
                k for k in other.flags
                if other is not family and getattr(self, k) != other.flag_defaults[k]
            ]  # fmt: skip
            if changed:
                flags = ", ".join(f"--{k.replace('_', '-')}" for k in changed)
                raise ConfigError(
                    f"{flags} set {other.name}'s env, not {self.env}'s: "
                    "give its options in --env-kwargs"
                )
        if family.check is not None:
            try:
                family.check(self)
            except ValueError as e:
                raise ConfigError(str(e)) from None
        logs = sorted(set(kwargs) & set(TRAINING_ONLY_KWARGS))
        if logs and not self.one_stream:
            raise ConfigError(
                f"--env-kwargs {', '.join(logs)} logs one stream of episodes (bsuite's "
                f"protocol): give it {self.one_stream_flags}"
            )
        try:
            env_info(self.env, self.env_options, self.wrappers)
        except EnvError as e:
            raise ConfigError(str(e)) from None

    @property
    def env_options(self) -> dict:
        """The env's keyword arguments: ``--env-kwargs``, and its family's flags."""
        kwargs = parse_env_kwargs(self.env_kwargs)
        family = self.family
        if family.kwargs is not None:
            kwargs.update(family.kwargs(self))
        return kwargs

    @property
    def wrappers(self) -> tuple[str, ...]:
        """``--env-wrappers`` as a tuple of ``module:Class`` names."""
        return parse_wrappers(self.env_wrappers)

    @property
    def env_info(self) -> EnvInfo:
        """The env's spaces and episode bound (made once per id, kwargs and wrappers)."""
        return env_info(self.env, self.env_options, self.wrappers)


@dataclass
class RunConfig:
    """What a run does that no algorithm decides: its seed, budget, evaluations, files."""

    seed: int = option(0, "random seed of the run")
    total_frames: int = option(20_000_000, "stop after this many environment frames")
    max_minutes: float = option(
        0.0, "stop once the run has trained this many minutes, resumes included (0 = no limit)"
    )
    stop_at_return: float | None = option(
        None, "stop once the greedy evaluation's mean return reaches this"
    )
    eval_interval: int = option(100_000, "frames between greedy evaluations")
    eval_episodes: int = option(200, "episodes per evaluation (fixed seeds)")
    eval_seed: int = option(10_000, "first seed of the evaluation episodes")
    eval_max_steps: int = option(
        0,
        "steps after which an evaluation episode is cut (0 = the env's episode bound, else 10,000)",
    )
    checkpoint_interval: float = option(60.0, "seconds between checkpoints")
    log_interval: float = option(2.0, "seconds between rows of metrics.csv")
    run_dir: str = option(
        "", "where to write the run (default runs/<algorithm>-<core>-<time>)", role="invocation"
    )
    resume: str = option(
        "", "continue the run in this directory from its checkpoint", role="invocation"
    )
    progress: bool = option(True, "show a progress bar", role="invocation")

    def _check_run(self) -> None:
        _need_at_least(self, 1, ("eval_episodes", "total_frames", "eval_interval"))
        _need_at_least(self, 0, ("eval_max_steps", "max_minutes", "seed", "eval_seed"))
        _need(
            self.checkpoint_interval > 0 and self.log_interval > 0,
            "--checkpoint-interval and --log-interval must be > 0 seconds",
        )

    @property
    def eval_step_cap(self) -> int:
        return self.eval_max_steps or self.env_info.eval_step_cap


@dataclass
class TrainerConfig(RunConfig, EnvConfig, AgentConfig):
    """A trainer's settings: the agent, the env and the run, each checked in its part;
    an algorithm's config (:class:`A3CConfig`, :class:`PPOConfig`) adds its own fields and
    their checks (``_check_algorithm``). ``config.json`` and every checkpoint hold it
    whole (:meth:`to_dict`); :meth:`from_dict` reads a saved one back."""

    def __post_init__(self) -> None:
        try:
            check_finite(self)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        self._check_agent()
        self._check_run()
        self._check_algorithm()
        self._check_env()  # last: it makes the env, once the cheap checks have passed
        self._check_stop_at_return()

    def _check_stop_at_return(self) -> None:
        """A return to stop at that the env's episodes cannot reach would never stop the
        run (where the family knows its range and no wrapper may rescale it)."""
        known = self.family.return_range
        if self.stop_at_return is None or known is None or self.env_wrappers:
            return
        _need(
            self.stop_at_return <= known[1],
            f"--stop-at-return {self.stop_at_return:g} is above the most an episode of "
            f"{self.env} returns ({known[1]:g}): the run would never stop at it",
        )

    def _check_algorithm(self) -> None:
        """The algorithm's fields (none here)."""

    # fields whose default changed, with the default they had before: a saved run's settings
    # without one (a config.json written by hand or cut down) mean what they meant when saved
    former_defaults: ClassVar[dict] = {}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def saved_settings(cls, values: dict) -> dict:
        """A saved run's settings in today's form (:func:`upgrade_saved_config`), a field of
        :attr:`former_defaults` that they lack given its former default, not today's."""
        values = upgrade_saved_config(values)
        for name, value in cls.former_defaults.items():
            values.setdefault(name, value)
        return values

    @classmethod
    def from_dict(cls, values: dict):
        """The config of a saved run (``config.json`` or a checkpoint's), a run of format
        ``fw_rl/1`` with the equations it was made with (:meth:`saved_settings`); fields
        ``cls`` does not have (those of another algorithm) are left out, so any trainer's
        agent can be rebuilt."""
        values = cls.saved_settings(values)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass
class A3CConfig(TrainerConfig):
    """A3C's settings (Mnih et al. 2016): workers, n-step returns, the shared optimiser."""

    workers: int = option(0, "worker processes (0 = one per CPU core)")
    # make train's speed and time limit (issue #32); a field of RunConfig keeps its place
    envs_per_worker: int = option(
        16, "boards each worker steps together (16 = make train's speed; 1 = classic A3C)"
    )
    max_minutes: float = option(
        15.0, "stop once the run has trained this many minutes, resumes included (0 = no limit)"
    )
    rollout_steps: int = option(
        0,
        "steps per update, n of the n-step return (0 = one episode where the env bounds it: "
        "Catch size - 1, else the env's time limit, at most 128; 32 where it sets none)",
    )
    gamma: float = option(0.99, "discount factor")
    gae_lambda: float = option(1.0, "GAE lambda (1 = plain n-step returns as in A3C)")
    entropy_cost: float = option(0.01, "weight of the entropy bonus")
    value_cost: float = option(0.5, "weight of the value loss")
    max_grad_norm: float = option(40.0, "clip each update's gradient norm to this")
    optimiser: str = option(
        "adam",
        "shared optimiser: adam, or rmsprop as in the A3C paper (see benchmarks/RESULTS.md)",
        choices=["rmsprop", "adam"],
    )
    lr: float = option(1.4e-3, "learning rate (how it was chosen: docs/results/catch/README.md)")
    backend: str = option(
        "processes",
        "where the workers run: processes (shared memory, this machine) or ray (actors, "
        "on a local Ray or a cluster; pip install 'fw-rl[ray]')",
        choices=["processes", "ray"],
        role="invocation",
    )
    ray_address: str = option(
        "",
        "with --backend ray: the cluster to join ('auto' or host:port); "
        "default: a local Ray started and shut down with the run",
        role="invocation",
    )
    start_method: str = option(
        "spawn", "how worker processes start", choices=["spawn", "forkserver", "fork"]
    )

    one_stream_flags: ClassVar[str] = "--workers 1 --envs-per-worker 1"
    # the defaults before issue #32 made make train's A3C's
    former_defaults: ClassVar[dict] = {"envs_per_worker": 1, "max_minutes": 0.0}

    @property
    def one_stream(self) -> bool:
        return (self.workers, self.envs_per_worker) == (1, 1)

    def _check_algorithm(self) -> None:
        _need_at_least(self, 1, ("envs_per_worker",))
        _need_at_least(self, 0, ("workers", "rollout_steps", "entropy_cost", "value_cost"))
        _check_learning(self)
        _need(
            self.backend in ("processes", "ray"),
            f"--backend must be processes or ray, got {self.backend!r}",
        )
        _need(not self.ray_address or self.backend == "ray", "--ray-address needs --backend ray")
        _need(
            self.backend != "ray" or importlib.util.find_spec("ray") is not None,
            "--backend ray needs Ray, which is not installed: pip install 'fw-rl[ray]'",
        )
        _need(
            self.optimiser in ("rmsprop", "adam"),
            f"--optimiser must be rmsprop or adam, got {self.optimiser!r}",
        )
        _need(
            not registered_here_only(self.core),
            f"A3C's workers are other processes, which cannot see core {self.core!r} "
            "registered in this one: name it module:NAME (the module that registers it), "
            "or train with PPO",
        )
        _need(
            not is_process_local(self.env),
            "A3C's workers are other processes, which cannot call an env given as a lambda, "
            "a closure or a function of the script being run (__main__): define it in a "
            "module of its own and pass it (or module:function), or train with PPO",
        )

    # ---- derived values -----------------------------------------------------------------
    @property
    def num_workers(self) -> int:
        """Workers of the run: ``workers``, or one per CPU core (of this machine; on Ray,
        :class:`~fw_rl.agents.a3c.ray_backend.RayWorkerPool` counts the cluster's CPUs)."""
        return self.workers or os.cpu_count() or 1

    @property
    def steps_per_rollout(self) -> int:
        return self.rollout_steps or self.env_info.default_rollout


@dataclass
class PPOConfig(TrainerConfig):
    """Recurrent PPO's settings (Schulman et al. 2017; the sequence handling as in CleanRL's
    ``ppo_atari_lstm.py``): one process steps ``num_envs`` envs for ``rollout_steps``, then
    ``epochs`` passes over minibatches of whole sequences (:mod:`fw_rl.agents.ppo`)."""

    num_envs: int = option(16, "envs stepped together")
    rollout_steps: int = option(128, "steps of each env per rollout")
    sequence_length: int = option(
        0,
        "steps per training sequence: the rollout is cut into sequences of this length, each "
        "started from the state the rollout had there (0 = the whole rollout)",
    )
    epochs: int = option(4, "passes over each rollout")
    minibatches: int = option(4, "minibatches of sequences per pass")
    gamma: float = option(0.99, "discount factor")
    gae_lambda: float = option(0.95, "GAE lambda")
    clip: float = option(0.2, "the policy ratio's clip range (and the value's, see --value-clip)")
    value_clip: bool = option(True, "clip the value's change as the policy ratio's")
    entropy_cost: float = option(0.01, "weight of the entropy bonus")
    value_cost: float = option(0.5, "weight of the value loss")
    max_grad_norm: float = option(0.5, "clip each minibatch's gradient norm to this")
    lr: float = option(2.5e-4, "Adam's learning rate (eps 1e-5)")
    anneal_lr: bool = option(True, "decay the learning rate linearly to 0 over --total-frames")
    normalise_advantages: bool = option(True, "normalise the advantages in each minibatch")
    target_kl: float | None = option(
        None, "stop a rollout's epochs once the approximate KL exceeds this"
    )
    device: str = option(
        "cpu",
        "where the update runs: cpu, cuda, or auto (cuda when available); the rollouts "
        "always run on the CPU",
        choices=["cpu", "cuda", "auto"],
    )
    threads: int = option(1, "torch threads on the CPU")

    one_stream_flags: ClassVar[str] = "--num-envs 1"

    @property
    def one_stream(self) -> bool:
        return self.num_envs == 1

    @property
    def steps_per_sequence(self) -> int:
        return self.sequence_length or self.rollout_steps

    @property
    def sequences(self) -> int:
        """Sequences per rollout."""
        return self.num_envs * (self.rollout_steps // self.steps_per_sequence)

    def _check_algorithm(self) -> None:
        _need_at_least(self, 1, ("num_envs", "rollout_steps", "epochs", "minibatches", "threads"))
        _need_at_least(self, 0, ("sequence_length", "entropy_cost", "value_cost"))
        _need(
            self.rollout_steps % self.steps_per_sequence == 0,
            f"--sequence-length {self.sequence_length} must divide --rollout-steps "
            f"{self.rollout_steps}",
        )
        _need(
            self.minibatches <= self.sequences,
            f"--minibatches {self.minibatches} is more than the rollout's {self.sequences} "
            "sequences (--num-envs x --rollout-steps / --sequence-length): give "
            f"--minibatches {self.sequences} or fewer, more --num-envs, or a "
            "--sequence-length that cuts each env's rollout into several sequences",
        )
        _check_learning(self)
        _need(self.clip > 0, f"--clip must be > 0, got {self.clip}")
        _need(
            self.target_kl is None or self.target_kl > 0,
            f"--target-kl must be > 0, got {self.target_kl}",
        )
        _need(
            self.device != "cuda" or _cuda_available(),
            "--device cuda: no CUDA device is available here (use cpu or auto)",
        )

    @property
    def torch_device(self) -> str:
        if self.device == "auto":
            return "cuda" if _cuda_available() else "cpu"
        return self.device


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def agent_config(payload: dict) -> TrainerConfig:
    """The config of a saved agent, whichever trainer made it (its checkpoint's kind, the
    algorithm that declares it: :mod:`fw_rl.agents.algorithms`; checkpoints of format 1
    have no kind and were A3C's)."""
    from fw_rl.agents.algorithms import algorithm_of_kind

    kind = payload.get("kind", "a3c")
    return algorithm_of_kind(kind).config_class().from_dict(payload["config"])


def upgrade_saved_config(values: dict) -> dict:
    """A saved run's settings in today's form: the core's (:func:`upgrade_legacy_config`),
    and Catch-v0 as the env of runs made before ``--env`` existed."""
    values = dict(values)
    upgrade_legacy_config(values)
    values.setdefault("env", CATCH_ID)
    values.setdefault("env_kwargs", "{}")
    return values
