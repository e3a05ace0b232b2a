"""A study's runs as Ray tasks, so that a grid spreads over a cluster.

Each run is one task asking for the CPUs its ``--workers`` flag names (1 without it). The
task runs the trainer in a folder of its own on whichever node Ray chose, seeded with the
run folder's files when the run was interrupted before (so it resumes from its checkpoint),
and sends every file of the run back: the driver writes them into the same run folder as a
local run would. No shared file system is needed; every node needs fw_rl installed.

Stopping (Ctrl-C or SIGTERM to the study): a small actor holds a stop flag that every task
polls; a task whose flag is set sends SIGTERM to its trainer, which saves a checkpoint, and
returns the files as they are, so the next ``study.py run`` resumes the run.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ray

from fw_rl.agents.algorithms import ALGORITHMS
from fw_rl.agents.study.grid import RunSpec

NOT_SHIPPED = {"log.txt", "study.json", "done.json"}  # kept by the driver, not the task


def cpus_of(spec: RunSpec) -> int:
    """The CPUs a run asks Ray for: an A3C run's ``--workers``, a supervised run's
    ``--threads`` (1 when the flag is absent)."""
    if spec.script in ALGORITHMS:
        return ALGORITHMS[spec.script].cpus(spec.flags)
    flags = list(spec.flags)
    for i, flag in enumerate(flags[:-1]):
        if flag == "--threads":
            return max(1, int(flags[i + 1]))
    return 1


@ray.remote(num_cpus=0)
class StopFlag:
    def __init__(self) -> None:
        self.stopping = False

    def set(self) -> None:
        self.stopping = True

    def is_set(self) -> bool:
        return self.stopping


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name not in NOT_SHIPPED
    }


@ray.remote(max_retries=0)
def run_trainer_task(
    flags: list[str], files: dict[str, bytes], stop_flag, script: str = "a3c"
) -> tuple:
    """One run on a cluster node: ``(exit code, the run's files, its output)``."""
    with tempfile.TemporaryDirectory(prefix="fw_rl-run-") as tmp:
        run_dir = Path(tmp) / "run"
        for name, data in files.items():
            (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (run_dir / name).write_bytes(data)
        where = (
            ["--resume", str(run_dir)] if "checkpoint.pt" in files else ["--run-dir", str(run_dir)]
        )
        module = f"fw_rl.scripts.{script}"
        command = [sys.executable, "-m", module, *flags, "--no-progress", *where]
        log = Path(tmp) / "log.txt"
        with open(log, "w") as out:
            out.write(f"# on node {ray.get_runtime_context().get_node_id()}: {' '.join(command)}\n")
            out.flush()
            process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
            stopped = False
            while process.poll() is None:
                time.sleep(0.5)
                if not stopped and ray.get(stop_flag.is_set.remote()):
                    os.killpg(process.pid, signal.SIGTERM)  # it saves a checkpoint and stops
                    stopped = True
        return process.returncode, _files(run_dir) if run_dir.is_dir() else {}, log.read_text()


class RayLauncher:
    """Runs runs as tasks on the Ray cluster at ``address`` (joined here)."""

    def __init__(self, address: str) -> None:
        if not ray.is_initialized():
            try:
                ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as e:
                lines = str(e).strip().splitlines() or [type(e).__name__]
                raise ValueError(
                    f"cannot reach the Ray cluster at {address!r}: {lines[0]}"
                ) from None
        self.stop_flag = None
        self.largest_node = max(
            (n["Resources"].get("CPU", 0) for n in ray.nodes() if n["Alive"]), default=0
        )

    def check(self, specs: list[RunSpec]) -> None:
        """Refuse runs that no node of the cluster can hold (they would wait for ever);
        call it before :meth:`run`."""
        for spec in specs:
            if cpus_of(spec) > self.largest_node:
                raise ValueError(
                    f"run {spec.name} asks for {cpus_of(spec)} CPUs "
                    f"({'--workers' if spec.script == 'a3c' else '--threads'}); the "
                    f"largest node of the cluster has {self.largest_node:g}"
                )
        self.stop_flag = StopFlag.remote()

    def run(self, spec: RunSpec, run_dir: Path, log) -> int:
        """Run ``spec`` on the cluster; its files land in ``run_dir``, its output in
        ``log``; returns the trainer's exit code."""
        ref = run_trainer_task.options(num_cpus=cpus_of(spec)).remote(
            list(spec.flags), _files(run_dir), self.stop_flag, spec.script
        )
        code, files, output = ray.get(ref)
        for name, data in files.items():
            target = run_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".part")
            partial.write_bytes(data)
            partial.replace(target)
        log.write(output)
        log.flush()
        return code

    def stop(self) -> None:
        """Ask every running task to stop its trainer (which saves) and send it back."""
        if self.stop_flag is not None:
            self.stop_flag.set.remote()
