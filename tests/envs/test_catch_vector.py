"""CatchVectorEnv reproduces N single envs and follows the vector-env contract."""

import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from fw_rl.envs import CatchEnv, CatchVectorEnv, EpisodeFinishedError, InvalidActionError


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
    assert info["_final_obs"].all() and info["_final_info"].all()
    assert all(final[-1].sum() >= 3 for final in info["final_obs"])
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
        (dict(autoreset_mode="Whenever"), "autoreset_mode"),
        (dict(render_mode="human"), "does not render"),
    ],
)
def test_bad_settings_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CatchVectorEnv(**kwargs)


def test_reset_seed_list_must_match_num_envs():
    with pytest.raises(ValueError, match="2 seeds for 3 boards"):
        CatchVectorEnv(3).reset(seed=[1, 2])


def _compare_steps(ours, theirs, steps: int, seed: int, disabled: bool = False) -> int:
    """Step both vector envs alike; compare everything they return. Returns how many
    episode ends were seen."""
    n = ours.num_envs
    obs_a, info_a = ours.reset(seed=seed)
    obs_b, info_b = theirs.reset(seed=seed)
    assert np.array_equal(obs_a, obs_b)
    rng = np.random.default_rng(seed)
    ends = 0
    for _ in range(steps):
        actions = rng.integers(0, 3, size=n)
        a, b = ours.step(actions), theirs.step(actions)
        for x, y in zip(a[:4], b[:4]):
            assert np.array_equal(x, y)
        info_a, info_b = a[4], b[4]
        assert set(info_a) == set(info_b)
        for key in info_b:  # each env's entries, where its mask says it has one
            if not key.startswith(("_", "final")):
                mask = info_b[f"_{key}"]
                assert np.array_equal(info_a[f"_{key}"], mask), key
                assert np.array_equal(info_a[key][mask], info_b[key][mask]), key
        if "final_obs" in info_b:
            mask = info_b["_final_obs"]
            ends += int(mask.sum())
            assert info_a["final_obs"].dtype == object
            assert np.array_equal(info_a["_final_obs"], mask)
            assert np.array_equal(info_a["_final_info"], info_b["_final_info"])
            for i in range(n):
                if mask[i]:
                    assert np.array_equal(info_a["final_obs"][i], info_b["final_obs"][i])
                else:
                    assert info_a["final_obs"][i] is None
            final_a, final_b = info_a["final_info"], info_b["final_info"]
            assert set(final_a) == set(final_b)
            for key in final_b:
                if key.startswith("_"):
                    assert np.array_equal(final_a[key], final_b[key])
                else:
                    assert np.array_equal(final_a[key][mask], final_b[key][mask])
        if disabled and a[2].any():
            ends += int(a[2].sum())
            ours.reset(options={"reset_mask": a[2].copy()})
            theirs.reset(options={"reset_mask": a[2].copy()})
    return ends


def test_same_step_info_layout_is_gymnasiums():
    """final_obs / final_info and their masks as Gymnasium's own SyncVectorEnv gives them."""
    kwargs = dict(size=5, visible_steps=2)
    ours = CatchVectorEnv(3, autoreset_mode="SameStep", **kwargs)
    theirs = SyncVectorEnv([lambda: CatchEnv(**kwargs)] * 3, autoreset_mode=AutoresetMode.SAME_STEP)
    assert _compare_steps(ours, theirs, steps=13, seed=4) == 9


def test_disabled_autoreset_waits_for_a_partial_reset():
    kwargs = dict(size=5)
    ours = CatchVectorEnv(2, autoreset_mode="Disabled", **kwargs)
    theirs = SyncVectorEnv([lambda: CatchEnv(**kwargs)] * 2, autoreset_mode=AutoresetMode.DISABLED)
    assert _compare_steps(ours, theirs, steps=12, seed=1, disabled=True) == 6
    # without the reset, stepping a finished board is refused with what to do
    ours.reset(seed=0)
    for _ in range(4):
        *_, terminated, _, _ = ours.step(np.ones(2, np.int64))
    assert terminated.all()
    with pytest.raises(EpisodeFinishedError, match="reset_mask"):
        ours.step(np.ones(2, np.int64))
    with pytest.raises(ValueError, match="reset_mask"):
        ours.reset(options={"reset_mask": np.array([1, 0])})


def test_step_before_reset_says_so():
    with pytest.raises(ResetNeeded, match="before reset"):
        CatchVectorEnv(2).step(np.ones(2, np.int64))
