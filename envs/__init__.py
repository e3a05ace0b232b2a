"""Catch-v0: partially observable Catch (Ba et al. 2016, section 4.4) for Gymnasium.

Importing this package registers ``Catch-v0`` with its single-board ``CatchEnv`` and its
natively vectorised ``CatchVectorEnv`` (used by ``gym.make_vec("Catch-v0", num_envs=N)``),
and bsuite's experiments as ``bsuite/memory_len-v0`` and others (:mod:`fw_rl.envs.bsuite_adapter`).
"""

from gymnasium.envs.registration import register, registry

from fw_rl.envs.bsuite_adapter import register_bsuite_envs
from fw_rl.envs.catch import CatchEnv, EpisodeFinishedError, InvalidActionError
from fw_rl.envs.catch_family import CATCH
from fw_rl.envs.catch_rules import CatchConfigError, CatchRules
from fw_rl.envs.catch_vector import CatchVectorEnv
from fw_rl.envs.family import EnvFamily, family_of, register_family
from fw_rl.envs.popgym_family import POPGYM

__all__ = [
    "CatchConfigError",
    "CatchEnv",
    "CatchRules",
    "CatchVectorEnv",
    "EnvFamily",
    "EpisodeFinishedError",
    "InvalidActionError",
    "family_of",
    "register_family",
]

register_bsuite_envs()  # bsuite/memory_len-v0 and others; bsuite is imported when one is made
register_family(POPGYM)
register_family(CATCH)

if "Catch-v0" not in registry:
    register(
        id="Catch-v0",
        entry_point="fw_rl.envs.catch:CatchEnv",
        vector_entry_point="fw_rl.envs.catch_vector:CatchVectorEnv",
    )
