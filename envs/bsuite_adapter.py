"""bsuite's ``dm_env`` environments as Gymnasium envs (bsuite's own gym wrapper needs the
old ``gym``), logged with bsuite's own CSV logger so that bsuite's analysis code scores
the run.

    python scripts/a3c.py --env bsuite/memory_len-v0 --env-kwargs '{"setting": 3, \\
        "results_dir": "runs/bsuite/fastweights"}' --workers 1 --envs-per-worker 1

One env id per experiment (``bsuite/memory_len-v0``, ``bsuite/memory_size-v0``,
``bsuite/catch-v0``), the setting by its index in bsuite's sweep (``memory_len/3``). With
``results_dir`` the env is bsuite's ``load_and_record_to_csv``: bsuite's protocol is one
stream of episodes, so give such a run one worker and one env (``--workers 1
--envs-per-worker 1``); evaluation envs are made without it. The setting fixes the env's
own seed, as in bsuite, for the logged training stream; an env without a log (evaluation's)
is reseeded by ``reset(seed=...)``, so evaluation episodes of different seeds differ (each
evaluation env plays one episode: with the setting's seed alone all would be the same).

Needs the ``benchmarks`` extra: ``pip install 'fw-rl[benchmarks]'``.
"""

from __future__ import annotations

import contextlib
import io

import gymnasium as gym
import numpy as np
from gymnasium import spaces

EXPERIMENTS = ("memory_len", "memory_size", "catch")


class BsuiteMissingError(ImportError):
    """bsuite is not installed."""


def _bsuite():
    try:
        import bsuite
    except ImportError:
        raise BsuiteMissingError(
            "the bsuite envs need bsuite, which is not installed: pip install 'fw-rl[benchmarks]'"
        ) from None
    return bsuite


def _space(spec) -> spaces.Space:
    """A dm_env spec as a Gymnasium space (an observation ``Array`` or ``BoundedArray``, an
    action ``DiscreteArray``)."""
    num_values = getattr(spec, "num_values", None)
    if num_values is not None:
        return spaces.Discrete(int(num_values))
    low = getattr(spec, "minimum", -np.inf)
    high = getattr(spec, "maximum", np.inf)
    return spaces.Box(
        np.broadcast_to(low, spec.shape).astype(np.float32),
        np.broadcast_to(high, spec.shape).astype(np.float32),
        spec.shape,
        np.float32,
    )


def _episode_length(raw) -> int | None:
    """The fixed length of the experiment's episodes, where its env says."""
    if hasattr(raw, "_memory_length"):  # memory_chain: the cue, the wait, the query
        return int(raw._memory_length) + 1
    if hasattr(raw, "_rows"):  # catch: the ball falls from the top row to the bottom
        return int(raw._rows) - 1
    return None


class BsuiteEnv(gym.Env):
    """One bsuite setting as a Gymnasium env.

    A dm_env episode that ends with discount 0 is *terminated*; one that ends with a
    non-zero discount (a time limit) is *truncated*. ``info["bsuite_id"]`` names the setting.

    Args:
        experiment: ``memory_len``, ``memory_size`` or ``catch``.
        setting: the setting's index in bsuite's sweep of the experiment.
        results_dir: log the episodes with bsuite's CSV logger here (overwriting the
            setting's earlier file); ``None``: no log.
    """

    metadata = {"render_modes": []}

    def __init__(self, experiment: str, setting: int = 0, results_dir: str | None = None):
        if experiment not in EXPERIMENTS:
            raise ValueError(
                f"experiment must be one of {', '.join(EXPERIMENTS)}, got {experiment!r}"
            )
        bsuite = _bsuite()
        from bsuite import sweep

        ids = getattr(sweep, experiment.upper())
        if not isinstance(setting, int) or not 0 <= setting < len(ids):
            raise ValueError(
                f"setting must be an index of bsuite's {experiment} sweep, 0 .. {len(ids) - 1}, "
                f"got {setting!r}"
            )
        self.bsuite_id = ids[setting]
        self.recording = bool(results_dir)
        with contextlib.redirect_stdout(io.StringIO()):  # bsuite prints "Loaded bsuite_id"
            if results_dir:
                self._env = bsuite.load_and_record_to_csv(
                    self.bsuite_id, results_dir, overwrite=True
                )
            else:
                self._env = bsuite.load_from_id(self.bsuite_id)
        raw = getattr(self._env, "_env", self._env)
        self.bsuite_num_episodes = int(raw.bsuite_num_episodes)
        self.max_episode_length = _episode_length(raw)
        self.observation_space = _space(self._env.observation_spec())
        self.action_space = _space(self._env.action_spec())

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        raw = getattr(self._env, "_env", self._env)
        if seed is not None and not self.recording and hasattr(raw, "_rng"):
            raw._rng = np.random.RandomState(seed)  # bsuite draws each episode from it
        step = self._env.reset()
        return np.asarray(step.observation, np.float32), {"bsuite_id": self.bsuite_id}

    def step(self, action):
        step = self._env.step(int(action))
        last = step.last()
        terminated = bool(last and step.discount == 0)
        truncated = bool(last and not terminated)
        obs = np.asarray(step.observation, np.float32)
        return obs, float(step.reward), terminated, truncated, {"bsuite_id": self.bsuite_id}

    def close(self):
        self._env.close()


def register_bsuite_envs() -> None:
    """Register ``bsuite/<experiment>-v0`` for each experiment (bsuite imported only when
    one is made)."""
    from gymnasium.envs.registration import register, registry

    for experiment in EXPERIMENTS:
        env_id = f"bsuite/{experiment}-v0"
        if env_id not in registry:
            register(
                id=env_id,
                entry_point="fw_rl.envs.bsuite_adapter:BsuiteEnv",
                kwargs={"experiment": experiment},
                disable_env_checker=True,
            )
