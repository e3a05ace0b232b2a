"""The A3C trainer: the main process of an A3C run.

It builds the shared model and optimiser, opens the run's :class:`~fw_rl.run_session.
RunSession` (the run directory, ``metrics.csv`` / ``eval.csv``, TensorBoard, checkpoints,
signals), starts a :class:`~fw_rl.agents.pool.WorkerPool`, and while the workers train it
counts their updates, logs, evaluates the greedy policy on fixed seeds and saves. Whatever
ends the run - the frame budget, the time limit, ``--stop-at-return``, Ctrl-C, SIGTERM, a
worker's exception - it stops every worker and leaves a checkpoint and the logs; a
non-finite loss or a lost parameter server keeps the last good checkpoint instead.
"""

from __future__ import annotations

import math
import queue as queue_lib
import sys
import time
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import torch

from fw_rl.agents.config import A3CConfig, upgrade_saved_config
from fw_rl.agents.evaluate import evaluate
from fw_rl.agents.model import build_model
from fw_rl.agents.pool import (
    BackendError,
    Message,
    Note,
    Update,
    WorkerExited,
    WorkerFailed,
    WorkerPool,
    make_worker_pool,
)
from fw_rl.agents.shared_optim import make_shared_optimiser
from fw_rl.agents.worker import UpdateReport
from fw_rl.checkpoint import load_checkpoint, load_model_state
from fw_rl.cli import fields_with_role
from fw_rl.run_dir import describe_os_error
from fw_rl.run_session import (
    EXIT_FAILED,
    EXIT_NONFINITE,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_WRITE_FAILED,
    RunSession,
)

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
__all__ = ["A3CTrainer", "EXIT_WRITE_FAILED", "resolve_config"]


def _eval_text(result: dict) -> str:
    text = f"mean return {result['mean_return']:.3f}"
    if not math.isnan(result["success_rate"]):
        text += f", success rate {result['success_rate']:.3f}"
    if result["capped"]:
        text += f" ({result['capped']:.0%} of the episodes cut at --eval-max-steps)"
    return text


def resolve_config(config: A3CConfig) -> A3CConfig:
    """The config as used: the run directory, the number of workers, the rollout length
    and the evaluation's step cap written out, not left as "", 0 or "auto"."""
    if config.resume:
        run_dir = config.resume
    elif config.run_dir:
        run_dir = config.run_dir
    else:
        run_dir = str(Path("runs") / f"{config.core}-{datetime.now().strftime('%Y%m%d-%H%M%S')}")
    # on a Ray cluster, 0 workers means one per CPU of the cluster: counted when it is joined
    workers = config.workers if config.backend == "ray" else config.num_workers
    return replace(
        config,
        workers=workers,
        run_dir=str(run_dir),
        rollout_steps=config.steps_per_rollout,
        eval_max_steps=config.eval_step_cap,
    )


@dataclass
class Stop:
    """Why the run ends: its exit code, the reason printed, and whether the trainer's
    state is saved at the end (not after a non-finite loss or a lost server)."""

    exit_code: int = EXIT_OK
    reason: str = ""
    save: bool = True


class A3CTrainer:
    """Trains ``config``'s agent; ``payload`` is the checkpoint to resume from when the
    caller has read it already (else ``config.resume``'s is read here)."""

    def __init__(self, config: A3CConfig, out=sys.stdout, payload: dict | None = None) -> None:
        if config.resume:
            payload = payload or load_checkpoint(config.resume)
            payload = {**payload, "config": upgrade_saved_config(payload["config"])}
        self.config = config = resolve_config(config)
        self.session = RunSession(
            config.run_dir,
            config.to_dict(),
            counters={
                "frames": 0,
                "updates": 0,
                "episodes": 0,
                "elapsed_s": 0.0,
                "best_eval_return": -math.inf,
            },
            logs={"metrics": METRICS_FIELDS, "eval": EVAL_FIELDS},
            key="frames",
            kind="a3c",
            payload=payload,
            identity=fields_with_role(A3CConfig, "identity"),
            renamed=RENAMED_COLUMNS,
            tensorboard=True,
            out=out,
        )
        self.run_dir, self.counters = self.session.run_dir, self.session.counters
        torch.manual_seed(config.seed)
        self.model = build_model(config)
        self.model.share_memory()
        self.optimiser = make_shared_optimiser(config.optimiser, self.model.parameters(), config.lr)
        if payload is not None:
            load_model_state(self.model, payload, self.run_dir)
            if payload.get("optimiser"):
                self.optimiser.load_state_dict(payload["optimiser"])
        self.session.open()
        self.returns: deque[float] = deque(maxlen=200)
        self.successes: deque[bool] = deque(maxlen=200)
        self.last_update: UpdateReport | None = None

    # ---- the run ---------------------------------------------------------------------------

    def train(self) -> int:
        """Run until the run ends; returns the process exit code."""
        session = self.session
        session.announce()
        torch.set_num_threads(1)
        self._warm_up()
        session.restart_clock()
        try:
            pool = make_worker_pool(
                self.config, self.model, self.optimiser, self.counters["frames"]
            )
        except BackendError as e:  # Ray could not be started or reached
            session.say(f"error: {e}")
            session.close()
            return EXIT_USAGE
        if self.config.backend == "ray":
            session.say(f"ray: {pool.num_workers} worker actors and a parameter-server actor")
        # an unexpected error in the trainer still stops every worker and saves, then rises
        stop = Stop(EXIT_FAILED, "the trainer raised")
        try:
            with session.catching_signals(), self._progress_bar() as bar:
                try:
                    stop = self._loop(pool, bar)
                finally:
                    self._stop_workers(pool, stop, bar)
        finally:
            self._finish(stop)
        session.say(
            f"stopped: {stop.reason or 'done'} after {self.counters['frames']:,} frames "
            f"({session.elapsed() / 60:.1f} min)"
        )
        return stop.exit_code

    def _loop(self, pool: WorkerPool, bar) -> Stop:
        """Count the workers' updates, log, evaluate and save until something ends the run."""
        config = self.config
        next_eval = (self.counters["frames"] // config.eval_interval + 1) * config.eval_interval
        last_log = last_save = time.monotonic()
        frames_at_log = self.counters["frames"]
        reported: set[int] = set()  # workers whose failure came with word
        try:
            pool.start()
            while True:
                try:
                    stop = self._handle(pool.queue.get(timeout=0.2), reported, bar)
                except queue_lib.Empty:
                    stop = None
                stop = stop or self._interrupted() or self._died(pool, reported)
                if stop:
                    return stop
                now = time.monotonic()
                if now - last_log >= config.log_interval:
                    fps = (self.counters["frames"] - frames_at_log) / (now - last_log)
                    self._log_metrics(fps, bar)
                    last_log, frames_at_log = now, self.counters["frames"]
                if self.counters["frames"] >= next_eval:
                    next_eval += config.eval_interval
                    stop = self._evaluate(pool)
                    if stop:
                        return stop
                if now - last_save >= config.checkpoint_interval:
                    pool.sync()
                    self.save()
                    last_save = now
                stop = self._budget_spent(pool)
                if stop:
                    return stop
        except OSError as e:  # the run directory: a full disk, an I/O error
            return Stop(
                EXIT_WRITE_FAILED, f"cannot write to {self.run_dir}: {describe_os_error(e)}"
            )
        except RuntimeError as e:  # the Ray backend's parameter server was lost
            if not pool.lost_server:
                raise
            return self._server_lost(str(e))

    def _handle(self, message: Message, reported: set[int], bar) -> Stop | None:
        """One message from the pool; a Stop when it ends the run."""
        if isinstance(message, Update):
            self._record(message.report)
            bar.update(message.report.frames)
        elif isinstance(message, Note):
            self.session.say(f"\n{message.text}")
        elif isinstance(message, WorkerFailed):
            reported.add(message.worker)
            if message.kind == "server":
                return self._server_lost(message.text)
            self.session.say(f"\nworker {message.worker} failed:\n{message.text}")
            if message.kind == "nonfinite":
                reason = "non-finite loss: training stopped; the last good checkpoint is kept"
                return Stop(EXIT_NONFINITE, reason, save=False)
            return Stop(EXIT_FAILED, f"worker {message.worker} raised")
        elif not isinstance(message, WorkerExited):
            raise TypeError(f"unknown message from the worker pool: {message!r}")
        return None

    def _server_lost(self, text: str) -> Stop:
        """The parameter server (the model's only copy, on Ray) is gone: nothing is saved
        after it. Just after a signal (which reached Ray's processes too) it is that
        signal's stop."""
        reason = f"{text}; training stopped, the last checkpoint is kept"
        signalled = self.session.signal_stop()
        if signalled:
            return Stop(signalled[0], f"{signalled[1]}, and then {reason}", save=False)
        return Stop(EXIT_FAILED, reason, save=False)

    def _interrupted(self) -> Stop | None:
        signalled = self.session.signal_stop()
        return Stop(*signalled) if signalled else None

    def _died(self, pool: WorkerPool, reported: set[int]) -> Stop | None:
        dead = pool.dead_without_word(reported)
        if dead:
            w, code = dead[0]
            return Stop(EXIT_FAILED, f"worker {w} died (exit code {code})")
        return None

    def _evaluate(self, pool: WorkerPool) -> Stop | None:
        pool.sync()  # the trainer's model is a copy on the Ray backend
        result = self.run_evaluation()
        self.session.say(f"\neval at {self.counters['frames']:,} frames: {_eval_text(result)}")
        target = self.config.stop_at_return
        if target is not None and result["mean_return"] >= target:
            return Stop(reason=f"evaluation reached --stop-at-return {target}")
        return None

    def _budget_spent(self, pool: WorkerPool) -> Stop | None:
        config = self.config
        if self.counters["frames"] >= config.total_frames:
            return Stop(reason="reached --total-frames")
        if config.max_minutes and self.session.elapsed() >= 60 * config.max_minutes:
            return Stop(reason="reached --max-minutes")
        if pool.all_exited():
            return Stop(reason="all workers exited")
        return None

    def _stop_workers(self, pool: WorkerPool, stop: Stop, bar) -> None:
        """Stop the pool (on Ray this also copies the server's final state into the
        trainer's model) and count the updates that arrived meanwhile."""
        pool.stop()
        if pool.lost_server and stop.save:
            stop.exit_code, stop.save = stop.exit_code or EXIT_FAILED, False
            stop.reason = (stop.reason or "the parameter server was lost") + (
                "; the last checkpoint is kept"
            )
        while True:
            try:
                message = pool.queue.get_nowait()
            except (queue_lib.Empty, OSError, ValueError):
                break
            if isinstance(message, Update) and stop.save:
                self._record(message.report)
        bar.close()

    def _finish(self, stop: Stop) -> None:
        """The final checkpoint first (a failing log row must not stop it), then the last
        metrics row; TensorBoard closed whatever happens."""
        if stop.save:
            if not self.session.save_final(self.model.state_dict(), self.optimiser.state_dict()):
                stop.exit_code = stop.exit_code or EXIT_WRITE_FAILED
                stop.reason = stop.reason or "the final checkpoint could not be written"
            try:
                self._log_metrics(0.0)
            except OSError:
                pass
        self.session.close()

    # ---- the parts -------------------------------------------------------------------------

    def save(self) -> Path:
        return self.session.save(self.model.state_dict(), self.optimiser.state_dict())

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
        frames = self.counters["frames"]
        self.session.log("eval", {"frames": frames, "elapsed_s": self.session.elapsed(), **result})
        if result["mean_return"] > self.counters["best_eval_return"]:
            self.counters["best_eval_return"] = result["mean_return"]
            # the weights to watch: the best greedy evaluation so far
            self.session.save_best(self.model.state_dict(), eval=result)
        self.session.scalars("eval", result, frames)
        return result

    def _progress_bar(self):
        from tqdm import tqdm

        return tqdm(
            total=self.config.total_frames,
            initial=self.counters["frames"],
            unit="frame",
            disable=not self.config.progress,
            file=self.session.out,
            dynamic_ncols=True,
        )

    def _warm_up(self) -> None:
        """Compile the fast-weights core's numba loops before the workers start (numba
        caches them on disk: only a first run compiles), and say so."""
        if self.config.core != "fastweights":
            return
        from fw_rl.cores.fast_weights.warm_up import warm_up

        self.session.say(
            "preparing the fast-weights kernels (numba compiles them on a first run) ..."
        )
        seconds = warm_up()
        self.session.say(f"kernels ready in {seconds:.1f} s")

    def _frames_at_end(self, fps: float) -> int:
        """The progress bar's total: the frame budget, or the frames the time limit will
        allow at the current speed, whichever ends the run first."""
        total = self.config.total_frames
        if self.config.max_minutes and fps > 0:
            left = max(0.0, 60 * self.config.max_minutes - self.session.elapsed())
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

    def _log_metrics(self, fps: float, bar=None) -> None:
        mean, rate = self._stats()
        u = self.last_update
        row = {
            "frames": self.counters["frames"],
            "updates": self.counters["updates"],
            "episodes": self.counters["episodes"],
            "elapsed_s": self.session.elapsed(),
            "fps": fps,
            "mean_return": mean,
            "success_rate": rate,
            "loss": u.loss if u else math.nan,
            "entropy": u.entropy if u else math.nan,
            "value_loss": u.value_loss if u else math.nan,
            "grad_norm": u.grad_norm if u else math.nan,
        }
        self.session.log("metrics", row)
        keys = ("fps", "mean_return", "success_rate", "loss", "entropy")
        self.session.scalars("train", row, row["frames"], keys)
        if bar is not None:
            bar.total = self._frames_at_end(fps)
            text = f"fps {fps:,.0f} | return {mean:+.3f}"
            bar.set_postfix_str(text if math.isnan(rate) else f"{text} | success {rate:.3f}", False)
