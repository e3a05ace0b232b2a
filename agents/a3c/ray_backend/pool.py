"""The pool the trainer drives (:class:`~fw_rl.agents.a3c.pool.WorkerPool`): the actors started,
their reports polled into messages, the server's state synced, everything stopped."""

from __future__ import annotations

import math
import os
import queue as queue_lib
import time
import traceback
import uuid
from collections import deque

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError, RayTaskError

from fw_rl.agents.a3c.faults import fault_runtime_env
from fw_rl.agents.a3c.pool import Note, Update, WorkerExited, WorkerFailed
from fw_rl.agents.a3c.ray_backend.cluster import NAMESPACE, first_line, ray_init
from fw_rl.agents.a3c.ray_backend.server import SERVER_TIMEOUT_S, ParameterServerActor, ServerLost
from fw_rl.agents.a3c.ray_backend.workers import WorkerActor
from fw_rl.agents.config import A3CConfig
from fw_rl.agents.losses import NonFiniteLossError
from fw_rl.envs.factory import EnvError

POLL_INTERVAL_S = 0.1  # how often the trainer collects the reports


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
    """The :class:`~fw_rl.agents.a3c.pool.WorkerPool` of Ray actors: starts, watches and stops
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
            raise ServerLost(f"the parameter server was lost: {first_line(e)}") from None
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
                WorkerFailed(-1, "server", f"the parameter server was lost: {first_line(error)}")
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
                    f"worker {w} was lost ({first_line(e)}); restarted "
                    f"({self.incarnations[w]} restart(s) so far)"
                )
            )
            return
        except RayTaskError as e:
            cause = e.cause if isinstance(e.cause, BaseException) else e
            if isinstance(cause, RayActorError):  # it lost the server
                self._server_lost(cause)
                return
            if isinstance(cause, EnvError):  # the env cannot be used: its one line
                kind, text = "usage", str(cause)
            else:
                kind = "nonfinite" if isinstance(cause, NonFiniteLossError) else "exception"
                text = "".join(traceback.format_exception_only(type(cause), cause)).strip()
            self.queue.buffer.append(WorkerFailed(w, kind, text))
            return
        self.exited.add(w)
        self.queue.buffer.append(WorkerExited(w))
