"""The README's examples run as written, with their budgets cut to seconds."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def block_with(language: str, text: str) -> str:
    (found,) = [b for b in blocks(language) if text in b]
    return found


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


def test_the_minigrid_command_runs(tmp_path):
    pytest.importorskip("minigrid")
    (line,) = [
        line for line in block_with("bash", "MiniGrid").splitlines() if "scripts/ppo.py" in line
    ]
    argv = line.split()[2:]  # after "python scripts/ppo.py"
    tiny = ["--total-frames", "256", "--num-envs", "2", "--rollout-steps", "64",
            "--minibatches", "2", "--eval-interval", "256", "--eval-episodes", "1",
            "--run-dir", str(tmp_path / "run"), "--no-progress"]  # fmt: skip
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "ppo.py"), *argv, *tiny],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]


def test_every_link_of_the_readme_is_inside_the_repository_or_a_web_address():
    """A clone has only the repository: no link may point above it (``../``)."""
    for target in re.findall(r"\]\(([^)]+)\)", README):
        if target.startswith(("http://", "https://", "#")):
            continue
        assert not target.startswith("../"), target
        assert (ROOT / target.split("#")[0]).exists(), target
    assert "../shared" not in README


def test_the_core_example_runs(tmp_path):
    code = block_with("python", "fw_rl.make_core(")
    env = {**__import__("os").environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_shipped_agent_is_of_todays_default_core():
    import torch

    from fw_rl.cores.identity import current_version

    payload = torch.load(ROOT / "docs/results/fastweights_agent.pt", weights_only=True)
    config = payload["config"]
    assert payload["format"] == "fw_rl/2" and config["core"] == "fastweights"
    assert config["core_version"] == current_version("fastweights")
    import fw_rl

    agent = fw_rl.load(ROOT / "docs/results/fastweights_agent.pt")
    assert fw_rl.evaluate(agent, episodes=20)["mean_return"] > 0.5  # it plays Catch
