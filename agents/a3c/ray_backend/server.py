"""The parameter server on Ray: the actor that holds the model and the optimiser, and the
workers' client of it (one round trip per update, the buffers in chunks Ray sends inside
the call)."""

from __future__ import annotations

import math

import numpy as np
import ray
import torch

from fw_rl.agents.a3c.parameter_server import (
    FlatParameterServer,
    flat_gradients,
    load_flat_parameters,
)
from fw_rl.agents.a3c.shared_optim import make_shared_optimiser
from fw_rl.agents.a3c.worker import UpdateReport
from fw_rl.agents.config import A3CConfig
from fw_rl.agents.model import build_model

SERVER_TIMEOUT_S = 60.0  # a parameter server that does not answer for this long is lost
# Ray sends objects under 100 KiB inside the call (max_direct_call_object_size); larger
# ones go through the object store, which costs a 2-core machine about twice the time
CHUNK_FLOATS = 24_000


def chunk_count(size: int) -> int:
    return max(1, math.ceil(size / CHUNK_FLOATS))


def split(flat: np.ndarray) -> list[np.ndarray]:
    """A flat buffer in pieces small enough for Ray to send inside the call itself."""
    return np.array_split(flat, chunk_count(flat.size))


class ServerLost(RuntimeError):
    """The parameter-server actor died or stopped answering: its weights are gone."""


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
    :mod:`fw_rl.agents.a3c.parameter_server`): ``push`` sends the clipped gradients and does
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
