"""A natively vectorised Catch: numpy over a batch of boards, same rules as :class:`CatchEnv`."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv

from envs.catch import InvalidActionError
from envs.catch_rules import NUM_ACTIONS, CatchRules, draw_boards


class CatchVectorEnv(VectorEnv):
    """``num_envs`` boards of Catch stepped together with numpy.

    Board ``i`` has its own random generator, seeded ``seed + i`` by ``reset(seed=seed)``
    (Gymnasium's convention), so the batch reproduces ``num_envs`` single
    :class:`~envs.catch.CatchEnv` step for step.

    Args:
        num_envs: number of boards.
        size, paddle_width, ball_speed, visible_steps: as for :class:`~envs.catch.CatchEnv`.
        autoreset_mode: ``"NextStep"`` (Gymnasium's default: the step after an episode ends
            resets that board and ignores its action) or ``"SameStep"`` (the step that ends
            an episode already returns the next episode's first observation; the last one is
            in ``info["final_obs"]``).
        copy: return a fresh observation array each step (default). ``False`` returns the
            env's own buffer, which the next step overwrites: faster, for callers that
            consume the observation at once.
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        size: int = 24,
        paddle_width: int = 3,
        ball_speed: int = 0,
        visible_steps: int | None = 8,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
        copy: bool = True,
        render_mode: str | None = None,
        max_episode_steps: int | None = None,
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
        if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
            raise ValueError(
                f"autoreset_mode must be 'NextStep' or 'SameStep', got {autoreset_mode!r}"
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
        self._bottom_rows = rules.bottom_rows()
        self._index = np.arange(n)
        self._rngs: list[np.random.Generator] = []
        self._obs = np.zeros((n, size, size), np.float32)
        self._t = np.zeros(n, np.int64)
        self._ball_row = np.zeros(n, np.int64)
        self._ball_col = np.zeros(n, np.int64)
        self._ball_dx = np.zeros(n, np.int64)
        self._paddle_left = np.full(n, rules.start_paddle_left, np.int64)
        self._needs_reset = np.ones(n, bool)
        self._all = np.ones(n, bool)
        self._all.flags.writeable = False

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
        if seed is not None or not self._rngs:
            self._rngs = [seeding.np_random(s)[0] for s in seeds]
        self._start(self._all)
        self._needs_reset = np.zeros(self.num_envs, bool)
        self._obs[:] = 0.0
        self._draw()
        return self._output_obs(), self._info()

    def step(self, actions):
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
        rules = self.rules
        restart = self._needs_reset
        any_restart = bool(restart.any())
        self._paddle_left = rules.move_paddle(self._paddle_left, actions.astype(np.int64))
        self._ball_row, self._ball_col, self._ball_dx = rules.move_ball(
            self._ball_row, self._ball_col, self._ball_dx
        )
        self._t += 1
        rewards = rules.reward(self._ball_row, self._ball_col, self._paddle_left).astype(np.float64)
        terminated = self._t >= rules.episode_length
        if any_restart:  # NextStep: these boards start over and their actions are ignored
            rewards[restart] = 0.0
            terminated[restart] = False
            self._start(restart)
        infos: dict[str, Any] = {}
        if self.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP and terminated.any():
            self._draw()
            infos["final_obs"] = self._obs.copy()
            infos["final_info"] = self._info()
            self._start(terminated)
            self._needs_reset = np.zeros(self.num_envs, bool)
        else:
            self._needs_reset = terminated.copy()
        self._draw()
        infos.update(self._info())
        truncated = np.zeros(self.num_envs, bool)
        return self._output_obs(), rewards, terminated, truncated, infos

    # ---- internals -----------------------------------------------------------------------

    def _start(self, mask: np.ndarray) -> None:
        rules = self.rules
        for i in np.flatnonzero(mask).tolist():
            self._ball_col[i], self._ball_dx[i] = rules.sample_start(self._rngs[i])
        self._ball_row[mask] = 0
        self._paddle_left[mask] = rules.start_paddle_left
        self._t[mask] = 0

    def _draw(self) -> None:
        """Redraw the cells that can change: the bottom row and the ball's old and new cell."""
        self._obs[:, :-1, :][self._prev_ball()] = 0.0
        draw_boards(
            self._obs,
            (self._index,),
            self._ball_row,
            self._ball_col,
            self._paddle_left,
            self.rules.is_visible(self._t),
            self._bottom_rows,
        )
        self._prev = (self._ball_row.copy(), self._ball_col.copy())

    def _prev_ball(self):
        prev = getattr(self, "_prev", None)
        if prev is None:
            return (self._index[:0], self._index[:0], self._index[:0])
        rows, cols = prev
        keep = rows < self.rules.size - 1  # the bottom row is rewritten whole
        return self._index[keep], rows[keep], cols[keep]

    def _output_obs(self) -> np.ndarray:
        return self._obs.copy() if self.copy else self._obs

    def _info(self) -> dict[str, Any]:
        return {
            "ball_row": self._ball_row.copy(),
            "_ball_row": self._all,
            "ball_col": self._ball_col.copy(),
            "_ball_col": self._all,
            "paddle_left": self._paddle_left.copy(),
            "_paddle_left": self._all,
            "blanked": ~self.rules.is_visible(self._t),
            "_blanked": self._all,
        }
