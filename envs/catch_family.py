"""Catch-v0 as an env family (:mod:`fw_rl.envs.family`): its board flags, its native vector
env, its episode length, its successes (a catch) and its return range (-1 or +1)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from fw_rl.cli import option
from fw_rl.envs.catch_rules import CatchRules
from fw_rl.envs.family import EnvFamily, id_matches

CATCH_ID = "Catch-v0"
# Catch-v0's board flags: shorthands for its keyword arguments
CATCH_FLAGS = ("size", "paddle_width", "ball_speed", "visible_steps")


class BoardError(ValueError):
    """A board flag out of range."""


@dataclass
class CatchBoardFlags:
    """Catch's board as flags of a run's settings (the env's keyword arguments)."""

    size: int = option(
        CatchRules.size,
        "Catch board size (episodes last size - 1 steps); the paper's other setting is "
        "--size 16 --visible-steps 3",
        role="identity",
    )
    paddle_width: int = option(CatchRules.paddle_width, "paddle width in cells")
    ball_speed: int = option(
        CatchRules.ball_speed, "sideways ball speed in cells per step (0 = straight down)"
    )
    visible_steps: int = option(
        CatchRules.visible_steps,
        "observations that show the board before it goes blank; -1 = always visible",
    )


def board_kwargs(config) -> dict:
    """The board flags of ``config`` as Catch-v0's keyword arguments."""
    return dict(
        size=config.size,
        paddle_width=config.paddle_width,
        ball_speed=config.ball_speed,
        visible_steps=None if config.visible_steps < 0 else config.visible_steps,
    )


def check_board(config) -> None:
    """Raise :class:`BoardError` for board flags out of range."""
    for name, least in (("size", 1), ("paddle_width", 1), ("ball_speed", 0)):
        if getattr(config, name) < least:
            flag = f"--{name.replace('_', '-')}"
            raise BoardError(f"{flag} must be >= {least}, got {getattr(config, name)}")
    if config.visible_steps < -1:
        raise BoardError(
            f"--visible-steps must be >= 0, or -1 for a fully observable game, "
            f"got {config.visible_steps}"
        )
    if config.paddle_width > config.size:
        raise BoardError(
            f"--paddle-width must be at most --size ({config.size}), got {config.paddle_width}"
        )
    if config.ball_speed >= config.size:
        raise BoardError(
            f"--ball-speed must be below --size ({config.size}), got {config.ball_speed}"
        )


def _vector_env(num_envs: int, kwargs: dict):
    from fw_rl.envs.catch_vector import CatchVectorEnv

    return CatchVectorEnv(num_envs, autoreset_mode="SameStep", copy=False, **kwargs)


def _episode_limit(env) -> int | None:
    rules = getattr(env.unwrapped, "rules", None)
    return None if rules is None else rules.size - 1  # every Catch episode lasts this long


def _successes(returns: np.ndarray, info: dict, ended: np.ndarray) -> np.ndarray:
    return returns[ended] > 0  # a catch


CATCH = EnvFamily(
    name=CATCH_ID,
    claims=id_matches(CATCH_ID),
    flags=CATCH_FLAGS,
    kwargs=board_kwargs,
    vector_env=_vector_env,
    episode_limit=_episode_limit,
    successes=_successes,
    return_range=(-1.0, 1.0),
    threshold=0.9,
    check=check_board,
    flag_defaults={f.name: f.default for f in fields(CatchBoardFlags)},
)


def is_catch(env_id: str) -> bool:
    """Whether ``env_id`` is Catch-v0 (the Catch tools ask: watch, generalise, attention)."""
    from fw_rl.envs.family import family_of

    return family_of(env_id) is CATCH
