"""Checkpoints: written atomically, loaded with ``weights_only=True`` and checked."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import torch

from fw_rl.cores.identity import LEGACY_VERSION, complete_core_options, upgrade_legacy_config

# fw_rl/2: the config holds the core's identity resolved (core_version, every option);
# fw_rl/1 (read still): only the options typed, the core at version 1 of its equations
FORMAT = "fw_rl/2"
LEGACY_FORMATS = ("fw_rl/1",)
CHECKPOINT_NAME = "checkpoint.pt"


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, corrupt, or made for another agent."""


def save_checkpoint(
    path: str | Path,
    *,
    model_state: dict,
    optimiser_state: dict | None,
    counters: dict,
    config: dict,
    kind: str = "a3c",
) -> Path:
    """Write the checkpoint to a temporary file, then rename it over ``path``.

    A crash while saving leaves the previous checkpoint whole; a failed write (a full
    disk) removes the partial temporary file and raises an ``OSError`` (also where torch's
    zip writer turned the operating system's error into a ``RuntimeError``).
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    payload = {
        "format": FORMAT,
        "kind": kind,
        "model": model_state,
        "optimiser": optimiser_state,
        "counters": dict(counters),
        "config": dict(config),
    }
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:  # a full disk, or Ctrl-C while writing: keep no partial file
        tmp.unlink(missing_ok=True)
        if isinstance(e, RuntimeError):  # torch's writer wraps the OSError (ENOSPC) it met
            raise _os_error_behind(e) from None
        raise
    return path


def _os_error_behind(e: BaseException) -> OSError:
    """The ``OSError`` in ``e``'s chain of causes, or an I/O error that names ``e``."""
    seen = e
    while seen is not None:
        if isinstance(seen, OSError):
            return OSError(seen.errno, seen.strerror or str(seen))
        seen = seen.__cause__ or seen.__context__
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    return OSError(errno.EIO, f"the checkpoint could not be written ({text})")


def resolve_checkpoint(path: str | Path) -> Path:
    """A run directory or a checkpoint file -> the checkpoint file."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise CheckpointError(
            f"no checkpoint at {path}: give a run directory holding "
            f"{CHECKPOINT_NAME} or the path of a checkpoint file"
        )
    return path


def load_checkpoint(path: str | Path, kind: str | tuple[str, ...] = "a3c") -> dict:
    """Load and check a checkpoint of ``kind``, or of one of several kinds (an agent that
    any RL trainer made: :func:`fw_rl.agents.algorithms.agent_kinds`),
    ``weights_only=True``: no code is unpickled."""
    path = resolve_checkpoint(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch raises several types for a damaged or hostile file
        # torch's own message suggests weights_only=False, which would run the file's code
        raise CheckpointError(
            f"{path} is not a valid fw_rl checkpoint (corrupt, truncated or not written by fw_rl)"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") not in (FORMAT, *LEGACY_FORMATS):
        raise CheckpointError(f"{path} is not an fw_rl checkpoint (format {FORMAT})")
    kinds = (kind,) if isinstance(kind, str) else tuple(kind)
    if payload.get("kind") not in kinds:
        wanted = " or ".join(repr(k) for k in kinds)
        found = payload.get("kind")
        made_by = {
            "a3c": "scripts/a3c.py",
            "ppo": "scripts/ppo.py",
            "supervised": "its task's script",
        }
        hint = f" (resume it with {made_by[found]})" if found in made_by else ""
        raise CheckpointError(f"{path} is a checkpoint of kind {found!r}, not {wanted}{hint}")
    for key in ("model", "counters", "config"):
        if key not in payload:
            raise CheckpointError(f"{path} is incomplete: it has no {key!r}")
    if payload["format"] in LEGACY_FORMATS and upgrade_legacy_config(payload["config"]):
        config = payload["config"]
        print(
            f"note: {path} is of format {payload['format']}: its {config['core']} core is "
            f"rebuilt with version {LEGACY_VERSION} of its equations, as trained "
            f"(options {config['core_options']})",
            file=sys.stderr,
        )
    else:
        complete_core_options(payload["config"])
    return payload


# the name of an env made by a callable given to one process (fw_rl.envs.factory): it holds
# that callable's address, so the same env given again in another process has another name
PROCESS_LOCAL_ENV_PREFIX = "factory:"


def _same_setting(saved, asked) -> bool:
    """Equal, or both envs made by callables given in a process: such a run can be
    continued only by giving its env again (``fw_rl.load(run, env=...)``), and what is
    given then is taken as the run's env (its spaces must still fit the weights)."""
    if saved == asked:
        return True
    local = [isinstance(v, str) and v.startswith(PROCESS_LOCAL_ENV_PREFIX) for v in (saved, asked)]
    return all(local)


def check_same_run(
    payload: dict, config: dict, keys: tuple[str, ...], path: str | Path = "checkpoint"
) -> None:
    """Raise if the checkpoint was made for another model: the settings ``keys`` (the
    config's ``"identity"`` fields, :func:`fw_rl.cli.fields_with_role`) must match."""
    saved = payload["config"]
    differ = [k for k in keys if not _same_setting(saved.get(k), config.get(k))]
    if "core" in differ:  # another core: its options and version differ as a consequence
        differ = [k for k in differ if not k.startswith("core_")]
    diffs = [f"{k}: checkpoint {saved.get(k)!r}, asked {config.get(k)!r}" for k in differ]
    if diffs:
        raise CheckpointError(f"{path} was made for another agent ({'; '.join(diffs)})")


def load_model_state(model: torch.nn.Module, payload: dict, path: str | Path) -> None:
    """``model.load_state_dict`` with a message that names the checkpoint."""
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as e:
        lines = [x.strip() for x in str(e).splitlines()[1:] if x.strip()]  # torch's details
        first = f": {lines[0]}" + (f" (and {len(lines) - 1} more)" if len(lines) > 1 else "")
        raise CheckpointError(
            f"{path} does not fit this model (another core or size, or an env with other "
            f"observations or actions?){first if lines else ''}"
        ) from None
