"""Worker processes for A3C with ``torch.multiprocessing``.

Who owns what:

* The trainer (main process) builds the shared model and the shared optimiser; their
  parameters and statistics are moved to shared memory before any worker starts.
* Each worker process receives both in one pickle (so the optimiser holds the very
  parameter objects of the model it receives), builds its own local model and env, and
  writes only through :class:`~fw_rl.agents.a3c.parameter_server.SharedMemoryServer` (Hogwild).
* Workers talk back through one queue with the messages of :mod:`fw_rl.agents.a3c.pool`
  (:class:`Update`, :class:`WorkerFailed` with the traceback, or the one line of an env
  that cannot be used, :class:`WorkerExited`). A shared frame counter and a stop event are
  the only other shared objects.

Why one torch thread per worker: the workers already use every core; more threads per
process would oversubscribe the CPU and slow everyone (Mnih et al. ran one thread each).
Workers ignore SIGINT and SIGTERM: the trainer receives them, sets the stop event and
saves; a worker whose trainer has died (even by SIGKILL) stops by itself.
"""

from __future__ import annotations

import os
import signal
import traceback

import torch
import torch.multiprocessing as mp

from fw_rl.agents.a3c.parameter_server import SharedMemoryServer
from fw_rl.agents.a3c.pool import Update, WorkerExited, WorkerFailed
from fw_rl.agents.a3c.worker import UpdateReport, run_worker
from fw_rl.agents.config import A3CConfig
from fw_rl.agents.losses import NonFiniteLossError
from fw_rl.envs.factory import EnvError
from fw_rl.system import tune_malloc


def worker_process(
    worker: int, config: A3CConfig, shared_model, optimiser, frames, stop_event, queue
) -> None:
    """Entry point of one worker process."""
    # Ctrl-C and `kill -TERM -<group>` reach every process of the group: only the trainer
    # acts on them, and stops the workers through the event after saving.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    torch.set_num_threads(1)
    tune_malloc()
    parent = os.getppid()
    try:
        server = SharedMemoryServer(shared_model, optimiser, config.max_grad_norm)

        def should_stop() -> bool:
            return (
                stop_event.is_set() or frames.value >= config.total_frames or os.getppid() != parent
            )  # the trainer died: never outlive it

        def report(update: UpdateReport) -> None:
            with frames.get_lock():
                frames.value += update.frames
            queue.put(Update(update))

        run_worker(worker, config, server, should_stop, report)
        queue.put(WorkerExited(worker))
    except NonFiniteLossError:
        queue.put(WorkerFailed(worker, "nonfinite", traceback.format_exc()))
        raise SystemExit(3) from None
    except EnvError as e:  # the env cannot be made or used (a user's breaks the API): one line
        queue.put(WorkerFailed(worker, "usage", str(e)))
        raise SystemExit(1) from None
    except BaseException:
        queue.put(WorkerFailed(worker, "exception", traceback.format_exc()))
        raise SystemExit(1) from None


class ProcessWorkerPool:
    """The :class:`~fw_rl.agents.a3c.pool.WorkerPool` of worker processes: starts, watches and
    stops them."""

    lost_server = False  # the shared model lives in this process: it cannot be lost

    def __init__(self, config: A3CConfig, shared_model, optimiser, start_frames: int) -> None:
        self.ctx = mp.get_context(config.start_method)
        self.frames = self.ctx.Value("q", start_frames)
        self.stop_event = self.ctx.Event()
        self.queue = self.ctx.Queue()
        self.num_workers = config.num_workers
        self.processes = [
            self.ctx.Process(
                target=worker_process,
                args=(w, config, shared_model, optimiser, self.frames, self.stop_event, self.queue),
                name=f"a3c-worker-{w}",
                daemon=True,
            )
            for w in range(config.num_workers)
        ]

    def start(self) -> None:
        for p in self.processes:
            p.start()

    def dead_without_word(self, reported: set[int]) -> list[tuple[int, int]]:
        """Workers that died (non-zero exit) without putting an error on the queue."""
        return [
            (w, p.exitcode)
            for w, p in enumerate(self.processes)
            if p.exitcode not in (None, 0) and w not in reported
        ]

    def all_exited(self) -> bool:
        return all(p.exitcode is not None for p in self.processes)

    def sync(self) -> None:
        """Nothing to do: the trainer's model is the shared one the workers write."""

    def stop(self, timeout: float = 20.0) -> None:
        """Ask the workers to stop after their current update; end any that hang."""
        self.stop_event.set()
        started = [p for p in self.processes if p.pid is not None]  # start() may have failed
        for p in started:
            p.join(timeout)
        for p in started:  # workers ignore SIGTERM: a hung one is killed
            if p.is_alive():
                p.kill()
                p.join()
        self.queue.cancel_join_thread()
