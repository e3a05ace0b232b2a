"""A3C on Ray (``--backend ray``): worker actors and a parameter-server actor, on one
machine or across a cluster, behind the interface of :class:`~fw_rl.agents.a3c.pool.WorkerPool`
so that the trainer (progress, CSVs, TensorBoard, evaluations, checkpoints) is unchanged.

Who owns what:

* The parameter-server actor (:class:`ParameterServerActor`, no CPU reserved: an update is an
  optimiser step) holds the model and the optimiser (the same classes as the shared-memory
  backend, so checkpoints move between backends) and applies pushes one at a time. It also
  keeps the workers' reports until the trainer collects them.
* Each worker actor (:class:`WorkerActor`, one CPU, spread over the nodes) runs the same
  :func:`~fw_rl.agents.a3c.worker.run_worker` loop as a worker process, with a :class:`RayServer`:
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

from fw_rl.agents.a3c.ray_backend.cluster import NAMESPACE, first_line, ray_init
from fw_rl.agents.a3c.ray_backend.pool import POLL_INTERVAL_S, RayWorkerPool
from fw_rl.agents.a3c.ray_backend.server import (
    CHUNK_FLOATS,
    SERVER_TIMEOUT_S,
    ParameterServerActor,
    RayServer,
    ServerLost,
    chunk_count,
    split,
)
from fw_rl.agents.a3c.ray_backend.workers import RESTART_SEED_STRIDE, WorkerActor

__all__ = [
    "CHUNK_FLOATS",
    "NAMESPACE",
    "POLL_INTERVAL_S",
    "RESTART_SEED_STRIDE",
    "SERVER_TIMEOUT_S",
    "ParameterServerActor",
    "RayServer",
    "RayWorkerPool",
    "ServerLost",
    "WorkerActor",
    "chunk_count",
    "first_line",
    "ray_init",
    "split",
]
