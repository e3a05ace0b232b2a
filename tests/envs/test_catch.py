"""Catch-v0: the Gymnasium contract, the rules, blanking, errors and rendering."""

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import fw_rl.envs  # noqa: F401
from fw_rl.envs import CatchConfigError, CatchEnv, EpisodeFinishedError, InvalidActionError
from fw_rl.envs.catch_rules import PAPER_SETTINGS


def play_episode(env, policy, seed=None):
    obs, info = env.reset(seed=seed)
    observations, infos, rewards = [obs], [info], []
    terminated = False
    while not terminated:
        obs, reward, terminated, truncated, info = env.step(policy(info))
        assert not truncated
        observations.append(obs)
        infos.append(info)
        rewards.append(reward)
    return observations, infos, rewards


def tracker(info):
    """Move the paddle's centre towards the ball's true column."""
    centre = info["paddle_left"] + 1
    return 1 + int(np.sign(info["ball_col"] - centre))


@pytest.mark.parametrize("render_mode", [None, "rgb_array", "ansi", "human"])
def test_check_env_passes(render_mode):
    env = gym.make("Catch-v0", render_mode=render_mode).unwrapped  # with a spec
    check_env(env, skip_render_check=False)
    env.close()


def test_registered_ids_make_both_envs():
    env = gym.make("Catch-v0", size=10)
    assert isinstance(env.unwrapped, CatchEnv)
    assert env.observation_space.shape == (10, 10)
    vec = gym.make_vec("Catch-v0", num_envs=3, size=10)
    assert isinstance(vec, fw_rl.envs.CatchVectorEnv)
    assert vec.observation_space.shape == (3, 10, 10)


def test_make_with_module_prefix_needs_no_prior_import():
    code = (
        "import gymnasium as gym; e = gym.make('fw_rl:Catch-v0'); print(type(e.unwrapped).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "CatchEnv"


def test_same_seed_same_trajectory_and_different_seeds_differ():
    rng_actions = np.random.default_rng(0).integers(0, 3, size=23)
    runs = []
    for seed in (7, 7, 8, 9, 10):
        env = CatchEnv(ball_speed=1)
        it = iter(rng_actions)
        obs, infos, rewards = play_episode(env, lambda info, it=it: int(next(it)), seed=seed)
        runs.append((np.stack(obs), [i["ball_col"] for i in infos], rewards))
    assert np.array_equal(runs[0][0], runs[1][0]) and runs[0][1:] == runs[1][1:]
    assert any(runs[0][1] != r[1] for r in runs[2:])


def test_episode_shape_rewards_and_termination():
    env = CatchEnv(size=12)
    obs, infos, rewards = play_episode(env, tracker, seed=3)
    assert len(rewards) == 11  # size - 1 steps
    assert rewards[:-1] == [0.0] * 10 and rewards[-1] in (1.0, -1.0)
    assert infos[-1]["ball_row"] == 11
    assert all(o.dtype == np.float32 and o.shape == (12, 12) for o in obs)


@pytest.mark.parametrize("ball_speed", [0, 1])
def test_tracking_policy_always_catches_when_fully_observable(ball_speed):
    env = CatchEnv(size=16, ball_speed=ball_speed, visible_steps=None)
    for seed in range(60):
        _, _, rewards = play_episode(env, tracker, seed=seed)
        assert rewards[-1] == 1.0, f"missed with seed {seed}"


def test_staying_still_catches_at_the_geometric_rate():
    # ball column uniform over `size`, paddle covers `paddle_width` of them: rate = w / size
    size, width, n = 24, 3, 6000
    vec = fw_rl.envs.CatchVectorEnv(n, size=size, paddle_width=width)
    vec.reset(seed=0)
    for _ in range(size - 1):
        _, rewards, terminated, _, _ = vec.step(np.ones(n, np.int64))
    assert terminated.all()
    rate = (rewards == 1).mean()
    sd = np.sqrt(width / size * (1 - width / size) / n)
    assert abs(rate - width / size) < 4 * sd


def test_ball_bounces_off_the_side_walls():
    env = CatchEnv(size=8, ball_speed=3, visible_steps=None)
    _, infos, _ = play_episode(env, lambda info: 1, seed=1)
    cols = [i["ball_col"] for i in infos]
    assert all(0 <= c < 8 for c in cols)
    steps = np.diff(cols)
    assert set(np.abs(steps)) <= {0, 1, 2, 3} and np.any(steps > 0) and np.any(steps < 0)


def test_paddle_stops_at_the_walls():
    env = CatchEnv(size=8, paddle_width=3)
    _, infos, _ = play_episode(env, lambda info: 0, seed=0)
    assert [i["paddle_left"] for i in infos] == [2, 1, 0, 0, 0, 0, 0, 0]
    _, infos, _ = play_episode(env, lambda info: 2, seed=0)
    assert infos[-1]["paddle_left"] == 5


@pytest.mark.parametrize("visible_steps", [0, 1, 8, 30])
def test_observations_blank_after_visible_steps(visible_steps):
    env = CatchEnv(size=24, visible_steps=visible_steps)
    obs, infos, _ = play_episode(env, lambda info: 2, seed=5)
    for t, (o, info) in enumerate(zip(obs, infos)):
        if t < visible_steps:
            assert o.sum() == 4.0 and not info["blanked"]  # ball + 3 paddle cells
            assert o[info["ball_row"], info["ball_col"]] == 1.0
            assert o[-1, info["paddle_left"] : info["paddle_left"] + 3].tolist() == [1, 1, 1]
        else:
            assert not o.any() and info["blanked"]


def test_fully_observable_never_blanks():
    obs, infos, _ = play_episode(CatchEnv(size=10, visible_steps=None), tracker, seed=0)
    assert all(o.any() for o in obs) and not any(i["blanked"] for i in infos)


def test_observations_are_fresh_arrays():
    env = CatchEnv()
    first, _ = env.reset(seed=0)
    kept = first.copy()
    env.step(1)
    assert np.array_equal(first, kept)


@pytest.mark.parametrize(
    "action",
    [-1, 3, 1.5, "left", None, 1.0, True, np.float64(2.0), np.bool_(True), np.array([1.0])],
)
def test_bad_action_raises_clear_error(action):
    """Floats and bools are refused even where they equal 0, 1 or 2."""
    env = CatchEnv()
    env.reset(seed=0)
    with pytest.raises(InvalidActionError, match="0 \\(left\\), 1 \\(stay\\) or 2 \\(right\\)"):
        env.step(action)


@pytest.mark.parametrize("action", [np.array([2]), np.array([[2]], np.uint8), np.array(2)])
def test_one_element_integer_arrays_are_accepted(action):
    env = CatchEnv(size=8)
    env.reset(seed=0)
    start = env.unwrapped._paddle_left
    *_, info = env.step(action)
    assert info["paddle_left"] == start + 1


def test_default_is_the_papers_harder_setting():
    env = gym.make("Catch-v0")
    assert env.observation_space.shape == (24, 24)
    obs, _ = env.reset(seed=0)
    seen = [obs.any()]
    for _ in range(6):
        obs, *_ = env.step(1)
        seen.append(obs.any())
    assert seen == [True] * 5 + [False] * 2  # 5 visible observations, then blank
    small = gym.make("Catch-v0", **PAPER_SETTINGS["16x16"])
    assert small.observation_space.shape == (16, 16)
    assert small.unwrapped.rules.visible_steps == 3


def test_numpy_integer_actions_are_accepted():
    env = CatchEnv()
    env.reset(seed=0)
    env.step(np.int64(2))
    assert env.step(np.array(0))[4]["paddle_left"] == 10


def test_stepping_a_finished_episode_raises():
    env = CatchEnv(size=4)
    with pytest.raises(EpisodeFinishedError, match="reset"):
        env.step(1)
    play_episode(env, tracker, seed=0)
    with pytest.raises(EpisodeFinishedError, match="reset"):
        env.step(1)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(size=4, paddle_width=5), "paddle_width"),
        (dict(size=4, paddle_width=0), "paddle_width"),
        (dict(size=1), "size"),
        (dict(visible_steps=-1), "visible_steps must be >= 0"),
        (dict(ball_speed=24), "ball_speed"),
        (dict(size=10.5), "size must be an int"),
    ],
)
def test_bad_settings_raise_clear_errors(kwargs, match):
    with pytest.raises(CatchConfigError, match=match):
        CatchEnv(**kwargs)


def test_bad_render_mode_lists_allowed_modes():
    with pytest.raises(ValueError, match="human"):
        CatchEnv(render_mode="video")


def test_rgb_array_shows_game_beside_blank_view():
    env = CatchEnv(size=12, visible_steps=1, render_mode="rgb_array")
    env.reset(seed=0)
    visible = env.render()
    env.step(1)
    blank = env.render()
    assert visible.dtype == np.uint8 and visible.ndim == 3 and visible.shape[2] == 3
    assert visible.shape[1] > 2 * visible.shape[0] * 0.8  # two boards side by side
    half = visible.shape[1] // 2
    # the left half (true game) has the ball and paddle in both frames; the right half
    # (what the agent sees) loses its bright cells once blank
    assert (blank[:, :half] > 200).any()
    assert (visible[:, half:] > 200).sum() > (blank[:, half:] > 200).sum()


def test_ansi_render_shows_both_views():
    env = CatchEnv(size=6, visible_steps=1, render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    assert "agent sees" in text and "o" in text and "===" in text
    env.step(1)
    assert "blank" in env.render()


def test_human_window_opens_pumps_and_closes():
    import pygame

    env = CatchEnv(size=8, render_mode="human")
    env.metadata = {**env.metadata, "render_fps": 0}
    env.reset(seed=0)
    env.step(1)
    assert pygame.display.get_init() and pygame.display.get_surface() is not None
    env.close()
    assert not pygame.display.get_init()


def test_gymnasium_play_runs_with_arrow_keys():
    import pygame
    from gymnasium.utils.play import play

    keys = CatchEnv().get_keys_to_action()
    assert keys == {(pygame.K_LEFT,): 0, (pygame.K_RIGHT,): 2}
    actions = []

    def callback(obs, next_obs, action, reward, terminated, truncated, info):
        actions.append(action)
        if len(actions) == 5:
            pygame.event.post(pygame.event.Event(pygame.QUIT))

    play(gym.make("Catch-v0", render_mode="rgb_array", size=8), fps=200, noop=1, callback=callback)
    assert actions == [1] * 5  # no key pressed: the paddle stays
