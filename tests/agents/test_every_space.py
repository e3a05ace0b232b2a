"""Every POPGym Easy env (Discrete, MultiDiscrete and Box actions; Discrete, Tuple,
MultiDiscrete and Box observations) trains under both algorithms, briefly: PPO through its
trainer, A3C through its worker loop in this process (the same code its worker processes
run). MiniGrid's memory task with its image wrapper and Pendulum train from the CLI."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest
import torch

from fw_rl.agents.a3c.parameter_server import SharedMemoryServer
from fw_rl.agents.a3c.shared_optim import make_shared_optimiser
from fw_rl.agents.a3c.worker import run_worker
from fw_rl.agents.config import A3CConfig
from fw_rl.agents.model import build_model


def popgym_easy_ids() -> list[str]:
    try:
        import popgym  # noqa: F401
    except ImportError:
        return []
    return sorted(k for k in gym.registry if k.startswith("popgym-") and k.endswith("Easy-v0"))


EASY = popgym_easy_ids()


def test_popgym_registers_the_14_easy_envs_we_run():
    pytest.importorskip("popgym")
    assert len(EASY) == 14


@pytest.mark.parametrize("env_id", EASY)
def test_every_popgym_easy_env_trains_under_a3c_and_ppo(tmp_path, env_id):
    import fw_rl

    env = f"popgym:{env_id}"
    agent = fw_rl.PPO(env, core="gru", num_envs=2, rollout_steps=16, minibatches=2,
                      hidden_size=8, encoder_size=8, eval_interval=32, eval_episodes=1,
                      eval_max_steps=50, verbose=False)  # fmt: skip
    agent.learn(total_frames=32, run_dir=tmp_path / "ppo")
    assert json.loads((tmp_path / "ppo" / "config.json").read_text())["env"] == env

    config = A3CConfig(env=env, core="fastweights", hidden_size=8, encoder_size=8,
                       workers=1, envs_per_worker=2, rollout_steps=8)  # fmt: skip
    model = build_model(config)
    before = [p.detach().clone() for p in model.parameters()]
    optimiser = make_shared_optimiser(config.optimiser, model.parameters(), config.lr)
    server = SharedMemoryServer(model, optimiser, config.max_grad_norm)
    reports = []
    run_worker(0, config, server, lambda: len(reports) >= 2, reports.append)
    assert [r.frames for r in reports] == [16, 16]
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_minigrid_memory_with_its_image_wrapper_trains_from_the_cli(tmp_path):
    pytest.importorskip("minigrid")
    from fw_rl.scripts import ppo

    run = tmp_path / "run"
    code = ppo.main(["--env", "minigrid:MiniGrid-MemoryS7-v0", "--env-wrappers",
                     "minigrid.wrappers:ImgObsWrapper", "--total-frames", "256",
                     "--num-envs", "2", "--rollout-steps", "64", "--minibatches", "2",
                     "--eval-interval", "256", "--eval-episodes", "1", "--run-dir", str(run),
                     "--no-progress"])  # fmt: skip
    assert code == 0
    from fw_rl.agents.model import ConvEncoder
    from fw_rl.checkpoint import load_checkpoint

    payload = load_checkpoint(run, kind="ppo")
    assert any(k.startswith("encoder.convs") for k in payload["model"])  # the image path
    assert ConvEncoder  # the encoder a 7 x 7 x 3 view goes through


def test_minigrid_without_its_wrapper_names_the_wrapper(capsys):
    pytest.importorskip("minigrid")
    from fw_rl.scripts import ppo

    with pytest.raises(SystemExit) as stop:
        ppo.main(["--env", "minigrid:MiniGrid-MemoryS7-v0"])
    assert stop.value.code == 2
    assert "--env-wrappers minigrid.wrappers:ImgObsWrapper" in capsys.readouterr().err


@pytest.mark.parametrize("script", ["ppo", "a3c"])
def test_pendulum_trains_from_the_cli(tmp_path, script):
    from importlib import import_module

    main = import_module(f"fw_rl.scripts.{script}").main
    flags = ["--env", "Pendulum-v1", "--core", "gru", "--hidden-size", "8", "--encoder-size",
             "8", "--total-frames", "64", "--eval-interval", "64", "--eval-episodes", "1",
             "--run-dir", str(tmp_path / "run"), "--no-progress"]  # fmt: skip
    if script == "ppo":
        flags += ["--num-envs", "2", "--rollout-steps", "32", "--minibatches", "2"]
    else:
        flags += ["--workers", "1", "--envs-per-worker", "2", "--rollout-steps", "16"]
    assert main(flags) == 0
    evals = (tmp_path / "run" / "eval.csv").read_text().splitlines()
    assert len(evals) == 2  # the header and the evaluation at 64 frames
