"""A user's env that breaks the Gymnasium API is one line naming the env and the rule
(fw_rl.envs.contract): through the factory, the Python API (ConfigError), the scripts
(exit code 2, nothing written) and A3C's worker processes (exit code 2, a folder the same
command runs in again)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import fw_rl
from fw_rl.agents.config import ConfigError
from fw_rl.envs import contract
from fw_rl.envs.contract import EnvContractError, EnvCrashedError, check_first_steps
from fw_rl.envs.factory import EnvError, env_info, make_env, make_vector_env

ROOT = Path(__file__).resolve().parents[2]
ME = __name__  # this module, as the scripts import it: --env test_env_contract:make_...


class Good(gym.Env):
    """Three floats, two actions, five steps an episode."""

    observation_space = spaces.Box(0, 1, (3,), np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.obs(), {}

    def step(self, action):
        self.t += 1
        return self.obs(), 1.0, self.t >= 5, False, {}

    def obs(self):
        return np.zeros(3, np.float32)


class ResetObsOnly(Good):
    def reset(self, *, seed=None, options=None):
        return super().reset(seed=seed)[0]


class WrongShape(Good):
    def obs(self):
        return np.zeros(4, np.float32)


class OldStep(Good):
    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, reward, terminated or truncated, info


class NoObservationSpace(gym.Env):
    action_space = spaces.Discrete(2)


class OldGymSpace(Good):
    observation_space = (3,)


class NoSeed(Good):
    def reset(self):
        return super().reset()


class InfoNone(Good):
    def reset(self, *, seed=None, options=None):
        return super().reset(seed=seed)[0], None


class FloatImage(Good):
    observation_space = spaces.Box(0, 255, (2, 2, 3), np.uint8)

    def obs(self):
        return np.zeros((2, 2, 3))  # float64: the vector env cannot stack it into uint8


class RewardNone(Good):
    def step(self, action):
        obs, _, terminated, truncated, info = super().step(action)
        return obs, None, terminated, truncated, info


class DictWithoutKey(Good):
    observation_space = spaces.Dict({"a": spaces.Discrete(3), "b": spaces.Box(0, 1, (2,))})

    def obs(self):
        return {"a": 0}


class DiscreteOutOfRange(Good):
    observation_space = spaces.Discrete(3)

    def obs(self):
        return 3


class Crashes(Good):
    def step(self, action):
        raise KeyError("its own bug")


class Fine(Good):
    """What the agents take although Gymnasium would warn: a float64 observation for a
    float32 Box, out of its bounds; an int for a Box of floats' part; np.bool_ flags."""

    observation_space = spaces.Tuple((spaces.Box(0, 1, (2,)), spaces.MultiDiscrete([2, 3])))

    def obs(self):
        return (np.full(2, 7.0), np.array([1, 2]))

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, np.float32(reward), np.bool_(terminated), truncated, info


def make_good():
    return Good()


def make_reset_obs_only():
    return ResetObsOnly()


def make_wrong_shape():
    return WrongShape()


def make_old():
    return OldStep()


def make_no_observation_space():
    return NoObservationSpace()


def make_old_wrapped():
    return gym.wrappers.TimeLimit(OldStep(), 10)  # TimeLimit unpacks the 4 values itself


BROKEN = [
    (ResetObsOnly, "reset returned an ndarray of shape (3,), not (obs, info); Gymnasium"),
    (WrongShape, "reset returned an observation of shape (4,); observation_space is a Box "
     "of shape (3,)"),
    (OldStep, "step returned 4 values (the old Gym API's (obs, reward, done, info)); "
     "Gymnasium envs return (obs, reward, terminated, truncated, info)"),
    (NoSeed, "reset takes no seed and options arguments; Gymnasium envs' reset takes"),
    (InfoNone, "reset returned (obs, None (NoneType)); Gymnasium envs return (obs, info)"),
    (FloatImage, "an observation of dtype float64; observation_space is a Box of dtype uint8"),
    (RewardNone, "step returned a reward of None (NoneType); the reward is a number"),
    (DictWithoutKey, "an observation without the key(s) 'b'; observation_space is a Dict"),
    (DiscreteOutOfRange, "reset returned the observation 3; observation_space is Discrete(3): "
     "one int in [0, 3)"),
]  # fmt: skip


@pytest.mark.parametrize("cls, message", BROKEN, ids=[c.__name__ for c, _ in BROKEN])
def test_each_broken_rule_is_one_line_naming_the_env_and_the_rule(cls, message):
    with pytest.raises(EnvContractError) as e:
        check_first_steps(cls(), "mine")
    assert str(e.value).startswith("env mine: ") and message in str(e.value)
    assert "\n" not in str(e.value)
    assert isinstance(e.value, EnvError)  # the config's and the API's usage errors


@pytest.mark.parametrize(
    "factory, message",
    [
        (make_no_observation_space, "it has no observation_space; a Gymnasium env sets"),
        (OldGymSpace, "observation_space: observation space does not inherit from"),
    ],
)
def test_an_env_without_gymnasium_spaces_is_refused_when_made(factory, message):
    with pytest.raises(EnvContractError, match=message):
        make_env(f"{ME}:{factory.__name__}")


def test_a_wrapper_that_trips_over_the_env_still_names_the_env_s_rule():
    with pytest.raises(EnvContractError, match="step returned 4 values"):
        env_info(f"{ME}:make_old_wrapped")


def test_an_env_s_own_exception_keeps_its_traceback():
    with pytest.raises(EnvCrashedError, match="env mine raised KeyError in its first") as e:
        check_first_steps(Crashes(), "mine")
    assert isinstance(e.value.__cause__, KeyError)
    assert not isinstance(e.value, ValueError)  # not a usage error: its traceback is shown


def test_what_the_agents_take_passes():
    check_first_steps(Fine(), "fine")
    check_first_steps(Good(), "good")


def test_the_first_steps_are_checked_once_and_the_training_envs_are_not_wrapped(monkeypatch):
    calls = []
    check = contract.check_first_steps
    monkeypatch.setattr(contract, "check_first_steps", lambda *a: calls.append(a) or check(*a))
    kwargs = {"max_episode_steps": 7}  # kwargs of this test only: env_info is cached
    vec = make_vector_env(f"{ME}:make_good_limited", kwargs, 2)
    make_vector_env(f"{ME}:make_good_limited", kwargs, 3)
    assert len(calls) == 1  # once per process
    assert [type(env) for env in vec.envs] == [gym.wrappers.TimeLimit] * 2
    assert all(type(env.env) is Good for env in vec.envs)  # nothing between: no cost a step
    env_info("CartPole-v1", {"max_episode_steps": 9})  # a registered id: not checked
    assert len(calls) == 1


def make_good_limited(max_episode_steps: int):
    return gym.wrappers.TimeLimit(Good(), max_episode_steps)


API_CASES = [
    (make_reset_obs_only, "env test_env_contract:make_reset_obs_only: reset returned an "
     "ndarray of shape (3,), not (obs, info)"),
    (make_wrong_shape, "reset returned an observation of shape (4,); observation_space is a "
     "Box of shape (3,)"),
    (make_old, "env test_env_contract:make_old: step returned 4 values"),
    (make_no_observation_space, "it has no observation_space"),
]  # fmt: skip


@pytest.mark.parametrize("algorithm", ["PPO", "A3C"])
@pytest.mark.parametrize("factory, message", API_CASES, ids=[f.__name__ for f, _ in API_CASES])
def test_the_python_api_says_it_as_a_config_error(factory, message, algorithm):
    with pytest.raises(ConfigError) as e:
        getattr(fw_rl, algorithm)(factory, core="lstm")
    assert message.replace("test_env_contract", ME) in str(e.value)


def test_a_callable_of_this_process_is_named_by_its_own_name():
    with pytest.raises(ConfigError, match=r"^env <lambda>: step returned 4 values"):
        fw_rl.PPO(lambda: OldStep(), core="lstm")


@pytest.mark.parametrize("script", ["ppo", "a3c"])
@pytest.mark.parametrize("factory, message", API_CASES, ids=[f.__name__ for f, _ in API_CASES])
def test_the_scripts_say_it_in_one_line_exit_2_and_write_nothing(
    tmp_path, capsys, script, factory, message
):
    main = __import__(f"fw_rl.scripts.{script}", fromlist=["main"]).main
    with pytest.raises(SystemExit) as exit_:
        main(["--env", f"{ME}:{factory.__name__}", "--run-dir", str(tmp_path / "run")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]  # the program's name is pytest's here
    assert f": error: env {ME}:{factory.__name__}: " in line
    assert message.replace("test_env_contract", ME) in line
    assert not (tmp_path / "run").exists()


BROKEN_IN_WORKERS = """
    import multiprocessing
    import os

    import gymnasium as gym
    import numpy as np
    from gymnasium import spaces


    class Env(gym.Env):
        observation_space = spaces.Box(0, 1, (3,), np.float32)
        action_space = spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return np.zeros(3, np.float32), {}

        def step(self, action):
            return np.zeros(3, np.float32), 1.0, True, False, {}


    class Old(Env):
        def step(self, action):
            return np.zeros(3, np.float32), 1.0, True, {}


    def make():  # the main process's env keeps the API; the workers' breaks it
        worker = multiprocessing.current_process().name.startswith("a3c-worker")
        return Old() if worker and not os.environ.get("FIXED") else Env()
"""


def test_an_a3c_worker_s_broken_env_is_one_line_exit_2_and_the_folder_runs_again(tmp_path):
    (tmp_path / "workers_env.py").write_text(textwrap.dedent(BROKEN_IN_WORKERS))
    command = [sys.executable, str(ROOT / "scripts" / "a3c.py"), "--env", "workers_env:make"]
    command += ["--core", "lstm", "--hidden-size", "8", "--encoder-size", "8", "--workers", "1"]
    command += ["--envs-per-worker", "2", "--total-frames", "64", "--eval-episodes", "2"]
    command += ["--no-progress", "--run-dir", "run"]

    def run(**extra):
        env = {**os.environ, **extra}
        return subprocess.run(
            command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300
        )

    proc = run()
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith(
        "stopped: worker 0: error: env workers_env:make: step returned 4 values"
    ), last
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
    proc = run(FIXED="1")  # the env mended, the same command in the same folder
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "run" / "checkpoint.pt").exists()
