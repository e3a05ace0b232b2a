"""CatchVectorEnv reproduces N single envs and follows the vector-env contract."""

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from fw_rl.envs import CatchEnv, CatchVectorEnv, InvalidActionError


@pytest.mark.parametrize(
    "kwargs",
    [dict(), dict(size=9, ball_speed=2, visible_steps=3), dict(size=6, visible_steps=None)],
)
def test_vector_env_equals_single_envs_step_for_step(kwargs, monkeypatch):
    # several episodes, so autoresets are compared too, and boards draw their random
    # numbers in blocks of two episodes, so refilling the blocks is compared as well
    monkeypatch.setattr(CatchVectorEnv, "_STARTS_PER_REFILL", 2)
    n, seed, steps = 5, 11, 130
    vec = CatchVectorEnv(n, **kwargs)
    singles = [CatchEnv(**kwargs) for _ in range(n)]
    obs, info = vec.reset(seed=seed)
    for i, env in enumerate(singles):
        o, inf = env.reset(seed=seed + i)
        assert np.array_equal(obs[i], o) and info["ball_col"][i] == inf["ball_col"]
    needs_reset = [False] * n
    rng = np.random.default_rng(0)
    for _ in range(steps):
        actions = rng.integers(0, 3, size=n)
        obs, rewards, terminated, truncated, info = vec.step(actions)
        for i, env in enumerate(singles):
            if needs_reset[i]:  # NextStep autoreset: this step resets board i
                o, inf = env.reset()
                r, term = 0.0, False
            else:
                o, r, term, _, inf = env.step(int(actions[i]))
            needs_reset[i] = term
            assert np.array_equal(obs[i], o)
            assert rewards[i] == r and terminated[i] == term and not truncated[i]
            for key in ("ball_row", "ball_col", "paddle_left", "blanked"):
                assert info[key][i] == inf[key]


def test_same_step_autoreset_returns_next_episode_and_final_obs():
    vec = CatchVectorEnv(3, size=5, autoreset_mode="SameStep")
    assert vec.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP
    vec.reset(seed=0)
    for _ in range(3):
        vec.step(np.ones(3, np.int64))
    obs, rewards, terminated, _, info = vec.step(np.ones(3, np.int64))
    assert terminated.all() and (rewards != 0).all()
    assert (info["final_info"]["ball_row"] == 4).all()
    assert (info["ball_row"] == 0).all()
    assert obs[:, 0].sum() == 3  # each new ball in the top row
    assert (info["final_obs"][:, -1].sum(axis=1) >= 3).all()
    _, rewards, terminated, _, _ = vec.step(np.ones(3, np.int64))
    assert not terminated.any() and (rewards == 0).all()


def test_small_integer_actions_on_a_wide_board():
    # 2 * 198 paddle positions does not fit a uint8: the lookup must not overflow
    vecs = [CatchVectorEnv(2, size=200) for _ in range(2)]
    for vec in vecs:
        vec.reset(seed=0)
    for _ in range(3):
        wide = vecs[0].step(np.array([2, 0], np.int64))[4]["paddle_left"]
        narrow = vecs[1].step(np.array([2, 0], np.uint8))[4]["paddle_left"]
        assert np.array_equal(wide, narrow)
    assert list(narrow) == [98 + 3, 98 - 3]


def test_copy_false_returns_the_reused_buffer():
    vec = CatchVectorEnv(2, copy=False)
    first, _ = vec.reset(seed=0)
    second, *_ = vec.step(np.ones(2, np.int64))
    assert first is second
    vec = CatchVectorEnv(2)
    first, _ = vec.reset(seed=0)
    second, *_ = vec.step(np.ones(2, np.int64))
    assert first is not second


@pytest.mark.parametrize(
    "actions", [np.array([0, 3]), np.array([-1, 0]), np.array([1]), np.array([0.0, 1.0])]
)
def test_bad_actions_raise(actions):
    vec = CatchVectorEnv(2)
    vec.reset(seed=0)
    with pytest.raises(InvalidActionError, match="shape \\(2,\\)"):
        vec.step(actions)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_envs=0), "num_envs"),
        (dict(autoreset_mode="Disabled"), "autoreset_mode"),
        (dict(render_mode="human"), "does not render"),
    ],
)
def test_bad_settings_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CatchVectorEnv(**kwargs)


def test_reset_seed_list_must_match_num_envs():
    with pytest.raises(ValueError, match="2 seeds for 3 boards"):
        CatchVectorEnv(3).reset(seed=[1, 2])
