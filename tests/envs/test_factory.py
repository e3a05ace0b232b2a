"""Any Gymnasium env for the agents: spaces checked and flattened, same-step autoreset
checked, one-line errors (fw_rl.envs.factory)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from fw_rl.envs import CatchVectorEnv
from fw_rl.envs.factory import (
    DEFAULT_ROLLOUT,
    EnvError,
    check_same_step,
    check_spaces,
    env_info,
    episode_successes,
    final_observations,
    make_env,
    make_vector_env,
    model_observation_space,
    parse_env_kwargs,
)


def test_catch_keeps_its_native_vector_env_with_same_step_autoreset():
    vec = make_vector_env("Catch-v0", {"size": 6}, 3)
    assert isinstance(vec, CatchVectorEnv)
    assert vec.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    info = env_info("Catch-v0", {"size": 6})
    assert info.episode_limit == 5 and info.default_rollout == 5


@pytest.mark.parametrize(
    "space, size",
    [
        (spaces.Discrete(4), 4),
        (spaces.MultiDiscrete([2, 3]), 5),
        (spaces.Tuple((spaces.Discrete(2), spaces.Box(0, 1, (3,)))), 5),
        (spaces.Dict({"a": spaces.MultiBinary(3), "b": spaces.Discrete(3)}), 6),
    ],
)
def test_spaces_other_than_a_box_are_flattened_one_hot(space, size):
    check_spaces(space, spaces.Discrete(2))
    flat = model_observation_space(space)
    assert isinstance(flat, spaces.Box) and flat.shape == (size,)
    box = spaces.Box(0, 1, (2, 3))
    assert model_observation_space(box) is box


@pytest.mark.parametrize(
    "observation, action, message",
    [
        (spaces.Box(0, 1, (2,)), spaces.Tuple([spaces.Discrete(2)]), "action space: Tuple"),
        (spaces.Text(5), spaces.Discrete(2), r"unsupported observation space: Text.*Wrapper"),
        (
            spaces.Tuple((spaces.Discrete(2), spaces.Text(3))),
            spaces.Discrete(2),
            r"observation space\[1\]: Text",
        ),
    ],
)
def test_unsupported_spaces_are_refused_naming_the_space(observation, action, message):
    with pytest.raises(EnvError, match=message):
        check_spaces(observation, action)


def test_a_discrete_observation_reaches_the_model_one_hot():
    vec = make_vector_env("FrozenLake-v1", {"is_slippery": False}, 2)
    obs, _ = vec.reset(seed=0)
    assert obs.shape == (2, 16)
    np.testing.assert_array_equal(obs.sum(1), [1, 1])
    assert obs[0, 0] == 1  # the start cell
    info = env_info("FrozenLake-v1", {"is_slippery": False})
    assert info.episode_limit == 100 and info.default_rollout == 100


def test_an_env_without_an_episode_bound_gets_the_documented_rollout():
    class Endless(gym.Env):
        observation_space = spaces.Box(0, 1, (1,))
        action_space = spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            return np.zeros(1, np.float32), {}

        def step(self, action):
            return np.zeros(1, np.float32), 0.0, False, False, {}

    gym.register("TestEndless-v0", entry_point=lambda: Endless())
    try:
        info = env_info("TestEndless-v0")
        assert info.episode_limit is None and info.default_rollout == DEFAULT_ROLLOUT
        assert info.eval_step_cap == 10_000
    finally:
        gym.registry.pop("TestEndless-v0")


@pytest.mark.parametrize(
    "env_id, kwargs, message",
    [
        ("NoSuchEnv-v0", {}, r"--env 'NoSuchEnv-v0': Environment `NoSuchEnv` doesn't exist"),
        ("no_such_module:Foo-v0", {}, r"cannot import the module 'no_such_module'"),
        ("CartPole-v1", {"no_such_option": 1}, r"--env-kwargs \{\"no_such_option\": 1\}"),
    ],
)
def test_an_env_that_cannot_be_made_is_one_line(env_id, kwargs, message):
    with pytest.raises(EnvError, match=message) as e:
        make_env(env_id, kwargs)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("text", ["{bad", "[1, 2]", '"x"'])
def test_env_kwargs_must_be_a_json_object(text):
    with pytest.raises(EnvError, match="--env-kwargs must be a JSON object"):
        parse_env_kwargs(text)


def test_a_vector_env_that_resets_in_the_next_step_is_refused():
    vec = SyncVectorEnv([lambda: gym.make("CartPole-v1")], autoreset_mode=AutoresetMode.NEXT_STEP)
    with pytest.raises(EnvError, match="same-step autoreset"):
        check_same_step(vec)


def test_final_observations_and_successes_come_from_the_ending_step():
    class Succeeds(gym.Env):
        observation_space = spaces.Box(0, 10, (1,))
        action_space = spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            self.t = 0
            return np.zeros(1, np.float32), {}

        def step(self, action):
            self.t += 1
            done = self.t == 2
            return np.full(1, self.t, np.float32), 1.0, done, False, {"success": bool(action)}

    vec = SyncVectorEnv([Succeeds, Succeeds], autoreset_mode=AutoresetMode.SAME_STEP)
    vec.reset(seed=0)
    vec.step(np.array([0, 1]))
    obs, _, terminated, _, info = vec.step(np.array([0, 1]))
    assert terminated.all()
    np.testing.assert_array_equal(obs[:, 0], [0, 0])  # the next episodes' first observations
    np.testing.assert_array_equal(final_observations(obs, info, terminated)[:, 0], [2, 2])
    said = episode_successes("TestSucceeds-v0", np.array([2.0, 2.0]), info, terminated)
    np.testing.assert_array_equal(said, [False, True])
    catch = episode_successes("Catch-v0", np.array([1.0, -1.0, 1.0]), {}, np.array([1, 1, 0], bool))
    np.testing.assert_array_equal(catch, [True, False])
