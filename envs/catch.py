"""Partially observable Catch as a Gymnasium environment (Ba et al. 2016, section 4.4)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from fw_rl.envs.catch_rules import ACTION_MEANINGS, NUM_ACTIONS, CatchRules


class EpisodeFinishedError(RuntimeError):
    """Raised when ``step`` is called on a finished episode before ``reset``."""


class InvalidActionError(ValueError):
    """Raised for an action outside ``{0, 1, 2}``."""


def _action_index(action) -> int | None:
    """The integer an action stands for, or None if it is no integer action."""
    if isinstance(action, (bool, np.bool_)):
        return None
    if isinstance(action, (int, np.integer)):
        return int(action)
    if isinstance(action, np.ndarray) and action.dtype.kind in "iu" and action.size == 1:
        return int(action.reshape(-1)[0])
    return None


class CatchEnv(gym.Env):
    """
    ## Description

    Catch as in bsuite, made partially observable as in Ba et al. (2016, section 4.4):
    a ball falls from a random column of the top row, one row per step, and the agent moves
    a paddle along the bottom row to catch it. The board is shown only for the first
    ``visible_steps`` observations of an episode; afterwards every observation is zero, so
    the agent must remember where the ball was and where it moved its paddle.

    ## Action Space

    ``Discrete(3)``: 0 moves the paddle one cell left, 1 keeps it still, 2 moves it one cell
    right. The paddle stops at the walls.

    ## Observation Space

    ``Box(0, 1, (size, size), float32)``: 1 where the ball or the paddle is, 0 elsewhere;
    all zeros once the screen is blank (observation number ``visible_steps`` onwards,
    counting the reset's as number 0).

    ## Rewards

    +1 when the ball reaches the bottom row over the paddle, -1 when it reaches it
    elsewhere, 0 on every other step.

    ## Starting State

    Ball in the top row at a column drawn uniformly; with ``ball_speed > 0`` it also moves
    ``ball_speed`` columns left or right per step (drawn uniformly), bouncing off the side
    walls. Paddle centred on the bottom row.

    ## Episode End

    Terminates after ``size - 1`` steps, when the ball reaches the bottom row. No truncation.
    ``info`` carries the true ``ball_row``, ``ball_col``, ``paddle_left`` and whether the
    observation was ``blanked``; the last step's also ``success`` (the ball was caught).

    ## Arguments

    ```python
    gym.make("Catch-v0", size=24, paddle_width=3, ball_speed=0, visible_steps=5,
             render_mode=None)
    gym.make("Catch-v0", size=16, visible_steps=3)  # the paper's other setting
    ```

    The defaults are the harder of the paper's two settings (24 x 24, 5 visible
    observations); ``PAPER_SETTINGS`` in ``catch_rules`` holds both.
    ``visible_steps=None`` gives the fully observable game. ``render_mode`` is one of
    ``"human"`` (a pygame window), ``"rgb_array"`` or ``"ansi"``; each shows the true game
    beside what the agent sees.

    ## Version History

    * v0: first version (default ``visible_steps=8``).
    * v0, fw_rl 0.2: the default is the paper's harder setting, ``visible_steps=5`` (it was
      8); pass ``visible_steps=8`` for the earlier game. Runs made before this change
      recorded their ``visible_steps`` in ``config.json``.
    """

    metadata = {"render_modes": ["human", "rgb_array", "ansi"], "render_fps": 8}

    def __init__(
        self,
        size: int = CatchRules.size,
        paddle_width: int = CatchRules.paddle_width,
        ball_speed: int = CatchRules.ball_speed,
        visible_steps: int | None = CatchRules.visible_steps,
        render_mode: str | None = None,
    ) -> None:
        self.rules = CatchRules(size, paddle_width, ball_speed, visible_steps)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, "
                f"got {render_mode!r}"
            )
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0.0, 1.0, (size, size), np.float32)
        self.action_space = spaces.Discrete(NUM_ACTIONS)
        # the rules evaluated once into tables (catch_rules.py stays the one place they
        # are written): a step is then a few lookups and one board copy
        rules = self.rules
        self._paddle_moves = dict(enumerate(map(tuple, rules.paddle_moves().tolist())))
        self._ball_paths = [list(map(tuple, d)) for d in rules.ball_paths().tolist()]
        self._catch_rewards = [
            [float(rules.reward(rules.bottom, c, p)) for c in range(size)]
            for p in range(rules.max_paddle_left + 1)
        ]
        self._visible_boards = list(rules.paddle_boards()[1])
        self._blank_board = np.zeros((size, size), np.float32)
        self._visible_until = rules.visible_until
        self._episode_length = rules.episode_length
        self._t = 0
        self._ball_path = self._ball_paths[0][0]
        self._paddle_left = rules.start_paddle_left
        self._done = True
        self._blanked = False
        self._obs = self._blank_board.copy()
        self._picture = None
        self._window = None

    # ---- Gymnasium API -------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        col, direction = self.rules.sample_start(self.np_random)
        self._ball_path = self._ball_paths[direction][col]
        self._paddle_left = self.rules.start_paddle_left
        self._t = 0
        self._done = False
        obs = self._observe(0, col, self._paddle_left)
        if self.render_mode == "human":
            self.render()
        return obs, self._info()

    def step(self, action):
        if self._done:
            raise EpisodeFinishedError("step() called on a finished episode: call reset() first")
        # an int (the fast path), a numpy integer, or an integer array of one element;
        # floats and bools are refused even where they compare equal to 0, 1 or 2
        moves = self._paddle_moves.get(action) if type(action) is int else None
        if moves is None:
            moves = self._paddle_moves.get(_action_index(action))
        if moves is None:
            raise InvalidActionError(
                "action must be an integer 0 (left), 1 (stay) or 2 (right), or an integer "
                f"array of one element, got {action!r}"
            )
        self._paddle_left = paddle = moves[self._paddle_left]
        self._t = t = self._t + 1  # the ball falls one row per step: its row is t
        col = self._ball_path[t]
        obs = self._observe(t, col, paddle)
        if t < self._episode_length:
            reward, terminated = 0.0, False
        else:
            reward, terminated = self._catch_rewards[paddle][col], True
            self._done = True
        if self.render_mode == "human":
            self.render()
        info = self._info()
        if terminated:  # read where Catch is made by a function (no Catch id to go by)
            info["success"] = bool(reward > 0)
        return obs, reward, terminated, False, info

    def _observe(self, t: int, col: int, paddle: int) -> np.ndarray:
        # a copy of the pre-drawn paddle board (or the blank one), then the ball's cell
        if t < self._visible_until:
            self._blanked = False
            self._obs = obs = self._visible_boards[paddle].copy()
            obs[t, col] = 1.0
        else:
            self._blanked = True
            self._obs = obs = self._blank_board.copy()
        return obs

    @property
    def _ball_row(self) -> int:
        return self._t

    @property
    def _ball_col(self) -> int:
        return self._ball_path[self._t]

    def _info(self) -> dict[str, Any]:
        return {
            "ball_row": self._t,
            "ball_col": self._ball_path[self._t],
            "paddle_left": self._paddle_left,
            "blanked": self._blanked,
        }

    # ---- people --------------------------------------------------------------------------

    def get_keys_to_action(self) -> dict[tuple[int, ...], int]:
        """Arrow keys for ``gymnasium.utils.play.play``; pass ``noop=1`` so that no key
        means stay: ``play(gym.make("Catch-v0", render_mode="rgb_array"), noop=1)``."""
        import pygame

        return {(pygame.K_LEFT,): 0, (pygame.K_RIGHT,): 2}

    def get_action_meanings(self) -> tuple[str, ...]:
        return ACTION_MEANINGS

    def render(self):
        if self.render_mode is None:
            gym.logger.warn(
                "render() called without a render_mode: pass render_mode='human', "
                "'rgb_array' or 'ansi' to gym.make('Catch-v0', ...)"
            )
            return None
        if self.render_mode == "ansi":
            return self._render_ansi()
        import pygame

        from fw_rl.envs.rendering import CatchPicture, PygameWindow, surface_to_rgb

        if self._picture is None:
            self._picture = CatchPicture(self.rules.size)
        pic = self._picture
        surface = pygame.Surface((pic.width, pic.height))
        surface.fill((18, 18, 24))
        pic.draw(
            surface,
            (self._ball_row, self._ball_col),
            self._paddle_left,
            self.rules.paddle_width,
            self._obs,
            self._blanked,
        )
        if self.render_mode == "rgb_array":
            return surface_to_rgb(surface)
        if self._window is None:
            self._window = PygameWindow(
                pic.width, pic.height, "Catch-v0", self.metadata["render_fps"]
            )
        self._window.show(surface)
        return None

    def _render_ansi(self) -> str:
        size = self.rules.size
        game = [["."] * size for _ in range(size)]
        for k in range(self._paddle_left, self._paddle_left + self.rules.paddle_width):
            game[size - 1][k] = "="
        game[self._ball_row][self._ball_col] = "o"
        seen = [["#" if v else "." for v in row] for row in self._obs.tolist()]
        header = (
            "game".ljust(size) + "  " + ("agent sees (blank)" if self._blanked else "agent sees")
        )
        lines = [header] + ["".join(g) + "  " + "".join(s) for g, s in zip(game, seen)]
        return "\n".join(lines) + "\n"

    def close(self) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None
        super().close()
