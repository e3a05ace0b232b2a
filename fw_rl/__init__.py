"""fw_rl: fast-weights memory (Ba et al. 2016) for reinforcement learning.

Importing ``fw_rl`` also registers the ``Catch-v0`` environment (package ``fw_rl.envs``,
the repository's ``envs/`` folder), so ``gym.make("fw_rl:Catch-v0")`` works too.
"""

import os as _os

# In a source checkout the folders envs/, agents/ and scripts/ beside this package are its
# subpackages fw_rl.envs, fw_rl.agents and fw_rl.scripts (an installed wheel holds them
# inside fw_rl/): then `python -m fw_rl...` works from the checkout's root whatever is
# installed.
_checkout = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_checkout, "pyproject.toml")) and _os.path.isfile(
    _os.path.join(_checkout, "envs", "catch_rules.py")
):
    __path__.append(_checkout)

import fw_rl.envs  # noqa: E402, F401  (registers Catch-v0)
from fw_rl.cores import (  # noqa: E402
    CORES,
    CoreDeclaration,
    FastWeightsRNN,
    IRNNCore,
    LSTMCore,
    RecurrentCore,
    core_options,
    detach_state,
    make_core,
    register_core,
)

# the Python API (fw_rl.agents.api), imported on first use: ``import fw_rl`` stays light
_API = ("A3C", "PPO", "Agent", "TrainingError", "evaluate", "load")
# the errors a user of the API catches: bad settings, a run folder, a checkpoint
_ERRORS = {
    "ConfigError": "fw_rl.agents.config",
    "RunDirError": "fw_rl.run_dir",
    "CheckpointError": "fw_rl.checkpoint",
}


def __getattr__(name: str):
    if name in _ERRORS:
        import importlib

        return getattr(importlib.import_module(_ERRORS[name]), name)
    if name in _API:
        from fw_rl.agents import api

        return getattr(api, name)
    raise AttributeError(f"module 'fw_rl' has no attribute {name!r}")


__all__ = [
    *_API,
    *_ERRORS,
    "CORES",
    "CoreDeclaration",
    "FastWeightsRNN",
    "IRNNCore",
    "LSTMCore",
    "RecurrentCore",
    "core_options",
    "detach_state",
    "make_core",
    "register_core",
]
__version__ = "0.1.0"
