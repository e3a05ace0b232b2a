"""Recurrent PPO (agents/ppo.py, scripts/ppo.py): the loss by hand, sequences cut anywhere
giving the rollout's outputs, a seeded run repeating itself, learning a memory task, and the
ways a run ends."""

import copy
import csv
import io
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from fw_rl.agents import ppo
from fw_rl.agents.algorithms import agent_kinds
from fw_rl.agents.config import ConfigError, PPOConfig, agent_config
from fw_rl.agents.model import build_model
from fw_rl.agents.ppo import cut_into_sequences, ppo_loss
from fw_rl.agents.rollout import RolloutCollector
from fw_rl.checkpoint import load_checkpoint
from fw_rl.envs.factory import make_vector_env
from fw_rl.scripts import ppo as ppo_script

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--size", "6", "--hidden-size", "16", "--encoder-size", "16", "--num-envs", "4"]
TINY += ["--rollout-steps", "16", "--eval-episodes", "10", "--no-progress"]


# ---- the loss -------------------------------------------------------------------------------


def test_the_clipped_loss_matches_a_hand_computation():
    # a uniform policy over 2 actions; pi_old(a) = 0.25, so the ratio is 2 at both steps
    logits = torch.zeros(2, 2)
    actions = torch.tensor([0, 1])
    old_log_probs = torch.log(torch.tensor([0.25, 0.25]))
    advantages = torch.tensor([1.0, -1.0])
    # value: step 0 moves 0.5 -> 1.0 towards R = 0 (the unclipped error is larger), step 1
    # moves 0.5 -> 0.9 towards R = 1 (the clipped one, 0.7, is further: 0.09 > 0.01)
    values = torch.tensor([1.0, 0.9])
    old_values = torch.tensor([0.5, 0.5])
    returns = torch.tensor([0.0, 1.0])
    loss = ppo_loss(logits, values, actions, old_log_probs, old_values, advantages, returns)
    # policy: min(2 * 1, 1.2 * 1) = 1.2 and min(2 * -1, 1.2 * -1) = -2, negated, averaged
    assert loss.policy.item() == pytest.approx(-(1.2 - 2.0) / 2)
    assert loss.value.item() == pytest.approx(0.5 * (1.0 + 0.09) / 2)
    assert loss.entropy.item() == pytest.approx(math.log(2))
    assert loss.approx_kl.item() == pytest.approx(1.0 - math.log(2))
    assert loss.clip_fraction.item() == 1.0
    expected = loss.policy + 0.5 * loss.value - 0.01 * loss.entropy
    assert loss.total.item() == pytest.approx(expected.item())
    plain = ppo_loss(
        logits, values, actions, old_log_probs, old_values, advantages, returns, value_clip=False
    )
    assert plain.value.item() == pytest.approx(0.5 * (1.0 + 0.01) / 2)


def test_inside_the_clip_range_the_loss_is_the_policy_gradient_surrogate():
    logits = torch.tensor([[0.3, -0.2, 0.1]], requires_grad=True)
    actions = torch.tensor([2])
    old = torch.log_softmax(logits.detach(), -1)[:, 2]  # ratio 1: nothing clipped
    loss = ppo_loss(
        logits, torch.zeros(1), actions, old, torch.zeros(1), torch.ones(1), torch.zeros(1)
    )
    loss.policy.backward()
    surrogate = torch.tensor([[0.3, -0.2, 0.1]], requires_grad=True)
    (-torch.log_softmax(surrogate, -1)[0, 2]).backward()
    assert torch.allclose(logits.grad, surrogate.grad, atol=1e-6)
    assert loss.clip_fraction.item() == 0.0 and abs(loss.approx_kl.item()) < 1e-7


# ---- sequences ------------------------------------------------------------------------------


def _rollout(core, steps=24, envs=3, length=6, seed=0):
    config = PPOConfig(
        core=core,
        size=5,
        hidden_size=12,
        encoder_size=10,
        num_envs=envs,
        rollout_steps=steps,
        minibatches=1,
    )
    torch.manual_seed(seed)
    model = build_model(config)
    env = make_vector_env(config.env, config.env_options, envs)
    collector = RolloutCollector(env, model, seed=seed)
    collector.collect(5)  # so the rollout starts mid-episode, from a state that is not zero
    rollout = collector.collect(steps, state_every=length)
    env.close()
    return model, rollout


@pytest.mark.parametrize("core", ["fastweights", "lstm", "irnn", "alstm"])
def test_a_sequence_run_alone_gives_the_rollouts_outputs(core):
    """Catch episodes of 4 steps in sequences of 6: resets fall inside the sequences, and
    every sequence but the first of each env starts from a carried state."""
    model, rollout = _rollout(core)
    assert rollout.resets[1:].any()
    zeros = torch.zeros_like(rollout.rewards)
    seqs = cut_into_sequences(rollout, zeros, zeros, 6)
    assert seqs.count == 3 * 4 and seqs.actions.shape[0] == 6
    for index in (torch.tensor([5]), torch.tensor([11, 0, 7]), torch.arange(12)):
        batch = seqs.select(index)
        with torch.no_grad():
            logits, values, _ = model(batch.obs, batch.start, batch.resets, batch.actions)
        chosen = torch.log_softmax(logits, -1).gather(-1, batch.actions[..., None])[..., 0]
        assert torch.allclose(chosen, batch.log_probs, atol=1e-5)
        assert torch.allclose(values, batch.values, atol=1e-5)


def test_sequence_n_is_the_steps_of_its_env_and_chunk():
    _, rollout = _rollout("lstm", steps=12, envs=2, length=4)
    zeros = torch.zeros_like(rollout.rewards)
    seqs = cut_into_sequences(rollout, zeros, rollout.rewards, 4)
    # sequence c * K + k: steps 4c .. 4c + 3 of env k
    for c in range(3):
        for k in range(2):
            assert torch.equal(seqs.actions[:, c * 2 + k], rollout.actions[4 * c : 4 * c + 4, k])
            assert torch.equal(seqs.returns[:, c * 2 + k], rollout.rewards[4 * c : 4 * c + 4, k])
    with pytest.raises(ValueError, match="does not divide"):
        cut_into_sequences(rollout, zeros, zeros, 5)
    with pytest.raises(ValueError, match="state_every=6"):
        cut_into_sequences(rollout, zeros, zeros, 6)


# ---- the config -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rollout_steps": 128, "sequence_length": 7}, "must divide --rollout-steps"),
        ({"num_envs": 2, "rollout_steps": 8, "minibatches": 3}, "more than the rollout's 2"),
        ({"clip": 0.0}, "--clip must be > 0"),
        ({"seed": -1}, "--seed must be >= 0, got -1"),  # gymnasium's seeds are >= 0
        ({"stop_at_return": 5.0}, "--stop-at-return 5 is above the most an episode of Catch"),
        ({"eval_seed": -5}, "--eval-seed must be >= 0, got -5"),
        ({"env": "bsuite/memory_len-v0", "env_kwargs": '{"results_dir": "x"}'}, "--num-envs 1"),
    ],
)
def test_bad_settings_are_refused_in_one_line(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        PPOConfig(**kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is here")
def test_asking_for_a_gpu_where_there_is_none_is_refused_and_auto_means_the_cpu():
    with pytest.raises(ConfigError, match="no CUDA device is available"):
        PPOConfig(device="cuda")
    assert PPOConfig(device="auto").torch_device == "cpu"


@pytest.mark.parametrize("core", ["fastweights", "lstm"])
def test_the_parts_gradient_norms_make_up_the_whole(core):
    """One minibatch: grad_norm (all parameters, before the clip) is the root of the sum of
    the squares of the encoder's, the core's, the policy's and the value's."""
    model, rollout = _rollout(core)
    assert {name for name, _ in model.named_children()} == set(ppo.GRADIENT_PARTS)
    config = PPOConfig(
        core=core, size=5, hidden_size=12, encoder_size=10, num_envs=3, rollout_steps=24,
        sequence_length=6, minibatches=1, epochs=1,
    )  # fmt: skip
    optimiser = torch.optim.SGD(model.parameters(), lr=0.0)
    update = ppo.ppo_update(model, optimiser, rollout, config)
    parts = [update[f"grad_norm_{part}"] for part in ppo.GRADIENT_PARTS]
    assert all(p > 0 for p in parts)
    assert update["grad_norm"] == pytest.approx(math.sqrt(sum(p * p for p in parts)), rel=1e-5)
    assert set(ppo.METRICS_FIELDS) >= {f"grad_norm_{part}" for part in ppo.GRADIENT_PARTS}


def test_an_epoch_makes_exactly_the_minibatches_asked_for(monkeypatch):
    """12 sequences in 5 minibatches: five steps of 3, 3, 2, 2, 2 sequences a pass (a split
    by chunks of ceil(12 / 5) gave four), each sequence once a pass."""
    model, rollout = _rollout("lstm")
    config = PPOConfig(
        core="lstm", size=5, hidden_size=12, encoder_size=10, num_envs=3, rollout_steps=24,
        sequence_length=6, minibatches=5, epochs=2,
    )  # fmt: skip
    sizes = []
    select = ppo.Sequences.select

    def counted(self, index):
        sizes.append(len(index))
        return select(self, index)

    monkeypatch.setattr(ppo.Sequences, "select", counted)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.0)
    ppo.ppo_update(model, optimiser, rollout, config)
    assert sizes == [3, 3, 2, 2, 2] * 2


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@needs_cuda
@pytest.mark.parametrize("core", ["fastweights", "lstm"])
def test_an_update_on_the_gpu_equals_the_same_update_on_the_cpu(core):
    model, rollout = _rollout(core)
    config = PPOConfig(
        core=core, size=5, hidden_size=12, encoder_size=10, num_envs=3, rollout_steps=24,
        sequence_length=6, minibatches=2,
    )  # fmt: skip
    gpu = copy.deepcopy(model).cuda()
    before = copy.deepcopy(model.state_dict())
    losses = []
    for learner, device in ((model, "cpu"), (gpu, "cuda")):
        torch.manual_seed(0)  # the same minibatches (drawn on the CPU)
        # SGD, not Adam: Adam's first steps are +-lr for any gradient, even one of 1e-9
        optimiser = torch.optim.SGD(learner.parameters(), lr=0.05)
        with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
            losses.append(ppo.ppo_update(learner, optimiser, rollout, config, device)["loss"])
    assert losses[1] == pytest.approx(losses[0], rel=1e-3, abs=1e-5)
    moved = False
    for (name, cpu_value), gpu_value in zip(
        model.state_dict().items(), gpu.state_dict().values(), strict=True
    ):
        assert gpu_value.is_cuda
        torch.testing.assert_close(gpu_value.cpu(), cpu_value, rtol=1e-3, atol=1e-4, msg=name)
        moved = moved or not torch.equal(cpu_value, before[name])
    assert moved


def test_ctrl_c_while_the_run_is_set_up_is_one_line_and_the_command_starts_it_again(
    tmp_path, monkeypatch, capsys
):
    """A SIGINT after the run's folder is made and before training: exit 130, one line, no
    traceback; the same command then trains in that folder (it holds no checkpoint)."""
    run = tmp_path / "run"
    flags = [*TINY, "--core", "gru", "--total-frames", "128", "--run-dir", str(run)]
    flags += ["--no-progress"]
    made = ppo.PPOTrainer.__init__

    def interrupted(self, *args, **kwargs):
        made(self, *args, **kwargs)
        self.env.close()
        self.session.close()
        raise KeyboardInterrupt

    monkeypatch.setattr(ppo.PPOTrainer, "__init__", interrupted)
    assert ppo_script.main(flags) == 130
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "stopped before training began (Ctrl-C): no checkpoint was written" in line
    assert (run / "config.json").is_file() and not (run / "checkpoint.pt").exists()
    monkeypatch.setattr(ppo.PPOTrainer, "__init__", made)
    # the same while the core's kernels compile (the first thing train() does)
    from types import SimpleNamespace

    from fw_rl.agents import agent_run

    def compiling():
        raise KeyboardInterrupt

    kernels = SimpleNamespace(warm_up=compiling)
    monkeypatch.setattr(agent_run, "core_declaration", lambda name: kernels)
    compiled = [*flags, "--core", "fastweights"]  # the last --core counts
    assert ppo_script.main(compiled) == 130
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "stopped before training began (Ctrl-C): no checkpoint was written" in line
    monkeypatch.undo()
    assert ppo_script.main(flags) == 0
    assert load_checkpoint(run, kind="ppo")["counters"]["frames"] == 128


@needs_cuda
def test_a_run_updates_on_the_gpu_acts_on_the_cpu_and_resumes_on_the_cpu(tmp_path):
    run = tmp_path / "run"
    flags = [*TINY, "--core", "fastweights", "--total-frames", "128", "--run-dir", str(run)]
    assert ppo_script.main([*flags, "--device", "cuda"]) == 0
    config = PPOConfig(size=6, num_envs=4, device="cuda", run_dir=str(tmp_path / "other"))
    trainer = ppo.PPOTrainer(config, out=io.StringIO())
    assert next(trainer.learner.parameters()).is_cuda
    assert not next(trainer.model.parameters()).is_cuda  # the acting copy
    trainer.env.close()
    trainer.session.close()
    payload = load_checkpoint(run, kind="ppo")
    assert payload["counters"]["frames"] == 128
    code = ppo_script.main(["--resume", str(run), "--device", "cpu", "--total-frames", "256"])
    assert code == 0
    assert load_checkpoint(run, kind="ppo")["counters"]["frames"] == 256


def test_bad_flags_exit_2_and_write_nothing(tmp_path, capsys):
    run = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        ppo_script.main([*TINY, "--sequence-length", "5", "--run-dir", str(run)])
    assert exit_info.value.code == 2
    assert "must divide --rollout-steps" in capsys.readouterr().err
    assert not run.exists()


# ---- runs -----------------------------------------------------------------------------------


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_progress_bar_is_drawn_in_a_terminal_only(tmp_path):
    """--progress draws a bar where the output is a terminal; to a file or a pipe the
    run prints its lines alone (a bar's redrawn line would fill the log)."""

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for out, drawn in ((io.StringIO(), False), (Terminal(), True)):
        config = PPOConfig(size=6, num_envs=4, run_dir=str(tmp_path / str(drawn)))
        trainer = ppo.PPOTrainer(config, out=out)
        assert config.progress and trainer.session.shows_progress() is drawn
        assert trainer.progress_bar().disable is not drawn
        out.seek(0), out.truncate(0)
        trainer.session.say("\nline")  # the newline ends a bar's line, where one is drawn
        assert out.getvalue() == ("\nline\n" if drawn else "line\n")
        trainer.env.close()
        trainer.session.close()
    config = PPOConfig(size=6, num_envs=4, progress=False, run_dir=str(tmp_path / "off"))
    trainer = ppo.PPOTrainer(config, out=Terminal())
    assert not trainer.session.shows_progress()
    trainer.env.close()
    trainer.session.close()


def test_a_seeded_run_on_the_cpu_repeats_itself(tmp_path, capfd):
    flags = [*TINY, "--core", "lstm", "--total-frames", "640", "--eval-interval", "320"]
    for name in ("a", "b"):
        assert ppo_script.main([*flags, "--run-dir", str(tmp_path / name)]) == 0
    said = capfd.readouterr().out.splitlines()
    # without a progress bar no blank line precedes an evaluation's line
    evals = [i for i, line in enumerate(said) if line.startswith("eval at")]
    assert len(evals) == 4 and all(said[i - 1].strip() for i in evals)
    a, b = (load_checkpoint(tmp_path / n, kind="ppo") for n in ("a", "b"))
    assert a["counters"]["frames"] == 640 and a["counters"]["updates"] == 10
    for key, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][key]), key
    assert (
        _rows(tmp_path / "a" / "eval.csv")[-1]["mean_return"]
        == (_rows(tmp_path / "b" / "eval.csv")[-1]["mean_return"])
    )
    c = tmp_path / "c"
    assert ppo_script.main([*flags, "--seed", "1", "--run-dir", str(c)]) == 0
    changed = load_checkpoint(c, kind="ppo")["model"]
    assert any(not torch.equal(t, changed[k]) for k, t in a["model"].items())


def test_a_ppo_agent_loads_where_an_a3c_agent_does(tmp_path):
    """watch, generalise and attention read any agent's checkpoint (agent_kinds())."""
    run = tmp_path / "run"
    assert ppo_script.main([*TINY, "--total-frames", "128", "--run-dir", str(run)]) == 0
    payload = load_checkpoint(run, kind=agent_kinds())
    config = agent_config(payload)
    assert isinstance(config, PPOConfig) and config.num_envs == 4
    build_model(config).load_state_dict(payload["model"])
    from fw_rl.agents.study.attention import attention_profile

    profile = attention_profile(run, episodes=4)
    assert len(profile["visible_share"]) == 5  # a 6 x 6 board: 5 steps


def test_a_non_finite_loss_exits_3_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    run = tmp_path / "run"
    flags = [*TINY, "--core", "irnn", "--run-dir", str(run), "--checkpoint-interval", "1e-9"]
    assert ppo_script.main([*flags, "--total-frames", "192"]) == 0
    before = (run / "checkpoint.pt").read_bytes()
    real = ppo.ppo_loss

    def poisoned(*args, **kwargs):
        parts = real(*args, **kwargs)
        parts.total = parts.total * math.nan
        return parts

    monkeypatch.setattr(ppo, "ppo_loss", poisoned)
    code = ppo_script.main(["--resume", str(run), "--total-frames", "100000"])
    assert code == 3
    assert (run / "checkpoint.pt").read_bytes() == before


def test_a_closed_output_pipe_does_not_stop_the_run(tmp_path):
    """`ppo.py ... | head -2`: the reader goes away early; the run trains to its budget
    and saves (it crashed with BrokenPipeError before its first checkpoint)."""
    run = tmp_path / "run"
    command = [sys.executable, str(ROOT / "scripts" / "ppo.py"), *TINY, "--core", "gru"]
    command += ["--total-frames", "1024", "--eval-interval", "512", "--run-dir", str(run)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.readline()
    proc.stdout.close()  # as head does after its lines
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    assert load_checkpoint(run, kind="ppo")["counters"]["frames"] == 1024
    assert len(_rows(run / "eval.csv")) == 2


def test_sigint_saves_and_the_run_resumes_to_its_budget(tmp_path, capsys):
    run = tmp_path / "run"
    command = [sys.executable, str(ROOT / "scripts" / "ppo.py"), *TINY, "--core", "lstm"]
    command += ["--total-frames", "10000000", "--eval-interval", "100000000"]
    command += ["--checkpoint-interval", "1", "--run-dir", str(run)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (
        len(_rows_or_none(run / "metrics.csv")) >= 2 and (run / "checkpoint.pt").exists()
    ):
        time.sleep(0.5)
    if not (run / "checkpoint.pt").exists():  # the cause, not a later assertion's
        proc.kill()
        pytest.fail("not training after 120 s: " + proc.communicate()[0][-2000:])
    # while it trains, neither a second run in its folder nor a resume of it may start
    for again in (["--run-dir", str(run), *TINY], ["--resume", str(run)]):
        assert ppo_script.main(again) == 2
        assert "in use by a run still training in another process" in capsys.readouterr().err
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 130, out
    assert f"continue it with: ppo.py --resume {run}" in out  # the command that continues it
    frames = load_checkpoint(run, kind="ppo")["counters"]["frames"]
    assert frames > 0 and frames % 64 == 0  # whole rollouts of 4 envs x 16 steps
    target = frames + 128
    code = ppo_script.main(["--resume", str(run), "--total-frames", str(target)])
    assert code == 0
    payload = load_checkpoint(run, kind="ppo")
    assert payload["counters"]["frames"] == target
    assert payload["config"]["total_frames"] == target
    assert int(_rows(run / "metrics.csv")[-1]["frames"]) == target
    # the run has finished: continuing it with its own budget is refused, nothing written
    logs = {name: (run / name).read_text() for name in ("metrics.csv", "eval.csv")}
    code = ppo_script.main(["--resume", str(run)])
    assert code == 2
    assert {name: (run / name).read_text() for name in logs} == logs


def _rows_or_none(path):
    try:
        return _rows(path)
    except OSError:
        return []


def test_ppo_learns_a_cue_it_must_remember(tmp_path):
    """bsuite's memory_len with memory_length 5 (the cue shown at the first step only and
    asked for at the last: a memoryless policy's mean return is 0), as the A3C's test."""
    run = tmp_path / "run"
    flags = ["--env", "bsuite/memory_len-v0", "--env-kwargs", '{"setting": 4}', "--core", "lstm"]
    flags += ["--hidden-size", "32", "--num-envs", "16", "--rollout-steps", "12"]
    flags += ["--lr", "1e-3", "--total-frames", "100000", "--eval-interval", "10000"]
    flags += ["--stop-at-return", "0.95", "--run-dir", str(run), "--no-progress"]
    assert ppo_script.main(flags) == 0
    best = max(float(r["mean_return"]) for r in _rows(run / "eval.csv"))
    assert best >= 0.9


@pytest.mark.parametrize("wrapped, code", [("KeyboardInterrupt", 130), ("None", 1)])
def test_ctrl_c_while_the_libraries_load_is_one_line(wrapped, code):
    """Ctrl-C during the script's imports, bare or wrapped by Python 3.11 in a RuntimeError
    (a class being made): one line and exit 130; any other RuntimeError is not hidden."""
    bootstrap = f"""
import builtins, runpy, sys
real = builtins.__import__
def stopped(name, *args, **kwargs):
    if name == "fw_rl.agents.config":
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as e:
            raise RuntimeError("Error calling __set_name__") from {wrapped}
    return real(name, *args, **kwargs)
builtins.__import__ = stopped
sys.argv = ["ppo.py"]
runpy.run_path({str(ROOT / "scripts" / "ppo.py")!r}, run_name="__main__")
"""
    proc = subprocess.run(
        [sys.executable, "-c", bootstrap], capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == code, proc.stderr
    if code == 130:
        assert (
            proc.stderr == "ppo.py: stopped (Ctrl-C) while loading, before anything was written\n"
        )
    else:
        assert "RuntimeError: Error calling __set_name__" in proc.stderr
