"""The A3C trainer: the main process of an A3C run.

It builds the shared model and optimiser, opens the run's :class:`~fw_rl.run_session.
RunSession` (the run directory, ``metrics.csv`` / ``eval.csv``, TensorBoard, checkpoints,
signals), starts a :class:`~fw_rl.agents.a3c.pool.WorkerPool`, and while the workers train it
counts their updates, logs, evaluates the greedy policy on fixed seeds and saves. Whatever
ends the run - the frame budget, the time limit, ``--stop-at-return``, Ctrl-C, SIGTERM, a
worker's exception - it stops every worker and leaves a checkpoint and the logs; a
non-finite loss or a lost parameter server keeps the last good checkpoint instead.
"""

from __future__ import annotations

import math
import queue as queue_lib
from dataclasses import replace

import numpy as np
import torch

from fw_rl.agents.a3c.pool import (
    BackendError,
    Message,
    Note,
    Update,
    WorkerExited,
    WorkerFailed,
    WorkerPool,
)
from fw_rl.agents.a3c.shared_optim import make_shared_optimiser
from fw_rl.agents.a3c.worker import UpdateReport
from fw_rl.agents.agent_run import RUN_METRICS, AgentRun, Stop, default_run_dir
from fw_rl.agents.config import A3CConfig
from fw_rl.agents.model import build_model
from fw_rl.checkpoint import load_model_state
from fw_rl.run_dir import describe_os_error
from fw_rl.run_session import EXIT_FAILED, EXIT_NONFINITE, EXIT_USAGE, EXIT_WRITE_FAILED

METRICS_FIELDS = [*RUN_METRICS, "loss", "entropy", "value_loss", "grad_norm"]
# runs logged before any env but Catch could be trained called the success rate so
RENAMED_COLUMNS = {"catch_rate": "success_rate"}
__all__ = ["A3CTrainer", "EXIT_WRITE_FAILED", "resolve_config"]


def resolve_config(config: A3CConfig) -> A3CConfig:
    """The config as used: the run directory, the number of workers, the rollout length
    and the evaluation's step cap written out, not left as "", 0 or "auto"."""
    # on a Ray cluster, 0 workers means one per CPU of the cluster: counted when it is joined
    workers = config.workers if config.backend == "ray" else config.num_workers
    return replace(
        config,
        workers=workers,
        run_dir=default_run_dir(config, A3CTrainer.kind),
        rollout_steps=config.steps_per_rollout,
        eval_max_steps=config.eval_step_cap,
    )


class A3CTrainer(AgentRun):
    """Trains ``config``'s agent; ``payload`` is the checkpoint to resume from when the
    caller has read it already (else ``config.resume``'s is read here)."""

    kind = "a3c"
    metrics_fields = METRICS_FIELDS
    renamed_columns = RENAMED_COLUMNS

    def __init__(self, config: A3CConfig, out=None, payload: dict | None = None) -> None:
        super().__init__(resolve_config(config), out, payload)
        config = self.config
        torch.manual_seed(config.seed)
        self.model = build_model(config)
        self.model.share_memory()
        self.optimiser = make_shared_optimiser(config.optimiser, self.model.parameters(), config.lr)
        if self.payload is not None:
            load_model_state(self.model, self.payload, self.run_dir)
            if self.payload.get("optimiser"):
                self.optimiser.load_state_dict(self.payload["optimiser"])
        self.session.open()
        self.last_update: UpdateReport | None = None

    # ---- the run ---------------------------------------------------------------------------

    def train(self) -> int:
        """Run until the run ends; returns the process exit code."""
        session = self.session
        session.announce()
        torch.set_num_threads(1)
        self.warm_up()
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
            with session.catching_signals(), self.progress_bar() as bar:
                try:
                    stop = self._loop(pool, bar)
                finally:
                    self._stop_workers(pool, stop, bar)
        finally:
            self.finish(stop)
        self.say_stopped(stop)
        return stop.exit_code

    def _loop(self, pool: WorkerPool, bar) -> Stop:
        """Count the workers' updates, log, evaluate and save until something ends the run."""
        self.start_timers()
        reported: set[int] = set()  # workers whose failure came with word
        try:
            pool.start()
            while True:
                try:
                    stop = self._handle(pool.queue.get(timeout=0.2), reported, bar)
                except queue_lib.Empty:
                    stop = None
                stop = stop or self.interrupted() or self._died(pool, reported)
                if stop:
                    return stop
                stop = self.periodic(bar, lambda: self._evaluate(pool), pool.sync)
                if stop:
                    return stop
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
            if message.kind == "usage":  # the env (a user's that breaks the API): one line
                return Stop(EXIT_USAGE, f"worker {message.worker}: error: {message.text}")
            self.session.say(f"\nworker {message.worker} failed:\n{message.text}")
            if message.kind == "nonfinite":
                reason = "non-finite loss: training stopped; the last good checkpoint is kept"
                return Stop(EXIT_NONFINITE, reason, save=False)
            cause = exception_line(message.text)
            return Stop(
                EXIT_FAILED, f"worker {message.worker} raised" + (f" {cause}" if cause else "")
            )
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

    def _died(self, pool: WorkerPool, reported: set[int]) -> Stop | None:
        dead = pool.dead_without_word(reported)
        if dead:
            w, code = dead[0]
            why = ""
            if code == EXIT_USAGE:  # the one way a worker exits 2: fw_rl.api's spawn guard
                why = (
                    ": it could not start (the script has no 'if __name__ == \"__main__\":' "
                    "guard around training)"
                )
            return Stop(EXIT_FAILED, f"worker {w} died (exit code {code}){why}")
        return None

    def _evaluate(self, pool: WorkerPool) -> Stop | None:
        pool.sync()  # the trainer's model is a copy on the Ray backend
        return self.evaluate_and_say()

    def _budget_spent(self, pool: WorkerPool) -> Stop | None:
        if pool.all_exited():
            return Stop(reason="all workers exited")
        return self.budget_spent()

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
        if stop.reason == "all workers exited" and self.budget_spent():
            stop.reason = self.budget_spent().reason  # the workers stopped at the budget
        bar.close()

    # ---- the parts -------------------------------------------------------------------------

    def _record(self, update: UpdateReport) -> None:
        self.counters["frames"] += update.frames
        self.counters["updates"] += 1
        self.record_episodes(update.episode_returns, update.episode_successes)
        self.last_update = update

    def metrics_row(self) -> dict:
        u = self.last_update
        return {
            "loss": u.loss if u else math.nan,
            "entropy": u.entropy if u else math.nan,
            "value_loss": u.value_loss if u else math.nan,
            "grad_norm": u.grad_norm if u else math.nan,
        }


def exception_line(text: str, limit: int = 300) -> str:
    """The first line of the exception a traceback ends with (``ValueError: ...``), not the
    last line of its message, which may be the tail of a printed tensor."""
    lines = text.strip().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (")]
    after = lines[starts[-1] + 1 :] if starts else lines
    first = next((line for line in after if line.strip() and not line[0].isspace()), "")
    first = first or next((line.strip() for line in reversed(lines) if line.strip()), "")
    return first if len(first) <= limit else first[: limit - 3] + "..."


def session_seed(seed: int, start_frames: int) -> int:
    """The seed the workers draw from in a session that starts at ``start_frames``: the
    run's own seed for its first session, and for a resumed one a seed of its own, so that
    a resumed run plays new episodes and actions, not its first session's again (PPO does
    the same with its update counter)."""
    if start_frames == 0:
        return seed
    return int(np.random.SeedSequence([seed, start_frames]).generate_state(1)[0])


def make_worker_pool(config, shared_model, optimiser, start_frames: int) -> WorkerPool:
    """The pool of ``config.backend``: worker processes, or Ray actors, drawing from
    :func:`session_seed`."""
    config = replace(config, seed=session_seed(config.seed, start_frames))
    if config.backend == "ray":
        from fw_rl.agents.a3c.ray_backend import RayWorkerPool

        return RayWorkerPool(config, shared_model, optimiser, start_frames)
    from fw_rl.agents.a3c.parallel import ProcessWorkerPool

    return ProcessWorkerPool(config, shared_model, optimiser, start_frames)
