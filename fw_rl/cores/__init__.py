"""Recurrent cores behind one interface (see :mod:`fw_rl.cores.base`)."""

from fw_rl.cores.associative_lstm import AssociativeLSTM
from fw_rl.cores.base import (
    CoreContractError,
    RecurrentCore,
    State,
    detach_state,
    mask_state,
)
from fw_rl.cores.declaration import CoreDeclaration
from fw_rl.cores.fast_weights import FastWeightsRNN
from fw_rl.cores.gru import GRUCore
from fw_rl.cores.registry import (
    CORES,
    UnknownCoreError,
    core_declaration,
    core_names,
    core_options,
    make_core,
    parse_core_options,
    register_core,
)
from fw_rl.cores.torch_rnn import IRNNCore, LSTMCore

__all__ = [
    "AssociativeLSTM",
    "CORES",
    "CoreContractError",
    "CoreDeclaration",
    "FastWeightsRNN",
    "GRUCore",
    "IRNNCore",
    "LSTMCore",
    "RecurrentCore",
    "State",
    "UnknownCoreError",
    "core_declaration",
    "core_names",
    "core_options",
    "detach_state",
    "make_core",
    "mask_state",
    "parse_core_options",
    "register_core",
]
