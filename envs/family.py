"""What an env family declares about itself, once: :class:`EnvFamily`.

A family is the envs that share rules the agents and the reports need to know: which ids
belong to it, the shorthand flags it adds to the command line, a native vector env, how
long an episode can last, what counts as a success, and the range of an episode's return
(the reports' scores are normalised by it, and their default threshold is the family's).
Generic code asks :func:`family_of` and never compares an env's name. Any Gymnasium env
not claimed by a family belongs to :data:`GYMNASIUM`, which reads what it can from the
env itself (its time limit, a ``success`` entry of its final info).

The package's families: Catch-v0 (``envs/catch_family.py``), POPGym (``envs/popgym_family.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class EnvFamily:
    """An env family (see the module docstring).

    Args:
        name: the family's name, for messages and docs.
        claims: whether an env id (``EnvId`` or ``module:EnvId``) belongs to the family.
        flags: config fields that are this family's shorthands for its env's keyword
            arguments (Catch's ``--size`` ...); ``kwargs(config)`` turns them into kwargs.
        kwargs: the env keyword arguments the family's flags give (None: no flags).
        vector_env: ``(num_envs, kwargs) -> VectorEnv`` where the family has a native one
            with same-step autoreset (None: Gymnasium's ``SyncVectorEnv``).
        episode_limit: ``env -> int | None``, the most steps an episode lasts, where the
            family knows it better than the env's time limit.
        successes: ``(returns, info, ended) -> bool array | None``, whether each ended
            episode succeeded (None: read a ``success`` entry of the final info).
        return_range: the least and most an episode can return (None: not known; the
            reports then take the range of the runs they read).
        threshold: the return that counts as solved, the reports' default (None: not known).
        check: ``config -> None``, raises ``ValueError`` for flags out of range.
        flag_defaults: each flag's default (a flag changed from it is this family's).
    """

    name: str
    claims: Callable[[str], bool]
    flags: tuple[str, ...] = ()
    kwargs: Callable[[object], dict] | None = None
    vector_env: Callable[[int, dict], object] | None = None
    episode_limit: Callable[[object], int | None] | None = None
    successes: Callable[[np.ndarray, dict, np.ndarray], np.ndarray | None] | None = None
    return_range: tuple[float, float] | None = None
    threshold: float | None = None
    check: Callable[[object], None] | None = None
    flag_defaults: dict = field(default_factory=dict)


def _base_id(env_id: str) -> str:
    """``module:EnvId`` -> ``EnvId``."""
    return env_id.rsplit(":", 1)[-1]


GYMNASIUM = EnvFamily(name="gymnasium", claims=lambda env_id: True)

FAMILIES: list[EnvFamily] = []


def register_family(family: EnvFamily) -> EnvFamily:
    """Add a family (asked before the ones registered earlier, :data:`GYMNASIUM` last)."""
    if family not in FAMILIES:
        FAMILIES.insert(0, family)
    return family


def family_of(env_id: str) -> EnvFamily:
    """The family an env id belongs to (:data:`GYMNASIUM` where none claims it)."""
    for family in FAMILIES:
        if family.claims(env_id):
            return family
    return GYMNASIUM


def id_matches(*names: str, prefix: str = "") -> Callable[[str], bool]:
    """A ``claims`` function: the id (without ``module:``) is one of ``names`` or starts
    with ``prefix``."""

    def claims(env_id: str) -> bool:
        base = _base_id(env_id)
        return base in names or bool(prefix and base.startswith(prefix))

    return claims
