#!/usr/bin/env python
"""Watch an agent play in a pygame window, or record it to a video or GIF.

    python scripts/watch.py runs/fastweights-20261125-101500     # a trained agent
    python scripts/watch.py runs/fastweights-20261125-101500/best.pt  # its best weights
    python scripts/watch.py                                        # a random agent
    python scripts/watch.py --human                                # play with the arrow keys
    python scripts/watch.py RUN_DIR --record agent.gif --episodes 3  # headless

A run on Catch-v0 shows the true game beside what the agent sees; a run on any other env
shows the env's rgb_array frames (the env must render them). Both have the agent's panel:
policy, value and, for fast weights, the attention to past steps.

Keys: space pauses, right arrow steps while paused, n starts the next episode, q or
closing the window quits.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from fw_rl.cli import Parser, command

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")


def parse_args(argv=None) -> argparse.Namespace:
    parser = Parser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "checkpoint",
        nargs="?",
        default=None,
        help="a run directory or checkpoint file (none: a random agent)",
    )
    parser.add_argument("--human", action="store_true", help="play yourself")
    parser.add_argument(
        "--sample",
        action="store_true",
        help="sample actions from the policy instead of taking the best one",
    )
    parser.add_argument("--fps", type=float, default=6.0, help="frames per second")
    parser.add_argument("--episodes", type=int, default=0, help="episodes to play (0: until q)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    parser.add_argument(
        "--record", default=None, help="write the picture to this .mp4 or .gif instead of a window"
    )
    for name, kind in (
        ("size", int),
        ("paddle-width", int),
        ("ball-speed", int),
        ("visible-steps", int),
    ):
        parser.add_argument(
            f"--{name}",
            type=kind,
            default=None,
            help="Catch setting (default: the checkpoint's, else Catch-v0's; "
            "--visible-steps -1 = always visible)",
        )
    args = parser.parse_args(argv)
    if args.fps <= 0:
        parser.error(f"--fps must be > 0, got {args.fps}")
    if args.episodes < 0:
        parser.error(f"--episodes must be >= 0, got {args.episodes}")
    if args.record and Path(args.record).suffix.lower() not in (".mp4", ".gif"):
        parser.error(f"--record must name a .mp4 or .gif file, got {args.record!r}")
    if args.record and not args.episodes:
        args.episodes = 3
    if args.human and args.record:
        parser.error("--human plays in a window; it cannot be combined with --record")
    if args.human and args.checkpoint:
        parser.error("--human and a checkpoint exclude each other: who should play?")
    return args


def has_display() -> bool:
    driver = os.environ.get("SDL_VIDEODRIVER", "")
    if driver and driver not in ("x11", "wayland"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.record:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
    elif not has_display():
        print(
            f"{command()}: error: no display found (DISPLAY is not set). Record instead, e.g. "
            "--record agent.gif, or run where a screen is available.",
            file=sys.stderr,
        )
        return 2

    from fw_rl.agents.algorithms import agent_kinds
    from fw_rl.agents.config import agent_config
    from fw_rl.agents.model import build_model
    from fw_rl.checkpoint import CheckpointError, load_checkpoint
    from fw_rl.envs.catch_family import is_catch
    from fw_rl.envs.catch_rules import CatchRules
    from fw_rl.envs.factory import EnvError

    names = ("size", "paddle_width", "ball_speed", "visible_steps")
    settings = {k: getattr(CatchRules, k) for k in names}  # the env's defaults
    model = None
    if args.checkpoint:
        try:
            payload = load_checkpoint(args.checkpoint, kind=agent_kinds())
            config = agent_config(payload)
            model = build_model(config)
            model.load_state_dict(payload["model"])
        except (CheckpointError, RuntimeError, ValueError) as e:
            print(f"{command()}: error: cannot load {args.checkpoint}: {e}", file=sys.stderr)
            return 2
        if not is_catch(config.env):
            if any(getattr(args, k) is not None for k in settings):
                print(
                    f"{command()}: error: --size and the other board flags are Catch's; "
                    f"{args.checkpoint} was trained on {config.env}",
                    file=sys.stderr,
                )
                return 2
            try:
                return play_env(args, config, model)
            except EnvError as e:
                print(f"{command()}: error: {e}", file=sys.stderr)
                return 2
        settings.update({k: getattr(config, k) for k in settings})
    for key in settings:
        value = getattr(args, key)
        if value is not None:
            settings[key] = value
    if settings["visible_steps"] is not None and settings["visible_steps"] < 0:
        settings["visible_steps"] = None
    from fw_rl.envs import CatchConfigError

    try:
        return play(args, settings, model)
    except CatchConfigError as e:
        print(f"{command()}: error: {e}", file=sys.stderr)
        return 2


def play(args, settings: dict, model) -> int:
    from fw_rl.agents.watching import AgentPicture, HumanAgent, ModelAgent, RandomAgent
    from fw_rl.envs import CatchEnv

    env = CatchEnv(**settings)
    if args.human:
        agent = HumanAgent()
    elif model is not None:
        agent = ModelAgent(
            model,
            greedy=not args.sample,
            seed=args.seed,
            name=f"{model.core.__class__.__name__} agent",
        )
    else:
        agent = RandomAgent(args.seed)
    picture = AgentPicture(env.rules.size, env.rules.paddle_width)

    def draw(obs, info, decision, score, step, paused):
        return picture.draw(info, obs, decision, score, agent.name, step, paused)

    score = run_episodes(args, env, agent, draw, picture, "Catch-v0", lambda r, _: r > 0)
    print(f"catch rate {score.success_rate:.3f} over {score.finished} episodes")
    return 0


def play_env(args, config, model) -> int:
    """Any env other than Catch: its rgb_array frames beside the agent's panel."""
    import gymnasium as gym

    from fw_rl.agents.watching import EnvPicture, ModelAgent
    from fw_rl.envs.factory import EnvError, make_env, without_training_only

    options = without_training_only(config.env_options)  # not bsuite's training log
    probe = make_env(config.env, options, config.wrappers)
    modes = list(probe.metadata.get("render_modes", []))
    probe.close()
    if "rgb_array" not in modes:
        raise EnvError(
            f"{config.env} does not render rgb_array frames (its render modes: "
            f"{modes or 'none'}), so it cannot be watched"
        )
    env = make_env(config.env, options, config.wrappers, render_mode="rgb_array")
    if not isinstance(env.observation_space, gym.spaces.Box):
        env = gym.wrappers.FlattenObservation(env)  # as the agents see it
    env.reset(seed=args.seed)
    frame = env.render()
    if not isinstance(frame, np.ndarray) or frame.ndim != 3:
        raise EnvError(f"{config.env}'s render() gave no rgb_array frame, so it cannot be watched")
    meanings = getattr(env.unwrapped, "get_action_meanings", None)
    names = list(meanings()) if callable(meanings) else [str(a) for a in range(env.action_space.n)]
    agent = ModelAgent(
        model, greedy=not args.sample, seed=args.seed, name=f"{model.core.__class__.__name__} agent"
    )
    picture = EnvPicture(frame.shape, names)

    def draw(obs, info, decision, score, step, paused):
        return picture.draw(env.render(), decision, score, agent.name, step, paused)

    def success(_reward, info):
        for key in ("success", "is_success"):
            if key in info:
                return bool(info[key])
        return None

    score = run_episodes(args, env, agent, draw, picture, config.env, success)
    text = f"mean return {score.mean_return:.3f} over {score.finished} episodes"
    if score.judged:
        text += f", success rate {score.success_rate:.3f}"
    print(text)
    return 0


def run_episodes(args, env, agent, draw, picture, title: str, success):
    """Play episodes into a window or a recording; returns the scoreboard.
    ``success(last_reward, info)`` judges an ended episode (None: the env does not say)."""
    import pygame

    from fw_rl.agents.watching import Scoreboard
    from fw_rl.envs.rendering import PygameWindow, surface_to_rgb

    pygame.display.init()
    pygame.font.init()
    window = (
        None
        if args.record
        else PygameWindow(picture.width, picture.height, f"fw_rl: watch {title}", args.fps)
    )
    frames = []
    score = Scoreboard()
    paused = False
    quit_requested = False
    while not quit_requested and (not args.episodes or score.episode < args.episodes):
        obs, info = env.reset(seed=args.seed + score.episode)
        agent.reset()
        score.episode_return, step, ended = 0.0, 0, False
        decision = agent.decide(obs) if not args.human else None
        while True:
            surface = draw(obs, info, decision, score, step, paused)
            if window is None:
                frames.append(surface_to_rgb(surface))
            else:
                step_once = False
                for event in window.show(surface):
                    if event.type == pygame.KEYDOWN:
                        if event.key in (pygame.K_q, pygame.K_ESCAPE):
                            quit_requested = True
                        elif event.key == pygame.K_SPACE:
                            paused = not paused
                        elif event.key == pygame.K_RIGHT and paused:
                            step_once = True
                        elif event.key == pygame.K_n:
                            ended = True
                if window.closed:
                    quit_requested = True
                if quit_requested or (paused and not step_once):
                    if quit_requested:
                        break
                    continue
            if ended:
                break
            if args.human:
                decision = agent.decide(obs)
            obs, reward, terminated, truncated, info = env.step(decision.action)
            step += 1
            score.episode_return += reward
            ended = terminated or truncated
            if ended:
                score.episode_ended(success(reward, info))
            elif not args.human:
                decision = agent.decide(obs)
        score.episode += 1
    if window is not None:
        window.close()
    pygame.quit()
    if args.record:
        write_video(args.record, frames, args.fps)
        print(f"recorded {len(frames)} frames of {score.episode} episodes to {args.record}")
    return score


def write_video(path: str, frames: list, fps: float) -> None:
    import imageio.v2 as imageio

    if path.lower().endswith(".gif"):
        imageio.mimsave(path, frames, duration=1000 / fps, loop=0)
    else:
        with imageio.get_writer(path, fps=fps, macro_block_size=1) as writer:
            for frame in frames:
                writer.append_data(frame)


if __name__ == "__main__":
    sys.exit(main())
