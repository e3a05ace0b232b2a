"""fw_rl: fast-weights memory (Ba et al. 2016) for reinforcement learning.

Importing ``fw_rl`` also registers the ``Catch-v0`` environment (package ``fw_rl.envs``,
the repository's ``envs/`` folder), so ``gym.make("fw_rl:Catch-v0")`` works too.
"""

import fw_rl.envs  # noqa: F401  (registers Catch-v0)
from fw_rl.cores import (
    CORES,
    FastWeightsRNN,
    IRNNCore,
    LSTMCore,
    RecurrentCore,
    core_options,
    detach_state,
    make_core,
)

__all__ = [
    "CORES",
    "FastWeightsRNN",
    "IRNNCore",
    "LSTMCore",
    "RecurrentCore",
    "core_options",
    "detach_state",
    "make_core",
]
__version__ = "0.1.0"
