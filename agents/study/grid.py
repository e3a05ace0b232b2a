"""A study's grid: axes of named settings crossed with seeds, read from a JSON file.

A grid file::

    {
      "flags": ["--workers", "2", "--envs-per-worker", "16", "--total-frames", "4000000"],
      "axes": {
        "setting": {"24x24": ["--size", "24", "--visible-steps", "5"],
                    "16x16": ["--size", "16", "--visible-steps", "3"]},
        "core": {"fastweights": ["--core", "fastweights"], "lstm": ["--core", "lstm"]}
      },
      "seeds": [0, 1, 2]
    }

gives one run per combination of one value of each axis and one seed, with the
``scripts/a3c.py`` flags ``flags + <each axis value's flags> + --seed N``. Axis values are
labels (letters, digits, ``. _ +``); the run's folder is their labels joined by ``-``,
then ``seed<N>``, e.g. ``24x24-lstm-seed0``. Later flags win, so an axis can override the
common ``flags``.

An optional ``"script"`` names the trainer the runs use (``scripts/<script>.py``): ``"a3c"``
(the default), ``"ppo"``, one of the supervised tasks, ``"assoc_retrieval"`` and
``"glimpses"``, so the supervised tables are grids too, or ``"sb3_recurrent_ppo"``, the peer
we measure against.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path

from fw_rl.agents.algorithms import ALGORITHMS

LABEL = re.compile(r"^[A-Za-z0-9._+]+$")
# the scripts (fw_rl.scripts.*) a grid may run: each algorithm's, and the supervised tasks'
SUPERVISED_SCRIPTS = ("assoc_retrieval", "glimpses")
SCRIPTS = (*(a.script for a in ALGORITHMS.values()), *SUPERVISED_SCRIPTS)


class GridError(ValueError):
    """A grid file that cannot be read or does not describe a grid."""


@dataclass(frozen=True)
class RunSpec:
    """One run of a grid: its labels by axis, its seed and the trainer's flags."""

    labels: dict[str, str]
    seed: int
    flags: tuple[str, ...]
    script: str = "a3c"

    @property
    def name(self) -> str:
        return "-".join([*self.labels.values(), f"seed{self.seed}"])


@dataclass(frozen=True)
class Grid:
    flags: tuple[str, ...]
    axes: dict[str, dict[str, tuple[str, ...]]]
    seeds: tuple[int, ...]
    script: str = "a3c"

    def runs(self) -> list[RunSpec]:
        """Every run, the seeds outermost: an interrupted study has every cell's first
        seeds before any cell's last."""
        names = list(self.axes)
        cells = list(itertools.product(*(self.axes[a].items() for a in names)))
        specs = []
        for seed in self.seeds:
            for cell in cells:
                labels = {a: label for a, (label, _) in zip(names, cell)}
                flags = [*self.flags]
                for _, value_flags in cell:
                    flags += value_flags
                specs.append(RunSpec(labels, seed, (*flags, "--seed", str(seed)), self.script))
        return specs

    def to_dict(self) -> dict:
        return {
            **({"script": self.script} if self.script != "a3c" else {}),
            "flags": list(self.flags),
            "axes": {a: {k: list(v) for k, v in vals.items()} for a, vals in self.axes.items()},
            "seeds": list(self.seeds),
        }


def _flag_list(value, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise GridError(f"{where} must be a list of strings (command-line flags), got {value!r}")
    return tuple(value)


def parse_grid(data: dict, source: str = "grid") -> Grid:
    """Check a grid's JSON object and build the :class:`Grid`."""
    if not isinstance(data, dict):
        raise GridError(f"{source}: a grid is a JSON object, got {type(data).__name__}")
    unknown = set(data) - {"flags", "axes", "seeds", "description", "script"}
    if unknown:
        raise GridError(
            f"{source}: unknown keys {sorted(unknown)}; "
            "allowed: flags, axes, seeds, script, description"
        )
    script = data.get("script", "a3c")
    if script not in SCRIPTS:
        raise GridError(f"{source}: 'script' must be one of {', '.join(SCRIPTS)}, got {script!r}")
    flags = _flag_list(data.get("flags", []), f"{source}: 'flags'")
    if "--seed" in flags or "--run-dir" in flags or "--resume" in flags:
        raise GridError(f"{source}: 'flags' may not set --seed, --run-dir or --resume")
    axes_in = data.get("axes")
    if not isinstance(axes_in, dict) or not axes_in:
        raise GridError(f"{source}: 'axes' must be a non-empty object of axis name -> values")
    axes: dict[str, dict[str, tuple[str, ...]]] = {}
    for axis, values in axes_in.items():
        if not LABEL.match(axis):
            raise GridError(f"{source}: axis name {axis!r} must use letters, digits, . _ +")
        if not isinstance(values, dict) or not values:
            raise GridError(f"{source}: axis {axis!r} must be a non-empty object of label -> flags")
        for label in values:
            if not LABEL.match(label):
                raise GridError(
                    f"{source}: label {label!r} of axis {axis!r} must use letters, digits, . _ +"
                )
        axes[axis] = {k: _flag_list(v, f"{source}: {axis}.{k}") for k, v in values.items()}
    seeds = data.get("seeds")
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
        or len(set(seeds)) != len(seeds)
    ):
        raise GridError(f"{source}: 'seeds' must be a non-empty list of distinct ints >= 0")
    return Grid(flags, axes, tuple(seeds), script)


def load_grid(path: str | Path) -> Grid:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise GridError(f"no grid file at {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise GridError(f"cannot read the grid file {path}: {e}") from None
    except json.JSONDecodeError as e:
        raise GridError(f"{path} is not valid JSON: {e}") from None
    return parse_grid(data, str(path))
