"""A3C on Ray (``--backend ray``): worker actors and a parameter-server actor, on one
machine or across a cluster, behind the interface of :class:`~fw_rl.agents.pool.WorkerPool`
so that the trainer (progress, CSVs, TensorBoard, evaluations, checkpoints) is unchanged.

Who owns what:

* The parameter-server actor (:class:`ParameterServerActor`, no CPU reserved: an update is an
  optimiser step) holds the model and the optimiser (the same classes as the shared-memory
  backend, so checkpoints move between backends) and applies pushes one at a time. It also
  keeps the workers' reports until the trainer collects them.
* Each worker actor (:class:`WorkerActor`, one CPU, spread over the nodes) runs the same
  :func:`~fw_rl.agents.worker.run_worker` loop as a worker process, with a :class:`RayServer`:
  it clips its gradients, sends them as one flat float32 buffer and receives the newest
  weights as one buffer in the reply (one round trip per update). The buffers travel in
  chunks of under 100 KiB, which Ray sends inside the call rather than through its object
  store (``benchmarks/RESULTS.md``: half the time per round trip on 2 cores).
* The trainer's model is a copy: :meth:`RayWorkerPool.sync` fetches the server's model and
  optimiser before each evaluation and checkpoint.

Faults: a worker actor that dies (killed, its node lost) is restarted by Ray
(``max_restarts=-1``), given its loop again, and the trainer prints a line; if the
parameter server dies the trainer stops with a message and keeps its last checkpoint. A
local Ray started for the run is shut down with it; on a cluster the run's actors are killed.
"""

from __future__ import annotations

import logging
import math
import os
import queue as queue_lib
import signal
import threading
import time
import traceback
import uuid
from collections import deque
from dataclasses import replace

import numpy as np
import ray
import torch
from ray.exceptions import GetTimeoutError, RayActorError, RayError, RayTaskError

from fw_rl.agents.config import A3CConfig
from fw_rl.agents.faults import fault_runtime_env
from fw_rl.agents.model import build_model
from fw_rl.agents.parameter_server import (
    FlatParameterServer,
    flat_gradients,
    load_flat_parameters,
)
from fw_rl.agents.pool import BackendError, Note, Update, WorkerExited, WorkerFailed
from fw_rl.agents.shared_optim import make_shared_optimiser
from fw_rl.agents.worker import NonFiniteLossError, UpdateReport, run_worker
from fw_rl.system import tune_malloc

SERVER_TIMEOUT_S = 60.0  # a parameter server that does not answer for this long is lost
POLL_INTERVAL_S = 0.1  # how often the trainer collects the reports
# Ray sends objects under 100 KiB inside the call (max_direct_call_object_size); larger
# ones go through the object store, which costs a 2-core machine about twice the time
CHUNK_FLOATS = 24_000
NAMESPACE = "fw_rl"
RESTART_SEED_STRIDE = 7_919  # a restarted worker plays new episodes, not its first ones again


def chunk_count(size: int) -> int:
    return max(1, math.ceil(size / CHUNK_FLOATS))


def split(flat: np.ndarray) -> list[np.ndarray]:
    """A flat buffer in pieces small enough for Ray to send inside the call itself."""
    return np.array_split(flat, chunk_count(flat.size))


class ServerLost(RuntimeError):
    """The parameter-server actor died or stopped answering: its weights are gone."""


def ray_init(address: str, num_cpus: int) -> bool:
    """Connect to the cluster at ``address`` ('auto', 'host:port', 'ray://...'), or start a
    local Ray with ``num_cpus`` CPUs when it is empty; returns whether one was started
    (and so must be shut down). A driver already connected (tests) is used as it is."""
    if ray.is_initialized():
        return False
    options = {"logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if address:
            ray.init(address=address, **options)
            return False
        # "local": a new instance even where RAY_ADDRESS names a running one. Its processes
        # start with SIGTERM blocked (Ray itself blocks SIGINT in them), so that a SIGTERM to
        # the whole process group (`timeout`, a batch scheduler) reaches only the trainer,
        # which saves from the live parameter server and then shuts Ray down (SIGKILL).
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **options)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = f"the Ray cluster at {address!r}" if address else "a local Ray instance"
        raise BackendError(f"cannot reach {where}: {_first_line(e)}") from None
    return True


# ---- the parameter server -------------------------------------------------------------------


@ray.remote(num_cpus=0, max_restarts=0)
class ParameterServerActor:
    """A :class:`FlatParameterServer` in an actor, built from the trainer's model and
    optimiser state (so a resumed run continues where its checkpoint left it)."""

    def __init__(self, config: dict, model_state: dict, optimiser_state: dict | None) -> None:
        torch.set_num_threads(1)
        config = A3CConfig.from_dict(config)
        model = build_model(config)
        model.load_state_dict(model_state)
        optimiser = make_shared_optimiser(config.optimiser, model.parameters(), config.lr)
        if optimiser_state:
            optimiser.load_state_dict(optimiser_state)
        self.server = FlatParameterServer(model, optimiser)
        self.reports: list[UpdateReport] = []

    def pull(self) -> tuple:
        """``(version, *weight chunks)``: call with ``num_returns=1 + chunks``."""
        version, weights = self.server.pull()
        return (version, *split(weights))

    def push(self, reports: list[UpdateReport], *gradient_chunks) -> tuple:
        """Apply the gradients (in chunks), keep the reports; returns the new ``pull()``."""
        self.reports.extend(reports)
        version, weights = self.server.push(np.concatenate(gradient_chunks))
        return (version, *split(weights))

    def record(self, reports: list[UpdateReport]) -> None:
        self.reports.extend(reports)

    def drain(self) -> list[UpdateReport]:
        reports, self.reports = self.reports, []
        return reports

    def state(self) -> tuple[dict, dict]:
        return self.server.model.state_dict(), self.server.optimiser.state_dict()

    def ping(self) -> int:
        return self.server.updates


class RayServer:
    """A worker's end of the parameter server (the ``ParameterServer`` protocol of
    :mod:`fw_rl.agents.parameter_server`): ``push`` sends the clipped gradients and does
    not wait; the reply, the newest weights, is read by the next ``pull``. The worker's
    reports (``report``) travel with the next push: one call per update, not two."""

    def __init__(self, actor, max_grad_norm: float, overlap: bool = False) -> None:
        self.actor, self.max_grad_norm, self.overlap = actor, max_grad_norm, overlap
        self.version = -1
        self._reply = None
        self._reports: list[UpdateReport] = []

    def report(self, update: UpdateReport) -> None:
        self._reports.append(update)

    def flush(self) -> None:
        """Send the reports not sent yet, and wait until the server has them."""
        if self._reply is not None:
            ray.get(self._reply)
            self._reply = None
        reports, self._reports = self._reports, []
        ray.get(self.actor.record.remote(reports))

    def pull(self, local: torch.nn.Module) -> None:
        """The newest weights into ``local``. With ``overlap``, a reply still on its way is
        not waited for: the rollout starts on the weights of the reply before it (one
        update of this worker behind) while the server applies the push."""
        if self._reply is None:
            self._reply = self.actor.pull.options(num_returns=1 + self._chunks(local)).remote()
        elif self.overlap and self.version >= 0 and not ray.wait(self._reply[:1], timeout=0)[0]:
            return
        self._load(local, self._reply)
        self._reply = None

    def push(self, local: torch.nn.Module) -> float:
        norm = torch.nn.utils.clip_grad_norm_(local.parameters(), self.max_grad_norm)
        reports, self._reports = self._reports, []
        chunks = split(flat_gradients(local))
        previous = self._reply
        self._reply = self.actor.push.options(num_returns=1 + len(chunks)).remote(reports, *chunks)
        if previous is not None:  # one reply outstanding at most: take the one before
            self._load(local, previous)
        local.zero_grad(set_to_none=False)
        return float(norm)

    def _load(self, local: torch.nn.Module, reply) -> None:
        version, *chunks = ray.get(reply)
        if version > self.version:
            load_flat_parameters(local, np.concatenate(chunks))
            self.version = version

    def _chunks(self, local: torch.nn.Module) -> int:
        return chunk_count(sum(p.numel() for p in local.parameters()))


# ---- the workers ----------------------------------------------------------------------------


@ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=0, max_concurrency=2)
class WorkerActor:
    """One A3C worker; ``max_concurrency=2`` so that ``stop()`` reaches a running ``run()``."""

    def __init__(self, worker: int, config: dict, server_name: str) -> None:
        # Ctrl-C reaches the trainer, which stops the workers after saving (as processes do)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        torch.set_num_threads(1)
        tune_malloc()
        self.worker, self.config = worker, A3CConfig.from_dict(config)
        # by name, not by handle: a restarted actor finds the server again from its arguments
        self.server = ray.get_actor(server_name, namespace=NAMESPACE)
        self._stop = threading.Event()

    def run(self, incarnation: int) -> int:
        """Train until ``stop()``; ``incarnation`` counts the restarts of this worker."""
        self._stop.clear()
        # here, not only in __init__: run() has a thread of its own (max_concurrency=2), and
        # OpenMP keeps the number of threads per calling thread
        torch.set_num_threads(1)
        config = self.config
        if incarnation:
            config = replace(config, seed=config.seed + RESTART_SEED_STRIDE * incarnation)
        server = RayServer(self.server, config.max_grad_norm, overlap=True)
        run_worker(self.worker, config, server, self._stop.is_set, server.report)
        server.flush()
        return self.worker

    def stop(self) -> None:
        self._stop.set()

    def where(self) -> tuple[str, int]:
        """The node this worker runs on, and its process id."""
        return ray.get_runtime_context().get_node_id(), os.getpid()


# ---- the pool the trainer drives --------------------------------------------------------------


class _Messages:
    """``WorkerPool.queue``'s two methods over the pool's poll of the actors."""

    def __init__(self, pool: RayWorkerPool) -> None:
        self.pool = pool
        self.buffer: deque = deque()

    def get(self, timeout: float = 0.0):
        if not self.buffer:
            self.pool.poll(timeout)
        if not self.buffer:
            raise queue_lib.Empty
        return self.buffer.popleft()

    def get_nowait(self):
        return self.get(0.0)


class RayWorkerPool:
    """The :class:`~fw_rl.agents.pool.WorkerPool` of Ray actors: starts, watches and stops
    them; a lost server is a ``WorkerFailed(-1, "server", ...)``, a restarted worker a
    ``Note``."""

    def __init__(self, config: A3CConfig, model, optimiser, start_frames: int = 0) -> None:
        self.config, self.model, self.optimiser = config, model, optimiser
        self.queue = _Messages(self)
        self.started_ray = ray_init(config.ray_address, max(os.cpu_count() or 1, config.workers))
        self.num_workers = config.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.server = None
        self.actors: list = []
        self.runs: dict = {}  # the running run() of each worker: ObjectRef -> worker
        self.incarnations = [0] * self.num_workers
        self.exited: set[int] = set()
        self.lost_server = False
        self.closed = False
        self._last_poll = -math.inf

    # ---- WorkerPool's interface ---------------------------------------------------------

    def start(self) -> None:
        config = self.config.to_dict()
        server_name = f"parameter-server-{uuid.uuid4().hex[:12]}"
        self.server = ParameterServerActor.options(name=server_name, namespace=NAMESPACE).remote(
            config,
            {k: v.detach().clone() for k, v in self.model.state_dict().items()},
            self.optimiser.state_dict(),
        )
        # the tests' faults reach the actors through their environment (agents/faults.py)
        worker_options = {"scheduling_strategy": "SPREAD", **fault_runtime_env()}
        self.actors = [
            WorkerActor.options(**worker_options).remote(w, config, server_name)
            for w in range(self.num_workers)
        ]
        for w, actor in enumerate(self.actors):
            self.runs[actor.run.remote(0)] = w

    def dead_without_word(self, reported: set[int]) -> list[tuple[int, int]]:
        return []  # a Ray actor's end always comes with word: an exception or a result

    def all_exited(self) -> bool:
        return len(self.exited) == self.num_workers

    def poll(self, timeout: float, force: bool = False) -> None:
        """Turn what the actors did since the last poll into messages: finished or failed
        runs first noted, then the reports (which were sent before), then the ends."""
        if self.closed or self.lost_server or self.server is None:
            return
        wait = POLL_INTERVAL_S - (time.monotonic() - self._last_poll)
        if (
            wait > 0 and not force
        ):  # the server's one thread also applies the pushes: do not crowd it
            if wait > timeout:
                time.sleep(timeout)
                return
            time.sleep(wait)
        self._last_poll = time.monotonic()
        ended = (
            ray.wait(list(self.runs), num_returns=len(self.runs), timeout=0)[0] if self.runs else []
        )
        try:
            reports = ray.get(self.server.drain.remote(), timeout=SERVER_TIMEOUT_S)
        except (RayError, GetTimeoutError) as e:
            self._server_lost(e)
            return
        self.queue.buffer.extend(Update(r) for r in reports)
        for ref in ended:
            self._ended(ref)

    def sync(self) -> None:
        """Copy the server's model and optimiser into the trainer's (before evaluating or
        saving); raises :class:`ServerLost` if it is gone."""
        if self.lost_server:
            raise ServerLost("the parameter server was lost")
        try:
            model_state, optimiser_state = ray.get(
                self.server.state.remote(), timeout=SERVER_TIMEOUT_S
            )
        except (RayError, GetTimeoutError) as e:
            self._server_lost(e)
            raise ServerLost(f"the parameter server was lost: {_first_line(e)}") from None
        self.model.load_state_dict(model_state)
        self.optimiser.load_state_dict(optimiser_state)

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the workers after their current update, collect their last reports, copy
        the server's state into the trainer's model, and end every actor (and the local
        Ray, if this run started it)."""
        if self.closed:
            return
        try:
            if self.actors and not self.lost_server:
                for actor in self.actors:
                    actor.stop.remote()
                if self.runs:
                    ray.wait(list(self.runs), num_returns=len(self.runs), timeout=timeout)
                self.poll(0.0, force=True)
                if not self.lost_server:
                    try:
                        self.sync()
                    except ServerLost:
                        pass
        finally:
            for actor in [*self.actors, self.server]:
                if actor is not None:
                    try:
                        ray.kill(actor, no_restart=True)
                    except RayError:
                        pass
            self.closed = True
            if self.started_ray:
                ray.shutdown()

    # ---- helpers ----------------------------------------------------------------------------

    def placement(self) -> list[tuple[str, int]]:
        """``(node id, pid)`` of every worker (tests, and the trainer's opening line)."""
        return ray.get([actor.where.remote() for actor in self.actors])

    def _server_lost(self, error: BaseException) -> None:
        if not self.lost_server:
            self.lost_server = True
            self.queue.buffer.append(
                WorkerFailed(-1, "server", f"the parameter server was lost: {_first_line(error)}")
            )

    def _ended(self, ref) -> None:
        w = self.runs.pop(ref)
        try:
            ray.get(ref)
        except RayActorError as e:  # the worker's process or node died: Ray restarts it
            if self.closed:
                return
            self.incarnations[w] += 1
            self.runs[self.actors[w].run.remote(self.incarnations[w])] = w
            self.queue.buffer.append(
                Note(
                    f"worker {w} was lost ({_first_line(e)}); restarted "
                    f"({self.incarnations[w]} restart(s) so far)"
                )
            )
            return
        except RayTaskError as e:
            cause = e.cause if isinstance(e.cause, BaseException) else e
            if isinstance(cause, RayActorError):  # it lost the server
                self._server_lost(cause)
                return
            kind = "nonfinite" if isinstance(cause, NonFiniteLossError) else "exception"
            text = "".join(traceback.format_exception_only(type(cause), cause)).strip()
            self.queue.buffer.append(WorkerFailed(w, kind, text))
            return
        self.exited.add(w)
        self.queue.buffer.append(WorkerExited(w))


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
