"""Build any recurrent core by name: ``make_core("fastweights", input_size, hidden_size)``.

The registry holds each core's :class:`~fw_rl.cores.declaration.CoreDeclaration`. The
package's own cores are the declarations listed in :data:`BUILTIN`; a core from outside the
package joins with :func:`register_core`, after which every trainer, the CLI and the
checkpoints take it by name.
"""

from __future__ import annotations

import inspect
import json

from fw_rl.cores.associative_lstm import ALSTM
from fw_rl.cores.base import RecurrentCore
from fw_rl.cores.declaration import COMPUTE_OPTIONS, CoreDeclaration
from fw_rl.cores.fast_weights import FASTWEIGHTS
from fw_rl.cores.gru import GRU
from fw_rl.cores.torch_rnn import IRNN, LSTM

BUILTIN: tuple[CoreDeclaration, ...] = (FASTWEIGHTS, LSTM, GRU, IRNN, ALSTM)

# name -> declaration; CORES (name -> class) is kept beside it for code that builds cores
DECLARATIONS: dict[str, CoreDeclaration] = {}
CORES: dict[str, type[RecurrentCore]] = {}


class UnknownCoreError(ValueError):
    """An unknown core name or an option the core does not take."""


def register_core(declaration: CoreDeclaration, *, replace: bool = False) -> CoreDeclaration:
    """Make a core known by its name everywhere (``make_core``, ``--core``, checkpoints).

    Registering another core under a taken name is refused unless ``replace``; registering
    the same declaration again does nothing. Returns the declaration."""
    if not isinstance(declaration, CoreDeclaration):
        raise TypeError(f"register_core takes a CoreDeclaration, got {type(declaration).__name__}")
    known = DECLARATIONS.get(declaration.name)
    if known is not None and known != declaration and not replace:
        raise ValueError(
            f"a core named {declaration.name!r} is registered already "
            f"({known.cls.__module__}.{known.cls.__name__}); pass replace=True to replace it"
        )
    options = set(_options_of(declaration.cls))
    for version, defaults in declaration.versions.items():
        unknown = sorted(set(defaults) - options)
        if unknown:
            raise ValueError(
                f"core {declaration.name!r} version {version}: defaults for {unknown}, "
                f"which {declaration.cls.__name__} does not take"
            )
    DECLARATIONS[declaration.name] = declaration
    CORES[declaration.name] = declaration.cls
    return declaration


def _import_registering(module: str) -> None:
    """Import the module that registers a core (``module:NAME``), the current directory
    searched too; ``UnknownCoreError`` where it cannot be imported."""
    import importlib
    import os
    import sys

    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        importlib.import_module(module)
    except ImportError as e:
        raise UnknownCoreError(f"--core {module}:...: cannot import {module!r} ({e})") from None


def core_declaration(name: str) -> CoreDeclaration:
    """The declaration of core ``name``: a registered name, or ``module:NAME``, a core that
    ``module`` registers when imported (so other processes, a resume and ``load`` find it
    too); ``UnknownCoreError`` otherwise."""
    base = name
    if ":" in name:
        module, base = name.rsplit(":", 1)
        if not module or not base:
            raise UnknownCoreError(
                f"--core {name!r}: a core of your own is module:NAME, both given (e.g. "
                "my_cores:leaky, where importing my_cores registers leaky)"
            )
        _import_registering(module)
    try:
        return DECLARATIONS[base]
    except KeyError:
        raise UnknownCoreError(
            f"unknown core {name!r}; available: {', '.join(sorted(DECLARATIONS))}, or "
            "module:NAME for a core that module registers"
        ) from None


def is_core(name: str) -> bool:
    """Whether ``name`` names a core (registered, or ``module:NAME``)."""
    try:
        core_declaration(name)
    except UnknownCoreError:
        return False
    return True


def registered_here_only(name: str) -> bool:
    """A core registered in this process by a plain name (not one of the package's, not
    ``module:NAME``): other processes (A3C's workers) cannot find it."""
    return ":" not in name and name in DECLARATIONS and DECLARATIONS[name] not in BUILTIN


def core_names() -> list[str]:
    """The registered cores' names, sorted."""
    return sorted(DECLARATIONS)


def _options_of(cls: type) -> list[str]:
    params = inspect.signature(cls.__init__).parameters
    return [p for p in params if p not in ("self", "input_size", "hidden_size")]


def core_options(name: str) -> list[str]:
    """The keyword options ``make_core(name, ...)`` accepts besides the two sizes."""
    return _options_of(core_declaration(name).cls)


def make_core(name: str, input_size: int, hidden_size: int, **options) -> RecurrentCore:
    """A new core of the registered ``name`` with its options."""
    cls = core_declaration(name).cls
    allowed = core_options(name)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UnknownCoreError(
            f"core {name!r} takes no option {', '.join(map(repr, unknown))}; "
            f"its options are: {', '.join(allowed)}"
        )
    core = cls(input_size, hidden_size, **options)
    core.core_name = name
    return core


def parse_core_options(name: str | None, text: str, flag: str = "--core-options") -> dict:
    """``--core-options`` JSON (the model options) or, with ``flag="--core-compute"``, the
    compute options, for core ``name`` (None: a model that takes no options), checked
    against what the core accepts; raises ``UnknownCoreError`` saying why."""
    try:
        options = json.loads(text)
    except json.JSONDecodeError as e:
        raise UnknownCoreError(f"{flag} must be a JSON object: {e}") from None
    if not isinstance(options, dict):
        raise UnknownCoreError(f"{flag} must be a JSON object, got {text!r}")
    every = [] if name is None else [o for o in core_options(name) if o != "batch_first"]
    model = [o for o in every if o not in COMPUTE_OPTIONS]
    compute = [o for o in every if o in COMPUTE_OPTIONS]
    # --core-options also takes the compute options (a run sorts them out), as it always has
    allowed = compute if flag == "--core-compute" else every
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        shown = compute if flag == "--core-compute" else model
        also = (
            f" (how it computes: --core-compute with {', '.join(compute)})"
            if compute and flag != "--core-compute"
            else ""
        )
        raise UnknownCoreError(
            f"{flag} {unknown} not accepted by core {name!r}; "
            f"it takes: {', '.join(shown) or 'no options'}{also}"
        )
    return options


for _declaration in BUILTIN:
    register_core(_declaration)
