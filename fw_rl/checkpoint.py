"""Checkpoints: written atomically, loaded with ``weights_only=True`` and checked."""

from __future__ import annotations

import os
from pathlib import Path

import torch

FORMAT = "fw_rl/1"
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
    disk) removes the partial temporary file and raises the ``OSError``.
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
    except BaseException:  # a full disk, or Ctrl-C while writing: keep no partial file
        tmp.unlink(missing_ok=True)
        raise
    return path


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


def load_checkpoint(path: str | Path, kind: str = "a3c") -> dict:
    """Load and check a checkpoint of ``kind`` (``weights_only=True``: no code is
    unpickled)."""
    path = resolve_checkpoint(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch raises several types for a damaged or hostile file
        # torch's own message suggests weights_only=False, which would run the file's code
        raise CheckpointError(
            f"{path} is not a valid fw_rl checkpoint (corrupt, truncated or not written by fw_rl)"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an fw_rl checkpoint (format {FORMAT})")
    if payload.get("kind") != kind:
        raise CheckpointError(f"{path} is a {payload.get('kind')!r} checkpoint, not {kind!r}")
    for key in ("model", "counters", "config"):
        if key not in payload:
            raise CheckpointError(f"{path} is incomplete: it has no {key!r}")
    return payload


def check_same_run(
    payload: dict, config: dict, keys: tuple[str, ...], path: str | Path = "checkpoint"
) -> None:
    """Raise if the checkpoint was made for another model: the settings ``keys`` (the
    config's ``"identity"`` fields, :func:`fw_rl.cli.fields_with_role`) must match."""
    saved = payload["config"]
    diffs = [
        f"{k}: checkpoint {saved.get(k)!r}, asked {config.get(k)!r}"
        for k in keys
        if saved.get(k) != config.get(k)
    ]
    if diffs:
        raise CheckpointError(f"{path} was made for another agent ({'; '.join(diffs)})")


def load_model_state(model: torch.nn.Module, payload: dict, path: str | Path) -> None:
    """``model.load_state_dict`` with a message that names the checkpoint."""
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as e:
        raise CheckpointError(
            f"{path} does not fit this model (another core or size?): {e}"
        ) from None
