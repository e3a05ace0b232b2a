"""Joining a Ray cluster or starting a local Ray for the run (``--ray-address``)."""

from __future__ import annotations

import logging
import signal

import ray

from fw_rl.agents.a3c.pool import BackendError

NAMESPACE = "fw_rl"


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
        raise BackendError(f"cannot reach {where}: {first_line(e)}") from None
    return True


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
