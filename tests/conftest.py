import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import logging  # noqa: E402

import pytest  # noqa: E402

# the tests that start Ray (by node id): under pytest-xdist (`make test`) they all run in one
# worker, so the session has one local Ray instance (xdist's own --dist loadgroup cannot do
# this under pytest 9, whose node ids it can no longer suffix)
RAY_TESTS = (
    "tests/agents/test_ray_backend.py::",
    "tests/agents/test_study.py::test_a_grid_runs_as_ray_tasks_across_the_cluster_and_resumes",
    "tests/agents/test_study.py::test_a_run_no_node_can_hold_is_refused",
)


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    """xdist's scheduling by scope, each test its own scope but the Ray tests one."""
    from xdist.scheduler import LoadScopeScheduling

    class RayInOneWorker(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "ray" if nodeid.startswith(RAY_TESTS) else nodeid

    return RayInOneWorker(config, log)


# the longest tests (30 s or more each in `pytest --durations`), started first so that the
# workers finish together rather than one waiting on a long test started last
LONG_TESTS = (
    "tests/test_readme.py::test_the_readme_commands_run",
    "tests/agents/test_study.py::",
    "tests/tasks/test_report.py::test_a_supervised_grid_runs_resumably",
    "tests/envs/test_bsuite_adapter.py::test_a_short_sweep",
    "tests/agents/test_any_env.py::",
    "tests/agents/test_a3c_train.py::",
)


def pytest_collection_modifyitems(items):
    """A test that joins the Ray cluster but is not in RAY_TESTS is a usage error; the Ray
    tests, then LONG_TESTS, run first (in their own order otherwise)."""
    stray = [i.nodeid for i in items if "ray_cluster" in i.fixturenames]
    stray = [nodeid for nodeid in stray if not nodeid.startswith(RAY_TESTS)]
    if stray:
        raise pytest.UsageError(f"tests/conftest.py: add to RAY_TESTS: {', '.join(stray)}")
    items.sort(
        key=lambda i: (
            0 if i.nodeid.startswith(RAY_TESTS) else 1 if i.nodeid.startswith(LONG_TESTS) else 2
        )
    )


@pytest.fixture(scope="session")
def ray_cluster():
    """One simulated Ray cluster for the whole session: a head and a second node, one CPU
    each (2 CPUs in all, as this machine has), joined by this process as its driver (one
    xdist worker runs every test in ``RAY_TESTS``)."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
    )
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, logging_level=logging.WARNING, log_to_driver=False)
    yield cluster
    ray.shutdown()
    cluster.shutdown()


@pytest.fixture
def small_filesystem(tmp_path):
    """A real 1-MiB filesystem (tmpfs), so that writes meet the operating system's own
    ENOSPC; ``None`` where this machine cannot mount one (the tests then write to
    ``/dev/full``, which fails every write with ENOSPC)."""
    import subprocess

    mount = tmp_path / "small"
    mount.mkdir()
    try:
        made = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
        )
    except OSError:  # no mount command here
        made = None
    if made is None or made.returncode != 0:
        yield None
        return
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.fixture
def fill_filesystem():
    """``fill(folder, leave)``: fill ``folder``'s filesystem with one file until only
    ``leave`` bytes are free."""

    def fill(folder, leave: int) -> None:
        free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
        with open(os.path.join(folder, "filler"), "wb") as f:
            f.write(b"\0" * max(0, free - leave))

    return fill
