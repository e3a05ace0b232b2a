#!/usr/bin/env python
"""Compare cores: learning curves and the frames and time each needs to reach a return.

    # draw from run directories (written next to them, or to --out)
    python scripts/compare.py runs/fastweights-20261201-101500 runs/lstm-20261201-103000
    # train each core with each seed (extra flags go to scripts/a3c.py), then draw
    python scripts/compare.py --cores fastweights lstm --seeds 0 1 2 --out runs/compare \\
        -- --max-minutes 10 --stop-at-return 0.95

Writes ``curves.png``, ``curves.svg`` (mean greedy evaluation return against frames and
against wall-clock time, mean and min-max band over seeds, one colour per core) and
``table.md`` (frames and minutes to reach ``--threshold``) to ``--out``, by default the
folder that holds the runs. A run without evaluations yet is skipped with a warning. For
grids of runs with confidence intervals, see ``scripts/study.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fw_rl.cli import Parser
from fw_rl.cores.identity import run_core_label
from fw_rl.run_dir import RunDirError, log_column, read_log


@dataclass
class Run:
    path: Path
    core: str
    seed: int
    frames: np.ndarray
    seconds: np.ndarray
    returns: np.ndarray
    setup: str = ""  # the trainer and its set-up (run_setup)
    env: str = ""

    def first_reaching(self, threshold: float) -> tuple[float, float] | None:
        hits = np.flatnonzero(self.returns >= threshold)
        if not len(hits):
            return None
        return float(self.frames[hits[0]]), float(self.seconds[hits[0]])


class NoEvaluationError(RunDirError):
    """A run directory whose ``eval.csv`` has no rows yet."""


def read_run(path: Path) -> Run:
    config_path, eval_path = path / "config.json", path / "eval.csv"
    if not config_path.is_file() or not eval_path.is_file():
        raise RunDirError(
            f"{path} is not a run directory: it needs config.json and eval.csv "
            "(written by scripts/a3c.py)"
        )
    config = json.loads(config_path.read_text())
    rows = read_log(path, "eval")
    if not rows:
        raise NoEvaluationError(f"{eval_path} has no evaluations yet")
    return Run(
        path,
        run_core_label(config),
        int(config.get("seed", 0)),
        log_column(rows, "frames"),
        log_column(rows, "elapsed_s"),
        log_column(rows, "mean_return"),
        run_setup(config),
        str(config.get("env", "Catch-v0")),  # runs from before other envs were Catch's
    )


def run_setup(config: dict) -> str:
    """The trainer and its set-up (A3C's workers x boards, PPO's envs): runs that differ in
    it are labelled apart, so seeds of different set-ups are never averaged together."""
    from fw_rl.agents.algorithms import algorithm_of_config

    algorithm = algorithm_of_config(config)
    values = [str(config.get(f, "?")) for f in algorithm.setup_fields]
    return f"{algorithm.name} {' x '.join(values)}".strip()


def default_threshold(env: str, runs: list[Run]) -> float:
    """The env family's solved return; else 90 % of the way up its return range (the
    family's, or the range these runs' evaluations reached), as ``study.py report``."""
    from fw_rl.envs.family import family_of

    family = family_of(env)
    if family.threshold is not None:
        return family.threshold
    low, high = family.return_range or (
        min(float(r.returns.min()) for r in runs),
        max(float(r.returns.max()) for r in runs),
    )
    return low + 0.9 * (high - low)


def train_runs(cores: list[str], seeds: list[int], out: Path, extra: list[str]) -> list[Path]:
    paths = []
    for core in cores:
        for seed in seeds:
            run_dir = out / "runs" / f"{core}-seed{seed}"
            command = [
                sys.executable,
                "-m",
                "fw_rl.scripts.a3c",
                "--core",
                core,
                "--seed",
                str(seed),
                "--no-progress",
                *extra,
            ]
            command += (
                ["--resume", str(run_dir)]
                if (run_dir / "checkpoint.pt").exists()
                else ["--run-dir", str(run_dir)]
            )
            print("$", " ".join(command), flush=True)
            result = subprocess.run(command)
            if result.returncode not in (0,):
                raise SystemExit(f"training {core} seed {seed} failed ({result.returncode})")
            paths.append(run_dir)
    return paths


def band(runs: list[Run], axis: str, points: int = 200):
    """Mean and min-max of the runs' returns on a common grid of ``axis`` values."""
    xs = [getattr(r, axis) for r in runs]
    end = min(x[-1] for x in xs)
    grid = np.linspace(min(x[0] for x in xs), end, points)
    ys = np.stack([np.interp(grid, x, r.returns) for x, r in zip(xs, runs)])
    return grid, ys.mean(0), ys.min(0), ys.max(0)


def draw(groups: dict[str, list[Run]], threshold: float, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    every = [r for runs in groups.values() for r in runs]
    repeated = any(len({r.seed for r in runs}) < len(runs) for runs in groups.values())
    kind = "run" if repeated else "seed"  # runs of one seed are runs, not seeds
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, (core, runs) in enumerate(sorted(groups.items())):
        colour = f"C{i}"
        for ax, axis, scale in ((axes[0], "frames", 1e6), (axes[1], "seconds", 60.0)):
            for run in runs:  # each seed thin, to its end (a run may stop at its goal)
                ax.plot(
                    getattr(run, axis) / scale, run.returns, color=colour, alpha=0.35, linewidth=0.8
                )
            grid, mean, low, high = band(runs, axis)
            ax.plot(
                grid / scale,
                mean,
                color=colour,
                linewidth=2,
                label=f"{core}: mean of {len(runs)} {kind}{'s' * (len(runs) > 1)}",
            )
            ax.fill_between(grid / scale, low, high, color=colour, alpha=0.2, linewidth=0)
    for ax, label in ((axes[0], "frames (millions)"), (axes[1], "wall-clock time (minutes)")):
        ax.axhline(threshold, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel(label)
        ax.set_ylabel("greedy evaluation return")
        ax.margins(y=0.05)  # the axes from the data: any env's return range
        ax.grid(alpha=0.3)
    axes[0].legend(loc="lower right")
    envs = ", ".join(sorted({r.env for r in every if r.env})) or "the runs"
    fig.suptitle(
        f"{envs}: each {kind} (thin), and the mean and min-max over {kind}s while all still run"
    )
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "curves.png", out / "curves.svg"]
    for p in paths:
        fig.savefig(p, dpi=120)
    plt.close(fig)
    return paths


def table(groups: dict[str, list[Run]], threshold: float) -> str:
    """A row a group; where a group holds one seed twice (runs of the same seed, not seeds)
    its runs are counted as runs and named by their folders."""
    repeated = any(len({r.seed for r in runs}) < len(runs) for runs in groups.values())
    counted = "runs" if repeated else "seeds"
    lines = [
        f"| core | {counted} reaching {threshold} | frames to {threshold} (mean) | "
        f"minutes to {threshold} (mean) | per {counted[:-1]} (frames, minutes) | best return |",
        "|---|---|---|---|---|---|",
    ]
    for core, runs in sorted(groups.items()):
        hits = [r.first_reaching(threshold) for r in runs]
        reached = [h for h in hits if h is not None]
        per_seed = ", ".join(
            f"seed {r.seed}{f' ({r.path.name})' if repeated else ''}: "
            + ("not reached" if h is None else f"{h[0] / 1e6:.2f} M, {h[1] / 60:.1f} min")
            for r, h in zip(runs, hits)
        )
        frames = f"{np.mean([h[0] for h in reached]) / 1e6:.2f} M" if reached else "-"
        minutes = f"{np.mean([h[1] for h in reached]) / 60:.1f}" if reached else "-"
        best = max(float(r.returns.max()) for r in runs)
        lines.append(
            f"| {core} | {len(reached)} / {len(runs)} | {frames} | {minutes} | "
            f"{per_seed} | {best:.3f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    parser = Parser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("runs", nargs="*", type=Path, help="run directories to compare")
    parser.add_argument("--cores", nargs="+", help="cores to train first, e.g. fastweights lstm")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="the evaluation return to reach (default: the env's solved return where its "
        "family declares one, Catch's 0.9; else 90 %% of the way up its return range)",
    )
    parser.add_argument(
        "--out", type=Path, help="where to write (default: the folder holding the runs)"
    )
    args = parser.parse_args(argv)
    if bool(args.runs) == bool(args.cores):
        parser.error("give run directories, or --cores to train (not both)")
    if args.cores and args.out is None:
        parser.error("--cores needs --out: the folder to train the runs in")
    paths = args.runs or train_runs(args.cores, args.seeds, args.out, extra)
    paths = list({p.resolve(): p for p in paths}.values())  # a folder named twice counts once
    runs = []
    for path in paths:
        try:
            runs.append(read_run(path))
        except NoEvaluationError as e:
            print(f"warning: skipping {path}: {e}", file=sys.stderr)
        except RunDirError as e:
            parser.error(str(e))
    if not runs:
        parser.error("none of the runs has an evaluation yet")
    if args.threshold is None:
        envs = sorted({r.env for r in runs})
        if len(envs) > 1:
            parser.error(f"the runs are on {len(envs)} envs ({', '.join(envs)}): give --threshold")
        args.threshold = default_threshold(envs[0], runs)
    if args.out is None:
        args.out = Path(os.path.commonpath([p.resolve().parent for p in paths]))
    groups: dict[str, list[Run]] = {}
    several_setups, several_envs = (
        len({getattr(r, k) for r in runs}) > 1 for k in ("setup", "env")
    )
    for run in runs:  # runs of different set-ups or envs are never averaged together
        apart = [run.setup] * several_setups + [run.env] * several_envs
        label = f"{run.core} [{', '.join(apart)}]" if apart else run.core
        groups.setdefault(label, []).append(run)
    if several_envs:
        print(
            f"note: the runs are on {len({r.env for r in runs})} envs; one --threshold "
            f"({args.threshold}) is read on each",
            file=sys.stderr,
        )
    figures = draw(groups, args.threshold, args.out)
    text = table(groups, args.threshold)
    command = "python scripts/compare.py " + " ".join(
        sys.argv[1:] if argv is None else argv + (["--", *extra] if extra else [])
    )
    (args.out / "table.md").write_text(
        f"{text}\n\nMade by: `{command}`\n\nRuns: " + ", ".join(f"`{r.path}`" for r in runs) + "\n"
    )
    print(text)
    print("wrote", ", ".join(str(p) for p in [*figures, args.out / "table.md"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
