"""Every command and example of the README runs as written, with its budget cut to seconds.

Each line of the README's ``bash`` blocks is a command; :func:`plan` says how this test runs
it (the same command with flags appended that cut its budget and send its files to a
temporary folder: argparse takes the last of a repeated flag). A command the plan does not
know fails :func:`test_every_readme_command_is_run_here`, so the README cannot gain a
command no test runs.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
ENV = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def block_with(language: str, text: str) -> str:
    (found,) = [b for b in blocks(language) if text in b]
    return found


def commands() -> list[str]:
    """The README's shell commands, one a line, comments and continuations joined."""
    lines = []
    for block in blocks("bash"):
        block = block.replace("\\\n", " ")
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


# the budget of seconds each trainer gets (appended after the README's own flags)
TINY = {
    "a3c.py": ["--total-frames", "2048", "--workers", "1", "--envs-per-worker", "2",
               "--hidden-size", "8", "--eval-interval", "1024", "--eval-episodes", "2",
               "--no-progress"],
    "ppo.py": ["--total-frames", "512", "--num-envs", "2", "--rollout-steps", "32",
               "--minibatches", "2", "--hidden-size", "8", "--eval-interval", "512",
               "--eval-episodes", "1", "--no-progress"],
}  # fmt: skip
REPORTS = ("study.py report", "study.py mmer", "supervised_report.py")
# `make test` is the command CI runs (.ci/run); `mkdocs build` is run by tests/test_docs.py
RUN_ELSEWHERE = {
    "make test": "the command .ci/run runs",
    "mkdocs build --strict --site-dir site": "tests/test_docs.py builds the site so",
}


def plan(line: str, tmp: Path) -> list[str] | None:
    """How this test runs a README command (None: one it does not know)."""
    words = shlex.split(line)
    if words == ["make", "train"]:
        # -o: use the venv as it is (the test runs inside it), do not reinstall
        tiny = " ".join(TINY["a3c.py"] + ["--run-dir", str(tmp / "runs" / "make-train")])
        return ["make", "-C", str(ROOT), "-o", ".venv/.installed", "train", f"ARGS={tiny}"]
    if words[:1] != ["python"]:
        return None
    argv = [sys.executable, *words[1:]]
    if words[1:3] == ["-m", "fw_rl.cores"]:
        return argv
    script = Path(words[1]).name
    if script in TINY:
        argv = [w.replace("<time>", "test") for w in argv]
        if "--resume" in words:
            return [*argv, "--total-frames", "4096", "--no-progress"]
        core = words[words.index("--core") + 1]
        algorithm = script.removesuffix(".py")
        return [*argv, *TINY[script], "--run-dir", f"runs/{algorithm}-{core}-test"]
    if script == "watch.py":
        return [*argv, "--record", str(tmp / "agent.gif"), "--episodes", "1"]
    if any(report in line for report in REPORTS):
        argv = [re.sub(r"^/tmp/", f"{tmp}/", w) for w in argv]
        return [*argv, "--reps", "100"]
    return None


def test_every_readme_command_is_run_here(tmp_path):
    unknown = [c for c in commands() if c not in RUN_ELSEWHERE and plan(c, tmp_path) is None]
    assert not unknown, f"README commands no test runs: {unknown}"
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "--site-dir" in (ROOT / "tests" / "test_docs.py").read_text()


def test_the_readme_commands_run(tmp_path):
    """In the README's order, so ``--resume runs/...-<time>`` finds the run made above it;
    the runs' folders are under ``tmp_path`` (the commands run there, the scripts and the
    committed studies are read from the repository)."""
    pytest.importorskip("popgym")
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("make train needs the project's .venv")
    (tmp_path / "scripts").symlink_to(ROOT / "scripts")
    (tmp_path / "docs").symlink_to(ROOT / "docs")
    ran = 0
    for line in commands():
        if line in RUN_ELSEWHERE:
            continue
        argv = plan(line, tmp_path)
        done = subprocess.run(argv, cwd=tmp_path, env=ENV, capture_output=True, text=True,
                              timeout=600)  # fmt: skip
        assert done.returncode == 0, f"{line}\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}"
        ran += 1
    assert (tmp_path / "runs" / "make-train" / "best.pt").is_file()
    assert (tmp_path / "runs" / "a3c-gru-test" / "checkpoint.pt").is_file()
    assert (tmp_path / "agent.gif").stat().st_size > 0
    assert ran >= 10


def shrink(code: str) -> str:
    """The same program with a budget of seconds: fewer frames, envs and episodes."""
    code = re.sub(r"total_frames=[\d_]+", "total_frames=256", code)
    small = "num_envs=2, rollout_steps=32, minibatches=2, hidden_size=8, encoder_size=8, "
    small += "eval_interval=256, eval_episodes=2"
    code = code.replace("num_envs=16", small)
    return re.sub(r"episodes=\d+", "episodes=2", code)


def test_the_python_api_example_runs(tmp_path):
    pytest.importorskip("popgym")
    code = shrink(block_with("python", "fw_rl.PPO("))
    assert "total_frames=256" in code and "episodes=2" in code
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "mean_return" in done.stdout
    assert (tmp_path / "runs" / "repeat-first" / "checkpoint.pt").is_file()


def test_the_core_example_runs(tmp_path):
    code = block_with("python", "fw_rl.make_core(")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env=ENV)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]


def test_every_link_of_the_readme_is_inside_the_repository_or_a_web_address():
    """A clone has only the repository: no link may point above it (``../``)."""
    for target in re.findall(r"\]\(([^)]+)\)", README):
        if target.startswith(("http://", "https://", "#")):
            continue
        assert not target.startswith("../"), target
        assert (ROOT / target.split("#")[0]).exists(), target
    assert "../shared" not in README


def test_the_readme_is_short():
    """Issue #32: a README a newcomer reads in five minutes; the rest is in docs/."""
    assert len(README.splitlines()) <= 170


def test_the_shipped_agent_is_of_todays_default_core():
    import torch

    from fw_rl.cores.identity import current_version

    payload = torch.load(ROOT / "docs/results/fastweights_agent.pt", weights_only=True)
    config = payload["config"]
    assert payload["format"] == "fw_rl/2" and config["core"] == "fastweights"
    assert config["core_version"] == current_version("fastweights")
    import fw_rl

    agent = fw_rl.load(ROOT / "docs/results/fastweights_agent.pt")
    # the README's figure: 0.90 on the 200 evaluation episodes (greedy, fixed seeds; one
    # episode lost or won on another machine's arithmetic moves it by 0.01)
    assert "episodes=200))" in README and "scores 0.90 on the 200 evaluation" in README
    assert abs(fw_rl.evaluate(agent, episodes=200)["mean_return"] - 0.90) <= 0.02
