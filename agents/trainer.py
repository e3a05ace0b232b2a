"""The A3C trainer: the main process that owns the run directory.

It builds the shared model and optimiser, starts the workers
(:mod:`fw_rl.agents.parallel`), and while they train it shows progress, writes
``metrics.csv`` / ``eval.csv`` and TensorBoard events (the hyperparameters as a table,
training and evaluation scalars), evaluates the greedy policy on fixed seeds, and saves
checkpoints atomically. Whatever ends the run - the frame budget, the
time limit, ``--stop-at-return``, Ctrl-C, SIGTERM, a worker's exception - it stops every
worker and leaves a checkpoint and the logs; a non-finite loss keeps the last good
checkpoint instead of saving the suspect weights.
"""

from __future__ import annotations

import math
import queue as queue_lib
import signal
import sys
import time
from collections import deque
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import torch

from fw_rl.agents.config import A3CConfig, upgrade_saved_config
from fw_rl.agents.evaluate import evaluate
from fw_rl.agents.model import build_model
from fw_rl.agents.parallel import BackendError, make_worker_pool
from fw_rl.agents.shared_optim import make_shared_optimiser
from fw_rl.agents.worker import UpdateReport
from fw_rl.checkpoint import (
    CHECKPOINT_NAME,
    check_same_run,
    load_checkpoint,
    load_model_state,
    save_checkpoint,
)
from fw_rl.cli import fields_with_role
from fw_rl.run_dir import (
    BEST_NAME,
    CsvLog,
    RunDirError,
    create_run_dir,
    describe_os_error,
    write_config,
)

EXIT_OK, EXIT_WORKER_FAILED, EXIT_USAGE, EXIT_NONFINITE, EXIT_WRITE_FAILED = 0, 1, 2, 3, 4
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}
METRICS_FIELDS = [
    "frames",
    "updates",
    "episodes",
    "elapsed_s",
    "fps",
    "mean_return",
    "success_rate",
    "loss",
    "entropy",
    "value_loss",
    "grad_norm",
]
EVAL_FIELDS = ["frames", "elapsed_s", "mean_return", "success_rate", "capped"]
# runs logged before any env but Catch could be trained called the success rate so
RENAMED_COLUMNS = {"catch_rate": "success_rate"}


def _eval_text(result: dict) -> str:
    text = f"mean return {result['mean_return']:.3f}"
    if not math.isnan(result["success_rate"]):
        text += f", success rate {result['success_rate']:.3f}"
    if result["capped"]:
        text += f" ({result['capped']:.0%} of the episodes cut at --eval-max-steps)"
    return text


def _tensorboard(run_dir: Path):
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(run_dir / "tensorboard"))


def prepare_run(config: A3CConfig, payload: dict | None) -> tuple[A3CConfig, Path]:
    """The run directory (created, or refused with one line), and the config as used:
    the number of workers and the directory written out, not left as 0 and "".
    ``payload`` is the checkpoint of a resumed run (its model must be this one)."""
    if config.resume:
        run_dir = Path(config.resume)
        saved = {**payload, "config": upgrade_saved_config(payload["config"])}
        check_same_run(saved, config.to_dict(), fields_with_role(A3CConfig, "identity"), run_dir)
    elif config.run_dir:
        run_dir = Path(config.run_dir)
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = Path("runs") / f"{config.core}-{stamp}"
    create_run_dir(run_dir, resuming=bool(config.resume))
    # on a Ray cluster, 0 workers means one per CPU of the cluster: counted when it is joined
    workers = config.workers if config.backend == "ray" else config.num_workers
    resolved = replace(
        config,
        workers=workers,
        run_dir=str(run_dir),
        rollout_steps=config.steps_per_rollout,
        eval_max_steps=config.eval_step_cap,
    )
    return resolved, run_dir


class A3CTrainer:
    """Trains ``config``'s agent; ``payload`` is the checkpoint to resume from when the
    caller has read it already (else ``config.resume``'s is read here)."""

    def __init__(self, config: A3CConfig, out=sys.stdout, payload: dict | None = None) -> None:
        payload = (payload or load_checkpoint(config.resume)) if config.resume else None
        self.config, self.run_dir = prepare_run(config, payload)
        config = self.config
        self.out = out
        torch.manual_seed(config.seed)
        self.model = build_model(config)
        self.model.share_memory()
        self.optimiser = make_shared_optimiser(config.optimiser, self.model.parameters(), config.lr)
        self.counters = {
            "frames": 0,
            "updates": 0,
            "episodes": 0,
            "elapsed_s": 0.0,
            "best_eval_return": -math.inf,
        }
        if payload is not None:
            load_model_state(self.model, payload, self.run_dir)
            if payload.get("optimiser"):
                self.optimiser.load_state_dict(payload["optimiser"])
            self.counters.update(payload["counters"])
        resumed_frames = self.counters["frames"] if payload is not None else None
        try:
            write_config(self.run_dir, config.to_dict())
            logs = {"keep_up_to": resumed_frames, "renamed": RENAMED_COLUMNS}
            self.metrics = CsvLog(self.run_dir / "metrics.csv", METRICS_FIELDS, **logs)
            self.evals = CsvLog(self.run_dir / "eval.csv", EVAL_FIELDS, **logs)
            self.tensorboard = _tensorboard(self.run_dir)
        except OSError as e:
            raise RunDirError(
                f"cannot write the run directory {self.run_dir}: {describe_os_error(e)}"
            ) from None
        self.returns: deque[float] = deque(maxlen=200)
        self.successes: deque[bool] = deque(maxlen=200)
        self.last_update: UpdateReport | None = None
        self.signal_received: int | None = None
        self._started = time.monotonic()

    # ---- helpers ---------------------------------------------------------------------------

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def elapsed(self) -> float:
        return self.counters["elapsed_s"] + time.monotonic() - self._started

    def save(self) -> Path:
        self.counters["elapsed_s"] = self.elapsed()
        self._started = time.monotonic()
        return save_checkpoint(
            self.run_dir / CHECKPOINT_NAME,
            model_state=self.model.state_dict(),
            optimiser_state=self.optimiser.state_dict(),
            counters=self.counters,
            config=self.config.to_dict(),
        )

    def run_evaluation(self) -> dict:
        config = self.config
        result = evaluate(
            self.model,
            config.env_options,
            config.eval_episodes,
            config.eval_seed,
            env_id=config.env,
            max_steps=config.eval_step_cap,
        )
        row = {"frames": self.counters["frames"], "elapsed_s": self.elapsed(), **result}
        self.evals.write(row)
        if result["mean_return"] > self.counters["best_eval_return"]:
            self.counters["best_eval_return"] = result["mean_return"]
            save_checkpoint(  # the weights to watch: the best greedy evaluation so far
                self.run_dir / BEST_NAME,
                model_state=self.model.state_dict(),
                optimiser_state=None,
                counters={**self.counters, "eval": result},
                config=self.config.to_dict(),
            )
        for k, v in result.items():
            if not math.isnan(v):
                self.tensorboard.add_scalar(f"eval/{k}", v, self.counters["frames"])
        return result

    def _on_signal(self, signum, _frame) -> None:
        self.signal_received = signum

    def _signal_first(self, exit_code: int, reason: str) -> tuple[int, str]:
        """A parameter server lost just after a signal was lost to that signal (it reached
        the Ray processes too, e.g. a cluster's): report the signal, as the stop it was."""
        if self.signal_received is None:
            return exit_code, reason
        name = signal.Signals(self.signal_received).name
        return EXIT_SIGNAL[self.signal_received], f"{name} received, and then {reason}"

    def _hyperparameters(self) -> str:
        rows = [f"| {k} | {v} |" for k, v in self.config.to_dict().items()]
        return "\n".join(["| setting | value |", "|---|---|", *rows])

    # ---- the run ---------------------------------------------------------------------------

    def train(self) -> int:
        """Run until the run ends; returns the process exit code."""
        from tqdm import tqdm

        config = self.config
        self.say(f"run directory: {self.run_dir}")
        self.say(self._hyperparameters())
        self.tensorboard.add_text("hyperparameters", self._hyperparameters())
        torch.set_num_threads(1)
        self._warm_up()
        self._started = time.monotonic()
        start_frames = self.counters["frames"]
        try:
            pool = make_worker_pool(config, self.model, self.optimiser, start_frames)
        except BackendError as e:  # Ray could not be started or reached
            self.say(f"error: {e}")
            self.tensorboard.close()
            return EXIT_USAGE
        if config.backend == "ray":
            self.say(f"ray: {pool.num_workers} worker actors and a parameter-server actor")
        previous = {s: signal.signal(s, self._on_signal) for s in EXIT_SIGNAL}
        bar = tqdm(
            total=config.total_frames,
            initial=start_frames,
            unit="frame",
            disable=not config.progress,
            file=self.out,
            dynamic_ncols=True,
        )
        next_eval = (start_frames // config.eval_interval + 1) * config.eval_interval
        last_log = last_save = time.monotonic()
        frames_at_log = start_frames
        reported: set[int] = set()
        exit_code, reason, save_at_end = EXIT_OK, "", True
        try:
            pool.start()
            while True:
                try:
                    message = pool.queue.get(timeout=0.2)
                except queue_lib.Empty:
                    message = None
                if message is not None and message[0] == "update":
                    self._record(message[1])
                    bar.update(message[1].frames)
                elif message is not None and message[0] == "note":
                    self.say(f"\n{message[1]}")
                elif message is not None and message[0] == "error":
                    _, worker, kind, trace = message
                    reported.add(worker)
                    if kind == "server":
                        exit_code, save_at_end = EXIT_WORKER_FAILED, False
                        reason = f"{trace}; training stopped, the last checkpoint is kept"
                        exit_code, reason = self._signal_first(exit_code, reason)
                        break
                    self.say(f"\nworker {worker} failed:\n{trace}")
                    if kind == "nonfinite":
                        exit_code, save_at_end = EXIT_NONFINITE, False
                        reason = (
                            "non-finite loss: training stopped; the last good checkpoint is kept"
                        )
                    else:
                        exit_code, reason = EXIT_WORKER_FAILED, f"worker {worker} raised"
                    break
                if self.signal_received is not None:
                    name = signal.Signals(self.signal_received).name
                    exit_code, reason = EXIT_SIGNAL[self.signal_received], f"{name} received"
                    break
                dead = pool.dead_without_word(reported)
                if dead:
                    w, code = dead[0]
                    exit_code, reason = EXIT_WORKER_FAILED, f"worker {w} died (exit code {code})"
                    break
                now = time.monotonic()
                if now - last_log >= config.log_interval:
                    fps = (self.counters["frames"] - frames_at_log) / (now - last_log)
                    self._log_metrics(fps)
                    bar.total = self._frames_at_end(fps)
                    bar.set_postfix_str(self._postfix(fps), refresh=False)
                    last_log, frames_at_log = now, self.counters["frames"]
                if self.counters["frames"] >= next_eval:
                    pool.sync()  # the trainer's model is a copy on the Ray backend
                    result = self.run_evaluation()
                    next_eval += config.eval_interval
                    self.say(f"\neval at {self.counters['frames']:,} frames: {_eval_text(result)}")
                    if (
                        config.stop_at_return is not None
                        and result["mean_return"] >= config.stop_at_return
                    ):
                        reason = f"evaluation reached --stop-at-return {config.stop_at_return}"
                        break
                if now - last_save >= config.checkpoint_interval:
                    pool.sync()
                    self.save()
                    last_save = now
                if self.counters["frames"] >= config.total_frames:
                    reason = "reached --total-frames"
                    break
                if config.max_minutes and self.elapsed() >= 60 * config.max_minutes:
                    reason = "reached --max-minutes"
                    break
                if pool.all_exited():
                    reason = "all workers exited"
                    break
        except OSError as e:  # the run directory: a full disk, an I/O error
            exit_code = EXIT_WRITE_FAILED
            reason = f"cannot write to {self.run_dir}: {describe_os_error(e)}"
        except RuntimeError as e:  # the Ray backend's parameter server was lost
            if not pool.lost_server:
                raise
            exit_code, save_at_end = EXIT_WORKER_FAILED, False
            reason = f"{e}; training stopped, the last checkpoint is kept"
            exit_code, reason = self._signal_first(exit_code, reason)
        finally:
            pool.stop()  # on Ray: also copies the server's final state into self.model
            if pool.lost_server and save_at_end:
                exit_code, save_at_end = exit_code or EXIT_WORKER_FAILED, False
                reason = reason or "the parameter server was lost"
                reason += "; the last checkpoint is kept"
            while True:  # updates that arrived while stopping still count
                try:
                    message = pool.queue.get_nowait()
                except (queue_lib.Empty, OSError, ValueError):
                    break
                if message[0] == "update" and save_at_end:
                    self._record(message[1])
            bar.close()
            for s, handler in previous.items():
                signal.signal(s, handler)
            if save_at_end:  # the checkpoint first: a failing log row must not stop it
                try:
                    path = self.save()
                    self.say(f"checkpoint saved: {path}")
                except OSError as e:
                    exit_code = exit_code or EXIT_WRITE_FAILED
                    reason = reason or "the final checkpoint could not be written"
                    self.say(
                        f"could not save the final checkpoint ({describe_os_error(e)}); "
                        f"the last good one in {self.run_dir} is kept"
                    )
                try:
                    self._log_metrics(0.0)
                except OSError:
                    pass
            try:
                self.tensorboard.close()
            except OSError:
                pass
        self.say(
            f"stopped: {reason or 'done'} after {self.counters['frames']:,} frames "
            f"({self.elapsed() / 60:.1f} min)"
        )
        return exit_code

    def _warm_up(self) -> None:
        """Compile the fast-weights core's numba loops before the workers start (numba
        caches them on disk: only a first run compiles), and say so."""
        if self.config.core != "fastweights":
            return
        from fw_rl.cores.fast_weights.warm_up import warm_up

        self.say("preparing the fast-weights kernels (numba compiles them on a first run) ...")
        seconds = warm_up()
        self.say(f"kernels ready in {seconds:.1f} s")

    def _frames_at_end(self, fps: float) -> int:
        """The progress bar's total: the frame budget, or the frames the time limit will
        allow at the current speed, whichever ends the run first."""
        total = self.config.total_frames
        if self.config.max_minutes and fps > 0:
            left = max(0.0, 60 * self.config.max_minutes - self.elapsed())
            total = min(total, int(self.counters["frames"] + fps * left))
        return total

    def _record(self, update: UpdateReport) -> None:
        self.counters["frames"] += update.frames
        self.counters["updates"] += 1
        self.counters["episodes"] += len(update.episode_returns)
        self.returns.extend(update.episode_returns)
        self.successes.extend(update.episode_successes)
        self.last_update = update

    def _stats(self) -> tuple[float, float]:
        """The mean return and success rate of the last 200 episodes (NaN: none yet, or
        an env that reports no successes)."""
        mean = sum(self.returns) / len(self.returns) if self.returns else math.nan
        rate = sum(self.successes) / len(self.successes) if self.successes else math.nan
        return mean, rate

    def _postfix(self, fps: float) -> str:
        mean, rate = self._stats()
        text = f"fps {fps:,.0f} | return {mean:+.3f}"
        return text if math.isnan(rate) else f"{text} | success {rate:.3f}"

    def _log_metrics(self, fps: float) -> None:
        mean, rate = self._stats()
        u = self.last_update
        row = {
            "frames": self.counters["frames"],
            "updates": self.counters["updates"],
            "episodes": self.counters["episodes"],
            "elapsed_s": self.elapsed(),
            "fps": fps,
            "mean_return": mean,
            "success_rate": rate,
            "loss": u.loss if u else math.nan,
            "entropy": u.entropy if u else math.nan,
            "value_loss": u.value_loss if u else math.nan,
            "grad_norm": u.grad_norm if u else math.nan,
        }
        self.metrics.write(row)
        for k in ("fps", "mean_return", "success_rate", "loss", "entropy"):
            if not math.isnan(row[k]):
                self.tensorboard.add_scalar(f"train/{k}", row[k], row["frames"])
