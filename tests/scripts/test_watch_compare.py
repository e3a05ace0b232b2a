"""scripts/watch.py and scripts/compare.py on small runs made here."""

import csv
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pygame
import pytest
import torch

from fw_rl.agents.config import A3CConfig
from fw_rl.agents.model import build_model
from fw_rl.checkpoint import save_checkpoint
from fw_rl.scripts import compare, watch

ROOT = Path(__file__).resolve().parents[2]


def make_run(path: Path, core: str, seed: int, returns: list[float], size: int = 6) -> Path:
    """A run directory as scripts/a3c.py leaves it, with a real (untrained) checkpoint."""
    path.mkdir(parents=True)
    config = A3CConfig(core=core, seed=seed, size=size, hidden_size=16, encoder_size=16)
    (path / "config.json").write_text(json.dumps(config.to_dict()))
    with open(path / "eval.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["frames", "elapsed_s", "mean_return", "catch_rate"])
        for i, r in enumerate(returns):
            writer.writerow([(i + 1) * 1000, (i + 1) * 6.0, r, (r + 1) / 2])
    torch.manual_seed(seed)
    save_checkpoint(
        path / "checkpoint.pt",
        model_state=build_model(config).state_dict(),
        optimiser_state=None,
        counters={"frames": 1000 * len(returns)},
        config=config.to_dict(),
    )
    return path


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_record_writes_a_readable_video_with_one_frame_per_observation(tmp_path, suffix):
    run = make_run(tmp_path / "run", "fastweights", 0, [0.0])
    out = tmp_path / f"agent{suffix}"
    assert watch.main([str(run), "--record", str(out), "--episodes", "2"]) == 0
    if suffix == ".gif":
        frames = imageio.mimread(out)
    else:
        import imageio_ffmpeg

        reader = imageio_ffmpeg.read_frames(str(out))
        meta = next(reader)
        width, height = meta["size"]
        frames = [np.frombuffer(f, np.uint8).reshape(height, width, 3) for f in reader]
    assert len(frames) == 2 * 6  # reset + 5 steps per episode on a 6x6 board
    assert frames[0].ndim == 3 and frames[0].shape[2] in (3, 4)
    assert not np.array_equal(frames[0], frames[3])  # the picture changes as it plays


def test_random_agent_records_without_checkpoint(tmp_path, capsys):
    out = tmp_path / "random.gif"
    assert watch.main(["--record", str(out), "--episodes", "1", "--size", "5"]) == 0
    assert len(imageio.mimread(out)) == 5
    assert "catch rate" in capsys.readouterr().out


def test_model_agent_shows_attention_only_over_past_steps(tmp_path):
    from fw_rl.agents.watching import ModelAgent
    from fw_rl.envs import CatchEnv

    config = A3CConfig(size=6, hidden_size=16, encoder_size=16)
    agent = ModelAgent(build_model(config), greedy=True, seed=0, name="fw")
    env = CatchEnv(size=6)
    obs, _ = env.reset(seed=0)
    decision = agent.decide(obs)
    assert decision.attention.shape == (0,)
    for t in range(1, 4):
        obs, *_ = env.step(decision.action)
        decision = agent.decide(obs)
        assert decision.attention.shape == (t,) and np.isclose(decision.probs.sum(), 1)


def test_missing_or_corrupt_checkpoint_gives_a_clear_message(tmp_path, capsys):
    assert watch.main([str(tmp_path / "none"), "--record", str(tmp_path / "x.gif")]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"junk")
    assert watch.main([str(bad), "--record", str(tmp_path / "x.gif")]) == 2
    assert "corrupt" in capsys.readouterr().err


def test_no_display_without_record_is_a_clear_error(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")
    }
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "watch.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 2 and "no display" in proc.stderr and "--record" in proc.stderr


def test_window_path_runs_under_dummy_driver_and_quits_on_q(monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")

    def press_q():  # once the window is open (posting before pygame's start would be lost)
        deadline = time.time() + 120
        while time.time() < deadline and pygame.display.get_surface() is None:
            time.sleep(0.05)
        time.sleep(0.5)  # a few frames drawn
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_q))

    threading.Thread(target=press_q, daemon=True).start()
    start = time.time()
    assert watch.main(["--fps", "30", "--size", "6"]) == 0  # no --episodes: until q
    assert time.time() - start < 150


def test_bad_arguments_are_rejected(capsys):
    for argv, message in (
        (["--record", "x.avi"], ".mp4 or .gif"),
        (["--fps", "0"], "--fps"),
        (["--human", "--record", "a.gif"], "--human"),
    ):
        with pytest.raises(SystemExit):
            watch.parse_args(argv)
        assert message in capsys.readouterr().err


def test_compare_draws_figure_and_table_from_run_directories(tmp_path):
    runs = [
        make_run(tmp_path / f"fw{s}", "fastweights", s, [-0.5, 0.5, 0.95, 1.0]) for s in range(2)
    ]
    runs.append(make_run(tmp_path / "lstm0", "lstm", 0, [-0.8, -0.2, 0.3, 0.6]))
    out = tmp_path / "out"
    assert compare.main([*map(str, runs), "--out", str(out)]) == 0
    png = imageio.imread(out / "curves.png")
    assert png.shape[0] > 200 and png.shape[1] > 400
    assert (out / "curves.svg").read_text().startswith("<?xml")
    table = (out / "table.md").read_text()
    # both seeds first reach 0.9 at the third evaluation: 3,000 frames, 18 s
    assert (
        "| fastweights | 2 / 2 | 0.00 M | 0.3 | seed 0: 0.00 M, 0.3 min, "
        "seed 1: 0.00 M, 0.3 min | 1.000 |"
    ) in table
    assert "| lstm | 0 / 1 | - | - | seed 0: not reached | 0.600 |" in table
    runs_fw = [compare.read_run(p) for p in runs[:2]]
    assert runs_fw[0].first_reaching(0.9) == (3000.0, 18.0)


def test_compare_rejects_a_directory_that_is_not_a_run(tmp_path, capsys):
    with pytest.raises(SystemExit):
        compare.main([str(tmp_path), "--out", str(tmp_path / "o")])
    assert "not a run directory" in capsys.readouterr().err


def test_compare_writes_next_to_the_runs_and_skips_one_without_evaluations(tmp_path, capsys):
    runs = tmp_path / "runs"
    done = make_run(runs / "fw0", "fastweights", 0, [0.2, 0.95])
    fresh = make_run(runs / "lstm0", "lstm", 0, [])  # started, not evaluated yet
    assert compare.main([str(done), str(fresh)]) == 0
    assert "skipping" in capsys.readouterr().err
    table = (runs / "table.md").read_text()
    assert "fastweights" in table and "lstm" not in table.split("Made by")[0]
    assert (runs / "curves.png").is_file()


def test_compare_needs_runs_or_cores(capsys):
    with pytest.raises(SystemExit):
        compare.main([])
    assert "run directories" in capsys.readouterr().err


def test_compare_labels_runs_of_different_set_ups_apart(tmp_path):
    """A 2 x 16 run and a 2 x 1 run of one core are two lines, not one mean of both."""
    wide = make_run(tmp_path / "wide", "fastweights", 0, [0.1, 0.5])
    narrow = make_run(tmp_path / "narrow", "fastweights", 1, [0.1, 0.2])
    config = json.loads((wide / "config.json").read_text())
    config.update(workers=2, envs_per_worker=16)
    (wide / "config.json").write_text(json.dumps(config))
    config.update(envs_per_worker=1)
    (narrow / "config.json").write_text(json.dumps(config))
    assert compare.main([str(wide), str(narrow), "--out", str(tmp_path / "out")]) == 0
    table = (tmp_path / "out" / "table.md").read_text()
    assert "| fastweights [a3c 2 x 16] | 0 / 1 |" in table
    assert "| fastweights [a3c 2 x 1] | 0 / 1 |" in table


def test_compare_keeps_envs_apart_and_counts_runs_of_one_seed_as_runs(tmp_path, capsys):
    """Runs on two envs are two lines (said, as one threshold reads both); two runs of seed
    0 are two runs, named by their folders, not two seeds."""
    first = make_run(tmp_path / "first", "fastweights", 0, [0.1, 0.95])
    again = make_run(tmp_path / "again", "fastweights", 0, [0.1, 0.2])
    other = make_run(tmp_path / "other", "fastweights", 1, [0.5, 0.6])
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "env": "CartPole-v1"}))
    out = tmp_path / "out"
    with pytest.raises(SystemExit):  # no default threshold fits two envs
        compare.main([str(first), str(again), str(other), "--out", str(out)])
    told = capsys.readouterr().err
    assert "the runs are on 2 envs (CartPole-v1, Catch-v0): give --threshold" in told
    flags = [str(first), str(again), str(other), "--out", str(out), "--threshold", "0.9"]
    assert compare.main(flags) == 0
    told = capsys.readouterr().err
    assert "the runs are on 2 envs; one --threshold (0.9) is read on each" in told
    table = (out / "table.md").read_text()
    assert "| core | runs reaching 0.9 |" in table
    assert f"| fastweights [{config['env']}] | 1 / 2 |" in table
    assert "seed 0 (first): 0.00 M, 0.2 min, seed 0 (again): not reached" in table
    assert "| fastweights [CartPole-v1] | 0 / 1 |" in table


def test_compare_reads_the_envs_own_threshold_by_default(tmp_path):
    """Catch's solved return (0.9) where the runs are Catch's; for an env whose family
    declares none, 90 % of the way up the returns its runs reached."""
    runs = [make_run(tmp_path / f"c{s}", "lstm", s, [0.0, 0.85, 0.95]) for s in range(2)]
    assert compare.main([*map(str, runs), "--out", str(tmp_path / "catch")]) == 0
    assert "| core | seeds reaching 0.9 |" in (tmp_path / "catch" / "table.md").read_text()
    twice = [str(runs[0]), f"{runs[0]}/", str(runs[1])]  # one folder named twice: one run
    assert compare.main([*twice, "--out", str(tmp_path / "twice")]) == 0
    assert "| lstm | 2 / 2 |" in (tmp_path / "twice" / "table.md").read_text()
    for run in runs:
        config = json.loads((run / "config.json").read_text())
        (run / "config.json").write_text(json.dumps({**config, "env": "CartPole-v1"}))
    assert compare.main([*map(str, runs), "--out", str(tmp_path / "pole")]) == 0
    assert "| core | seeds reaching 0.855 |" in (tmp_path / "pole" / "table.md").read_text()
