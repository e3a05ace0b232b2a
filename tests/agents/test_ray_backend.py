"""--backend ray: the parameter-server actor, worker actors on a (simulated) cluster, the
trainer on top of them, faults, signals, and checkpoints shared with the processes backend.

The in-process tests join the session's two-node cluster (the ``ray_cluster`` fixture);
the signal tests start the trainer as a user does, with a local Ray of its own."""

import copy
import io
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import torch
from test_a3c_train import (
    TINY,
    assert_no_orphans,
    read_csv,
    run_a3c,
    stop_training_with,
    tagged_env,
)

from fw_rl.agents.a3c.parameter_server import SharedMemoryServer
from fw_rl.agents.a3c.pool import Note, Update
from fw_rl.agents.a3c.shared_optim import make_shared_optimiser
from fw_rl.agents.a3c.trainer import A3CTrainer
from fw_rl.agents.config import A3CConfig, ConfigError
from fw_rl.agents.model import build_model
from fw_rl.checkpoint import load_checkpoint

ray = pytest.importorskip("ray")
ray_backend = pytest.importorskip("fw_rl.agents.a3c.ray_backend")

SMALL = dict(size=6, hidden_size=16, encoder_size=16, envs_per_worker=4, eval_episodes=20)


def train_in_process(tmp_path, name="run", **settings):
    """Run the trainer here (joining the session's cluster); returns (exit code, output)."""
    config = A3CConfig(backend="ray", progress=False, run_dir=str(tmp_path / name), **settings)
    out = io.StringIO()
    code = A3CTrainer(config, out=out).train()
    return code, out.getvalue()


def ray_processes(kind):
    """PIDs of this machine's processes running a Ray actor of class ``kind``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes().startswith(f"ray::{kind}".encode()):
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


def kill_when(trainer_frames, frames, kind, delay=0.0):
    """A thread that SIGKILLs one ``kind`` actor process once the run has ``frames``."""
    killed = []

    def watch():
        deadline = time.time() + 120
        while time.time() < deadline and trainer_frames() < frames:
            time.sleep(0.05)
        time.sleep(delay)
        pids = ray_processes(kind)
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread, killed


def test_parameter_server_update_equals_the_shared_memory_one(ray_cluster):
    config = A3CConfig(core="lstm", **SMALL)
    torch.manual_seed(0)
    shared = build_model(config)
    remote_start = copy.deepcopy(shared)
    optimiser = make_shared_optimiser(config.optimiser, shared.parameters(), config.lr)
    actor = ray_backend.ParameterServerActor.remote(
        config.to_dict(), remote_start.state_dict(), None
    )
    memory = SharedMemoryServer(shared, optimiser, max_grad_norm=1.0)
    remote = ray_backend.RayServer(actor, max_grad_norm=1.0)
    local_a, local_b = copy.deepcopy(shared), copy.deepcopy(shared)
    for step in range(3):
        for pa, pb in zip(local_a.parameters(), local_b.parameters()):
            g = torch.randn_like(pa) * (step + 1)  # large enough to be clipped
            pa.grad, pb.grad = g.clone(), g.clone()
        norm_a, norm_b = memory.push(local_a), remote.push(local_b)
        assert norm_a == pytest.approx(norm_b, rel=1e-6) and norm_a > 1.0
        remote.pull(local_b)
        assert remote.version == step + 1
        for p_shared, p_b in zip(shared.parameters(), local_b.parameters()):
            torch.testing.assert_close(p_b, p_shared)
        assert all(float(p.grad.abs().sum()) == 0 for p in local_b.parameters())
    model_state, optimiser_state = ray.get(actor.state.remote())
    assert set(optimiser_state["state"]) == set(optimiser.state_dict()["state"])
    ray.kill(actor)


def test_an_overlapping_worker_is_at_most_one_of_its_updates_behind(ray_cluster):
    config = A3CConfig(core="lstm", **SMALL)
    model = build_model(config)
    actor = ray_backend.ParameterServerActor.remote(config.to_dict(), model.state_dict(), None)
    server = ray_backend.RayServer(actor, max_grad_norm=1.0, overlap=True)
    local = copy.deepcopy(model)
    server.pull(local)
    assert server.version == 0  # the first pull waits: there is nothing to act on yet
    for step in range(1, 8):
        for p in local.parameters():
            p.grad = torch.ones_like(p)
        server.push(local)
        server.pull(local)
        assert step - 1 <= server.version <= step
    server.flush()
    assert ray.get(actor.ping.remote()) == 7  # every push applied, none twice
    ray.kill(actor)


def test_workers_are_placed_on_both_nodes_and_a_killed_one_is_restarted(ray_cluster):
    config = A3CConfig(backend="ray", core="lstm", workers=2, **SMALL)
    model = build_model(config)
    optimiser = make_shared_optimiser(config.optimiser, model.parameters(), config.lr)
    before = [p.detach().clone() for p in model.parameters()]
    pool = ray_backend.RayWorkerPool(config, model, optimiser)
    assert not pool.started_ray  # the session's cluster is joined, not a new one started
    pool.start()
    try:
        placement = pool.placement()
        assert len({node for node, _ in placement}) == 2, placement

        updates, notes = {0: 0, 1: 0}, []

        def collect(until, timeout=90):
            deadline = time.time() + timeout
            while not until() and time.time() < deadline:
                try:
                    message = pool.queue.get(timeout=0.2)
                except Exception:
                    continue
                assert isinstance(message, (Update, Note)), message
                if isinstance(message, Update):
                    updates[message.report.worker] += 1
                else:
                    notes.append(message.text)
            assert until(), (updates, notes)

        collect(lambda: min(updates.values()) >= 3)
        os.kill(placement[1][1], signal.SIGKILL)
        after_kill = updates[1]
        collect(lambda: notes and updates[1] >= after_kill + 3)
        assert "worker 1 was lost" in notes[0] and "restarted" in notes[0]
        pool.sync()
        assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    finally:
        pool.stop()
    assert pool.closed and ray.is_initialized()  # the joined cluster is left running
    assert ray_processes("WorkerActor") == [] or _eventually_gone("WorkerActor")


def _eventually_gone(kind, timeout=90):
    deadline = time.time() + timeout
    while ray_processes(kind) and time.time() < deadline:
        time.sleep(0.2)
    return ray_processes(kind) == []


@pytest.mark.slow
def test_a_short_run_on_ray_learns_small_fully_observable_catch(ray_cluster, tmp_path):
    code, out = train_in_process(
        tmp_path,
        size=8,
        visible_steps=-1,
        workers=2,
        envs_per_worker=8,
        total_frames=400_000,
        eval_interval=25_000,
        eval_episodes=100,
        stop_at_return=0.9,
    )
    assert code == 0, out
    assert "2 worker actors" in out and "reached --stop-at-return 0.9" in out
    assert float(read_csv(tmp_path / "run" / "eval.csv")[-1]["mean_return"]) > 0.8
    payload = load_checkpoint(tmp_path / "run")
    assert payload["counters"]["best_eval_return"] > 0.8 and payload["optimiser"]["state"]


def train_and_kill(tmp_path, kind, delay=0.0, **settings):
    """Train here and SIGKILL one ``kind`` actor once the run has 8,000 frames; returns
    (exit code, output, the pids killed)."""
    holder = {}
    out = io.StringIO()

    class Watched(A3CTrainer):  # lets the killing thread see the frame count
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            holder["trainer"] = self

        def budget_spent(self):
            """The budget ends the run once the killed worker's restart is reported (or a
            minute after the budget is spent): on a busy machine Ray notices the death
            late, and the surviving worker may spend the budget first."""
            stop = super().budget_spent()
            if stop and kind == "WorkerActor" and "restarted" not in out.getvalue():
                if time.time() - holder.setdefault("spent_at", time.time()) < 60:
                    return None
            return stop

    config = A3CConfig(
        backend="ray",
        core="lstm",
        workers=2,
        progress=False,
        run_dir=str(tmp_path / "run"),
        **SMALL,
        **settings,
    )
    thread, killed = kill_when(
        lambda: holder["trainer"].counters["frames"] if "trainer" in holder else 0,
        8_000,
        kind,
        delay,
    )
    code = Watched(config, out=out).train()
    thread.join()
    return code, out.getvalue(), killed


def test_a_worker_killed_mid_run_is_restarted_and_the_run_goes_on(ray_cluster, tmp_path):
    code, text, killed = train_and_kill(
        tmp_path, "WorkerActor", total_frames=40_000, eval_interval=20_000
    )
    assert killed, "no worker actor was found to kill"
    assert code == 0, text
    assert "was lost" in text and "restarted" in text
    assert load_checkpoint(tmp_path / "run")["counters"]["frames"] >= 40_000


def test_a_lost_parameter_server_stops_the_run_and_keeps_the_last_checkpoint(ray_cluster, tmp_path):
    code, text, killed = train_and_kill(
        tmp_path,
        "ParameterServerActor",
        delay=1.0,  # a periodic checkpoint first
        total_frames=10_000_000,
        checkpoint_interval=0.3,
    )
    assert killed and code == 1, text
    assert "the parameter server was lost" in text and "the last checkpoint is kept" in text
    assert "checkpoint saved" not in text  # nothing written after the loss
    assert load_checkpoint(tmp_path / "run")["counters"]["frames"] > 0
    assert _eventually_gone("WorkerActor")


def test_a_checkpoint_of_one_backend_resumes_on_the_other(ray_cluster, tmp_path):
    run = tmp_path / "run"
    proc, _ = run_a3c(*TINY, "--core", "lstm", "--total-frames", "6000", "--run-dir", run)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    first = load_checkpoint(run)
    config = A3CConfig(
        backend="ray",
        resume=str(run),
        total_frames=12_000,
        progress=False,
        **{
            k: v
            for k, v in first["config"].items()
            if k not in ("backend", "resume", "total_frames", "progress", "run_dir")
        },
    )
    out = io.StringIO()
    assert A3CTrainer(config, out=out).train() == 0, out.getvalue()
    second = load_checkpoint(run)
    assert second["counters"]["frames"] >= 12_000
    assert second["counters"]["updates"] > first["counters"]["updates"]
    step = lambda p: float(next(iter(p["optimiser"]["state"].values()))["step"])  # noqa: E731
    assert step(second) > step(first)  # the optimiser's statistics travelled both ways
    changed = [k for k in first["model"] if not torch.equal(first["model"][k], second["model"][k])]
    assert changed
    proc, _ = run_a3c("--total-frames", "18000", "--no-progress", "--resume", run)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    third = load_checkpoint(run)
    assert third["counters"]["frames"] >= 18_000 and step(third) > step(second)


SIGTERM_BLOCKED_IN_RAY = """
import os, signal
from fw_rl.agents.a3c.ray_backend import ray_init
import ray
assert ray_init("", 1)
bit = 1 << (signal.SIGTERM - 1)
for pid in (int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()):
    try:
        if os.getpgid(pid) != os.getpgid(0):  # this process's own group: Ray's processes
            continue
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f)
    except OSError:
        continue
    mask = int(fields["SigBlk"].strip(), 16)
    print(fields["Name"].strip().replace(" ", "_"), "blocked" if mask & bit else "open")
own = signal.pthread_sigmask(signal.SIG_BLOCK, [])
print("trainer", "blocked" if signal.SIGTERM in own else "open")
ray.shutdown()
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_a_local_ray_starts_its_processes_with_sigterm_blocked(tmp_path):
    """So that a SIGTERM to the process group (`timeout`) reaches only the trainer, which
    then saves from the live parameter server (the test below sends one)."""
    import subprocess
    import sys

    env, _ = tagged_env()
    proc = subprocess.run(
        [sys.executable, "-c", SIGTERM_BLOCKED_IN_RAY],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
        start_new_session=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    *ray_processes, trainer = [line.split(" ") for line in proc.stdout.splitlines()]
    assert trainer == ["trainer", "open"]  # the trainer itself still receives it
    assert {"gcs_server", "raylet"} <= {name for name, _ in ray_processes}, ray_processes
    assert {state for _, state in ray_processes} == {"blocked"}, ray_processes


@pytest.mark.parametrize(
    "sig, whole_group, code",
    [(signal.SIGINT, True, 130), (signal.SIGTERM, True, 143)],  # Ctrl-C; `timeout`, systemd
)
def test_ctrl_c_or_sigterm_saves_and_leaves_no_ray_processes(tmp_path, sig, whole_group, code):
    """A run that started its own local Ray: Ctrl-C (SIGINT to the terminal's process
    group) and SIGTERM stop it with a checkpoint, and none of its Ray processes remain."""
    run = tmp_path / "run"
    returncode, out, err, tag = stop_training_with(
        sig, whole_group, run, *TINY, "--core", "lstm", "--backend", "ray", timeout=90
    )
    assert returncode == code, out + err
    assert f"{signal.Signals(sig).name} received" in out and "Traceback" not in out
    assert load_checkpoint(run)["counters"]["frames"] > 0
    assert_no_orphans(tag)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--ray-address", "auto"], "--ray-address needs --backend ray"),
        (["--backend", "spark"], "invalid choice"),
    ],
)
def test_bad_backend_flags_are_one_line_and_exit_2(args, message):
    proc, _ = run_a3c(*args)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_ray_missing_is_named_with_the_extra_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a)
    )
    with pytest.raises(ConfigError, match=r"pip install 'fw-rl\[ray\]'"):
        A3CConfig(backend="ray")
