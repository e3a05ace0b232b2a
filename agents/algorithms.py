"""What each trainer declares about itself, once: :class:`AlgorithmDeclaration`.

Generic code (the Python API, checkpoint loading, the study runner and its reports, a study
on Ray) asks these declarations and never compares an algorithm's name. A new algorithm is
a config, a trainer, a script and a declaration added to :data:`ALGORITHMS`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class AlgorithmDeclaration:
    """A trainer: its name, checkpoint kind, config, where its trainer and script live.

    Args:
        name: the algorithm's name (``fw_rl.PPO``'s ``"ppo"``).
        kind: the kind its checkpoints are saved with (``fw_rl.checkpoint``).
        config: ``module:Class`` of its settings' dataclass.
        trainer: ``module:Class`` of its trainer (built with ``(config, out, payload)``).
        script: the module under ``fw_rl.scripts`` that is its command line.
        marker: a setting only this trainer's ``config.json`` has (tells its runs apart).
        cpus_flag: the flag whose value is the CPUs a run uses (None: one CPU).
        acts_like_agent: its checkpoints hold an ``ActorCritic`` (load, watch, evaluate).
        setup_fields: the settings that say how a run steps its envs (A3C's workers x
            boards), which tell runs of one core apart in a comparison.
    """

    name: str
    kind: str
    config: str
    trainer: str
    script: str
    marker: str
    cpus_flag: str | None = None
    acts_like_agent: bool = True
    setup_fields: tuple[str, ...] = ()

    def config_class(self):
        return _import(self.config)

    def trainer_class(self):
        return _import(self.trainer)

    def cpus(self, flags: list[str] | tuple[str, ...]) -> int:
        """The CPUs a run with these command-line flags uses (its ``cpus_flag``'s value)."""
        flags = list(flags)
        if self.cpus_flag is None:
            return 1
        for i, flag in enumerate(flags[:-1]):
            if flag == self.cpus_flag:
                return max(1, int(flags[i + 1]))
        return 1


def _import(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


ALGORITHMS: dict[str, AlgorithmDeclaration] = {
    a.name: a
    for a in (
        AlgorithmDeclaration(
            name="a3c",
            kind="a3c",
            config="fw_rl.agents.config:A3CConfig",
            trainer="fw_rl.agents.a3c.trainer:A3CTrainer",
            script="a3c",
            marker="workers",
            cpus_flag="--workers",
            setup_fields=("workers", "envs_per_worker"),
        ),
        AlgorithmDeclaration(
            name="ppo",
            kind="ppo",
            config="fw_rl.agents.config:PPOConfig",
            trainer="fw_rl.agents.ppo:PPOTrainer",
            script="ppo",
            marker="epochs",
            cpus_flag="--threads",
            setup_fields=("num_envs",),
        ),
        AlgorithmDeclaration(
            name="sb3_recurrent_ppo",
            kind="sb3_recurrent_ppo",
            config="fw_rl.agents.sb3_recurrent_ppo:RecurrentPPOConfig",
            trainer="fw_rl.agents.sb3_recurrent_ppo:RecurrentPPORun",
            script="sb3_recurrent_ppo",
            marker="n_epochs",
            cpus_flag="--threads",
            acts_like_agent=False,
            setup_fields=("n_envs",),
        ),
    )
}


def algorithm_of_config(config: dict) -> AlgorithmDeclaration:
    """The algorithm that wrote a run's ``config.json`` (by its ``marker``; runs of format
    1, before PPO existed, were A3C's)."""
    for algorithm in ALGORITHMS.values():
        if algorithm.marker in config:
            return algorithm
    return ALGORITHMS["a3c"]


def algorithm_of_kind(kind: str) -> AlgorithmDeclaration:
    """The algorithm whose checkpoints have ``kind``; ``KeyError`` naming those known."""
    for algorithm in ALGORITHMS.values():
        if algorithm.kind == kind:
            return algorithm
    raise KeyError(f"no algorithm saves checkpoints of kind {kind!r}; known: {sorted(ALGORITHMS)}")


def agent_kinds() -> tuple[str, ...]:
    """The checkpoint kinds whose model is an ``ActorCritic``."""
    return tuple(a.kind for a in ALGORITHMS.values() if a.acts_like_agent)
