"""Run a study's grid, resumably: finished runs are skipped, interrupted ones resumed.

Each run is ``python -m fw_rl.scripts.<script> <flags> --run-dir <study>/runs/<name>``
(``a3c`` unless the grid names a supervised task) in a process of its own (its log in
``log.txt`` beside its CSVs). A run is finished when its folder holds ``done.json``,
written here once the trainer exits with 0; a folder with a checkpoint but no
``done.json`` was interrupted and continues with ``--resume``. So a study survives Ctrl-C,
a crash or the end of a session: run the same command again.

Several runners may share one grid (``--only`` or not): each run is claimed by the runner
that starts it (``running.pid``) and skipped by the others while that runner lives; a
finished run is skipped whenever a runner reaches it, not only at its start.

``jobs`` runs go at once; with ``cores_per_job`` each is pinned to its own cores with
``taskset -c`` (as on a 16-core machine: 8 jobs x 2 cores), so runs do not contend. With
``ray_address`` each run is a Ray task on a cluster instead (:mod:`fw_rl.agents.study.on_ray`),
and ``jobs`` bounds how many are sent at once (default: all; Ray queues them by CPUs).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from fw_rl.agents.study.grid import Grid, RunSpec
from fw_rl.checkpoint import CHECKPOINT_NAME

DONE_NAME = "done.json"
SPEC_NAME = "study.json"
LOG_NAME = "log.txt"
CLAIM_NAME = "running.pid"  # a run in progress: the pid of the runner that started it


@dataclass
class RunResult:
    name: str
    status: str  # "done", "skipped" (finished before), "taken" (by another runner), "failed",
    # "interrupted"
    exit_code: int | None = None
    seconds: float = 0.0


def is_finished(run_dir: Path) -> bool:
    return (run_dir / DONE_NAME).is_file()


def budget_spent(run_dir: Path, flags: tuple[str, ...] | list[str] = ()) -> bool:
    """Whether the run's checkpoint has used up its budget, the grid's ``flags`` where they
    give it, else its own settings (and, for a supervised run, its ``results.json`` is
    written): it ended, but before ``done.json`` was written, or the grid's budget was cut
    below it (the trainers refuse to resume such a run, exit 2)."""
    if not (run_dir / CHECKPOINT_NAME).is_file():
        return False
    from types import SimpleNamespace

    from fw_rl.agents.agent_run import nothing_left
    from fw_rl.checkpoint import CheckpointError, load_checkpoint
    from fw_rl.tasks import training

    try:
        payload = load_checkpoint(run_dir, kind=("a3c", "ppo", training.KIND))
    except CheckpointError:  # another trainer's run, or unreadable: resume decides
        return False
    config = payload["config"]
    given = {flag: value for flag, value in zip(flags, list(flags)[1:])}

    def setting(name: str, kind: type, default=0):
        value = given.get("--" + name.replace("_", "-"), config.get(name))
        return kind(default if value is None else value)

    if payload.get("kind") == training.KIND:
        if not (run_dir / "results.json").is_file():
            return False  # a resume tests it
        budget = SimpleNamespace(
            updates=setting("updates", int),
            patience=setting("patience", int),
            stop_at_error=setting("stop_at_error", float, -1.0),
        )
        return training.nothing_left(payload["counters"], budget) is not None
    budget = SimpleNamespace(
        total_frames=setting("total_frames", int), max_minutes=setting("max_minutes", float)
    )
    return nothing_left(payload["counters"], budget) is not None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def claim(run_dir: Path) -> bool:
    """Take the run for this process (``running.pid``, created atomically); False when
    another live runner holds it. A claim whose runner died is taken over."""
    path = run_dir / CLAIM_NAME
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                holder = int(path.read_text().strip() or 0)
            except (OSError, ValueError):
                holder = 0
            if holder and holder != os.getpid() and _alive(holder):
                return False
            path.unlink(missing_ok=True)  # stale: its runner is gone
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return True
    return False


def release(run_dir: Path) -> None:
    (run_dir / CLAIM_NAME).unlink(missing_ok=True)


def trainer_command(spec: RunSpec, run_dir: Path, python: str = sys.executable) -> list[str]:
    """The command that starts (or, after an interruption, continues) one run."""
    command = [python, "-m", f"fw_rl.scripts.{spec.script}", *spec.flags, "--no-progress"]
    if (run_dir / CHECKPOINT_NAME).is_file():
        return [*command, "--resume", str(run_dir)]
    return [*command, "--run-dir", str(run_dir)]


class StudyRunner:
    """Runs the grid's runs under ``out/runs``; :meth:`run` returns one result per run.

    Args:
        grid: the runs.
        out: the study's folder (``grid.json`` and ``runs/`` are written there).
        jobs: runs at once (on Ray, None: all of them).
        cores_per_job: pin each job to this many cores with ``taskset`` (0: no pinning).
        say: where progress lines go.
        ray_address: run each run as a task on this Ray cluster ('auto', 'host:port').
    """

    def __init__(
        self,
        grid: Grid,
        out: Path,
        jobs: int | None = 1,
        cores_per_job: int = 0,
        say: Callable[[str], None] = print,
        ray_address: str | None = None,
    ) -> None:
        if jobs is not None and jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        if cores_per_job < 0:
            raise ValueError(f"cores_per_job must be >= 0, got {cores_per_job}")
        if ray_address is not None and cores_per_job:
            raise ValueError(
                "--pin is for runs on this machine; on Ray each run asks for its --workers CPUs"
            )
        self.ray_address, self.launcher = ray_address, None
        if ray_address is None:
            jobs = jobs or 1
        if cores_per_job and shutil.which("taskset") is None:
            raise ValueError("pinning runs to cores needs taskset (util-linux): use --pin 0")
        cpus = os.cpu_count() or 1
        if cores_per_job * (jobs or 1) > cpus:
            raise ValueError(
                f"{jobs} jobs x {cores_per_job} cores need {jobs * cores_per_job} cores; "
                f"this machine has {cpus}"
            )
        self.grid, self.out, self.jobs = grid, Path(out), jobs
        self.cores_per_job, self.say = cores_per_job, say
        self._free_slots = list(range(jobs or 0))
        self._lock = threading.Lock()
        self._processes: dict[int, subprocess.Popen] = {}
        self._stopping = False

    def run_dir(self, spec: RunSpec) -> Path:
        return self.out / "runs" / spec.name

    def run(self, only: Callable[[RunSpec], bool] | None = None) -> list[RunResult]:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "grid.json").write_text(json.dumps(self.grid.to_dict(), indent=2))
        specs = [s for s in self.grid.runs() if only is None or only(s)]
        results = [RunResult(s.name, "skipped") for s in specs if is_finished(self.run_dir(s))]
        todo = [s for s in specs if not is_finished(self.run_dir(s))]
        self.say(
            f"study {self.out}: {len(specs)} runs, {len(results)} finished, {len(todo)} to run"
        )
        if self.ray_address is not None and todo:
            from fw_rl.agents.study.on_ray import RayLauncher

            self.launcher = RayLauncher(self.ray_address)
            self.launcher.check(todo)
        jobs = self.jobs or max(1, len(todo))
        self._free_slots = list(range(jobs))
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            with ThreadPoolExecutor(jobs) as pool:
                futures = [pool.submit(self._run_one, s) for s in todo]
                for done, future in enumerate(as_completed(futures), 1):
                    result = future.result()
                    results.append(result)
                    self.say(
                        f"[{done}/{len(todo)}] {result.name}: {result.status}"
                        + (f" (exit {result.exit_code})" if result.status == "failed" else "")
                        + f" in {result.seconds / 60:.1f} min"
                    )
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        return results

    # ---- one run -------------------------------------------------------------------------

    def _on_signal(self, signum, _frame) -> None:
        """Ctrl-C / SIGTERM: stop starting runs, ask the running ones to save and stop."""
        self._stopping = True
        if self.launcher is not None:
            self.launcher.stop()
        with self._lock:
            for process in self._processes.values():
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)

    def _run_one(self, spec: RunSpec) -> RunResult:
        if self._stopping:
            return RunResult(spec.name, "interrupted")
        run_dir = self.run_dir(spec)
        run_dir.mkdir(parents=True, exist_ok=True)
        # checked again here, not only at the start: another runner on the same grid (a second
        # core, a second machine on a shared disk) may have finished or taken the run since
        if is_finished(run_dir):
            return RunResult(spec.name, "skipped")
        if not claim(run_dir):
            return RunResult(spec.name, "taken", seconds=0.0)
        try:
            return self._run_claimed(spec, run_dir)
        finally:
            release(run_dir)

    def _run_claimed(self, spec: RunSpec, run_dir: Path) -> RunResult:
        (run_dir / SPEC_NAME).write_text(
            json.dumps({"labels": spec.labels, "seed": spec.seed, "flags": list(spec.flags)})
        )
        if budget_spent(run_dir, spec.flags):  # it ended before done.json: a resume refuses
            (run_dir / DONE_NAME).write_text(
                json.dumps({"exit_code": 0, "seconds": 0.0, "command": [], "from": "checkpoint"})
            )
            return RunResult(spec.name, "done", 0, 0.0)
        with self._lock:
            slot = self._free_slots.pop(0)
        command = trainer_command(spec, run_dir)
        if self.cores_per_job:
            first = slot * self.cores_per_job
            cores = ",".join(str(c) for c in range(first, first + self.cores_per_job))
            command = ["taskset", "-c", cores, *command]
        start = time.monotonic()
        if self.launcher is not None:
            from fw_rl.agents.study.on_ray import cpus_of

            command = [
                "ray-task",
                f"num_cpus={cpus_of(spec)}",
                f"fw_rl.scripts.{spec.script}",
                *spec.flags,
            ]
            try:
                with open(run_dir / LOG_NAME, "a") as log:
                    log.write("$ " + " ".join(command) + "\n")
                    code = self.launcher.run(spec, run_dir, log)
            finally:
                with self._lock:
                    self._free_slots.append(slot)
        else:
            code = self._run_here(spec, run_dir, slot, command)
        seconds = time.monotonic() - start
        if code == 0:
            (run_dir / DONE_NAME).write_text(
                json.dumps({"exit_code": 0, "seconds": seconds, "command": command})
            )
            return RunResult(spec.name, "done", 0, seconds)
        status = "interrupted" if self._stopping else "failed"
        return RunResult(spec.name, status, code, seconds)

    def _run_here(self, spec: RunSpec, run_dir: Path, slot: int, command: list[str]) -> int:
        """The run as a process on this machine; returns its exit code."""
        try:
            with open(run_dir / LOG_NAME, "a") as log:
                log.write("$ " + " ".join(command) + "\n")
                log.flush()
                process = subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
                with self._lock:
                    self._processes[slot] = process
                if self._stopping:  # a signal came while it started
                    os.killpg(process.pid, signal.SIGTERM)
                code = process.wait()
        finally:
            with self._lock:
                self._processes.pop(slot, None)
                self._free_slots.append(slot)
        return code
