"""The run directory, owned by one module for both trainers (A3C and supervised).

A run directory holds ``config.json`` (every setting, as used), CSV logs, ``checkpoint.pt``
(the latest state, to resume) and ``best.pt`` (the weights best on the trainer's
evaluation). This module creates or refuses it, writes the config and the logs, and names
the files; what a resume must keep is declared on the config's fields
(:func:`fw_rl.cli.fields_with_role`).
"""

from __future__ import annotations

import csv
import errno
import json
import os
import sys
from pathlib import Path

import numpy as np

try:
    import fcntl
except ImportError:  # not on Windows: runs there are not guarded against a second process
    fcntl = None

from fw_rl.checkpoint import CHECKPOINT_NAME, CheckpointError, load_checkpoint
from fw_rl.cli import command
from fw_rl.cores.identity import upgrade_legacy_config

BEST_NAME = "best.pt"
CONFIG_NAME = "config.json"


class RunDirError(OSError):
    """A run directory that cannot be used: it already holds a run, it cannot be created
    or written (permissions, a read-only or full disk), or it is not a run's (its files
    missing or unreadable). ``held`` is the directory where it already holds a run."""

    def __init__(self, message: str, *, held: Path | None = None) -> None:
        super().__init__(message)
        self.held = held


def holds_a_run(path: str | Path, api: bool = False) -> RunDirError:
    """The error for a new run in a directory that holds one, in the words of the caller:
    the command line's flags, or (``api``) the Python API's arguments."""
    path = Path(path)
    if api:
        ways = (
            f"continue it with fw_rl.load({str(path)!r}).learn(...), "
            "or choose another learn(run_dir=...)"
        )
    else:
        ways = f"pass --resume {path} to continue it, or choose another --run-dir"
    return RunDirError(f"{path} already holds a run: {ways}", held=path)


def read_log(run_dir: str | Path, name: str) -> list[dict[str, str]]:
    """The rows of a run's ``<name>.csv`` (``metrics``, ``eval``, ``curve``): the one
    reader of run folders' logs, for every report. Raises :class:`RunDirError` when the
    file is missing or unreadable."""
    path = Path(run_dir) / f"{name}.csv"
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except (OSError, csv.Error, UnicodeDecodeError) as e:
        raise RunDirError(f"cannot read {path}: {e}") from None


def log_column(rows: list[dict[str, str]], key: str) -> np.ndarray:
    """One column of :func:`read_log`'s rows as floats (an empty or ``nan`` cell: NaN)."""
    return np.array([float(r[key]) if r[key] not in ("", "nan") else np.nan for r in rows])


def describe_os_error(e: OSError) -> str:
    """``[Errno 28] No space left on device: 'x'`` -> ``no space left on device``."""
    if e.errno == errno.ENOSPC:
        return "no space left on device"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if e.errno == errno.EROFS:
        return "read-only file system"
    return (e.strerror or str(e)).lower()


def _written_by_a_run(path: Path) -> bool:
    """Whether ``path``'s ``config.json`` is one a run wrote (a run that ended before its
    first checkpoint leaves it; a new run may replace it)."""
    try:
        config = json.loads((path / CONFIG_NAME).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and "run_dir" in config


def create_run_dir(path: str | Path, resuming: bool, writes: tuple[str, ...] = ()) -> Path:
    """Make ``path`` ready for a run and mark it in use by this process until
    :func:`unlock_run_dir`: refuse one in use by a run of another process, one that holds a
    run unless ``resuming``, and one holding files of ``writes`` (the names the run writes)
    that no run wrote; create it; check that it can be written. Raises
    :class:`RunDirError` with one line."""
    path = Path(path)
    if path.is_dir():
        lock_run_dir(path)  # a live run's folder is refused before anything else is said
    try:
        _check_and_make(path, resuming, writes)
        lock_run_dir(path)  # a folder made just now (one locked above is kept as it is)
    except BaseException:
        unlock_run_dir(path)
        raise
    return path


def _check_and_make(path: Path, resuming: bool, writes: tuple[str, ...]) -> None:
    if not resuming and (path / CHECKPOINT_NAME).exists():
        raise holds_a_run(path)
    if not resuming:
        clobbered = [name for name in writes if (path / name).exists()]
        if clobbered and not _written_by_a_run(path):
            raise RunDirError(
                f"{path} holds {', '.join(clobbered)}, not written by a run: a new run "
                f"there would overwrite {'them' if len(clobbered) > 1 else 'it'}; choose a "
                "new or empty folder for the run"
            )
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise RunDirError(
            f"cannot write the run directory {path}: {describe_os_error(e)}"
        ) from None


# the run folders this process holds, by real path: the descriptor whose lock marks it in use
_HELD: dict[str, int] = {}


def lock_run_dir(path: Path) -> None:
    """Mark ``path`` in use by this process's run until :func:`unlock_run_dir` (or the
    process's end, a crash included): an advisory lock on the folder, so that a second
    run or a resume in another process is refused while this one trains. A run of this
    process that did not release the folder (its trainer failed while being built) has
    ended, so the lock this process holds is kept for the new run."""
    if fcntl is None:
        return
    key = os.path.realpath(path)
    held = _HELD.get(key)
    if held is not None:
        if os.path.samestat(os.fstat(held), os.stat(path)):
            return  # this process holds it already
        os.close(_HELD.pop(key))  # a folder since removed and made again: lock the new one
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise RunDirError(
            f"{path} is in use by a run still training in another process: wait for it to "
            "end (or stop it), or choose another folder"
        ) from None
    _HELD[key] = fd


def unlock_run_dir(path: Path) -> None:
    """Release :func:`lock_run_dir`'s mark (nothing where this process holds none)."""
    fd = _HELD.pop(os.path.realpath(path), None)
    if fd is not None:
        os.close(fd)


class Resumption:
    """``parse_config(..., saved=Resumption(kind))``: when ``--resume`` is given, reads the
    run's checkpoint once, returns its settings (they fill the flags not given) and keeps
    the checkpoint in ``payload`` for the trainer. A missing or bad checkpoint is one line
    on stderr and exit code 2."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.payload: dict | None = None

    def __call__(self, args: dict) -> dict | None:
        if not args.get("resume"):
            return None
        resume = Path(args["resume"])
        wrong = None
        if resume.is_file():
            wrong = (
                f"--resume takes a run's folder (the one holding {CHECKPOINT_NAME}), got the "
                f"file {resume}"
            )
        elif args.get("run_dir") and Path(args["run_dir"]).resolve() != resume.resolve():
            wrong = (
                f"give --resume RUN to continue a run or --run-dir DIR for a new one, not "
                f"both (--resume {resume}, --run-dir {args['run_dir']})"
            )
        if wrong:
            print(f"{command()}: error: {wrong}", file=sys.stderr)
            raise SystemExit(2)
        try:
            self.payload = load_checkpoint(args["resume"], kind=self.kind)
        except CheckpointError as e:
            print(f"{command()}: error: {e}", file=sys.stderr)
            raise SystemExit(2) from None
        return self.payload["config"]


def write_config(run_dir: Path, settings: dict) -> None:
    """``config.json``, written whole or not at all."""
    tmp = run_dir / (CONFIG_NAME + ".tmp")
    try:
        tmp.write_text(json.dumps(settings, indent=2))
        os.replace(tmp, run_dir / CONFIG_NAME)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def read_config(run_dir: Path) -> dict:
    """A run's ``config.json``; one written before checkpoint format ``fw_rl/2`` comes
    with its core's identity resolved as it was trained (version 1)."""
    config = json.loads((Path(run_dir) / CONFIG_NAME).read_text())
    upgrade_legacy_config(config)
    return config


class CsvLog:
    """An append-only CSV with a fixed header.

    On resume (``keep_up_to`` given) the rows logged after the checkpoint was saved
    (their ``key`` column above ``keep_up_to``) are dropped, so the log continues from
    the checkpoint's state; otherwise the file starts afresh. ``renamed`` maps a column's
    old name to its new one, so a run logged before a rename continues under the new
    header; a kept row's columns that the header no longer has are dropped.
    """

    def __init__(
        self,
        path: Path,
        fieldnames: list[str],
        keep_up_to: int | None = None,
        key: str = "frames",
        renamed: dict[str, str] | None = None,
    ) -> None:
        self.path, self.fieldnames = Path(path), list(fieldnames)
        renamed = renamed or {}
        rows = []
        if keep_up_to is not None and self.path.exists():
            with open(self.path, newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(float(r[key])) <= keep_up_to]
            rows = [
                {renamed.get(k, k): v for k, v in r.items() if renamed.get(k, k) in fieldnames}
                for r in rows
            ]
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, self.fieldnames)
                writer.writeheader()
                writer.writerows(rows)
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise

    def write(self, row: dict) -> None:
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, self.fieldnames).writerow(
                {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}
            )

    def rows(self) -> list[dict]:
        with open(self.path, newline="") as f:
            return list(csv.DictReader(f))
