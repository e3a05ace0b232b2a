"""The Gymnasium API checked once, on a user's env, before a run begins.

An env that breaks the API (``reset`` returning only the observation, the old Gym ``step``
of four values, an observation of another shape than its space's) would otherwise fail
deep inside Gymnasium's vector env or numpy, after the run folder was made. The factory
(:mod:`fw_rl.envs.factory`) checks instead, where it makes a user's env: that it has
Gymnasium spaces (:func:`check_env_spaces`, each env a factory function makes), and that
its first ``reset`` and ``step`` answer in the API's form (:func:`check_first_steps`, once
per process on the env it describes: nothing is added to the envs that train). A broken
rule is one :class:`EnvContractError` line naming the env and the rule.

Gymnasium's own checker (:mod:`gymnasium.utils.passive_env_checker`) checks the spaces
here; of the answers it only warns, where the agents cannot go on, so those checks are
ours: what the vector env, Gymnasium's ``FlattenObservation`` and the agents need
(shape and dtype, not the Box's bounds).
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils.passive_env_checker import check_action_space, check_observation_space

from fw_rl.envs.factory import EnvError

RESET_FORM = "Gymnasium envs return (obs, info) from reset"
STEP_FORM = "Gymnasium envs return (obs, reward, terminated, truncated, info) from step"


class EnvContractError(EnvError):
    """A user's env that breaks the Gymnasium API, said in one line (a usage error: the
    trainers' exit code 2, the Python API's ``ConfigError``)."""


class EnvCrashedError(RuntimeError):
    """A user's env that raised in its first ``reset`` or ``step`` (its own bug: the
    traceback of the exception it raised goes with it)."""


def check_env_spaces(env: gym.Env, label: str) -> None:
    """``observation_space`` and ``action_space`` present, Gymnasium spaces and well formed
    (Gymnasium's checks), else :class:`EnvContractError`."""
    for kind in ("observation", "action"):
        try:
            space = getattr(env, f"{kind}_space", None)
        except Exception:  # a property of the env's that fails
            space = None
        if space is None:
            raise EnvContractError(
                f"env {label}: it has no {kind}_space; a Gymnasium env sets observation_space "
                "and action_space (gymnasium.spaces) in its __init__"
            )
        check = check_observation_space if kind == "observation" else check_action_space
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # its warnings are not errors
                check(space)
        except (TypeError, AssertionError) as e:
            raise EnvContractError(f"env {label}: {kind}_space: {e}") from None


def check_first_steps(env: gym.Env, label: str, seed: int = 0) -> None:
    """Reset ``env`` and take one step (a sampled action), checking that ``reset`` takes
    ``seed`` and ``options`` and returns ``(obs, info)``, that ``step`` returns ``(obs,
    reward, terminated, truncated, info)``, and that each observation fits the
    observation space's structure, shape and dtype: :class:`EnvContractError` naming the
    rule broken. An exception of the env's own is an :class:`EnvCrashedError` from it;
    where it came from a wrapper (``TimeLimit`` unpacking an old four-value ``step``), the
    innermost env is checked too, to name the rule it broke."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Gymnasium's own checker warns of the same
        try:
            _first_steps(env, label, seed)
        except EnvContractError:
            raise
        except Exception as e:
            inner = env.unwrapped
            if inner is not env:
                try:
                    _first_steps(inner, label, seed)
                except EnvContractError as broken:
                    raise broken from None
                except Exception:
                    pass
            raise EnvCrashedError(
                f"env {label} raised {type(e).__name__} in its first reset or step (above)"
            ) from e


def _first_steps(env: gym.Env, label: str, seed: int) -> None:
    def refuse(text: str) -> EnvContractError:
        return EnvContractError(f"env {label}: {text}")

    missing = _missing_reset_arguments(env)
    if missing:
        raise refuse(
            f"reset takes no {missing} argument{'s' if ' and ' in missing else ''}; "
            "Gymnasium envs' reset takes seed and options: "
            "def reset(self, *, seed=None, options=None)"
        )
    result = env.reset(seed=seed)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise refuse(f"reset returned {_described(result)}, not (obs, info); {RESET_FORM}")
    obs, info = result
    if not isinstance(info, dict):
        raise refuse(f"reset returned (obs, {_described(info)}); {RESET_FORM}, info a dict")
    space = env.observation_space
    problem = _observation_problem(obs, space)
    if problem:
        raise refuse(f"reset returned {problem}")

    result = env.step(env.action_space.sample())
    if not isinstance(result, (tuple, list)):
        raise refuse(f"step returned {_described(result)}; {STEP_FORM}")
    if len(result) != 5:
        old = " (the old Gym API's (obs, reward, done, info))" if len(result) == 4 else ""
        raise refuse(
            f"step returned {len(result)} values{old}; Gymnasium envs return "
            "(obs, reward, terminated, truncated, info)"
        )
    obs, reward, terminated, truncated, info = result
    problem = _observation_problem(obs, space)
    if problem:
        raise refuse(f"step returned {problem}")
    value = np.asarray(reward) if _array_like(reward) else None
    if value is None or value.shape != () or not _numeric(value.dtype):
        raise refuse(f"step returned a reward of {_described(reward)}; the reward is a number")
    for name, flag in (("terminated", terminated), ("truncated", truncated)):
        value = np.asarray(flag) if _array_like(flag) else None
        if (
            value is None
            or value.shape != ()
            or not (np.issubdtype(value.dtype, np.bool_) or np.issubdtype(value.dtype, np.integer))
        ):
            raise refuse(
                f"step returned {name} {_described(flag)}; terminated and truncated are bools"
            )
    if not isinstance(info, dict):
        raise refuse(f"step returned an info of {_described(info)}; info is a dict")


def _missing_reset_arguments(env: gym.Env) -> str:
    """``"seed"``, ``"options"`` or ``"seed and options"`` where ``env.reset`` cannot take
    them (the vector env passes both); ``""`` where it can, or cannot be told."""
    try:
        parameters = inspect.signature(env.reset).parameters
    except (TypeError, ValueError):
        return ""
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return ""
    return " and ".join(name for name in ("seed", "options") if name not in parameters)


def _array_like(value) -> bool:
    try:
        return np.asarray(value).dtype != object
    except Exception:  # ragged, or not convertible
        return False


def _numeric(dtype: np.dtype) -> bool:
    return np.issubdtype(dtype, np.bool_) or np.issubdtype(dtype, np.number)


def _described(value) -> str:
    """A value in a few words: its type, and its shape or length where it has one."""
    kind = type(value).__name__
    a = "an" if kind[:1].lower() in "aeiou" or kind == "ndarray" else "a"
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and shape:
        return f"{a} {kind} of shape {shape}"
    if isinstance(value, (tuple, list)):
        return f"{a} {kind} of {len(value)} values"
    if value is None or isinstance(value, (bool, int, float, np.generic)):
        return f"{value!r} ({kind})"
    return f"{a} {kind}"


def _observation_problem(obs, space: spaces.Space, path: str = "") -> str | None:
    """What is wrong with ``obs`` for ``space`` (after "reset returned "), or None.

    The rules are what the agents need: a ``Box`` observation of its shape, and at the top
    level of a dtype that casts to the space's as numpy's ``same_kind`` (the vector env
    stacks into the space's dtype; inside a ``Tuple`` or ``Dict`` Gymnasium's flattening
    casts any number); a ``Discrete`` one int in its range (it becomes an index); a
    ``MultiDiscrete`` ints and a ``MultiBinary`` numbers, of the space's shape; a ``Tuple``
    as many parts, a ``Dict`` every key. The Box's bounds are not checked."""
    subject = f"observation{path}" if path else "an observation"
    its = f"observation_space{path}"
    if isinstance(space, (spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary)):
        name = type(space).__name__
        if not _array_like(obs) or not _numeric(np.asarray(obs).dtype):
            return f"{subject} of {_described(obs)}; {its} is a {name} of numbers"
        value = np.asarray(obs)
        if value.shape != space.shape:
            return f"{subject} of shape {value.shape}; {its} is a {name} of shape {space.shape}"
        if isinstance(space, spaces.MultiDiscrete) and not np.issubdtype(value.dtype, np.integer):
            return f"{subject} of dtype {value.dtype}; {its} is a MultiDiscrete of ints"
        if (
            isinstance(space, spaces.Box)
            and not path
            and not np.can_cast(value.dtype, space.dtype, "same_kind")
        ):
            return (
                f"{subject} of dtype {value.dtype}; {its} is a Box of dtype {space.dtype}, "
                f"which cannot hold it (return {space.dtype}, or declare the space's dtype)"
            )
        return None
    if isinstance(space, spaces.Discrete):
        end = int(space.start) + int(space.n)
        allowed = f"{its} is {space}: one int in [{int(space.start)}, {end})"
        if not _array_like(obs):
            return f"{subject} of {_described(obs)}; {allowed}"
        value = np.asarray(obs)
        if value.shape != () or not np.issubdtype(value.dtype, np.integer):
            return f"{subject} of {_described(obs)}; {allowed}"
        if not int(space.start) <= int(value) < end:
            said = f"observation{path} {int(value)}" if path else f"the observation {int(value)}"
            return f"{said}; {allowed}"
        return None
    if isinstance(space, spaces.Tuple):
        if not isinstance(obs, (tuple, list)) or len(obs) != len(space.spaces):
            return f"{subject} of {_described(obs)}; {its} is a Tuple of {len(space.spaces)}"
        for i, (part, part_space) in enumerate(zip(obs, space.spaces)):
            problem = _observation_problem(part, part_space, f"{path}[{i}]")
            if problem:
                return problem
        return None
    if isinstance(space, spaces.Dict):
        if not isinstance(obs, Mapping):
            return f"{subject} of {_described(obs)}; {its} is a Dict of keys {list(space.spaces)}"
        missing = [key for key in space.spaces if key not in obs]
        if missing:
            return (
                f"{subject} without the key(s) {', '.join(map(repr, missing))}; "
                f"{its} is a Dict of keys {list(space.spaces)}"
            )
        for key, part_space in space.spaces.items():
            problem = _observation_problem(obs[key], part_space, f"{path}[{key!r}]")
            if problem:
                return problem
        return None
    return None  # a space the factory refuses anyway (check_spaces)
