"""Pygame drawing of Catch: the true game beside what the agent sees.

One :class:`CatchPicture` draws onto any ``pygame.Surface``; the env's ``"human"`` and
``"rgb_array"`` modes and ``scripts/watch.py`` all use it, so the picture is defined once.
Extra panels (policy, value, attention) are drawn by the caller to the right of ``width``.
"""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame  # noqa: E402

BACKGROUND = (18, 18, 24)
GRID = (40, 40, 52)
BALL = (250, 200, 60)
PADDLE = (90, 170, 250)
SEEN = (230, 230, 230)
TEXT = (220, 220, 220)
DIM = (120, 120, 130)

MARGIN = 8
LABEL_HEIGHT = 22


def _font(size: int) -> pygame.font.Font:
    if not pygame.font.get_init():
        pygame.font.init()
    return pygame.font.Font(None, size)


def draw_text(
    surface: pygame.Surface,
    text: str,
    pos: tuple[int, int],
    size: int = 20,
    color: tuple[int, int, int] = TEXT,
) -> None:
    surface.blit(_font(size).render(text, True, color), pos)


class CatchPicture:
    """Layout and drawing of the two board panels.

    Args:
        size: board size in cells.
        cell: pixels per cell (the board is scaled up so a 24x24 game is readable).
    """

    def __init__(self, size: int, cell: int | None = None) -> None:
        self.size = size
        self.cell = cell if cell is not None else max(4, 240 // size)
        self.board_px = self.size * self.cell
        self.width = 3 * MARGIN + 2 * self.board_px
        self.height = 2 * MARGIN + LABEL_HEIGHT + self.board_px

    def draw(
        self,
        surface: pygame.Surface,
        ball: tuple[int, int],
        paddle_left: int,
        paddle_width: int,
        seen: np.ndarray,
        blanked: bool,
        origin=(0, 0),
    ) -> None:
        """Draw the true game (left) and the observation ``seen`` (right)."""
        ox, oy = origin
        top = oy + MARGIN + LABEL_HEIGHT
        left_panel = pygame.Rect(ox + MARGIN, top, self.board_px, self.board_px)
        right_panel = pygame.Rect(
            ox + 2 * MARGIN + self.board_px, top, self.board_px, self.board_px
        )
        draw_text(surface, "game", (left_panel.x, oy + MARGIN))
        label = "agent sees: blank" if blanked else "agent sees"
        draw_text(surface, label, (right_panel.x, oy + MARGIN), color=DIM if blanked else TEXT)
        for panel in (left_panel, right_panel):
            pygame.draw.rect(surface, GRID, panel)
        c = self.cell
        row, col = ball
        pygame.draw.rect(surface, BALL, (left_panel.x + col * c, top + row * c, c, c))
        pygame.draw.rect(
            surface,
            PADDLE,
            (left_panel.x + paddle_left * c, top + (self.size - 1) * c, paddle_width * c, c),
        )
        rows, cols = np.nonzero(seen)
        for r, k in zip(rows.tolist(), cols.tolist()):
            pygame.draw.rect(surface, SEEN, (right_panel.x + k * c, top + r * c, c, c))


def surface_to_rgb(surface: pygame.Surface) -> np.ndarray:
    """``[height, width, 3]`` uint8 copy of a surface."""
    return np.ascontiguousarray(pygame.surfarray.array3d(surface).transpose(1, 0, 2))


class PygameWindow:
    """A window that shows surfaces at a fixed frame rate and never freezes.

    Events are pumped on every ``show``; ``closed`` turns true when the user closes it.
    """

    def __init__(self, width: int, height: int, title: str, fps: float) -> None:
        pygame.display.init()
        pygame.font.init()
        self.screen = pygame.display.set_mode((width, height))
        pygame.display.set_caption(title)
        self.clock = pygame.time.Clock()
        self.fps = fps
        self.closed = False

    def poll(self) -> list[pygame.event.Event]:
        events = pygame.event.get()
        if any(e.type == pygame.QUIT for e in events):
            self.closed = True
        return events

    def show(self, surface: pygame.Surface) -> list[pygame.event.Event]:
        events = self.poll()
        self.screen.blit(surface, (0, 0))
        pygame.display.flip()
        if self.fps:
            self.clock.tick(self.fps)
        return events

    def close(self) -> None:
        if pygame.display.get_init():
            pygame.display.quit()
        self.closed = True
