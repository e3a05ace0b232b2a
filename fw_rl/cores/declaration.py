"""What a core declares about itself, once, in its own module: :class:`CoreDeclaration`.

Everything generic (the registry, a run's identity, the trainers, the viewer, the study
tools) asks a core's declaration and never compares its name. A new core is a module that
defines a :class:`~fw_rl.cores.base.RecurrentCore` subclass and a declaration, and is
registered with :func:`fw_rl.cores.registry.register_core` (the package's own cores are
listed in ``registry.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fw_rl.cores.base import RecurrentCore

# options that choose how a core computes, not what: never part of a run's identity
COMPUTE_OPTIONS = ("mode", "compiled", "batch_first")


@dataclass(frozen=True)
class CoreDeclaration:
    """A core: its name, class, the versions of its equations and what it can do.

    Args:
        name: the name ``--core`` and ``make_core`` take.
        cls: the :class:`RecurrentCore` subclass; its ``__init__`` keywords besides
            ``input_size`` and ``hidden_size`` are the core's options.
        versions: version -> every model option's default at that version. Frozen: a new
            default is a new version, never an edit (old runs keep their equations).
        history: version -> one line saying what that version changed.
        summary: one line for ``--help`` and the docs.
        warm_up: compiles the core's kernels ahead of a run; returns the seconds it took
            (None: nothing to compile).
        has_attention: the core's ``forward_with_attention`` gives the weight its memory
            puts on each past step (the viewer and the attention probe use it).
    """

    name: str
    cls: type[RecurrentCore]
    versions: dict[int, dict] = field(default_factory=lambda: {1: {}})
    history: dict[int, str] = field(default_factory=dict)
    summary: str = ""
    warm_up: Callable[[], float] | None = None
    has_attention: bool = False

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").isalnum():
            raise ValueError(
                f"a core's name must be a word (letters, digits, _), got {self.name!r}"
            )
        if not (isinstance(self.cls, type) and issubclass(self.cls, RecurrentCore)):
            raise TypeError(f"core {self.name!r}: cls must subclass RecurrentCore")
        if not self.versions or any(
            not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in self.versions
        ):
            raise ValueError(f"core {self.name!r}: versions must be numbered 1, 2, ...")
        if self.has_attention and not hasattr(self.cls, "forward_with_attention"):
            raise TypeError(
                f"core {self.name!r} declares attention but has no forward_with_attention"
            )

    @property
    def current_version(self) -> int:
        return max(self.versions)
