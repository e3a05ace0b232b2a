"""A core's identity: its name, the version of its equations, and every option resolved.

A run records this in ``config.json`` and its checkpoint, so that a later change of a
default never rebuilds an old run with other equations. Options are of two sorts:

* model options (``decay``, ``norm_preliminary``, ...): they define the function the core
  computes and are part of a run's identity;
* compute options (:data:`COMPUTE_OPTIONS`: ``mode``, ``compiled``, ``batch_first``): they
  choose how the same function is computed and may differ between a run and its resume.

Each version's defaults are frozen in :data:`DEFAULTS`; a new default means a new version
(and a line in :data:`VERSION_HISTORY`), never an edit of an old table. Runs of checkpoint
format ``fw_rl/1`` recorded only the options typed, with no version: they were made with
version 1 of every core (:data:`LEGACY_VERSION`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

COMPUTE_OPTIONS = ("mode", "compiled", "batch_first")
LEGACY_VERSION = 1

# (core, version) -> every option's default; frozen: add a version, never edit one
DEFAULTS: dict[tuple[str, int], dict] = {
    ("fastweights", 1): {
        "inner_steps": 1,
        "decay": 0.95,
        "fast_lr": 0.5,
        "layer_norm": True,
        "norm_preliminary": True,
        "slow_init_scale": 0.05,
        "separate_norms": False,
        "read_before_write": False,
    },
    ("fastweights", 2): {
        "inner_steps": 1,
        "decay": 0.95,
        "fast_lr": 0.5,
        "layer_norm": True,
        "norm_preliminary": False,  # the paper's h^0 = f(W h_{t-1} + C x_t)
        "slow_init_scale": 0.05,
        "separate_norms": False,
        "read_before_write": False,
    },
    ("lstm", 1): {},
    ("irnn", 1): {"recurrent_scale": 1.0, "input_std": 0.001},
    ("alstm", 1): {"copies": 4, "permutation_seed": 0},
}

VERSION_HISTORY: dict[str, dict[int, str]] = {
    "fastweights": {
        1: "h^0 = f(LN(W h_{t-1} + C x_t)): the layer norm on the preliminary vector too",
        2: "h^0 = f(W h_{t-1} + C x_t), the paper's preliminary vector (no layer norm); "
        "the retrieval diagnosis and the Catch ablation both favoured it (issue #20)",
    },
    "lstm": {1: "torch.nn.LSTM, one layer"},
    "irnn": {1: "ReLU RNN, recurrent weights 1.0 I"},
    "alstm": {1: "associative LSTM, 4 copies"},
}

CURRENT_VERSION: dict[str, int] = {
    name: max(v for n, v in DEFAULTS if n == name) for name, _ in DEFAULTS
}


class CoreVersionError(ValueError):
    """A version of a core's equations that does not exist."""


@dataclass(frozen=True)
class CoreIdentity:
    """What a core computes (``name``, ``version``, ``options``) and how (``compute``)."""

    name: str
    version: int
    options: dict
    compute: dict

    def kwargs(self) -> dict:
        """Every option, for ``make_core``: the same equations whatever today's defaults."""
        return {**self.options, **self.compute}

    def options_json(self) -> str:
        """The model options as canonical JSON (sorted keys): equal runs, equal text."""
        return json.dumps(self.options, sort_keys=True)


def check_version(name: str, version: int) -> int:
    """``version`` of core ``name``, 0 meaning the newest; raises for one that is unknown."""
    if name not in CURRENT_VERSION:
        raise CoreVersionError(f"unknown core {name!r}")
    if version == 0:
        return CURRENT_VERSION[name]
    if (name, version) not in DEFAULTS:
        known = sorted(v for n, v in DEFAULTS if n == name)
        raise CoreVersionError(
            f"core {name!r} has no version {version}; its versions are {known} (0 = newest)"
        )
    return version


def resolve_core(name: str, options: dict, version: int = 0) -> CoreIdentity:
    """Every option of core ``name`` at ``version`` (0: the newest): the frozen defaults of
    that version, overridden by ``options`` (checked by the registry's ``make_core``)."""
    version = check_version(name, version)
    model = dict(DEFAULTS[(name, version)])
    compute = {}
    for key, value in options.items():
        (compute if key in COMPUTE_OPTIONS else model)[key] = value
    return CoreIdentity(name, version, dict(sorted(model.items())), compute)


def upgrade_legacy_config(config: dict) -> bool:
    """Bring a run's settings of format ``fw_rl/1`` (no ``core_version``) to today's form
    in place: version 1 of its core, its options resolved with version 1's defaults.
    Returns whether it was a legacy config."""
    if "core_version" in config or config.get("core") not in CURRENT_VERSION:
        return False
    options = json.loads(config.get("core_options") or "{}")
    identity = resolve_core(config["core"], options, LEGACY_VERSION)
    config["core_version"] = LEGACY_VERSION
    config["core_options"] = identity.options_json()
    if identity.compute:
        config["core_compute"] = json.dumps(identity.compute, sort_keys=True)
    return True


def core_label(name: str, options: dict) -> str:
    """``name``, with the model options that differ from its newest version's defaults:
    ``fastweights (norm_preliminary=True)``. Runs of the same equations get the same label,
    whatever version they were recorded under; ``options`` without defaults (a model that
    is not a registered core) are all shown."""
    defaults = DEFAULTS.get((name, CURRENT_VERSION.get(name, 0)), {})
    shown = {
        k: v
        for k, v in sorted(options.items())
        if k not in COMPUTE_OPTIONS and (k not in defaults or defaults[k] != v)
    }
    if not shown:
        return name
    return f"{name} ({', '.join(f'{k}={v}' for k, v in shown.items())})"


def run_core_label(config: dict) -> str:
    """The :func:`core_label` of a run's saved settings (a ``config.json`` or a checkpoint's
    config, of any format): its options resolved with the defaults of the version it was
    recorded under, so that a legacy run's ``"{}"`` is labelled by what it ran."""
    config = dict(config)
    upgrade_legacy_config(config)
    name = config.get("core", "")
    options = config.get("core_options") or "{}"
    options = json.loads(options) if isinstance(options, str) else dict(options)
    if name in CURRENT_VERSION:
        options = resolve_core(name, options, int(config.get("core_version") or 0)).options
    return core_label(name, options)
