"""A natively vectorised Catch: numpy over a batch of boards, same rules as :class:`CatchEnv`."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv

from fw_rl.envs.catch import EpisodeFinishedError, InvalidActionError
from fw_rl.envs.catch_rules import NUM_ACTIONS, CatchRules


class CatchVectorEnv(VectorEnv):
    """``num_envs`` boards of Catch stepped together with numpy.

    Board ``i`` has its own random generator, seeded ``seed + i`` by ``reset(seed=seed)``
    (Gymnasium's convention), so the batch reproduces ``num_envs`` single
    :class:`~fw_rl.envs.catch.CatchEnv` step for step.

    Args:
        num_envs: number of boards.
        size: as for :class:`~fw_rl.envs.catch.CatchEnv`.
        paddle_width: as for :class:`~fw_rl.envs.catch.CatchEnv`.
        ball_speed: as for :class:`~fw_rl.envs.catch.CatchEnv`.
        visible_steps: as for :class:`~fw_rl.envs.catch.CatchEnv`.
        autoreset_mode: ``"NextStep"`` (Gymnasium's default: the step after an episode ends
            resets that board and ignores its action), ``"SameStep"`` (the step that ends
            an episode already returns the next episode's first observation; as in
            Gymnasium's own vector envs, ``info["final_obs"]`` is an object array holding
            the last observation of each board that ended, ``None`` elsewhere, with the
            mask ``info["_final_obs"]``, and ``info["final_info"]`` / ``"_final_info"``
            likewise) or ``"Disabled"`` (finished boards wait for
            ``reset(options={"reset_mask": mask})``; stepping one raises).
        copy: return a fresh observation array each step (default). ``False`` returns the
            env's own buffer, which the next step overwrites: faster, for callers that
            consume the observation at once.
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        size: int = CatchRules.size,
        paddle_width: int = CatchRules.paddle_width,
        ball_speed: int = CatchRules.ball_speed,
        visible_steps: int | None = CatchRules.visible_steps,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
        copy: bool = True,
        render_mode: str | None = None,
    ) -> None:
        if (
            isinstance(num_envs, bool)
            or not isinstance(num_envs, (int, np.integer))
            or num_envs < 1
        ):
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        if render_mode is not None:
            raise ValueError(
                "CatchVectorEnv does not render; use a single CatchEnv with render_mode"
            )
        try:
            mode = AutoresetMode(autoreset_mode)
        except ValueError:
            mode = None
        if mode is None:
            raise ValueError(
                "autoreset_mode must be 'NextStep', 'SameStep' or 'Disabled', "
                f"got {autoreset_mode!r}"
            )
        self.rules = rules = CatchRules(size, paddle_width, ball_speed, visible_steps)
        self.metadata = {**self.metadata, "autoreset_mode": mode}
        self.num_envs = n = int(num_envs)
        self.copy = copy
        self.render_mode = None
        self.single_observation_space = spaces.Box(0.0, 1.0, (size, size), np.float32)
        self.single_action_space = spaces.Discrete(NUM_ACTIONS)
        self.observation_space = spaces.Box(0.0, 1.0, (n, size, size), np.float32)
        self.action_space = spaces.MultiDiscrete(np.full(n, NUM_ACTIONS))
        # the rules evaluated once into flat tables (see CatchEnv): a step is a few
        # ``take`` lookups, several times faster than numpy's multi-index gathers
        lefts = rules.max_paddle_left + 1
        self._lefts = lefts
        self._bottom_rows = rules.bottom_rows().reshape(2 * lefts, size)  # [visible, left]
        self._paddle_moves = rules.paddle_moves().reshape(-1)  # [action * lefts + left]
        self._ball_paths = rules.ball_paths().reshape(-1)  # [(direction * size + col) * size + t]
        self._board_offsets = np.arange(n) * size * size
        self._rngs: list[np.random.Generator] = []
        # each board's random numbers, drawn from its generator in blocks (the same numbers
        # in the same order as the single env's one-at-a-time draws)
        self._draws = rules.draws_per_start
        self._uniforms = np.zeros((n, self._draws * self._STARTS_PER_REFILL))
        self._used = np.full(n, self._uniforms.shape[1])
        self._obs = np.zeros((n, size, size), np.float32)
        self._drawn = self._board_offsets  # flat indices of the ball cells drawn
        self._anything_drawn = False
        self._t = np.zeros(n, np.int64)
        self._path = np.zeros(n, np.int64)  # where each ball's path starts in _ball_paths
        self._ball_col = np.zeros(n, np.int64)
        self._paddle_left = np.full(n, rules.start_paddle_left, np.int64)
        self._needs_reset = np.ones(n, bool)
        self._was_reset = False
        self._all = np.ones(n, bool)
        self._all.flags.writeable = False

    _STARTS_PER_REFILL = 64  # episodes per board between calls to its generator

    # ---- Gymnasium API -------------------------------------------------------------------

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ):
        if seed is None or isinstance(seed, (int, np.integer)):
            seeds = [None if seed is None else int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(
                    f"reset(seed=...) got {len(seeds)} seeds for {self.num_envs} boards"
                )
        mask = self._reset_mask(options)
        if mask is not self._all and not self._rngs:
            raise ResetNeeded("reset(options={'reset_mask': ...}) needs a full reset() first")
        if seed is not None or not self._rngs:
            fresh = [seeding.np_random(s)[0] for s in seeds]
            if mask is self._all:
                self._rngs = fresh
            else:  # a partial reset reseeds only the boards it resets
                self._rngs = [f if m else r for f, r, m in zip(fresh, self._rngs, mask)]
            self._used[mask] = self._uniforms.shape[1]  # discard numbers of old generators
        self._start(mask)
        self._needs_reset = self._needs_reset & ~mask
        self._was_reset = True
        self._draw()
        return self._output_obs(), self._info()

    def _reset_mask(self, options: dict[str, Any] | None) -> np.ndarray:
        """The boards a reset starts: all, or ``options["reset_mask"]`` (Gymnasium's
        partial reset, for ``autoreset_mode="Disabled"``)."""
        if not options or options.get("reset_mask") is None:
            return self._all
        mask = np.asarray(options["reset_mask"])
        if mask.shape != (self.num_envs,) or mask.dtype != np.bool_:
            raise ValueError(
                f"options['reset_mask'] must be a bool array of shape ({self.num_envs},), "
                f"got {options['reset_mask']!r}"
            )
        return mask

    def step(self, actions):
        if not self._was_reset:
            raise ResetNeeded("step() called before reset(): call reset() first")
        mode = self.metadata["autoreset_mode"]
        if mode is AutoresetMode.DISABLED and self._needs_reset.any():
            raise EpisodeFinishedError(
                f"boards {np.flatnonzero(self._needs_reset).tolist()} have finished their "
                "episodes and autoreset is disabled: call "
                "reset(options={'reset_mask': mask}) for them first"
            )
        actions = np.asarray(actions)
        if (
            actions.shape != (self.num_envs,)
            or actions.dtype.kind not in "iu"
            or actions.min() < 0
            or actions.max() > 2
        ):
            raise InvalidActionError(
                f"actions must be an array of shape ({self.num_envs},) with values in "
                f"{{0, 1, 2}}, got {actions!r}"
            )
        restart = self._needs_reset
        moves = actions.astype(np.int64, copy=False) * self._lefts  # no uint8 overflow
        self._paddle_left = self._paddle_moves.take(moves + self._paddle_left)
        self._t = self._t + 1  # the ball falls one row per step: its row is t
        if restart.any():  # NextStep: these boards start over and their actions are ignored
            self._start(restart)
        else:
            self._ball_col = self._ball_paths.take(self._path + self._t)
        terminated = self._t >= self.rules.episode_length
        ended = bool(terminated.any())  # once a step: the per-step cost at small batches
        rewards = self._rewards(terminated, ended)
        infos: dict[str, Any] = {}
        if mode is AutoresetMode.SAME_STEP and ended:
            self._draw()
            final_obs = np.full(self.num_envs, None, dtype=object)
            for i in np.flatnonzero(terminated).tolist():
                final_obs[i] = self._obs[i].copy()
            final_info = {
                key: value if key.startswith("_") else value.copy()
                for key, value in self._info().items()
            }
            for key in list(final_info):
                if key.startswith("_"):
                    final_info[key] = terminated.copy()
            final_info.update(success=terminated & (rewards > 0), _success=terminated.copy())
            infos.update(
                final_obs=final_obs,
                _final_obs=terminated.copy(),
                final_info=final_info,
                _final_info=terminated.copy(),
            )
            self._start(terminated)
            self._needs_reset = np.zeros(self.num_envs, bool)
        else:
            self._needs_reset = terminated.copy()
        self._draw()
        infos.update(self._info())
        if ended and mode is not AutoresetMode.SAME_STEP:
            infos.update(success=terminated & (rewards > 0), _success=terminated.copy())
        truncated = np.zeros(self.num_envs, bool)
        return self._output_obs(), rewards, terminated, truncated, infos

    # ---- internals -----------------------------------------------------------------------

    def _start(self, mask: np.ndarray) -> None:
        """Start new episodes on the boards in ``mask``."""
        boards = np.flatnonzero(mask)
        used = self._used[boards]
        empty = boards[used == self._uniforms.shape[1]]
        for i in empty.tolist():
            self._uniforms[i] = self._rngs[i].random(self._uniforms.shape[1])
        used[used == self._uniforms.shape[1]] = 0
        u_dir = self._uniforms[boards, used + 1] if self._draws == 2 else 0.0
        col, direction = self.rules.start_from_uniforms(self._uniforms[boards, used], u_dir)
        self._used[boards] = used + self._draws
        self._path[boards] = (direction * self.rules.size + col) * self.rules.size
        self._paddle_left[boards] = self.rules.start_paddle_left
        self._t[boards] = 0
        self._ball_col = self._ball_paths.take(self._path + self._t)

    def _rewards(self, terminated: np.ndarray, ended: bool) -> np.ndarray:
        if not ended:
            return np.zeros(self.num_envs)
        return self.rules.reward(self._t, self._ball_col, self._paddle_left).astype(np.float64)

    def _draw(self) -> None:
        """Redraw the cells that can change: the ball's old and new cells and the bottom
        rows; nothing while every board stays blank."""
        visible = self.rules.is_visible(self._t)
        any_visible = bool(visible.any())
        if not (any_visible or self._anything_drawn):
            return
        obs, cells = self._obs, self._obs.reshape(-1)
        cells[self._drawn] = 0.0
        obs[:, -1] = self._bottom_rows.take(visible * self._lefts + self._paddle_left, axis=0)
        self._drawn = self._board_offsets + self._t * self.rules.size + self._ball_col
        cells[self._drawn] = visible
        self._anything_drawn = any_visible

    def _output_obs(self) -> np.ndarray:
        return self._obs.copy() if self.copy else self._obs

    def _info(self) -> dict[str, Any]:
        return {
            "ball_row": self._t.copy(),
            "_ball_row": self._all,
            "ball_col": self._ball_col.copy(),
            "_ball_col": self._all,
            "paddle_left": self._paddle_left.copy(),
            "_paddle_left": self._all,
            "blanked": ~self.rules.is_visible(self._t),
            "_blanked": self._all,
        }
