"""Watch an agent play: who acts (trained model, random, a person) and the picture.

The picture is the env's own with a panel to its right: the policy's action
probabilities, the value, the episode's return and running success rate (Catch: catches),
and, for the fast-weights core, the attention the fast memory gives each past step (paper
eq. 3), so you can see the agent recall the frames where the ball was visible. For Catch
the env's picture is :class:`fw_rl.envs.rendering.CatchPicture` (the true game beside what
the agent sees); any other env shows its ``rgb_array`` frame (:class:`EnvPicture`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pygame
import torch

from fw_rl.agents.model import ActorCritic
from fw_rl.envs.catch_rules import ACTION_MEANINGS
from fw_rl.envs.rendering import BACKGROUND, DIM, TEXT, CatchPicture, draw_text

PANEL_WIDTH = 300
BAR = (90, 170, 250)
ATTENTION = (250, 200, 60)


@dataclass
class Decision:
    action: int
    probs: np.ndarray | None = None  # [3]
    value: float | None = None
    attention: np.ndarray | None = None  # weights on the episode's past steps


class RandomAgent:
    name = "random agent"

    def __init__(self, seed: int, num_actions: int = 3) -> None:
        self.rng = np.random.default_rng(seed)
        self.num_actions = num_actions

    def reset(self) -> None:
        pass

    def decide(self, obs: np.ndarray) -> Decision:
        n = self.num_actions
        return Decision(int(self.rng.integers(n)), probs=np.full(n, 1 / n))


class HumanAgent:
    """Left and right arrow keys; no key means stay."""

    name = "you (arrow keys)"

    def reset(self) -> None:
        pass

    def decide(self, obs: np.ndarray) -> Decision:
        keys = pygame.key.get_pressed()
        action = 0 if keys[pygame.K_LEFT] else 2 if keys[pygame.K_RIGHT] else 1
        return Decision(action)


class ModelAgent:
    """A trained actor-critic, greedy or sampling, with its recurrent state per episode."""

    def __init__(self, model: ActorCritic, greedy: bool, seed: int, name: str) -> None:
        self.model, self.greedy, self.name = model.eval(), greedy, name
        self.generator = torch.Generator().manual_seed(seed)
        self.with_attention = model.has_attention
        self.reset()

    def reset(self) -> None:
        self.observations: list[torch.Tensor] = []
        self.actions: list[int] = []
        self.state = self.model.initial_state(1)

    @torch.no_grad()
    def decide(self, obs: np.ndarray) -> Decision:
        self.observations.append(torch.as_tensor(obs, dtype=torch.float32))
        attention = None
        if self.with_attention:  # the episode so far in one call: exact, and <= size steps
            history = torch.stack(self.observations)[:, None]
            taken = torch.tensor(self.actions, dtype=torch.long)[:, None]
            logits, values, _, weights = self.model.forward_with_attention(history, actions=taken)
            logits, value = logits[-1, 0], values[-1, 0]
            attention = weights[-1, 0, : len(self.observations) - 1].numpy()
        else:
            logits, value, self.state = self.model.act(self.observations[-1][None], self.state)
            logits, value = logits[0], value[0]
        probs = torch.softmax(logits, -1)
        if self.greedy:
            action = int(probs.argmax())
        else:
            action = int(torch.multinomial(probs, 1, generator=self.generator))
        self.actions.append(action)
        self.state = self.state.after(torch.tensor([action]))
        return Decision(action, probs.numpy(), float(value), attention)


@dataclass
class Scoreboard:
    """The episodes played so far; ``successes`` counts those the env reported a success
    for (Catch: a catch) out of ``judged``."""

    episode: int = 0
    episode_return: float = 0.0
    finished: int = 0
    successes: int = 0
    judged: int = 0
    returns: list[float] = field(default_factory=list)

    def episode_ended(self, success: bool | None) -> None:
        self.finished += 1
        self.returns.append(self.episode_return)
        if success is not None:
            self.judged += 1
            self.successes += bool(success)

    @property
    def success_rate(self) -> float:
        return self.successes / self.judged if self.judged else float("nan")

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.returns)) if self.returns else float("nan")


def draw_panel(
    s: pygame.Surface,
    x: int,
    decision: Decision | None,
    score: Scoreboard,
    agent_name: str,
    step: int,
    paused: bool,
    action_names: list[str],
    success_word: str | None = None,
) -> None:
    """The agent panel, from ``x`` to the right edge of ``s``; the success rate is shown
    under ``success_word`` (``-`` until an episode is judged), or not at all for None."""
    y = 8
    draw_text(s, agent_name + ("   [paused]" if paused else ""), (x, y))
    y += 24
    draw_text(s, f"episode {score.episode + 1}  step {step}", (x, y), color=DIM)
    y += 20
    rate = score.success_rate
    text = f"return {score.episode_return:+.4g}"
    if success_word is not None:
        text += f"   {success_word} " + ("-" if np.isnan(rate) else f"{rate:.2f} of {score.judged}")
    draw_text(s, text, (x, y))
    y += 30
    if decision is not None and decision.probs is not None:
        draw_text(s, "policy", (x, y), color=DIM)
        y += 20
        shown = np.argsort(-decision.probs)[:8] if len(decision.probs) > 8 else None
        for a in shown if shown is not None else range(len(decision.probs)):
            p = float(decision.probs[a])
            chosen = a == decision.action
            name = action_names[a] if a < len(action_names) else str(a)
            draw_text(s, name[:8], (x, y), color=TEXT if chosen else DIM)
            pygame.draw.rect(s, BAR, (x + 60, y + 2, int(170 * p), 12))
            draw_text(s, f"{p:.2f}", (x + 235, y), color=DIM)
            y += 20
    if decision is not None and decision.value is not None:
        draw_text(s, f"value {decision.value:+.3g}", (x, y))
        y += 26
    if decision is not None and decision.attention is not None:
        _draw_attention(s, decision.attention, x, y)


def _draw_attention(s: pygame.Surface, weights: np.ndarray, x: int, y: int) -> None:
    draw_text(s, "fast memory: attention to past steps", (x, y), color=DIM)
    y += 22
    height, width = 90, PANEL_WIDTH - 24
    pygame.draw.rect(s, (30, 30, 40), (x, y, width, height))
    if len(weights):
        weights = weights[-width:]  # the most recent steps that fit, one pixel each at least
        scale = max(float(np.abs(weights).max()), 1e-6)
        bar = max(1, width // max(len(weights), 1) - 1)
        for j, w in enumerate(weights.tolist()):
            h = int((height - 4) * abs(w) / scale)
            color = ATTENTION if w >= 0 else DIM
            pygame.draw.rect(s, color, (x + j * (bar + 1), y + height - h, bar, h))
    draw_text(s, "older <- steps -> now", (x, y + height + 4), size=18, color=DIM)


class EnvPicture:
    """Any env's ``rgb_array`` frame, scaled to a readable height, plus the agent panel.

    Args:
        frame_shape: ``(height, width, 3)`` of the env's frames.
        action_names: a name per action (the env's ``get_action_meanings`` where it has
            one, else the indices).
    """

    def __init__(self, frame_shape: tuple[int, ...], action_names: list[str]) -> None:
        height, width = frame_shape[:2]
        scale = max(1.0, 330 / height) if height < 330 else min(1.0, 600 / height)
        self.frame_size = (max(1, round(width * scale)), max(1, round(height * scale)))
        self.action_names = action_names
        self.width = self.frame_size[0] + 16 + PANEL_WIDTH
        self.height = max(self.frame_size[1] + 16, 330)
        self.surface = pygame.Surface((self.width, self.height))

    def draw(
        self,
        frame: np.ndarray,
        decision: Decision | None,
        score: Scoreboard,
        agent_name: str,
        step: int,
        paused: bool = False,
    ) -> pygame.Surface:
        s = self.surface
        s.fill(BACKGROUND)
        image = pygame.surfarray.make_surface(np.ascontiguousarray(frame[..., :3].swapaxes(0, 1)))
        s.blit(pygame.transform.scale(image, self.frame_size), (8, 8))
        x = self.frame_size[0] + 16
        word = "success" if score.judged else None
        draw_panel(s, x, decision, score, agent_name, step, paused, self.action_names, word)
        return s


class AgentPicture:
    """The env's picture plus the agent panel."""

    def __init__(self, size: int, paddle_width: int) -> None:
        self.board = CatchPicture(size)
        self.paddle_width = paddle_width
        self.width = self.board.width + PANEL_WIDTH
        self.height = max(self.board.height, 330)
        self.surface = pygame.Surface((self.width, self.height))

    def draw(
        self,
        info: dict,
        obs: np.ndarray,
        decision: Decision | None,
        score: Scoreboard,
        agent_name: str,
        step: int,
        paused: bool = False,
    ) -> pygame.Surface:
        s = self.surface
        s.fill(BACKGROUND)
        self.board.draw(
            s,
            (info["ball_row"], info["ball_col"]),
            info["paddle_left"],
            self.paddle_width,
            obs,
            info["blanked"],
        )
        x = self.board.width + 8
        draw_panel(
            s, x, decision, score, agent_name, step, paused, list(ACTION_MEANINGS), "catch rate"
        )
        return s
