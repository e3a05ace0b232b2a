"""Faults injected for the tests of how a run ends, kept out of the worker's loop.

``FW_RL_INJECT_FAULT="raise:<worker>:<update>"`` (the worker raises) or
``"nan:<worker>:<update>"`` (its loss is not finite) in a run's environment: the worker's
parameter server is wrapped once, before its loop (:func:`with_injected_faults`), and the
fault happens at that update's push, before any gradient is applied. The Ray backend
forwards the variable to its worker actors (:func:`fault_runtime_env`).
"""

from __future__ import annotations

import os

from torch import nn

from fw_rl.agents.a3c.parameter_server import ParameterServer

FAULT_VARIABLE = "FW_RL_INJECT_FAULT"


class FaultyServer:
    """A :class:`ParameterServer` whose ``update``-th push fails as ``kind`` says."""

    def __init__(self, server: ParameterServer, worker: int, kind: str, update: int) -> None:
        self.server, self.worker, self.kind, self.update = server, worker, kind, update
        self.pushes = 0

    def pull(self, local: nn.Module) -> None:
        self.server.pull(local)

    def push(self, local: nn.Module) -> float:
        self.pushes += 1
        if self.pushes == self.update:
            if self.kind == "raise":
                raise RuntimeError(
                    f"injected fault in worker {self.worker} at update {self.update}"
                )
            from fw_rl.agents.losses import NonFiniteLossError

            raise NonFiniteLossError(
                f"worker {self.worker}: loss is nan at update {self.update} (injected)"
            )
        return self.server.push(local)


def with_injected_faults(server: ParameterServer, worker: int) -> ParameterServer:
    """``server``, or a :class:`FaultyServer` when ``FAULT_VARIABLE`` names this worker."""
    spec = os.environ.get(FAULT_VARIABLE, "")
    if not spec:
        return server
    kind, target, update = spec.split(":")
    if int(target) != worker:
        return server
    return FaultyServer(server, worker, kind, int(update))


def fault_runtime_env() -> dict:
    """Ray actor options that carry ``FAULT_VARIABLE`` to the actors, when it is set."""
    if not os.environ.get(FAULT_VARIABLE):
        return {}
    return {"runtime_env": {"env_vars": {FAULT_VARIABLE: os.environ[FAULT_VARIABLE]}}}
