"""The rules of Catch, written once for the single and the vector env.

Every function here works unchanged on Python ints (one board, used by :class:`CatchEnv`
for speed) and on numpy integer arrays of shape ``[N]`` (a batch of boards, used by
:class:`CatchVectorEnv`): only ``+ - * abs`` and comparisons are used, never ``if``.

Board coordinates: ``row`` 0 is the top, ``size - 1`` the bottom; ``col`` 0 is the left.
The paddle covers columns ``[paddle_left, paddle_left + paddle_width)`` of the bottom row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEFT, STAY, RIGHT = 0, 1, 2
NUM_ACTIONS = 3
ACTION_MEANINGS = ("left", "stay", "right")


class CatchConfigError(ValueError):
    """Raised for board settings that do not make a playable game."""


# The two settings of the paper's section 4.4 (Ba et al. 2016): an N x N board whose ball
# and paddle are visible for the first M observations. The first is Catch-v0's default:
# ``gym.make("Catch-v0", **PAPER_SETTINGS["16x16"])`` gives the other.
PAPER_SETTINGS: dict[str, dict[str, int]] = {
    "24x24": {"size": 24, "visible_steps": 5},
    "16x16": {"size": 16, "visible_steps": 3},
}


@dataclass(frozen=True)
class CatchRules:
    """Settings of one game of Catch and the pure functions that advance it.

    Args:
        size: the board is ``size`` x ``size`` cells; an episode lasts ``size - 1`` steps.
        paddle_width: cells covered by the paddle, ``1 <= paddle_width <= size``.
        ball_speed: columns the ball moves sideways per step (0 = falls straight down);
            it bounces off the side walls. ``0 <= ball_speed < size``.
        visible_steps: observations (the reset's included) that show ball and paddle
            before the screen goes blank; ``None`` keeps the game fully observable.
    """

    size: int = 24
    paddle_width: int = 3
    ball_speed: int = 0
    visible_steps: int | None = 5

    def __post_init__(self) -> None:
        for name in ("size", "paddle_width", "ball_speed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise CatchConfigError(f"{name} must be an int, got {value!r}")
        if self.size < 2:
            raise CatchConfigError(f"size must be at least 2 (one step to play), got {self.size}")
        if not 1 <= self.paddle_width <= self.size:
            raise CatchConfigError(
                f"paddle_width must be between 1 and size={self.size}, got {self.paddle_width}: "
                f"a {self.size}x{self.size} board cannot hold a paddle of {self.paddle_width} cells"
            )
        if not 0 <= self.ball_speed < self.size:
            raise CatchConfigError(
                f"ball_speed must be in [0, size) = [0, {self.size}), got {self.ball_speed}"
            )
        if self.visible_steps is not None:
            if isinstance(self.visible_steps, bool) or not isinstance(
                self.visible_steps, (int, np.integer)
            ):
                raise CatchConfigError(
                    f"visible_steps must be an int >= 0 or None, got {self.visible_steps!r}"
                )
            if self.visible_steps < 0:
                raise CatchConfigError(
                    f"visible_steps must be >= 0 (or None for a fully observable game), "
                    f"got {self.visible_steps}"
                )
        # plain attributes: the step functions below run a million times a second
        object.__setattr__(self, "max_paddle_left", self.size - self.paddle_width)
        object.__setattr__(self, "bottom", self.size - 1)
        object.__setattr__(
            self, "visible_until", self.size if self.visible_steps is None else self.visible_steps
        )

    @property
    def episode_length(self) -> int:
        """Steps from reset to the ball reaching the bottom row."""
        return self.size - 1

    @property
    def start_paddle_left(self) -> int:
        """The paddle starts centred on the bottom row."""
        return (self.size - self.paddle_width) // 2

    # ---- transitions (scalars or arrays) -------------------------------------------------

    def move_paddle(self, paddle_left, action):
        """Move the paddle one cell (action 0 left, 1 stay, 2 right), stopping at the walls."""
        paddle_left = paddle_left + action - 1
        return paddle_left + (paddle_left < 0) - (paddle_left > self.max_paddle_left)

    def move_ball(self, ball_row, ball_col, ball_dx):
        """Fall one row and move ``ball_dx`` columns, bouncing off the side walls."""
        hi = self.bottom  # the last column: the board is square
        col = ball_col + ball_dx
        bounced = (col < 0) | (col > hi)
        col = hi - abs(hi - abs(col))  # reflect at 0 and at hi (|dx| < size)
        return ball_row + 1, col, ball_dx * (1 - 2 * bounced)

    def reward(self, ball_row, ball_col, paddle_left):
        """+1 for a catch and -1 for a miss when the ball reaches the bottom row, else 0."""
        caught = (ball_col >= paddle_left) & (ball_col < paddle_left + self.paddle_width)
        return (ball_row == self.bottom) * (2 * caught - 1)

    def is_visible(self, t):
        """Observation number ``t`` (0 at reset) shows the board."""
        return t < self.visible_until

    # ---- starting state ------------------------------------------------------------------

    @property
    def draws_per_start(self) -> int:
        """Uniform numbers a new episode consumes: the column, and the direction if the
        ball moves sideways."""
        return 1 if self.ball_speed == 0 else 2

    def start_from_uniforms(self, u_col, u_dir=0.0):
        """Ball column and direction (0: ``-ball_speed``, 1: ``+ball_speed`` columns per
        step) of a new episode, from uniforms in ``[0, 1)`` (floats or ``[N]`` arrays)."""
        if isinstance(u_col, float):
            return int(u_col * self.size), int(u_dir * 2) * (self.ball_speed > 0)
        direction = (np.asarray(u_dir) * 2).astype(np.int64) * (self.ball_speed > 0)
        return (u_col * self.size).astype(np.int64), direction

    def sample_start(self, rng: np.random.Generator) -> tuple[int, int]:
        """Ball column and direction of a new episode, drawn from ``rng``: the first
        ``draws_per_start`` numbers of ``rng.random()``, in order.

        ``rng.random()`` is several times cheaper than ``rng.integers`` for one draw.
        """
        if self.ball_speed == 0:
            return self.start_from_uniforms(rng.random())
        return self.start_from_uniforms(rng.random(), rng.random())

    def ball_paths(self) -> np.ndarray:
        """Column of the ball at each row, by starting direction and column:
        ``[2, size, size]``, entry ``[d, c, r]`` for a ball that starts in column ``c``
        with ``dx = (2 d - 1) * ball_speed`` (see :meth:`start_from_uniforms`).

        The ball falls one row per step, so row ``r`` is reached at step ``r``; the
        table holds :meth:`move_ball` evaluated once for every start.
        """
        cols = np.tile(np.arange(self.size), 2)
        dx = np.repeat(np.array([-1, 1]) * self.ball_speed, self.size)
        rows = np.zeros_like(cols)
        paths = [cols]
        for _ in range(self.bottom):
            rows, cols, dx = self.move_ball(rows, cols, dx)
            paths.append(cols)
        return np.stack(paths, axis=1).reshape(2, self.size, self.size)

    def paddle_moves(self) -> np.ndarray:
        """:meth:`move_paddle` for every action and position: ``[3, max_left + 1]``,
        entry ``[action, paddle_left]`` is the next ``paddle_left``."""
        lefts = np.arange(self.max_paddle_left + 1)
        return np.stack([self.move_paddle(lefts, a) for a in range(NUM_ACTIONS)])

    # ---- drawing ---------------------------------------------------------------------------

    def bottom_rows(self) -> np.ndarray:
        """Bottom rows indexed by ``[visible, paddle_left]``: ``[2, max_left + 1, size]``.

        Row ``[0, k]`` is blank; row ``[1, k]`` shows a paddle whose left cell is ``k``.
        """
        cols = np.arange(self.size)
        lefts = np.arange(self.max_paddle_left + 1)[:, None]
        paddle = ((cols >= lefts) & (cols < lefts + self.paddle_width)).astype(np.float32)
        return np.stack([np.zeros_like(paddle), paddle])

    def paddle_boards(self) -> np.ndarray:
        """Whole boards showing only the paddle, indexed by ``[visible, paddle_left]``.

        ``[2, max_left + 1, size, size]``; one board's observation is a copy of one of
        these with the ball's cell (row ``t`` at step ``t``) set to 1 when visible.
        """
        boards = np.zeros((2, self.max_paddle_left + 1, self.size, self.size), np.float32)
        boards[:, :, -1, :] = self.bottom_rows()
        return boards
