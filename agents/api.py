"""The Python API, in the shape Stable-Baselines3 users know::

    import fw_rl

    agent = fw_rl.PPO("popgym:popgym-RepeatFirstEasy-v0", core="fastweights", num_envs=16)
    agent.learn(total_frames=2_000_000, run_dir="runs/rf")  # the CLI's run session
    agent = fw_rl.load("runs/rf")                            # a run folder or checkpoint
    action, state = agent.predict(obs, state=None, episode_start=None, deterministic=True)
    fw_rl.evaluate(agent, episodes=100)

An agent is an algorithm's settings (the same dataclass the command line fills: every
flag is a keyword, with the same checks and the same errors, :class:`ConfigError`) and,
once trained or loaded, its network. ``learn`` runs the same trainer as
``scripts/ppo.py`` / ``scripts/a3c.py``, in a run folder with ``config.json``, logs and
checkpoints that resume; a second ``learn`` continues that run to its new total.

``env`` is a Gymnasium id (``module:EnvId`` imports the module that registers it), a
callable that returns a ``gym.Env`` (a function of an importable module is recorded as
``module:function`` and works everywhere; a lambda, a closure or a function of the script
being run (``__main__``) only in this process, so only with PPO), and ``wrappers`` are
applied in order (classes, or ``module:Class``).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from fw_rl.agents.agent_run import nothing_left
from fw_rl.agents.algorithms import (
    ALGORITHMS,
    AlgorithmDeclaration,
    agent_kinds,
    algorithm_of_kind,
)
from fw_rl.agents.config import ConfigError, TrainerConfig
from fw_rl.agents.model import ActorCritic, AgentState, build_model
from fw_rl.checkpoint import (
    CHECKPOINT_NAME,
    load_checkpoint,
    load_model_state,
    resolve_checkpoint,
)
from fw_rl.cli import SB3_NAMES
from fw_rl.envs.factory import EnvError, env_info, make_env, register_factory
from fw_rl.run_dir import RunDirError, holds_a_run
from fw_rl.run_session import EXIT_OK

EnvLike = str | Callable[..., gym.Env]

# exit codes of a trainer (fw_rl.run_session) -> what went wrong, for the exception
_INTERRUPTED = (130, 143)


class TrainingError(RuntimeError):
    """A run that ended without finishing (its exit code and the run folder say why)."""


def _env_name(env: EnvLike) -> str:
    if isinstance(env, str):
        if env.endswith("Policy"):  # PPO("MlpLstmPolicy", env) as in Stable-Baselines3
            raise ConfigError(
                f"the first argument is the env, got {env!r}: there is no policy argument "
                "(core= names the recurrent network), e.g. fw_rl.PPO('CartPole-v1', core='gru')"
            )
        return env
    if isinstance(env, gym.Env):
        raise ConfigError(
            "env must be an id or a function that makes the env, not an env instance: "
            "fw_rl makes the envs it plays itself, several for training (e.g. "
            "env=lambda: MyEnv())"
        )
    if callable(env):
        return register_factory(env)
    raise ConfigError(f"env must be a Gymnasium id or a callable, got {type(env).__name__}")


def _wrapper_name(wrapper: str | type) -> str:
    if isinstance(wrapper, str):
        return wrapper
    module, name = getattr(wrapper, "__module__", ""), getattr(wrapper, "__qualname__", "")
    if not module or module == "__main__" or not name.isidentifier():
        raise ConfigError(
            f"wrapper {wrapper!r} cannot be named by module:Class; define it in a module "
            "(a run records its wrappers by name)"
        )
    return f"{module}:{name}"


def _api_words(message: str, config_class) -> str:
    """A config's check speaks the command line's words (``--num-envs``); from Python the
    same setting is the keyword ``num_envs``."""
    for f in sorted(dataclasses.fields(config_class), key=lambda f: -len(f.name)):
        flag = "--" + f.name.replace("_", "-")
        message = re.sub(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", f.name, message)
    return message


# one algorithm's name for what the other's setting is (PPO's envs, A3C's envs per worker)
_OTHER_ALGORITHMS_NAMES = {"num_envs": "envs_per_worker", "envs_per_worker": "num_envs"}


def _closest(name: str, fields) -> str | None:
    """The setting meant by a name we do not take: SB3's name for it, or a near spelling."""
    import difflib

    if name in SB3_NAMES and SB3_NAMES[name] in fields:
        return SB3_NAMES[name]
    if name in _OTHER_ALGORITHMS_NAMES and _OTHER_ALGORITHMS_NAMES[name] in fields:
        return _OTHER_ALGORITHMS_NAMES[name]
    close = difflib.get_close_matches(name, list(fields), n=1, cutoff=0.75)
    return close[0] if close else None


def _check_settings(config_class, settings: dict, where: str) -> dict:
    """Keyword settings checked against the config's fields and their types (as the CLI's
    flags are), with the JSON fields also taken as dicts; ``ConfigError`` naming what is
    wrong and what is allowed."""
    from fw_rl.cli import _base_type

    fields = {f.name: f for f in dataclasses.fields(config_class)}
    if "resume" in settings:
        raise ConfigError(
            f"{where} takes no setting resume: to continue a run, fw_rl.load(run_folder) "
            "and call learn() on it"
        )
    unknown = sorted(set(settings) - set(fields))
    if unknown:
        hints = [_closest(name, fields) for name in unknown]
        said = ", ".join(f"{n} (did you mean {h}?)" if h else n for n, h in zip(unknown, hints))
        raise ConfigError(
            f"{where} takes no setting {said}; its settings are the flags of "
            f"the command line: {', '.join(fields)}"
        )
    checked = {}
    for name, value in settings.items():
        kind = _base_type(fields[name].type)
        if name in ("core_options", "core_compute", "env_kwargs"):
            if isinstance(value, dict):
                value = json.dumps(value)
            elif not isinstance(value, str):
                raise ConfigError(f"{name} must be a dict (or its JSON text), got {value!r}")
        optional = "None" in str(fields[name].type)
        if isinstance(value, np.generic):
            value = value.item()  # numpy's numbers and bools, as a sweep over them gives
        if value is None and optional:
            pass
        elif kind is str and isinstance(value, os.PathLike):
            value = os.fspath(value)  # run_dir=Path(...)
        elif kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif kind is int and isinstance(value, float) and value.is_integer():
            value = int(value)  # total_frames=2e6
        elif kind in (int, float, str, bool) and (
            not isinstance(value, kind) or (kind is int and isinstance(value, bool))
        ):
            raise ConfigError(f"{name} must be {kind.__name__}, got {value!r}")
        choices = fields[name].metadata.get("choices")
        if choices and value not in choices:
            allowed = ", ".join(repr(c) for c in choices)
            raise ConfigError(f"{name} must be one of {allowed}, got {value!r}")
        checked[name] = value
    return checked


class _InApiWords:
    """The trainer's lines as printed from Python: a setting is its keyword, not its flag
    (``stopped: reached total_frames``, not ``--total-frames``)."""

    def __init__(self, stream, config_class) -> None:
        self.stream, self.config_class = stream, config_class

    def write(self, text: str) -> int:
        return self.stream.write(_api_words(text, self.config_class))

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str):  # a progress bar asks the stream for more
        return getattr(self.stream, name)


def _verbosity(verbose: int | bool) -> int:
    """``verbose`` as Stable-Baselines3 reads it: 0 (or False) prints nothing, 1 (or True)
    the run's folder and its progress lines, 2 also every setting as a table."""
    if isinstance(verbose, (bool, int, np.integer)) and int(verbose) in (0, 1, 2):
        return int(verbose)
    raise ConfigError(f"verbose must be 0, 1 or 2 (or False / True), got {verbose!r}")


class Agent:
    """An algorithm's agent: its settings (``config``) and, once trained or loaded, its
    network (``model``). Use :class:`PPO` or :class:`A3C`."""

    algorithm: ClassVar[str] = ""

    def __init__(
        self,
        env: EnvLike = "Catch-v0",
        core: str = "fastweights",
        *,
        wrappers: Sequence[str | type] = (),
        env_kwargs: dict | None = None,
        verbose: int = 1,
        **settings: Any,
    ) -> None:
        config_class = self.declaration().config_class()
        if isinstance(wrappers, (str, type)):
            wrappers = [wrappers]
        if not isinstance(core, str):
            raise ConfigError(
                f"core must be a core's name (a str such as 'fastweights', or "
                f"'module:NAME' for one you registered), got {core!r}"
            )
        if isinstance(env_kwargs, str):
            try:
                env_kwargs = json.loads(env_kwargs) if env_kwargs.strip() else {}
            except json.JSONDecodeError as e:
                raise ConfigError(f"env_kwargs is not JSON ({e}): give a dict") from None
        if env_kwargs is not None and not isinstance(env_kwargs, dict):
            raise ConfigError(f"env_kwargs must be a dict, got {env_kwargs!r}")
        values = {
            "env": _env_name(env),
            "core": core,
            "env_wrappers": ",".join(_wrapper_name(w) for w in wrappers),
            "env_kwargs": json.dumps(env_kwargs or {}),
            "progress": False,
            **_check_settings(config_class, settings, type(self).__name__),
        }
        try:
            self.config: TrainerConfig = config_class(**values)
        except (ConfigError, EnvError) as e:
            raise ConfigError(_api_words(str(e), config_class)) from None
        self.verbose = _verbosity(verbose)
        self._asked_run_dir = self.config.run_dir  # its first learn() writes there
        self.run_dir: Path | None = None
        self.model: ActorCritic = build_model(self.config)

    @classmethod
    def declaration(cls) -> AlgorithmDeclaration:
        return ALGORITHMS[cls.algorithm]

    # ---- training ------------------------------------------------------------------------

    def learn(
        self, total_frames: int | None = None, run_dir: str | Path | None = None, **settings
    ) -> Agent:
        """Train until the run has seen ``total_frames`` frames (resumes included), with
        the command line's trainer and run session; ``run_dir`` as ``--run-dir``
        (default ``runs/<algorithm>-<core>-<time>``).

        An agent's run continues: a second call (or ``fw_rl.load(run_folder).learn()``)
        resumes the same folder, optimiser included. With another ``run_dir`` (or an agent
        loaded from a checkpoint file) a new run starts from the agent's current weights,
        with a fresh optimiser. Raises :class:`TrainingError` where the run did not finish
        (a non-finite loss, a worker that failed), with the trainer's reason for stopping, and
        ``KeyboardInterrupt`` after saving on Ctrl-C."""
        _refuse_in_a_spawned_worker()
        if run_dir is not None and not isinstance(run_dir, (str, os.PathLike)):
            raise ConfigError(f"run_dir must be a folder's path (str or Path), got {run_dir!r}")
        self.verbose = _verbosity(self.verbose)  # set after the agent was made, perhaps
        if total_frames is not None:
            settings = {**settings, "total_frames": total_frames}
        changes = _check_settings(self.config_class(), settings, "learn()")
        resume = ""
        continues = self.run_dir is not None and (run_dir is None or Path(run_dir) == self.run_dir)
        if continues:
            resume = str(self.run_dir)
        elif run_dir is not None:
            changes["run_dir"] = str(run_dir)
        else:  # the folder the agent was made with, or a new one of the default name
            changes["run_dir"] = self._asked_run_dir
        try:
            config = dataclasses.replace(self.config, resume=resume, **changes)
        except (ConfigError, TypeError, EnvError) as e:
            raise ConfigError(_api_words(str(e), type(self.config))) from None
        payload = load_checkpoint(resume, kind=self.declaration().kind) if resume else None
        if payload is not None:
            _check_something_left(payload["counters"], config, resume)
        out = _InApiWords(sys.stdout, type(config)) if self.verbose else io.StringIO()
        try:
            trainer = self.declaration().trainer_class()(config, out=out, payload=payload)
        except RunDirError as e:
            if e.held is None:
                raise
            raise holds_a_run(e.held, api=True) from None  # the API's words, not the flags
        trainer.session.show_settings = self.verbose >= 2
        if not continues and self._trained:
            trainer.start_from(self.model.state_dict())
        code = trainer.train()
        self.run_dir = Path(trainer.run_dir)
        self.config = dataclasses.replace(config, resume="")
        kept = (self.run_dir / CHECKPOINT_NAME).exists()
        if code != EXIT_OK and not kept:  # nothing trained, nothing kept: no run to continue
            self.run_dir = None
        if code in _INTERRUPTED:
            if kept:
                self._load_weights(self.run_dir)
            raise KeyboardInterrupt(
                f"training stopped; saved in {self.run_dir}" if kept else "training stopped"
            )
        if code != EXIT_OK:
            stopped = getattr(trainer, "stopped", None)
            why = f": {stopped.reason}" if stopped is not None and stopped.reason else ""
            raise TrainingError(f"training ended with exit code {code} ({trainer.run_dir}){why}")
        self._load_weights(self.run_dir)
        self._trained = True
        return self

    @classmethod
    def load(cls, path: str | Path, env: EnvLike | None = None, verbose: int = 1) -> Agent:
        """``fw_rl.load`` as Stable-Baselines3 spells it (``PPO.load(path)``), for an agent
        of this algorithm."""
        agent = load(path, env=env, verbose=verbose)
        if cls is not Agent and not isinstance(agent, cls):
            theirs = type(agent).__name__
            raise ConfigError(
                f"{path} holds {_a(theirs)} agent, not {_a(cls.__name__)} one: "
                f"{theirs}.load(path) or fw_rl.load(path) loads it"
            )
        return agent

    @classmethod
    def config_class(cls):
        return cls.declaration().config_class()

    _trained = False  # the model holds weights worth continuing from (learned or loaded)
    _file: Path | None = None  # the checkpoint file the agent was loaded from, if one

    def _load_weights(self, path: str | Path) -> None:
        payload = load_checkpoint(path, kind=self.declaration().kind)
        load_model_state(self.model, payload, Path(path))
        self.model.eval()

    # ---- acting --------------------------------------------------------------------------

    @property
    def observation_space(self) -> spaces.Space:
        """The env's observation space, as the (wrapped) env gives observations."""
        return self.config.env_info.observation_space

    @property
    def action_space(self) -> spaces.Space:
        return self.config.env_info.action_space

    def make_env(self, **make_kwargs) -> gym.Env:
        """One env as this agent trained on: its id, keyword arguments and wrappers."""
        try:
            return make_env(
                self.config.env, self.config.env_options, self.config.wrappers, **make_kwargs
            )
        except EnvError as e:  # in the API's words (env_kwargs, not --env-kwargs)
            raise ConfigError(_api_words(str(e), type(self.config))) from None

    def initial_state(self, batch_size: int = 1) -> AgentState:
        """The state before any step: no history, no previous action."""
        return self.model.initial_state(batch_size)

    def _batch(self, obs) -> tuple[torch.Tensor, bool]:
        """Observations as the model takes them ``[B, ...]``, and whether one was given."""
        space = self.observation_space
        if isinstance(space, spaces.Box):
            array = _box_array(obs, space)
            if array.shape == space.shape:
                return torch.from_numpy(array[None].astype(np.float32)), True
            if array.shape[1:] == space.shape:
                return torch.from_numpy(array.astype(np.float32)), False
            raise ValueError(
                f"obs must have shape {space.shape} or [batch, *{space.shape}], got {array.shape}"
            )
        single = space.contains(obs) if not isinstance(obs, list) else False
        items = [obs] if single else _unbatch(obs)
        if items is None or not items or not all(_fits(space, o) for o in items):
            raise ValueError(
                f"obs must be an observation of {space} or a batch of them (a list, or "
                f"arrays with the batch first), got {_short(obs)}"
            )
        flat = np.stack([spaces.flatten(space, o) for o in items]).astype(np.float32)
        return torch.from_numpy(flat), single

    @torch.no_grad()
    def predict(
        self,
        obs,
        state: AgentState | None = None,
        episode_start=None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, AgentState]:
        """The action for one observation or a batch, and the state to pass next time.

        ``state`` is what the last call returned (None: episodes just started);
        ``episode_start`` (a bool or one per observation) says where an episode starts at
        this observation, so its memory is cleared first. Actions are as the env's ``step``
        takes them (a ``Box`` action clipped to its bounds); ``deterministic`` picks the
        most likely action, else one is sampled."""
        if not isinstance(deterministic, (bool, np.bool_)):
            raise ValueError(f"deterministic must be True or False, got {deterministic!r}")
        batch, single = self._batch(obs)
        size = batch.shape[0]
        if state is None:
            state = self.initial_state(size)
        self._check_state(state, size)
        reset = None
        if episode_start is not None:
            starts = np.asarray(episode_start)
            numeric = starts.dtype.kind in "iuf" and np.isin(starts, (0, 1)).all()
            if starts.dtype != np.bool_ and not numeric:  # 0 / 1 masks, as sb3-contrib takes
                raise ValueError(
                    "episode_start must be True or False (or 1 / 0), or one per observation, "
                    f"got {_short(episode_start)}"
                )
            starts = starts.astype(bool)
            if starts.size not in (1, size):
                raise ValueError(
                    f"episode_start must be one bool or one per observation ({size}), "
                    f"got {starts.size}"
                )
            reset = torch.as_tensor(np.broadcast_to(starts.reshape(-1), (size,)).copy())
        params, _, state = self.model.act(batch, state, reset)
        head = self.model.head
        actions = head.greedy(params) if deterministic else head.sample(params)
        state = state.after(actions)
        env_actions = head.to_env(actions)
        return (env_actions[0] if single else env_actions), state

    def _check_state(self, state, size: int) -> None:
        """``state`` is one predict returned for this agent, for ``size`` observations."""
        if not isinstance(state, AgentState):
            raise ValueError(
                "state must be what predict returned for this agent (an AgentState), or None "
                f"for a fresh one; got {type(state).__name__}"
            )
        core, head = self.model.core, self.model.head

        def layout(batch: int):  # as _layout describes a state of this agent's
            return core.state_shapes(batch), ((batch, *head.shape), head.dtype)

        got = _layout(state)
        if got == layout(size):
            return
        other = got[1][0][0] if isinstance(got[1], tuple) and got[1][0] else size
        if other != size and got == layout(other):
            raise ValueError(
                f"state is for a batch of {other}, obs for {size}: pass the state predict "
                "returned for the same envs, or None"
            )
        raise ValueError(
            f"state does not fit this agent (core {self.config.core!r}, hidden_size "
            f"{core.hidden_size}, batch {size}): it holds core state of shapes {got[0]} and "
            f"a last action {_described(got[1])}, this agent's are {layout(size)[0]} and "
            f"{_described(layout(size)[1])}; pass the state predict returned for this "
            "agent, or None"
        )

    def save(self, path: str | Path) -> Path:
        """Copy the run's checkpoint to ``path`` (a file): an agent to ship; ``load`` reads
        it back. The run folder itself already holds ``checkpoint.pt`` and ``best.pt``."""
        source = resolve_checkpoint(self.run_dir) if self.run_dir is not None else self._file
        if source is None:
            raise ValueError("nothing to save yet: learn() or load() an agent first")
        import shutil

        path = Path(path)
        if path.is_dir():
            raise ValueError(
                f"save() takes a file name, and {path} is a folder: give e.g. {path / 'agent.pt'}"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.resolve() != Path(source).resolve():
            shutil.copyfile(source, path)
        return path

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(env={self.config.env!r}, core={self.config.core!r}, "
            f"run_dir={str(self.run_dir) if self.run_dir else None!r})"
        )


def _refuse_in_a_spawned_worker() -> None:
    """A script that trains without ``if __name__ == "__main__":`` is imported again by
    each worker process Python starts (the spawn start method), and would train again
    there: the worker says so in one line and exits 2 (not three tracebacks a worker)."""
    import multiprocessing

    if getattr(multiprocessing.current_process(), "_inheriting", False):
        print(
            "fw_rl: error: a worker process is importing your script again and reached "
            "learn(): put the training code under 'if __name__ == \"__main__\":' (Python "
            "starts worker processes by importing the main script)",
            file=sys.stderr,
        )
        raise SystemExit(2)


def _check_something_left(counters: dict, config, run_dir: str) -> None:
    """A continued run with nothing left to do is a mistake, not a silent no-op:
    ``total_frames`` is the run's total (as ``--total-frames`` is), not frames more."""
    spent = nothing_left(counters, config)
    if spent == "frames":
        frames = int(counters["frames"])
        raise ConfigError(
            f"the run in {run_dir} has already seen {frames:,} frames and total_frames is "
            f"the run's total: give learn(total_frames=...) more than {frames:,}"
        )
    if spent == "minutes":
        raise ConfigError(
            f"the run in {run_dir} has trained {counters['elapsed_s'] / 60:.1f} min, its "
            f"max_minutes {config.max_minutes:g}: give learn(max_minutes=...) more, or 0 "
            "for no limit"
        )


class PPO(Agent):
    """Recurrent PPO (:mod:`fw_rl.agents.ppo`); settings: ``scripts/ppo.py --help``."""

    algorithm = "ppo"


class A3C(Agent):
    """Multiprocess A3C (:mod:`fw_rl.agents.a3c.trainer`); settings: ``scripts/a3c.py --help``."""

    algorithm = "a3c"


AGENT_CLASSES: dict[str, type[Agent]] = {cls.algorithm: cls for cls in (PPO, A3C)}


def _unbatch(obs) -> list | None:
    """A batch as a list of observations: a list as it is; a dict or tuple of arrays with
    the batch first (a vector env's ``Dict`` or ``Tuple`` observations) split into one
    observation each; an array of ``Discrete`` observations into its items. None where
    ``obs`` holds no batch."""
    if isinstance(obs, list):
        return obs
    if isinstance(obs, dict):
        parts = {k: _unbatch(v) for k, v in obs.items()}
        if not parts or any(p is None for p in parts.values()):
            return None
        if len({len(p) for p in parts.values()}) != 1:
            return None
        return [dict(zip(parts, values)) for values in zip(*parts.values())]
    if isinstance(obs, tuple):
        parts = [_unbatch(v) for v in obs]
        if any(p is None for p in parts) or len({len(p) for p in parts}) != 1:
            return None
        return [tuple(values) for values in zip(*parts)]
    array = np.asarray(obs)
    return list(array) if array.ndim >= 1 else None


def _fits(space: spaces.Space, obs) -> bool:
    """``obs`` is one observation of ``space``: as ``space.contains`` says, or with a
    ``Box``'s values of another float type (float64 where the space says float32)."""
    if space.contains(obs):
        return True
    if isinstance(space, spaces.Box):
        return np.asarray(obs).shape == space.shape
    if isinstance(space, spaces.Dict) and isinstance(obs, dict):
        return set(obs) == set(space.spaces) and all(_fits(space[k], obs[k]) for k in obs)
    if isinstance(space, spaces.Tuple) and isinstance(obs, tuple):
        return len(obs) == len(space.spaces) and all(map(_fits, space.spaces, obs))
    return False


def _box_array(obs, space: spaces.Box) -> np.ndarray:
    """``obs`` as an array of a Box's dtype; a ValueError for what is not numbers, or numbers
    that dtype would change (0.5 or 300.0 for a Box of bytes), not a silent cast."""
    try:
        given = np.asarray(obs)
    except ValueError:  # ragged nesting
        given = np.asarray(None)
    if given.dtype.kind not in "biuf":
        raise ValueError(
            f"obs must be numbers of shape {space.shape} (or a batch of them) for {space}, "
            f"got {_short(obs)}"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's on a cast out of range
        array = given.astype(space.dtype)
    if np.dtype(space.dtype).kind in "iu" and given.dtype.kind in "iuf":
        if not np.array_equal(array, given):
            raise ValueError(
                f"obs must be whole numbers within {np.dtype(space.dtype).name} for {space} "
                f"(as the env gives them), got {given.dtype.name} values they would change"
            )
    return array


def _a(name: str) -> str:
    """``a PPO``, ``an A3C``."""
    return ("an " if name[:1] in "AEIOU" else "a ") + name


def _layout(state: AgentState) -> tuple:
    """A state's core shapes and its last action's ``(shape, dtype)``, or what each is
    instead of tensors (never their values)."""
    core, last = state.core, state.last_action
    if isinstance(core, tuple):
        core = tuple(
            tuple(s.shape) if isinstance(s, torch.Tensor) else type(s).__name__ for s in core
        )
    else:
        core = type(core).__name__
    if isinstance(last, torch.Tensor):
        return core, (tuple(last.shape), last.dtype)
    return core, type(last).__name__


def _described(action) -> str:
    """A last action's ``(shape, dtype)`` as ``(1,) int64``."""
    if not isinstance(action, tuple):
        return action
    return f"{action[0]} {str(action[1]).removeprefix('torch.')}"


def _short(obs) -> str:
    text = repr(obs)
    return text if len(text) <= 80 else text[:77] + "..."


def load(path: str | Path, env: EnvLike | None = None, verbose: int = 1) -> Agent:
    """The agent saved in a run folder (its ``checkpoint.pt``) or a checkpoint file, of
    any algorithm. ``env`` replaces the recorded env (needed where the run was given a
    lambda or closure, which no other process can make)."""
    payload = load_checkpoint(path, kind=agent_kinds())
    algorithm = algorithm_of_kind(payload.get("kind", "a3c"))
    cls = AGENT_CLASSES[algorithm.name]
    saved = dict(payload["config"])
    if env is not None:
        saved["env"] = _env_name(env)
    saved.update(resume="", progress=False)
    try:
        config = algorithm.config_class().from_dict(saved)
    except (EnvError, ConfigError) as e:
        raise ConfigError(_api_words(str(e), algorithm.config_class())) from None
    agent = cls.__new__(cls)
    agent.config, agent.verbose = config, _verbosity(verbose)
    agent._asked_run_dir = ""  # a new run from a checkpoint file: a folder of its own
    path = Path(path)
    # a run folder continues with learn(); a checkpoint file starts a new run from its weights
    agent.run_dir = path if path.is_dir() else None
    agent._file = None if path.is_dir() else path
    agent._trained = True
    agent.model = build_model(agent.config)
    load_model_state(agent.model, payload, path)
    agent.model.eval()
    return agent


def _same_kind(a: spaces.Space, b: spaces.Space) -> bool:
    """Spaces a network made for ``a`` can read or act in as ``b``: the same type, shape
    and dtype (and number of actions or classes); a Box's bounds may differ."""
    if type(a) is not type(b) or a.shape != b.shape or a.dtype != b.dtype:
        return False
    if isinstance(a, spaces.Discrete):
        return a.n == b.n
    if isinstance(a, spaces.MultiDiscrete):
        return np.array_equal(a.nvec, b.nvec)
    return True


def _check_fits(agent: Agent, env_id: str, wrappers) -> None:
    """A ``ConfigError`` naming both where the env's spaces are not the agent's."""
    try:
        info = env_info(env_id, {}, wrappers)
    except EnvError as e:
        raise ConfigError(_api_words(str(e), type(agent.config))) from None
    theirs = (info.observation_space, info.action_space)
    ours = (agent.observation_space, agent.action_space)
    if not all(_same_kind(a, b) for a, b in zip(ours, theirs)):
        raise ConfigError(
            f"the env {env_id!r} does not fit the agent: its observations {theirs[0]} and "
            f"actions {theirs[1]}, the agent's {ours[0]} and {ours[1]}"
        )


def evaluate(
    agent: Agent,
    env: EnvLike | None = None,
    episodes: int = 100,
    seed: int = 10_000,
    deterministic: bool = True,
    max_steps: int | None = None,
) -> dict[str, float]:
    """Play ``episodes`` episodes (seeds ``seed ..``) on the agent's env (or ``env``, with
    the agent's wrappers); returns ``mean_return``, ``success_rate`` (NaN where the env
    reports none) and ``capped`` (the share cut at ``max_steps``)."""
    from fw_rl.agents.evaluate import evaluate as play

    if not isinstance(agent, Agent):
        raise ConfigError(
            f"evaluate takes an agent (fw_rl.load(path) gives one), got {type(agent).__name__}"
        )
    if isinstance(episodes, bool) or not isinstance(episodes, (int, np.integer)) or episodes < 1:
        raise ConfigError(f"episodes must be an int >= 1, got {episodes!r}")
    if not isinstance(deterministic, (bool, np.bool_)):
        raise ConfigError(f"deterministic must be True or False, got {deterministic!r}")
    episodes, deterministic = int(episodes), bool(deterministic)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be an int >= 0, got {seed!r}")
    if max_steps is not None and (
        isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1
    ):
        raise ConfigError(
            f"max_steps must be an int >= 1 (or None: the env's bound), got {max_steps!r}"
        )
    seed = int(seed)
    config = agent.config
    env_id = config.env if env is None else _env_name(env)
    kwargs = config.env_options if env is None else {}
    if env is not None:
        _check_fits(agent, env_id, config.wrappers)
    return play(
        agent.model,
        kwargs,
        episodes,
        seed,
        greedy=deterministic,
        env_id=env_id,
        max_steps=max_steps or config.eval_step_cap,
        wrappers=config.wrappers,
    )
