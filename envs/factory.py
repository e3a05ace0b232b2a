"""Any Gymnasium environment for the agents: checked, described and vectorised.

``Catch-v0`` keeps its native vector env (:class:`~fw_rl.envs.catch_vector.CatchVectorEnv`);
every other id runs through Gymnasium's ``SyncVectorEnv`` with same-step autoreset, checked
rather than assumed: the collectors read an episode's last observation from
``info["final_obs"]`` at the step that ends it, so a vector env that resets otherwise is
refused.

Observations other than a ``Box`` (``Discrete``, ``MultiDiscrete``, ``MultiBinary``, and
``Tuple`` / ``Dict`` of these and of ``Box``) are flattened by Gymnasium's own
``FlattenObservation`` (one-hot for the discrete parts); a ``Box`` reaches the model as it
is (an ``H x W x C`` image of bytes goes through a convolutional encoder, the others are
flattened there). A ``Text`` part (MiniGrid's ``mission``) is refused with the wrapper that
removes it. Actions: ``Discrete``, ``MultiDiscrete``, ``MultiBinary`` or ``Box``, each with
its head (``fw_rl.agents.action_heads``).

An env is named by a string, which a run records:

* a registered id, ``EnvId``;
* ``module:EnvId``, Gymnasium's form: the module registers the id when imported
  (``popgym:popgym-RepeatPreviousEasy-v0``);
* ``module:factory``, a callable of that module that returns a ``gym.Env`` (its keyword
  arguments from ``--env-kwargs``), e.g. ``my_envs:make_maze``.

The module is imported from the current directory too (a user's own ``my_envs.py``).
``wrappers`` (``--env-wrappers``) are ``module:Class`` names, applied in order to each env
(``minigrid.wrappers:ImgObsWrapper``, ``gymnasium.wrappers:TimeLimit``); a wrapper that
needs arguments is wrapped in a factory of the user's. The Python API
(:mod:`fw_rl.api`) also takes a callable: :func:`register_factory` names it for this
process.

A user's env (one a module names, or a callable) is checked against the Gymnasium API
(:mod:`fw_rl.envs.contract`): its spaces each time a factory makes it, its first ``reset``
and ``step`` once per process, when :func:`env_info` describes it (before any run folder
is made). Registered ids and the Catch vector env are not.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from fw_rl.checkpoint import PROCESS_LOCAL_ENV_PREFIX
from fw_rl.envs.catch_family import CATCH_ID, is_catch  # noqa: F401  (the default env; re-exported)
from fw_rl.envs.family import family_of

# the rollout length of an env whose episodes have no known bound (``--rollout-steps 0``)
DEFAULT_ROLLOUT = 32
# an episode bound longer than this is cut to it for the default rollout length
MAX_DEFAULT_ROLLOUT = 128
# evaluation's step cap for an env whose episodes have no known bound
DEFAULT_EVAL_STEP_CAP = 10_000


# keyword arguments that only the training stream's env gets (the workers'): bsuite's CSV
# log, which an evaluation or a look at the env's spaces must not overwrite
TRAINING_ONLY_KWARGS = ("results_dir",)


def without_training_only(kwargs: dict) -> dict:
    return {k: v for k, v in kwargs.items() if k not in TRAINING_ONLY_KWARGS}


class EnvError(ValueError):
    """An env that cannot be made or used here, said in one line."""


def parse_env_kwargs(text: str) -> dict:
    """``--env-kwargs`` JSON -> a dict, or :class:`EnvError` saying what is wrong."""
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as e:
        raise EnvError(f"--env-kwargs must be a JSON object, got {text!r} ({e.msg})") from None
    if not isinstance(value, dict):
        raise EnvError(f"--env-kwargs must be a JSON object, got {text!r}")
    return value


def canonical_kwargs(kwargs: dict) -> str:
    """The one text of a kwargs dict (sorted keys), as a run records it."""
    return json.dumps(kwargs, sort_keys=True)


def describe_space(space: spaces.Space) -> str:
    return str(space)


def _is_text(space: spaces.Space) -> bool:
    """A space of strings: ``Text``, or another library's (MiniGrid's ``MissionSpace``)."""
    if isinstance(space, spaces.Text):
        return True
    try:
        return isinstance(space.sample(), str)
    except Exception:
        return False


def _check_observation_space(space: spaces.Space, where: str = "observation space") -> None:
    if isinstance(space, (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)):
        if isinstance(space, spaces.Box) and not np.issubdtype(space.dtype, np.number):
            raise EnvError(f"unsupported {where}: {describe_space(space)} (not numeric)")
        return
    if isinstance(space, spaces.Tuple):
        for i, part in enumerate(space.spaces):
            _check_observation_space(part, f"{where}[{i}]")
        return
    if isinstance(space, spaces.Dict):
        for key, part in space.spaces.items():
            _check_observation_space(part, f"{where}[{key!r}]")
        return
    if _is_text(space):
        raise EnvError(
            f"unsupported {where}: {describe_space(space)} (text, e.g. MiniGrid's mission); "
            "remove it with --env-wrappers minigrid.wrappers:ImgObsWrapper (MiniGrid) or "
            "gymnasium.wrappers:FilterObservation"
        )
    raise EnvError(
        f"unsupported {where}: {describe_space(space)}; allowed: Box, Discrete, "
        "MultiDiscrete, MultiBinary, and Tuple / Dict of these"
    )


ACTION_SPACES = (spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary, spaces.Box)


def check_spaces(observation_space: spaces.Space, action_space: spaces.Space) -> None:
    """Raise :class:`EnvError` for a space the agents cannot use (the action space's own
    limits, such as a Discrete's start at 0, are checked by its head:
    ``fw_rl.agents.action_heads.head_for``, as the model is built)."""
    _check_observation_space(observation_space)
    if not isinstance(action_space, ACTION_SPACES):
        raise EnvError(
            f"unsupported action space: {describe_space(action_space)}; "
            "allowed: Discrete, MultiDiscrete, MultiBinary, Box"
        )


def model_observation_space(space: spaces.Space) -> spaces.Box:
    """The space the model sees: a ``Box`` as it is, anything else flattened."""
    return space if isinstance(space, spaces.Box) else spaces.flatten_space(space)


@dataclass(frozen=True)
class EnvInfo:
    """What the agents need to know of an env before running it."""

    env_id: str
    observation_space: spaces.Space  # the env's own
    action_space: spaces.Space
    episode_limit: int | None  # the most steps an episode can last, where the env says

    @property
    def default_rollout(self) -> int:
        """``--rollout-steps 0``: one episode where the env bounds it (at most
        ``MAX_DEFAULT_ROLLOUT``), else ``DEFAULT_ROLLOUT``."""
        if self.episode_limit is None:
            return DEFAULT_ROLLOUT
        return min(self.episode_limit, MAX_DEFAULT_ROLLOUT)

    @property
    def eval_step_cap(self) -> int:
        return self.episode_limit or DEFAULT_EVAL_STEP_CAP


def _episode_limit(env: gym.Env) -> int | None:
    """The env's bound on an episode's steps: its ``TimeLimit``, or the
    ``max_episode_length`` attribute that POPGym's envs (and our bsuite adapter) carry."""
    family = family_of(env.spec.id) if env.spec is not None else None
    if family is not None and family.episode_limit is not None:
        limit = family.episode_limit(env)
        if limit is not None:
            return limit
    if env.spec is not None and env.spec.max_episode_steps:
        return int(env.spec.max_episode_steps)
    limit = getattr(env.unwrapped, "max_episode_length", None)
    if isinstance(limit, (int, np.integer)) and limit > 0:
        return int(limit)
    return None


# factories given to the Python API as callables, by the name a run records (this process)
_FACTORIES: dict[str, Callable[..., gym.Env]] = {}
FACTORY_PREFIX = PROCESS_LOCAL_ENV_PREFIX  # checked on resume: fw_rl.checkpoint


def register_factory(factory: Callable[..., gym.Env]) -> str:
    """The name a run records for an env made by ``factory``: ``module:qualname`` where the
    callable can be imported by it (then other processes make it too), else a name known
    to this process only (a lambda, a closure: one-process trainers only)."""
    module = getattr(factory, "__module__", None)
    qualname = getattr(factory, "__qualname__", "")
    if module and module != "__main__" and qualname.isidentifier():
        try:
            if getattr(importlib.import_module(module), qualname, None) is factory:
                return f"{module}:{qualname}"
        except ImportError:
            pass
    name = f"{FACTORY_PREFIX}{qualname or type(factory).__name__}-{id(factory):x}"
    _FACTORIES[name] = factory
    return name


def is_process_local(env_id: str) -> bool:
    """An env only this process can make (a callable given to the Python API)."""
    return env_id.startswith(FACTORY_PREFIX)


def env_label(env_id: str) -> str:
    """The env's name in a message: its id, or a process-local callable's own name."""
    factory = _FACTORIES.get(env_id)
    if factory is None:
        return env_id
    return getattr(factory, "__name__", None) or type(factory).__name__


def is_users_env(env_id: str) -> bool:
    """An env a module names (``module:function``, ``module:EnvId``) or a callable given to
    the Python API: the ones whose first steps are checked (:mod:`fw_rl.envs.contract`)."""
    return ":" in env_id


def _import_from_cwd(module: str):
    """``importlib.import_module``, the current directory searched too (where a user's
    ``my_envs.py`` is; ``python scripts/...`` puts ``scripts/`` first, not it)."""
    if not module.strip():
        raise ValueError("module:name needs a module before the colon (e.g. my_envs:MyEnv-v0)")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.append(cwd)
    return importlib.import_module(module)


def _factory(env_id: str) -> Callable[..., gym.Env] | None:
    """The callable ``env_id`` names (``module:factory``, or one registered in-process);
    None for a Gymnasium id."""
    if env_id in _FACTORIES:
        return _FACTORIES[env_id]
    if is_process_local(env_id):
        raise EnvError(
            f"--env {env_id!r} was a callable given in another process: pass it again "
            "(fw_rl.load(..., env=...)), or give a module-level function as module:function"
        )
    if ":" not in env_id:
        return None
    module, name = env_id.split(":", 1)
    if not name.strip():
        raise ValueError("module:name needs a name after the colon (e.g. my_envs:MyEnv-v0)")
    imported = _import_from_cwd(module)  # registers its ids, for module:EnvId
    attribute = getattr(imported, name, None) if name.isidentifier() else None
    if callable(attribute) and name not in gym.registry:
        return attribute
    if name not in gym.registry and name.isidentifier():
        raise EnvError(
            f"--env {env_id!r}: {module} has no function {name!r} and registers no env of that id"
        )
    return None


def parse_wrappers(text: str | Sequence[str]) -> tuple[str, ...]:
    """``--env-wrappers "a.b:C,d:E"`` (or a list) -> ``("a.b:C", "d:E")``, each checked to
    be ``module:Class``."""
    items = text.split(",") if isinstance(text, str) else list(text)
    wrappers = tuple(w.strip() for w in items if w.strip())
    for w in wrappers:
        module, _, name = w.partition(":")
        if not module or not name.isidentifier():
            raise EnvError(
                f"--env-wrappers takes MODULE:CLASS[,MODULE:CLASS...], got {w!r} "
                "(e.g. minigrid.wrappers:ImgObsWrapper)"
            )
    return wrappers


def wrapper_class(name: str) -> type:
    """The wrapper ``module:Class`` names; :class:`EnvError` if it cannot be imported."""
    module, _, attribute = name.partition(":")
    try:
        cls = getattr(_import_from_cwd(module), attribute)
    except ModuleNotFoundError as e:
        raise EnvError(
            f"--env-wrappers {name!r}: no module named {e.name!r}; is its package installed?"
        ) from None
    except AttributeError:
        raise EnvError(f"--env-wrappers {name!r}: {module} has no {attribute!r}") from None
    if not callable(cls):
        raise EnvError(f"--env-wrappers {name!r} is not a wrapper class")
    return cls


def apply_wrappers(env: gym.Env, wrappers: Sequence[str]) -> gym.Env:
    """``env`` wrapped by each of ``wrappers`` in order; a failure is one EnvError line."""
    for name in wrappers:
        try:
            env = wrapper_class(name)(env)
        except EnvError:
            raise
        except Exception as e:  # a wrapper that does not fit this env
            raise EnvError(f"--env-wrappers {name!r} on {env}: {e}") from None
    return env


def make_env(
    env_id: str, kwargs: dict | None = None, wrappers: Sequence[str] = (), **make_kwargs
) -> gym.Env:
    """The env ``env_id`` names (a Gymnasium id, ``module:EnvId`` or ``module:factory``)
    with ``kwargs``, wrapped by ``wrappers``; every failure turned into one
    :class:`EnvError` line."""
    import fw_rl.envs  # noqa: F401  registers Catch-v0

    kwargs = dict(kwargs or {})
    try:
        factory = _factory(env_id)
        if factory is not None:
            env = factory(**kwargs, **make_kwargs)
            if not isinstance(env, gym.Env):
                raise EnvError(
                    f"--env {env_id!r} returned {type(env).__name__}, not a gymnasium.Env"
                )
            from fw_rl.envs.contract import check_env_spaces

            check_env_spaces(env, env_label(env_id))  # gym.make has checked its own
        else:
            env = gym.make(env_id, **kwargs, **make_kwargs)
        return apply_wrappers(env, wrappers)
    except EnvError:
        raise
    except ModuleNotFoundError as e:
        module = env_id.split(":", 1)[0] if ":" in env_id else e.name
        raise EnvError(
            f"--env {env_id!r}: cannot import the module {module!r} "
            f"(no module named {e.name!r}); is its package installed?"
        ) from None
    except gym.error.Error as e:  # unknown name, namespace or version, a bad render mode
        hint = "" if ":" in env_id else " (an env of another package: --env module:EnvId)"
        raise EnvError(f"--env {env_id!r}: {str(e).splitlines()[0]}{hint}") from None
    except TypeError as e:  # an unknown keyword argument
        raise EnvError(f"--env-kwargs {canonical_kwargs(kwargs)} for {env_id}: {e}") from None
    except ImportError as e:  # a package the env needs (the bsuite envs: bsuite)
        raise EnvError(f"--env {env_id!r}: {e}") from None
    except (ValueError, AssertionError) as e:
        raise EnvError(
            f"--env {env_id!r} with --env-kwargs {canonical_kwargs(kwargs)}: {e}"
        ) from None


@lru_cache(maxsize=64)
def _env_info(env_id: str, kwargs_text: str, wrappers: tuple[str, ...]) -> EnvInfo:
    env = make_env(env_id, json.loads(kwargs_text), wrappers)
    try:
        check_spaces(env.observation_space, env.action_space)
        info = EnvInfo(env_id, env.observation_space, env.action_space, _episode_limit(env))
        if is_users_env(env_id):
            from fw_rl.envs.contract import check_first_steps

            check_first_steps(env, env_label(env_id))
        return info
    finally:
        env.close()


def env_info(env_id: str, kwargs: dict | None = None, wrappers: Sequence[str] = ()) -> EnvInfo:
    """Make the env once (cached per id, kwargs without ``TRAINING_ONLY_KWARGS``, and
    wrappers), check its spaces (and a user's env's first reset and step,
    :func:`fw_rl.envs.contract.check_first_steps`) and describe it."""
    kwargs_text = canonical_kwargs(without_training_only(kwargs or {}))
    return _env_info(env_id, kwargs_text, tuple(wrappers))


def make_vector_env(
    env_id: str,
    kwargs: dict | None,
    num_envs: int,
    training: bool = False,
    wrappers: Sequence[str] = (),
) -> VectorEnv:
    """``num_envs`` copies of the env (each wrapped by ``wrappers``), same-step autoreset,
    observations as the model sees them (:func:`model_observation_space`);
    ``TRAINING_ONLY_KWARGS`` reach the env only when ``training``."""
    kwargs = dict(kwargs or {}) if training else without_training_only(kwargs or {})
    wrappers = tuple(wrappers)
    family = family_of(env_id)
    if family.vector_env is not None and not wrappers:
        return family.vector_env(num_envs, kwargs)
    info = env_info(env_id, kwargs, wrappers)
    flatten = not isinstance(info.observation_space, spaces.Box)

    def one_env() -> gym.Env:
        env = make_env(env_id, kwargs, wrappers)
        return gym.wrappers.FlattenObservation(env) if flatten else env

    vec = gym.vector.SyncVectorEnv(
        [one_env] * num_envs, autoreset_mode=AutoresetMode.SAME_STEP, copy=False
    )
    check_same_step(vec)
    return vec


def check_same_step(vec: VectorEnv) -> None:
    """Refuse a vector env that does not reset its sub-envs in the step that ends them."""
    mode = vec.metadata.get("autoreset_mode")
    if mode not in (AutoresetMode.SAME_STEP, "SameStep"):
        vec.close()
        raise EnvError(
            f"the vector env resets with {mode!r}; the agents need same-step autoreset "
            "(the last observation in info['final_obs'])"
        )


def final_observations(obs: np.ndarray, info: dict, ended: np.ndarray) -> np.ndarray:
    """The observations that ended episodes (``ended``) read from ``info["final_obs"]``;
    the other rows as ``obs``."""
    final = np.array(obs, copy=True)
    for i in np.flatnonzero(ended):
        final[i] = info["final_obs"][i]
    return final


def episode_successes(
    env_id: str, returns: np.ndarray, info: dict, ended: np.ndarray
) -> np.ndarray | None:
    """Whether each ended episode succeeded, where the env says: its family's rule (Catch:
    a catch), else a ``success`` / ``is_success`` entry of the episode's final info;
    ``None`` where the env reports none."""
    family = family_of(env_id)
    if family.successes is not None:
        return family.successes(returns, info, ended)
    final_info = info.get("final_info", {})
    for key in ("success", "is_success"):
        if key in final_info:
            mask = final_info.get(f"_{key}", np.ones(len(ended), bool))
            rows = ended & mask
            if rows.any():
                return np.asarray(final_info[key])[rows].astype(bool)
    return None
