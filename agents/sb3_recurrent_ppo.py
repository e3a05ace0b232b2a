"""The peer we measure against: sb3-contrib's ``RecurrentPPO`` (an LSTM policy), trained by
its own code and written to a run folder like ours, so that the study tools
(``scripts/study.py mmer``, ``report``) read its runs beside the A3C's.

The run folder (through :class:`~fw_rl.run_session.RunSession`): ``config.json``;
``metrics.csv`` a row after every rollout (``mean_return``: the mean of the last 200
training episodes, as the A3C logs it, and sb3's own loss, KL and clip fraction of the
update before); ``eval.csv`` greedy (``deterministic=True``) evaluations every
``eval_interval`` frames on ``eval_episodes`` episodes from ``eval_seed``, by sb3's
``evaluate_policy``; ``checkpoint.pt`` the policy's and optimiser's state in our checkpoint
format (kind ``"sb3_recurrent_ppo"``), so ``--resume`` continues the run (its envs start new
episodes). SIGINT / SIGTERM save and stop with our exit codes.

The hyperparameters are sb3-contrib's defaults except where a flag says otherwise; nothing
here changes how RecurrentPPO learns.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np

from fw_rl.cli import check_finite, fields_with_role, option
from fw_rl.envs.factory import EnvError, canonical_kwargs, make_env, parse_env_kwargs
from fw_rl.run_session import (
    EXIT_FAILED,
    EXIT_NONFINITE,
    EXIT_OK,
    EXIT_WRITE_FAILED,
    RunSession,
)

KIND = "sb3_recurrent_ppo"
RECENT_EPISODES = 200  # the training return is the mean of the last 200 episodes, as in A3C
METRICS_FIELDS = [
    "frames",
    "updates",
    "episodes",
    "elapsed_s",
    "fps",
    "mean_return",
    "loss",
    "entropy_loss",
    "value_loss",
    "approx_kl",
    "clip_fraction",
]
EVAL_FIELDS = ["frames", "elapsed_s", "mean_return", "std_return"]


@dataclass
class RecurrentPPOConfig:
    core: str = option("sb3-lstm", "the label of this agent in study reports", role="identity")
    env: str = option("Catch-v0", "Gymnasium env id (module:EnvId imports it)", role="identity")
    env_kwargs: str = option("{}", "the env's keyword arguments as JSON", role="identity")
    hidden_size: int = option(128, "LSTM units (sb3's lstm_hidden_size)", role="identity")
    shared_lstm: bool = option(
        False,
        "one LSTM for the policy and the value, as ours (sb3's default: two)",
        role="identity",
    )
    net_arch: str = option(
        "",
        "the layers after the LSTM as JSON, e.g. [] (none, as ours) or [64, 64]; '' = sb3's",
        role="identity",
    )
    n_envs: int = option(32, "envs stepped together (a DummyVecEnv)")
    n_steps: int = option(64, "steps per env per rollout")
    batch_size: int = option(512, "minibatch size in steps")
    n_epochs: int = option(4, "epochs over each rollout")
    lr: float = option(3e-4, "Adam learning rate (sb3's default)")
    anneal_lr: bool = option(False, "decay the learning rate linearly to 0, as our PPO does")
    gamma: float = option(0.99, "discount factor")
    gae_lambda: float = option(0.95, "GAE lambda")
    clip_range: float = option(0.2, "PPO clip range")
    ent_coef: float = option(0.01, "entropy cost")
    vf_coef: float = option(0.5, "value cost")
    max_grad_norm: float = option(0.5, "gradient clip norm")
    seed: int = option(0, "seed of sb3, torch and the envs (env i gets seed + i)")
    total_frames: int = option(1_000_000, "frames to train, over all envs")
    eval_interval: int = option(250_000, "frames between greedy evaluations (0: none)")
    eval_episodes: int = option(100, "episodes per evaluation")
    eval_seed: int = option(10_000, "seed of the evaluation envs")
    checkpoint_interval: float = option(60.0, "seconds between checkpoints")
    run_dir: str = option(
        "", "the run's folder (default: runs/sb3-<env>-<time>)", role="invocation"
    )
    resume: str = option("", "continue the run in this folder", role="invocation")
    progress: bool = option(
        False, "(accepted for the study runner; sb3 prints nothing)", role="invocation"
    )

    def __post_init__(self) -> None:
        check_finite(self)
        for name in ("hidden_size", "n_envs", "n_steps", "batch_size", "n_epochs", "total_frames"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        if self.batch_size > self.n_envs * self.n_steps:
            raise ValueError(
                f"--batch-size {self.batch_size} is larger than a rollout "
                f"(--n-envs x --n-steps = {self.n_envs * self.n_steps})"
            )
        if self.eval_interval < 0 or self.eval_episodes < 1:
            raise ValueError("--eval-interval must be >= 0 and --eval-episodes >= 1")
        if self.net_arch:
            try:
                layers = json.loads(self.net_arch)
            except json.JSONDecodeError:
                layers = None
            if not isinstance(layers, list) or not all(
                isinstance(n, int) and n > 0 for n in layers
            ):
                raise ValueError(
                    f"--net-arch must be a JSON list of layer sizes, got {self.net_arch!r}"
                )
        try:
            parse_env_kwargs(self.env_kwargs)
        except EnvError as e:
            raise ValueError(str(e)) from None
        self.env_kwargs = canonical_kwargs(parse_env_kwargs(self.env_kwargs))

    def to_dict(self) -> dict:
        return asdict(self)


def _require_sb3():
    try:
        from sb3_contrib import RecurrentPPO
    except ImportError:
        raise EnvError(
            "the sb3-contrib baseline needs sb3-contrib: pip install 'fw-rl[benchmarks]'"
        ) from None
    return RecurrentPPO


def _vec_env(config: RecurrentPPOConfig, n_envs: int, seed: int):
    from stable_baselines3.common.env_util import make_vec_env

    kwargs = parse_env_kwargs(config.env_kwargs)
    return make_vec_env(lambda: make_env(config.env, kwargs), n_envs=n_envs, seed=seed)


class RecurrentPPORun:
    """One RecurrentPPO run in a run folder; :meth:`train` returns the exit code."""

    def __init__(self, config: RecurrentPPOConfig, payload: dict | None = None) -> None:
        RecurrentPPO = _require_sb3()
        make_env(config.env, parse_env_kwargs(config.env_kwargs)).close()  # before any file
        self.config = config
        self.counters = {"frames": 0, "updates": 0, "episodes": 0}
        run_dir = config.resume or config.run_dir or _default_run_dir(config)
        self.session = RunSession(
            run_dir,
            config.to_dict(),
            counters=self.counters,
            logs={"metrics": METRICS_FIELDS, "eval": EVAL_FIELDS},
            key="frames",
            kind=KIND,
            payload=payload,
            identity=fields_with_role(RecurrentPPOConfig, "identity"),
        )
        import torch

        torch.set_num_threads(1)
        self.env = _vec_env(config, config.n_envs, config.seed + self.counters["frames"])
        self.model = RecurrentPPO(
            "MlpLstmPolicy",
            self.env,
            n_steps=config.n_steps,
            batch_size=config.batch_size,
            n_epochs=config.n_epochs,
            learning_rate=_learning_rate(config),
            gamma=config.gamma,
            gae_lambda=config.gae_lambda,
            clip_range=config.clip_range,
            ent_coef=config.ent_coef,
            vf_coef=config.vf_coef,
            max_grad_norm=config.max_grad_norm,
            policy_kwargs=_policy_kwargs(config),
            seed=config.seed,
            device="cpu",
            verbose=0,
        )
        if payload is not None:
            self.model.policy.load_state_dict(payload["model"])
            self.model.policy.optimizer.load_state_dict(payload["optimiser"])
            self.model.num_timesteps = self.counters["frames"]
            self.model._n_updates = self.counters["updates"]
        self.recent: deque[float] = deque(maxlen=RECENT_EPISODES)
        self.next_eval = _next_multiple(self.counters["frames"], config.eval_interval)
        self.exit_code, self.reason = EXIT_OK, "done"
        self.evaluations = 0

    # ---- the callback's steps ---------------------------------------------------------------

    def on_step(self, infos) -> bool:
        for info in infos:
            if "episode" in info:
                self.recent.append(float(info["episode"]["r"]))
                self.counters["episodes"] += 1
        stop = self.session.signal_stop()
        if stop is not None:
            self.exit_code, self.reason = stop
            return False
        return True

    def on_rollout_end(self) -> bool:
        frames = self.model.num_timesteps
        elapsed = self.session.elapsed()
        fps = (frames - self._last_frames) / max(elapsed - self._last_elapsed, 1e-9)
        self._last_frames, self._last_elapsed = frames, elapsed
        self.counters["frames"] = frames
        self.counters["updates"] = int(self.model._n_updates)
        values = self.model.logger.name_to_value
        row = {
            "frames": frames,
            "updates": self.counters["updates"],
            "episodes": self.counters["episodes"],
            "elapsed_s": round(elapsed, 3),
            "fps": round(fps, 1),
            "mean_return": float(np.mean(self.recent)) if self.recent else math.nan,
            **{k: values.get(f"train/{k}", math.nan) for k in METRICS_FIELDS[6:]},
        }
        if "train/loss" in values and not math.isfinite(float(values["train/loss"])):
            self.exit_code, self.reason = EXIT_NONFINITE, "non-finite loss"
            return False
        self.session.log("metrics", row)
        if self.config.eval_interval and frames >= self.next_eval:
            self.evaluate(frames)
            self.next_eval = _next_multiple(frames, self.config.eval_interval)
        if elapsed - self._last_save >= self.config.checkpoint_interval:
            self.save()
        return True

    def evaluate(self, frames: int) -> None:
        from stable_baselines3.common.evaluation import evaluate_policy

        env = _vec_env(self.config, min(10, self.config.eval_episodes), self.config.eval_seed)
        try:
            returns, _ = evaluate_policy(
                self.model,
                env,
                n_eval_episodes=self.config.eval_episodes,
                deterministic=True,
                return_episode_rewards=True,
            )
        finally:
            env.close()
        self.session.log(
            "eval",
            {
                "frames": frames,
                "elapsed_s": round(self.session.elapsed(), 3),
                "mean_return": float(np.mean(returns)),
                "std_return": float(np.std(returns)),
            },
        )
        self.evaluations += 1
        self.session.say(f"frames {frames:,}: greedy return {np.mean(returns):.3f}")

    def save(self) -> None:
        self.session.save(self.model.policy.state_dict(), self.model.policy.optimizer.state_dict())
        self._last_save = self.session.elapsed()

    # ---- the run ----------------------------------------------------------------------------

    def train(self) -> int:
        from stable_baselines3.common.callbacks import BaseCallback

        run = self

        class Hooks(BaseCallback):
            def _on_step(self) -> bool:
                return run.on_step(self.locals["infos"])

            def _on_rollout_end(self) -> None:
                if not run.on_rollout_end():
                    self.model._stop_training = True  # checked by the step after

            def on_step(self) -> bool:  # the rollout's end cannot stop learn(): do it here
                return super().on_step() and not getattr(self.model, "_stop_training", False)

        try:
            self.session.open()
        except OSError as e:
            self.session.say(f"error: {e}")
            return EXIT_WRITE_FAILED
        self.session.announce()
        self.session.restart_clock()
        self._last_frames, self._last_elapsed = self.counters["frames"], self.session.elapsed()
        self._last_save = self.session.elapsed()
        remaining = self.config.total_frames - self.counters["frames"]
        try:
            with self.session.catching_signals():
                if remaining > 0:
                    self.model.learn(remaining, callback=Hooks(), reset_num_timesteps=False)
            self.counters["frames"] = self.model.num_timesteps
            self.counters["updates"] = int(self.model._n_updates)  # the last rollout's too
        except OSError as e:
            self.session.say(f"error: the run directory could not be written: {e}")
            return EXIT_WRITE_FAILED
        except Exception as e:  # noqa: BLE001  a failure inside sb3: said in one line
            self.session.say(f"error: training failed: {type(e).__name__}: {e}")
            self.exit_code = EXIT_FAILED
        finally:
            self.env.close()
            self.session.close()
        if self.exit_code == EXIT_NONFINITE:
            self.session.say("stopped: non-finite loss; the last good checkpoint is kept")
            return EXIT_NONFINITE
        if self.exit_code == EXIT_OK and self.config.eval_interval and not self.evaluations:
            self.evaluate(self.counters["frames"])
        if not self.session.save_final(
            self.model.policy.state_dict(), self.model.policy.optimizer.state_dict()
        ):
            return EXIT_WRITE_FAILED
        self.session.say(f"stopped: {self.reason} at {self.counters['frames']:,} frames")
        return self.exit_code


def _learning_rate(config: RecurrentPPOConfig):
    """sb3's schedule: a function of the progress remaining (1 at the start, 0 at the end)."""
    if not config.anneal_lr:
        return config.lr
    lr = config.lr
    return lambda remaining: lr * remaining


def _policy_kwargs(config: RecurrentPPOConfig) -> dict:
    kwargs: dict = {"lstm_hidden_size": config.hidden_size}
    if config.shared_lstm:  # sb3 needs the critic's own LSTM off when the LSTM is shared
        kwargs.update(shared_lstm=True, enable_critic_lstm=False)
    if config.net_arch:
        kwargs["net_arch"] = json.loads(config.net_arch)
    return kwargs


def _next_multiple(frames: int, interval: int) -> int:
    return (frames // interval + 1) * interval if interval else 0


def _default_run_dir(config: RecurrentPPOConfig) -> str:
    name = config.env.rsplit(":", 1)[-1].replace("/", "_")
    return f"runs/sb3-{name}-{time.strftime('%Y%m%d-%H%M%S')}"
