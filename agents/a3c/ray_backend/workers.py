"""The worker actor: :func:`~fw_rl.agents.a3c.worker.run_worker` in a Ray actor, restarted by
Ray when it dies."""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import replace

import ray
import torch

from fw_rl.agents.a3c.ray_backend.cluster import NAMESPACE
from fw_rl.agents.a3c.ray_backend.server import RayServer
from fw_rl.agents.a3c.worker import run_worker
from fw_rl.agents.config import A3CConfig
from fw_rl.system import tune_malloc

RESTART_SEED_STRIDE = 7_919  # a restarted worker plays new episodes, not its first ones again


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
