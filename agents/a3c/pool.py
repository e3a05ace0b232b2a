"""What the A3C trainer drives: a pool of workers, the messages they send, and the
factory that picks the backend (worker processes, :mod:`fw_rl.agents.a3c.parallel`, or Ray
actors, :mod:`fw_rl.agents.a3c.ray_backend`).

Both backends implement :class:`WorkerPool`; the trainer reads their ``queue`` (``get`` with
a timeout, ``get_nowait``) and sees only the four messages below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from fw_rl.agents.a3c.worker import UpdateReport


class BackendError(RuntimeError):
    """The workers' backend could not be started or reached (a usage error: exit code 2)."""


# ---- the messages ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Update:
    """A worker applied one update."""

    report: UpdateReport


@dataclass(frozen=True)
class Note:
    """A line for the log (a lost Ray worker restarted)."""

    text: str


@dataclass(frozen=True)
class WorkerFailed:
    """A worker raised (``exception``), met a non-finite loss (``nonfinite``), could not
    make or use its env (``usage``: an :class:`~fw_rl.envs.factory.EnvError`, its one line,
    exit code 2), or the Ray backend's parameter server was lost (``server``, worker -1:
    the weights are gone)."""

    worker: int
    kind: Literal["exception", "nonfinite", "usage", "server"]
    text: str


@dataclass(frozen=True)
class WorkerExited:
    """A worker stopped because the run ended (the frame budget, the stop event)."""

    worker: int


Message = Update | Note | WorkerFailed | WorkerExited


# ---- the interface --------------------------------------------------------------------------


class MessageQueue(Protocol):
    def get(self, timeout: float = ...) -> Message: ...  # raises queue.Empty

    def get_nowait(self) -> Message: ...


class WorkerPool(Protocol):
    """Starts, watches and stops the workers of one run."""

    queue: MessageQueue
    num_workers: int
    lost_server: bool  # the model's only copy was lost (Ray): nothing is saved after it

    def start(self) -> None: ...

    def dead_without_word(self, reported: set[int]) -> list[tuple[int, int]]:
        """``(worker, exit code)`` of workers that died without a :class:`WorkerFailed`."""
        ...

    def all_exited(self) -> bool: ...

    def sync(self) -> None:
        """Bring the trainer's model and optimiser up to date (before evaluating or saving)."""
        ...

    def stop(self, timeout: float = 20.0) -> None:
        """Stop every worker after its current update (and sync once more)."""
        ...
