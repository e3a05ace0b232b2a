"""One run session for every trainer (A3C, the supervised tasks): what a run does that no
algorithm decides.

A :class:`RunSession` owns the run directory (:mod:`fw_rl.run_dir` names its files): it
creates the directory or refuses it, checks that a resumed run is the same run (the config's
``identity`` fields) and restores its counters, writes ``config.json``, opens the CSV logs
(cut back to the checkpoint's rows on resume) and TensorBoard, saves ``checkpoint.pt`` and
``best.pt`` atomically, keeps the run's clock across resumes, turns SIGINT and SIGTERM into
a stop the trainer asks about between steps (:meth:`RunSession.catching_signals`), and
closes its logs without losing the last good checkpoint when the disk fails.

The exit codes are every trainer's: 0 done, 1 a failure of the training itself (a worker, a
lost parameter server, a diverged supervised run), 2 usage and data errors, 3 a non-finite
loss (the last good checkpoint kept), 4 the run directory could not be written, 130 / 143
SIGINT / SIGTERM (saved).
"""

from __future__ import annotations

import math
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from fw_rl.checkpoint import CHECKPOINT_NAME, CheckpointError, check_same_run, save_checkpoint
from fw_rl.run_dir import (
    BEST_NAME,
    CONFIG_NAME,
    CsvLog,
    RunDirError,
    create_run_dir,
    describe_os_error,
    unlock_run_dir,
    write_config,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NONFINITE, EXIT_WRITE_FAILED = 0, 1, 2, 3, 4
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


class RunSession:
    """A run directory in use by one trainer.

    ``settings`` is the config as used (written to ``config.json`` and into every
    checkpoint); ``counters`` the trainer's progress counters, updated in place from
    ``payload`` (the checkpoint of a resumed run, whose ``identity`` settings must match);
    ``logs`` the CSV files as ``{name: columns}`` (``<name>.csv``), their rows keyed by the
    counter ``key``; ``renamed`` maps a column's old name to its new one (for old runs);
    ``kind`` the checkpoint's kind; ``unused`` settings that do not apply to this run
    (another env's flags) are saved but not printed. Raises
    :class:`~fw_rl.run_dir.RunDirError` (one line) when the directory holds another run or
    cannot be written.
    """

    def __init__(
        self,
        run_dir: str | Path,
        settings: dict,
        *,
        counters: dict,
        logs: dict[str, Sequence[str]],
        key: str,
        kind: str,
        payload: dict | None = None,
        identity: Sequence[str] = (),
        renamed: dict[str, str] | None = None,
        tensorboard: bool = False,
        unused: Sequence[str] = (),
        out=None,
    ) -> None:
        self.resumed = payload is not None
        writes = (CONFIG_NAME, *(f"{name}.csv" for name in logs))
        # marked in use until close(): a second process's run in it is refused
        self.run_dir = create_run_dir(run_dir, resuming=self.resumed, writes=writes)
        if payload is not None:
            try:
                check_same_run(payload, settings, list(identity), self.run_dir)
            except CheckpointError:
                unlock_run_dir(self.run_dir)
                raise
            counters.update(payload["counters"])
        counters.setdefault("elapsed_s", 0.0)
        self.settings, self.counters, self.kind = settings, counters, kind
        self.out = sys.stdout if out is None else out  # sys.stdout as it is now (redirected?)
        self._unused = set(unused)  # kept in config.json, left out of the printed table
        self._log_specs, self._key, self._renamed = logs, key, renamed
        self._want_tensorboard = tensorboard
        self.show_settings = True  # announce() prints the table (else where config.json is)
        self.logs: dict[str, CsvLog] = {}
        self.tensorboard = None
        self.signal_received: int | None = None
        self._started = time.monotonic()

    def open(self) -> RunSession:
        """From here on the run's files change: ``config.json`` is written, the logs are
        started (or cut back to the checkpoint's rows) and TensorBoard opened. A trainer
        loads a resumed run's weights before, so that a mismatch changes nothing."""
        keep_up_to = self.counters[self._key] if self.resumed else None
        try:
            write_config(self.run_dir, self.settings)
            for name, fields in self._log_specs.items():
                self.logs[name] = CsvLog(
                    self.run_dir / f"{name}.csv",
                    list(fields),
                    keep_up_to=keep_up_to,
                    key=self._key,
                    renamed=self._renamed,
                )
            if self._want_tensorboard:
                self.tensorboard = _tensorboard(self.run_dir)
        except OSError as e:
            raise RunDirError(
                f"cannot write the run directory {self.run_dir}: {describe_os_error(e)}"
            ) from None
        if self.resumed:
            self.say(
                f"resuming {self.run_dir} from its checkpoint at {self._key} "
                f"{self.counters[self._key]:,} ({self.counters['elapsed_s'] / 60:.1f} min "
                "trained); the logs continue from there"
            )
        return self

    # ---- the clock and the console ---------------------------------------------------------

    def shows_progress(self) -> bool:
        """Whether the run draws a progress bar: asked for, and printed to a terminal (not
        to a file or a pipe, where a bar's redrawn line would fill the log)."""
        try:
            terminal = self.out.isatty()
        except (AttributeError, ValueError):  # no such method, or a closed stream
            terminal = False
        return bool(self.settings.get("progress", True)) and terminal

    def say(self, text: str) -> None:
        """Print a line; a leading newline (which ends a progress bar's line) is dropped
        where the run shows no progress bar."""
        if not self.shows_progress():
            text = text.removeprefix("\n")
        try:
            print(text, file=self.out, flush=True)
        except BrokenPipeError:  # the reader went away (`| head`): train on, unheard
            self._silence()

    def _silence(self) -> None:
        """Send what the run says from now on to nowhere; where that is stdout, its file
        descriptor too, so that no later print (or Python's flush at exit) fails."""
        devnull = os.open(os.devnull, os.O_WRONLY)
        if self.out is sys.stdout:
            os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        self.out = open(os.devnull, "w")  # noqa: SIM115 - for the rest of the run

    def elapsed(self) -> float:
        """Seconds trained, over every session of this run."""
        return self.counters["elapsed_s"] + time.monotonic() - self._started

    def restart_clock(self) -> None:
        """Count from now: the set-up before (workers starting, kernels compiling) is not
        training time."""
        self._started = time.monotonic()

    def _bank_elapsed(self) -> None:
        self.counters["elapsed_s"] = self.elapsed()
        self._started = time.monotonic()

    # ---- logs --------------------------------------------------------------------------------

    def log(self, name: str, row: dict) -> None:
        """One row of ``<name>.csv``."""
        self.logs[name].write(row)

    def scalars(self, prefix: str, row: dict, step: int, keys: Sequence[str] | None = None) -> None:
        """``row``'s finite numbers (or those of ``keys``) to TensorBoard as ``prefix/key``."""
        if self.tensorboard is None:
            return
        for k in keys or list(row):
            v = row[k]
            if isinstance(v, (int, float)) and not math.isnan(v):
                self.tensorboard.add_scalar(f"{prefix}/{k}", v, step)

    def settings_table(self) -> str:
        """The settings as a Markdown table (printed, and shown by TensorBoard)."""
        rows = [f"| {k} | {v} |" for k, v in self.settings.items() if k not in self._unused]
        return "\n".join(["| setting | value |", "|---|---|", *rows])

    def announce(self) -> None:
        """The run's opening lines: where it is written, and every setting (or, where
        ``show_settings`` is off, the file that holds them)."""
        self.say(f"run directory: {self.run_dir}")
        table = self.settings_table()
        self.say(table if self.show_settings else f"settings: {self.run_dir / CONFIG_NAME}")
        if self.tensorboard is not None:
            self.tensorboard.add_text("hyperparameters", table)

    # ---- checkpoints -----------------------------------------------------------------------

    def save(self, model_state: dict, optimiser_state: dict | None) -> Path:
        """``checkpoint.pt``: the latest state, to resume (written whole or not at all)."""
        self._bank_elapsed()
        return save_checkpoint(
            self.run_dir / CHECKPOINT_NAME,
            model_state=model_state,
            optimiser_state=optimiser_state,
            counters=self.counters,
            config=self.settings,
            kind=self.kind,
        )

    def save_best(self, model_state: dict, **extra) -> Path:
        """``best.pt``: the weights to watch or test (the counters with ``extra`` beside)."""
        return save_checkpoint(
            self.run_dir / BEST_NAME,
            model_state=model_state,
            optimiser_state=None,
            counters={**self.counters, **extra},
            config=self.settings,
            kind=self.kind,
        )

    def save_final(self, model_state: dict, optimiser_state: dict | None) -> bool:
        """The last save of a run; a failed one says so and keeps the last good checkpoint.
        Returns whether it was written."""
        try:
            path = self.save(model_state, optimiser_state)
        except OSError as e:
            self.say(
                f"could not save the final checkpoint ({describe_os_error(e)}); "
                f"the last good one in {self.run_dir} is kept"
            )
            return False
        self.say(f"checkpoint saved: {path}")
        return True

    # ---- signals and the end -----------------------------------------------------------------

    @contextmanager
    def catching_signals(self) -> Iterator[None]:
        """While inside, SIGINT and SIGTERM only set :attr:`signal_received`: the trainer
        stops at its next step (:meth:`signal_stop`), saving first."""

        def on_signal(signum, _frame) -> None:
            self.signal_received = signum

        previous = {s: signal.signal(s, on_signal) for s in EXIT_SIGNAL}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def signal_stop(self) -> tuple[int, str] | None:
        """``(exit code, reason)`` once a signal was received, else None."""
        if self.signal_received is None:
            return None
        name = signal.Signals(self.signal_received).name
        return EXIT_SIGNAL[self.signal_received], f"{name} received"

    def close(self) -> None:
        """Close TensorBoard (a failing disk cannot stop the run from ending) and release
        the folder for another process's run."""
        if self.tensorboard is not None:
            try:
                self.tensorboard.close()
            except OSError:
                pass
        unlock_run_dir(self.run_dir)


def _tensorboard(run_dir: Path):
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(run_dir / "tensorboard"))
