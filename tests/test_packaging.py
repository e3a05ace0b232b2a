"""The wheel installs one name, fw_rl, with its console commands, and leaves a user's own
``envs/`` or ``agents/`` folder alone."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # build from a copy: setuptools stages files in build/, which must not go stale here
    source = tmp_path_factory.mktemp("source") / "fw_rl"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".*", "runs", "build", "docs", "*.egg-info", "__pycache__"),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("fw_rl-*.whl")
    return path


def test_wheel_holds_only_the_fw_rl_name_and_the_license(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    others = tops - {"fw_rl"}
    assert "fw_rl" in tops and len(others) == 1 and others.pop().endswith(".dist-info")
    for module in (
        "fw_rl/envs/catch.py",
        "fw_rl/agents/a3c/trainer.py",
        "fw_rl/scripts/a3c.py",
        "fw_rl/agents/study/report.py",
        "fw_rl/cores/fast_weights/kernel.py",
    ):
        assert module in names
    assert any(n.endswith("licenses/LICENSE") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    for command in ("fw-rl-train", "fw-rl-watch", "fw-rl-compare", "fw-rl-study"):
        assert f"{command} = fw_rl.scripts." in text


def test_installed_wheel_registers_catch_beside_a_users_own_envs_package(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    project = tmp_path / "project"
    (project / "envs").mkdir(parents=True)
    (project / "envs" / "__init__.py").write_text("MINE = True\n")
    code = (
        "import sys; sys.path[:0] = ['', sys.argv[1]]\n"
        "import envs, gymnasium as gym\n"
        "assert envs.MINE\n"
        "env = gym.make('fw_rl:Catch-v0')\n"
        "import fw_rl\n"
        "assert fw_rl.__file__.startswith(sys.argv[1]), fw_rl.__file__\n"
        "assert type(env.unwrapped).__module__ == 'fw_rl.envs.catch'\n"
        "print(gym.make('Catch-v0').observation_space.shape)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(site)], cwd=project, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(24, 24)"


def test_console_command_runs(tmp_path):
    train = Path(sys.executable).with_name("fw-rl-train")
    if not train.exists():
        pytest.skip("the package is not installed in this interpreter's environment")
    out = subprocess.run([str(train), "--help"], capture_output=True, text=True, check=True)
    assert "--core" in out.stdout and "--previous-action" in out.stdout
