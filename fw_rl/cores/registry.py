"""Build any recurrent core by name: ``make_core("fastweights", input_size, hidden_size)``."""

from __future__ import annotations

import inspect
import json

from fw_rl.cores.associative_lstm import AssociativeLSTM
from fw_rl.cores.base import RecurrentCore
from fw_rl.cores.fast_weights import FastWeightsRNN
from fw_rl.cores.torch_rnn import IRNNCore, LSTMCore

CORES: dict[str, type[RecurrentCore]] = {
    "fastweights": FastWeightsRNN,
    "lstm": LSTMCore,
    "irnn": IRNNCore,
    "alstm": AssociativeLSTM,
}


class UnknownCoreError(ValueError):
    """An unknown core name or an option the core does not take."""


def core_options(name: str) -> list[str]:
    """The keyword options ``make_core(name, ...)`` accepts besides the two sizes."""
    params = inspect.signature(_core_class(name).__init__).parameters
    return [p for p in params if p not in ("self", "input_size", "hidden_size")]


def _core_class(name: str) -> type[RecurrentCore]:
    try:
        return CORES[name]
    except KeyError:
        raise UnknownCoreError(
            f"unknown core {name!r}; available: {', '.join(sorted(CORES))}"
        ) from None


def make_core(name: str, input_size: int, hidden_size: int, **options) -> RecurrentCore:
    """A new core of the registered ``name`` with its options."""
    cls = _core_class(name)
    allowed = core_options(name)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UnknownCoreError(
            f"core {name!r} takes no option {', '.join(map(repr, unknown))}; "
            f"its options are: {', '.join(allowed)}"
        )
    return cls(input_size, hidden_size, **options)


def parse_core_options(name: str | None, text: str) -> dict:
    """``--core-options`` JSON for core ``name`` (None: a model that takes no options),
    checked against what the core accepts; raises ``UnknownCoreError`` saying why."""
    try:
        options = json.loads(text)
    except json.JSONDecodeError as e:
        raise UnknownCoreError(f"--core-options must be a JSON object: {e}") from None
    if not isinstance(options, dict):
        raise UnknownCoreError(f"--core-options must be a JSON object, got {text!r}")
    allowed = [] if name is None else [o for o in core_options(name) if o != "batch_first"]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UnknownCoreError(
            f"--core-options {unknown} not accepted by core {name!r}; "
            f"it takes: {', '.join(allowed) or 'no options'}"
        )
    return options
