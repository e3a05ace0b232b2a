"""Catch-v0: partially observable Catch (Ba et al. 2016, section 4.4) for Gymnasium.

Importing this package registers ``Catch-v0`` with its single-board ``CatchEnv`` and its
natively vectorised ``CatchVectorEnv`` (used by ``gym.make_vec("Catch-v0", num_envs=N)``).
"""

from gymnasium.envs.registration import register, registry

from fw_rl.envs.catch import CatchEnv, EpisodeFinishedError, InvalidActionError
from fw_rl.envs.catch_rules import CatchConfigError, CatchRules
from fw_rl.envs.catch_vector import CatchVectorEnv

__all__ = [
    "CatchConfigError",
    "CatchEnv",
    "CatchRules",
    "CatchVectorEnv",
    "EpisodeFinishedError",
    "InvalidActionError",
]

if "Catch-v0" not in registry:
    register(
        id="Catch-v0",
        entry_point="fw_rl.envs.catch:CatchEnv",
        vector_entry_point="fw_rl.envs.catch_vector:CatchVectorEnv",
    )
