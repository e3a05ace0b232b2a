"""The core's part of a run's settings, shared by every trainer's config (A3C and the
supervised tasks): which core, its options, and the version of its equations.

After ``__post_init__`` the settings hold the core's identity resolved
(:mod:`fw_rl.cores.identity`): ``core_options`` is every model option as canonical JSON,
``core_version`` the version used (never 0), ``core_compute`` the compute options. So a
run's ``config.json`` and checkpoint say exactly which equations it ran, and two runs made
under different defaults never compare equal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

from fw_rl.cli import option
from fw_rl.cores.identity import CoreVersionError, resolve_core
from fw_rl.cores.registry import (
    core_declaration,
    core_names,
    is_core,
    make_core,
    parse_core_options,
)


@dataclass
class CoreConfig:
    core: str = option(
        "fastweights",
        "recurrent core: a registered name (python -m fw_rl.cores lists them), or "
        "module:NAME for a core that module registers (fw_rl.register_core)",
        role="identity",
    )
    core_options: str = option(
        "{}",
        'extra core options as JSON, e.g. \'{"decay": 0.9, "inner_steps": 1}\'; recorded '
        "with every option resolved",
        role="identity",
        follows="core",
    )
    core_version: int = option(
        0,
        "version of the core's equations (0 = the newest; `python -m fw_rl.cores` lists "
        "each core's versions); a resumed run keeps its own",
        role="identity",
        follows="core",
    )
    core_compute: str = option(
        "{}",
        "how the core computes (mode, compiled) as JSON; not part of the run's identity",
        follows="core",
    )

    # models a trainer offers besides the registered cores (they take no core options)
    other_models: ClassVar[tuple[str, ...]] = ()

    def _resolve_core(self) -> None:
        """Check the core's settings and store them resolved; raises ``ValueError``."""
        if self.core not in self.other_models and not is_core(self.core):
            if ":" in self.core:
                core_declaration(self.core)  # says why the module did not give the core
            models = core_names() + list(self.other_models)
            hint = (
                f" (names are lower case: {self.core.lower()!r})"
                if (self.core.lower() in models)
                else ""
            )
            raise ValueError(
                f"--core must be one of {', '.join(models)}, or module:NAME for a core that "
                f"module registers; got {self.core!r}{hint}"
            )
        name = self.core if is_core(self.core) else None
        typed = parse_core_options(name, self.core_options)
        compute = parse_core_options(name, self.core_compute, flag="--core-compute")
        clash = sorted(k for k in typed if k in compute and typed[k] != compute[k])
        if clash:
            raise ValueError(
                f"--core-options and --core-compute give {clash[0]} two values "
                f"({typed[clash[0]]!r} and {compute[clash[0]]!r}): give it once, in --core-compute"
            )
        if name is None:
            return
        try:
            identity = resolve_core(self.core, {**typed, **compute}, self.core_version)
        except CoreVersionError as e:
            raise ValueError(f"--core-version: {e}") from None
        size = getattr(self, "hidden_size", getattr(self, "hidden", 0))
        size = size if isinstance(size, int) and size > 0 else 4  # (the size's own check says)
        try:  # a value out of range is the core's to say: build one now, not at the run
            make_core(self.core, size, size, **identity.kwargs())
        except (ValueError, TypeError) as e:
            raise ValueError(f"core {self.core!r} refuses its settings: {e}") from None
        self.core_version = identity.version
        self.core_options = identity.options_json()
        self.core_compute = json.dumps(identity.compute, sort_keys=True)

    @property
    def core_kwargs(self) -> dict:
        """Every option of the core, for ``make_core`` (resolved by ``_resolve_core``)."""
        return {**json.loads(self.core_options), **json.loads(self.core_compute)}
