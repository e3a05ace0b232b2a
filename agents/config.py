"""Settings of one A3C run: one dataclass, each field documented (the CLI's ``--help``)."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import asdict, dataclass, fields

from fw_rl.cli import check_finite, option
from fw_rl.cores.config import CoreConfig
from fw_rl.cores.identity import upgrade_legacy_config
from fw_rl.envs.catch_rules import CatchRules
from fw_rl.envs.factory import (
    CATCH_ID,
    TRAINING_ONLY_KWARGS,
    EnvError,
    EnvInfo,
    canonical_kwargs,
    env_info,
    is_catch,
    parse_env_kwargs,
)

# Catch-v0's board flags: shorthands for its keyword arguments
CATCH_FLAGS = ("size", "paddle_width", "ball_speed", "visible_steps")


class ConfigError(ValueError):
    """A setting that is out of range, with what is allowed."""


@dataclass
class A3CConfig(CoreConfig):
    # ---- agent (the core's fields come from CoreConfig) ---------------------------------
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
    # ---- environment --------------------------------------------------------------------
    env: str = option(
        CATCH_ID,
        "Gymnasium env id; module:EnvId imports the module that registers it first "
        "(popgym:popgym-RepeatPreviousEasy-v0)",
        role="identity",
    )
    env_kwargs: str = option(
        "{}",
        "the env's keyword arguments as JSON, gym.make(ID, **kwargs); for Catch-v0 the "
        "board flags below are the shorthands",
        role="identity",
    )
    size: int = option(
        CatchRules.size,
        "Catch board size (episodes last size - 1 steps); the paper's other setting is "
        "--size 16 --visible-steps 3",
        role="identity",
    )
    paddle_width: int = option(CatchRules.paddle_width, "paddle width in cells")
    ball_speed: int = option(
        CatchRules.ball_speed, "sideways ball speed in cells per step (0 = straight down)"
    )
    visible_steps: int = option(
        CatchRules.visible_steps,
        "observations that show the board before it goes blank; -1 = always visible",
    )
    # ---- A3C ----------------------------------------------------------------------------
    workers: int = option(0, "worker processes (0 = one per CPU core)")
    envs_per_worker: int = option(1, "boards each worker steps together (1 = classic A3C)")
    rollout_steps: int = option(
        0,
        "steps per update, n of the n-step return (0 = one episode where the env bounds it: "
        "Catch size - 1, else the env's time limit, at most 128; 32 where it sets none)",
    )
    gamma: float = option(0.99, "discount factor")
    gae_lambda: float = option(1.0, "GAE lambda (1 = plain n-step returns as in A3C)")
    entropy_cost: float = option(
        0.01, "weight of the entropy bonus (0.003 let the fast-weights agent converge early)"
    )
    value_cost: float = option(0.5, "weight of the value loss")
    max_grad_norm: float = option(40.0, "clip each update's gradient norm to this")
    optimiser: str = option(
        "adam",
        "shared optimiser: adam, or rmsprop as in the A3C paper (on Catch-v0 it stayed "
        "stuck, see benchmarks/RESULTS.md)",
        choices=["rmsprop", "adam"],
    )
    lr: float = option(
        1.4e-3,
        "learning rate: the best of 3.5e-4 .. 2.8e-3 for fast weights and the LSTM on the "
        "24 x 24 Catch (the IRNN's: 7e-4; docs/results/catch/README.md)",
    )
    seed: int = option(0, "random seed of the run")
    # ---- run ----------------------------------------------------------------------------
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
        "", "where to write the run (default runs/<core>-<time>)", role="invocation"
    )
    resume: str = option(
        "", "continue the run in this directory from its checkpoint", role="invocation"
    )
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
    progress: bool = option(True, "show a progress bar", role="invocation")

    def __post_init__(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise ConfigError(message)

        try:
            check_finite(self)
        except ValueError as e:
            raise ConfigError(str(e)) from None

        try:
            self._resolve_core()
        except ValueError as e:
            raise ConfigError(str(e)) from None
        self._check_env_flags()
        for name in (
            "hidden_size",
            "encoder_size",
            "size",
            "paddle_width",
            "envs_per_worker",
            "eval_episodes",
            "total_frames",
            "eval_interval",
        ):
            need(
                getattr(self, name) >= 1,
                f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}",
            )
        for name in (
            "workers",
            "rollout_steps",
            "eval_max_steps",
            "ball_speed",
            "max_minutes",
            "entropy_cost",
            "value_cost",
        ):
            need(
                getattr(self, name) >= 0,
                f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}",
            )
        need(
            self.visible_steps >= -1,
            f"--visible-steps must be >= 0, or -1 for a fully "
            f"observable game, got {self.visible_steps}",
        )
        need(
            self.paddle_width <= self.size,
            f"--paddle-width must be at most --size ({self.size}), got {self.paddle_width}",
        )
        need(
            self.ball_speed < self.size,
            f"--ball-speed must be below --size ({self.size}), got {self.ball_speed}",
        )
        need(0.0 <= self.gamma <= 1.0, f"--gamma must be in [0, 1], got {self.gamma}")
        need(
            0.0 <= self.gae_lambda <= 1.0, f"--gae-lambda must be in [0, 1], got {self.gae_lambda}"
        )
        need(self.lr > 0, f"--lr must be > 0, got {self.lr}")
        need(self.max_grad_norm > 0, f"--max-grad-norm must be > 0, got {self.max_grad_norm}")
        need(
            self.checkpoint_interval > 0 and self.log_interval > 0,
            "--checkpoint-interval and --log-interval must be > 0 seconds",
        )
        need(
            self.backend in ("processes", "ray"),
            f"--backend must be processes or ray, got {self.backend!r}",
        )
        need(
            not self.ray_address or self.backend == "ray",
            "--ray-address needs --backend ray",
        )
        need(
            self.backend != "ray" or importlib.util.find_spec("ray") is not None,
            "--backend ray needs Ray, which is not installed: pip install 'fw-rl[ray]'",
        )
        need(
            self.optimiser in ("rmsprop", "adam"),
            f"--optimiser must be rmsprop or adam, got {self.optimiser!r}",
        )
        try:
            env_info(self.env, self.env_options)  # an unknown id or a bad space fails here
        except EnvError as e:
            raise ConfigError(str(e)) from None

    def _check_env_flags(self) -> None:
        """``--env-kwargs`` canonical; Catch's board flags only for Catch, and not twice."""
        try:
            kwargs = parse_env_kwargs(self.env_kwargs)
        except EnvError as e:
            raise ConfigError(str(e)) from None
        self.env_kwargs = canonical_kwargs(kwargs)
        if is_catch(self.env):
            twice = sorted(set(kwargs) & set(CATCH_FLAGS))
            if twice:
                flags = ", ".join(f"--{k.replace('_', '-')}" for k in twice)
                raise ConfigError(f"set Catch's {', '.join(twice)} with {flags}, not --env-kwargs")
            return
        logs = sorted(set(kwargs) & set(TRAINING_ONLY_KWARGS))
        if logs and (self.workers, self.envs_per_worker) != (1, 1):
            raise ConfigError(
                f"--env-kwargs {', '.join(logs)} logs one stream of episodes (bsuite's "
                "protocol): give it --workers 1 --envs-per-worker 1"
            )
        defaults = {f.name: f.default for f in fields(self)}
        changed = [k for k in CATCH_FLAGS if getattr(self, k) != defaults[k]]
        if changed:
            flags = ", ".join(f"--{k.replace('_', '-')}" for k in changed)
            raise ConfigError(
                f"{flags} set Catch-v0's board, not {self.env}'s: give its options in --env-kwargs"
            )

    # ---- derived values -----------------------------------------------------------------
    @property
    def num_workers(self) -> int:
        """Workers of the run: ``workers``, or one per CPU core (of this machine; on Ray,
        :class:`~fw_rl.agents.ray_backend.RayWorkerPool` counts the cluster's CPUs)."""
        return self.workers or os.cpu_count() or 1

    @property
    def steps_per_rollout(self) -> int:
        return self.rollout_steps or self.env_info.default_rollout

    @property
    def eval_step_cap(self) -> int:
        return self.eval_max_steps or self.env_info.eval_step_cap

    @property
    def env_options(self) -> dict:
        """The env's keyword arguments: ``--env-kwargs``, and for Catch its board flags."""
        kwargs = parse_env_kwargs(self.env_kwargs)
        if is_catch(self.env):
            kwargs.update(
                size=self.size,
                paddle_width=self.paddle_width,
                ball_speed=self.ball_speed,
                visible_steps=None if self.visible_steps < 0 else self.visible_steps,
            )
        return kwargs

    @property
    def env_info(self) -> EnvInfo:
        """The env's spaces and episode bound (made once per id and kwargs)."""
        return env_info(self.env, self.env_options)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> A3CConfig:
        """The config of a saved run (``config.json`` or a checkpoint's), a run of format
        ``fw_rl/1`` with the equations it was made with."""
        values = upgrade_saved_config(values)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def upgrade_saved_config(values: dict) -> dict:
    """A saved run's settings in today's form: the core's (:func:`upgrade_legacy_config`),
    and Catch-v0 as the env of runs made before ``--env`` existed."""
    values = dict(values)
    upgrade_legacy_config(values)
    values.setdefault("env", CATCH_ID)
    values.setdefault("env_kwargs", "{}")
    return values
