"""A core's identity: its name, the version of its equations, and every option resolved.

A run records this in ``config.json`` and its checkpoint, so that a later change of a
default never rebuilds an old run with other equations. Options are of two sorts:

* model options (``decay``, ``norm_preliminary``, ...): they define the function the core
  computes and are part of a run's identity;
* compute options (:data:`COMPUTE_OPTIONS`: ``mode``, ``compiled``, ``batch_first``): they
  choose how the same function is computed and may differ between a run and its resume.

Each version's defaults are frozen in the core's declaration
(:class:`~fw_rl.cores.declaration.CoreDeclaration`, ``versions``); a new default means a new
version (and a line in its ``history``), never an edit of an old table. Runs of checkpoint
format ``fw_rl/1`` recorded only the options typed, with no version: they were made with
version 1 of every core (:data:`LEGACY_VERSION`).

An option added to a core later joins every version's table with the value that computes
what that version computed (``fastweights``' ``fast_gain``: False); a run recorded before
the option existed has no entry for it and takes that value
(:func:`complete_core_options`), so it still resumes as the same run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from fw_rl.cores.declaration import COMPUTE_OPTIONS
from fw_rl.cores.registry import core_declaration, is_core

LEGACY_VERSION = 1

__all__ = [
    "COMPUTE_OPTIONS",
    "CoreIdentity",
    "CoreVersionError",
    "LEGACY_VERSION",
    "check_version",
    "complete_core_options",
    "core_label",
    "current_version",
    "defaults",
    "resolve_core",
    "run_core_label",
    "upgrade_legacy_config",
]


def defaults(name: str, version: int) -> dict:
    """Every model option's default of core ``name`` at ``version`` (a copy; the
    declaration's table is frozen)."""
    return dict(core_declaration(name).versions[version])


def current_version(name: str) -> int:
    """The newest version of core ``name``'s equations."""
    return core_declaration(name).current_version


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
    if not is_core(name):
        raise CoreVersionError(f"unknown core {name!r}")
    if version == 0:
        return current_version(name)
    if version not in core_declaration(name).versions:
        known = sorted(core_declaration(name).versions)
        raise CoreVersionError(
            f"core {name!r} has no version {version}; its versions are {known} (0 = newest)"
        )
    return version


def resolve_core(name: str, options: dict, version: int = 0) -> CoreIdentity:
    """Every option of core ``name`` at ``version`` (0: the newest): the frozen defaults of
    that version, overridden by ``options`` (checked by the registry's ``make_core``)."""
    version = check_version(name, version)
    model = defaults(name, version)
    compute = {}
    for key, value in options.items():
        (compute if key in COMPUTE_OPTIONS else model)[key] = value
    return CoreIdentity(name, version, dict(sorted(model.items())), compute)


def upgrade_legacy_config(config: dict) -> bool:
    """Bring a run's settings of format ``fw_rl/1`` (no ``core_version``) to today's form
    in place: version 1 of its core, its options resolved with version 1's defaults.
    Returns whether it was a legacy config."""
    if "core_version" in config or not is_core(config.get("core", "")):
        complete_core_options(config)
        return False
    options = json.loads(config.get("core_options") or "{}")
    identity = resolve_core(config["core"], options, LEGACY_VERSION)
    config["core_version"] = LEGACY_VERSION
    config["core_options"] = identity.options_json()
    if identity.compute:
        config["core_compute"] = json.dumps(identity.compute, sort_keys=True)
    return True


def complete_core_options(config: dict) -> None:
    """In place: the options a registered core gained after this run was recorded, at the
    value of the run's version (the one that computes what the run computed). A run's own
    options, and a config of a core that is not registered here, are left as they are."""
    name, version = config.get("core", ""), config.get("core_version")
    if not is_core(name) or version not in core_declaration(name).versions:
        return
    saved = config.get("core_options") or "{}"
    options = json.loads(saved) if isinstance(saved, str) else dict(saved)
    missing = {k: v for k, v in defaults(name, version).items() if k not in options}
    if missing:
        config["core_options"] = json.dumps({**options, **missing}, sort_keys=True)


def core_label(name: str, options: dict) -> str:
    """``name``, with the model options that differ from its newest version's defaults:
    ``fastweights (norm_preliminary=True)``. Runs of the same equations get the same label,
    whatever version they were recorded under; ``options`` without defaults (a model that
    is not a registered core) are all shown."""
    newest = defaults(name, current_version(name)) if is_core(name) else {}
    shown = {
        k: v
        for k, v in sorted(options.items())
        if k not in COMPUTE_OPTIONS and (k not in newest or newest[k] != v)
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
    if is_core(name):
        options = resolve_core(name, options, int(config.get("core_version") or 0)).options
    return core_label(name, options)
