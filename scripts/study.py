#!/usr/bin/env python
"""Run a grid of runs (A3C, PPO, sb3-contrib, the supervised tasks) and report it with rliable.

    python scripts/study.py run docs/results/catch/grids/tuning.json --out runs/study/tuning
    python scripts/study.py run GRID.json --out DIR --jobs 8 --pin 2   # 8 runs x 2 cores
    python scripts/study.py run GRID.json --out DIR --ray-address auto   # across a cluster
    python scripts/study.py report DIR --compare core --threshold 0.9
    python scripts/study.py generalise DIR --visible-steps 1 2 3 4 5 6 7 8 --only setting=24x24
    python scripts/study.py attention DIR/runs/24x24-fed-fastweights-seed0
    python scripts/study.py recall DIR/runs/RepeatPreviousEasy-fastweights-seed0
    python scripts/study.py ablate DIR --out DIR/ablation   # the fast memory taken out
    python scripts/study.py ablate DIR --out DIR --fast-lr 0.005 0.5   # ... or put in

``run`` skips runs that finished and resumes interrupted ones, so the same command
continues a study after Ctrl-C or a lost session. ``report`` writes ``report.md``
(interquartile means with stratified-bootstrap 95 % intervals, probability of
improvement) and ``curves-*.png`` beside the runs, or to ``--out``. ``generalise``
evaluates the finished runs' final weights with other numbers of visible observations.

Exit codes: 0 done, 1 a run failed, 2 bad arguments or grid, 130 interrupted.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from fw_rl.cli import Parser, command


def _parse_only(only: list[str] | None, axes) -> dict[str, set[str]] | None:
    """``["core=lstm", "core=gru", "env=X"]`` -> ``{"core": {"lstm", "gru"}, "env": {"X"}}``
    (a run is taken when each named axis has one of its labels); None for a malformed one."""
    if not only:
        return {}
    wanted = [pattern.split("=", 1) for pattern in only]
    if any(len(w) != 2 or (axes is not None and w[0] not in axes) for w in wanted):
        return None
    labels: dict[str, set[str]] = {}
    for axis, label in wanted:
        labels.setdefault(axis, set()).add(label)
    return labels


def _run(args: argparse.Namespace) -> int:
    from fw_rl.agents.study.grid import GridError, load_grid
    from fw_rl.agents.study.runner import StudyRunner

    try:
        grid = load_grid(args.grid)
        runner = StudyRunner(
            grid, args.out, jobs=args.jobs, cores_per_job=args.pin, ray_address=args.ray_address
        )
    except (GridError, ValueError) as e:
        print(f"{command()}: error: {e}", file=sys.stderr)
        return 2
    wanted = _parse_only(args.only, grid.axes)
    if wanted is None:
        print(
            f"{command()}: error: --only takes AXIS=LABEL with an axis of the grid "
            f"({', '.join(grid.axes)}), got {args.only}",
            file=sys.stderr,
        )
        return 2

    if args.seeds and not set(args.seeds) <= set(grid.seeds):
        print(f"{command()}: error: --seeds must be among the grid's seeds {grid.seeds}, "
              f"got {args.seeds}", file=sys.stderr)  # fmt: skip
        return 2

    def only(spec) -> bool:
        cell = all(spec.labels.get(a) in v for a, v in wanted.items())
        return cell and (not args.seeds or spec.seed in args.seeds)

    if args.dry_run:
        for spec in grid.runs():
            if only(spec):
                print(runner.run_dir(spec), " ".join(spec.flags))
        return 0
    try:
        results = runner.run(only)
    except ModuleNotFoundError as e:
        print(
            f"{command()}: error: --ray-address needs {e.name}: pip install 'fw-rl[ray]'",
            file=sys.stderr,
        )
        return 2
    except ValueError as e:  # the cluster cannot be reached, or cannot hold a run
        print(f"{command()}: error: {e}", file=sys.stderr)
        return 2
    if any(r.status == "interrupted" for r in results):
        print("interrupted: run the same command again to continue", file=sys.stderr)
        return 130
    failed = [r for r in results if r.status == "failed"]
    for r in failed:
        print(f"failed: {r.name} (exit {r.exit_code}), see its log.txt", file=sys.stderr)
    taken = [r.name for r in results if r.status == "taken"]
    if taken:
        print(f"left to another runner, still running: {', '.join(taken)}", file=sys.stderr)
    return 1 if failed else 0


def _write(make, errors: tuple[type[Exception], ...]) -> int:
    """Run ``make()``, which returns the paths it wrote; one of ``errors`` is one line on
    stderr and exit code 2."""
    try:
        paths = make()
    except errors as e:
        print(f"{command()}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # --out where nothing can be written (a file, no permission)
        from fw_rl.run_dir import describe_os_error

        where = f" {e.filename}" if e.filename else ""
        print(f"{command()}: error: cannot write{where}: {describe_os_error(e)}", file=sys.stderr)
        return 2
    print("wrote", ", ".join(str(p) for p in paths))
    return 0


def _report(args: argparse.Namespace) -> int:
    from fw_rl.agents.study.report import ReportError, write_report

    return _write(
        lambda: write_report(
            args.study,
            out=args.out or args.study,
            compare=args.compare,
            threshold=args.threshold,
            baseline=args.baseline,
            reps=args.reps,
            command="python scripts/study.py " + shlex.join(args.argv),
            others=tuple(args.also or ()),
        ),
        (ReportError,),
    )


def _generalise(args: argparse.Namespace) -> int:
    from fw_rl.agents.study.generalise import generalise
    from fw_rl.agents.study.report import ReportError

    wanted = _parse_only(args.only, None)
    if wanted is None or any(v < 0 for v in args.visible_steps):
        print(
            f"{command()}: error: --only takes AXIS=LABEL; --visible-steps takes ints >= 0",
            file=sys.stderr,
        )
        return 2
    return _write(
        lambda: generalise(
            args.study,
            args.out or args.study,
            args.visible_steps,
            compare=args.compare,
            only=wanted,
            episodes=args.episodes,
            reps=args.reps,
        ),
        (ReportError,),
    )


def _best(args: argparse.Namespace) -> int:
    import json

    from fw_rl.agents.study.report import ReportError, best_values

    try:
        best = best_values(args.study, args.choose, args.per, args.score, args.threshold)
    except ReportError as e:
        print(f"{command()}: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(best, indent=2))
    return 0


def _mmer(args: argparse.Namespace) -> int:
    from fw_rl.agents.study.mmer import write_mmer_report
    from fw_rl.agents.study.report import ReportError

    return _write(
        lambda: write_mmer_report(
            args.study,
            args.out,
            args.env_axis,
            args.compare,
            args.baseline,
            args.reps,
            tuple(args.others or ()),
        ),
        (ReportError,),
    )


def _attention(args: argparse.Namespace) -> int:
    from fw_rl.agents.study.attention import write_attention
    from fw_rl.checkpoint import CheckpointError

    return _write(
        lambda: write_attention(args.run, args.out or args.run, args.episodes),
        (CheckpointError, ValueError),
    )


def _recall(args: argparse.Namespace) -> int:
    from fw_rl.agents.study.recall import write_recall
    from fw_rl.checkpoint import CheckpointError

    return _write(
        lambda: write_recall(
            args.run, args.out or args.run, args.episodes, args.lags, args.fast_lr
        ),
        (CheckpointError, ValueError),
    )


def _ablate(args: argparse.Namespace) -> int:
    from fw_rl.agents.study.ablate import write_ablation
    from fw_rl.checkpoint import CheckpointError

    return _write(
        lambda: write_ablation(args.runs, args.out, args.episodes, args.fast_lr),
        (CheckpointError, ValueError),
    )


class DefaultsShown(argparse.ArgumentDefaultsHelpFormatter):
    """An option's default after its help, except where it has none (a required option, or
    one whose absence means something its help says) or the help already gives it."""

    def _get_help_string(self, action):
        if action.default is None or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def main(argv=None) -> int:
    parser = Parser(
        description=__doc__.split("\n\n")[0], formatter_class=DefaultsShown, allow_abbrev=False
    )
    commands = parser.add_subparsers(dest="command", required=True)
    defaults_shown = DefaultsShown
    run = commands.add_parser(
        "run", help="run (or continue) a grid", allow_abbrev=False, formatter_class=defaults_shown
    )
    run.add_argument("grid", type=Path, help="the grid's JSON file")
    run.add_argument("--out", type=Path, required=True, help="the study's folder")
    run.add_argument(
        "--jobs", type=int, default=None, help="runs at once (default 1; on Ray: all, queued)"
    )
    run.add_argument(
        "--ray-address",
        default=None,
        help="run each run as a Ray task on this cluster ('auto' or host:port); it asks for "
        "the CPUs of its --workers, and its files come back to --out",
    )
    run.add_argument(
        "--pin", type=int, default=0, help="pin each run to this many cores (taskset); 0: no"
    )
    run.add_argument(
        "--only", nargs="+", metavar="AXIS=LABEL", help="run only these cells, e.g. core=lstm"
    )
    run.add_argument(
        "--seeds", nargs="+", type=int, metavar="N", help="run only these of the grid's seeds"
    )
    run.add_argument("--dry-run", action="store_true", help="list the runs and their flags")
    report = commands.add_parser(
        "report", help="tables and figures of a study", formatter_class=defaults_shown
    )
    report.add_argument("study", type=Path, help="the study's folder (holding runs/)")
    report.add_argument("--out", type=Path, help="where to write (default: the study's folder)")
    report.add_argument("--compare", default="core", help="the axis whose values are compared")
    report.add_argument(
        "--baseline",
        default=None,
        help="the value others are compared with (default: lstm, where the study has it)",
    )
    report.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="the return to reach (default: the env family's solved return, Catch's 0.9; "
        "else 90 %% of the way up the return range the runs reached)",
    )
    report.add_argument("--reps", type=int, default=2000, help="bootstrap resamples")
    report.add_argument(
        "--with", dest="also", nargs="+", type=Path, metavar="DIR",
        help="more study folders whose runs join the report (compared by core: each core as "
        "it ran, its version's options in the label; runs of one label whose agents differ, "
        "e.g. trainer or previous_action, get a row each, what differs in the label)",
    )  # fmt: skip
    general = commands.add_parser(
        "generalise",
        formatter_class=defaults_shown,
        help="evaluate trained runs with other numbers of visible observations",
    )
    general.add_argument("study", type=Path, help="the study's folder (holding runs/)")
    general.add_argument("--out", type=Path, help="where to write (default: the study's folder)")
    general.add_argument(
        "--visible-steps", nargs="+", type=int, default=list(range(1, 9)), metavar="M"
    )
    general.add_argument("--only", nargs="+", metavar="AXIS=LABEL", help="runs to evaluate")
    general.add_argument("--compare", default="core", help="the axis drawn in colours")
    general.add_argument("--episodes", type=int, default=1000, help="episodes per condition")
    general.add_argument("--reps", type=int, default=2000, help="bootstrap resamples")
    best = commands.add_parser(
        "best",
        formatter_class=defaults_shown,
        help="the best value of one axis for each value of another (tuning), as JSON",
    )
    best.add_argument("study", type=Path, help="the study's folder (holding runs/)")
    best.add_argument("--choose", default="lr", help="the axis tuned")
    best.add_argument("--per", default="core", help="one choice for each value of this axis")
    best.add_argument("--score", default="auc", choices=["auc", "train_auc", "final"])
    best.add_argument("--threshold", type=float, default=None, help="as report's")
    mmer = commands.add_parser(
        "mmer",
        formatter_class=defaults_shown,
        help="POPGym's score: normalised MMER per env and core, rliable across envs",
    )
    mmer.add_argument("study", type=Path, help="the study's folder (holding runs/)")
    mmer.add_argument("--out", type=Path, help="where to write (default: the study's folder)")
    mmer.add_argument("--env-axis", default="env", help="the grid's axis of the envs")
    mmer.add_argument("--compare", default="core", help="the axis whose values are compared")
    mmer.add_argument("--baseline", default="lstm", help="P(value > baseline) is given")
    mmer.add_argument("--reps", type=int, default=2000, help="bootstrap resamples")
    mmer.add_argument(
        "--with",
        dest="others",
        nargs="+",
        type=Path,
        metavar="DIR",
        help="more study folders whose runs join (e.g. sb3-contrib's on the same envs)",
    )
    attention = commands.add_parser(
        "attention",
        formatter_class=defaults_shown,
        help="what a trained fast-weights agent attends to once the screen is blank",
    )
    attention.add_argument("run", type=Path, help="a run directory (its final checkpoint)")
    attention.add_argument("--out", type=Path, help="where to write (default: the run's folder)")
    attention.add_argument("--episodes", type=int, default=500, help="greedy episodes to average")
    recall = commands.add_parser(
        "recall",
        formatter_class=defaults_shown,
        help="how well a fast-weights agent's fast memory (and hidden state) holds the "
        "observation k steps back: a linear probe per lag",
    )
    recall.add_argument("run", type=Path, help="a run directory (its final checkpoint)")
    recall.add_argument("--out", type=Path, help="where to write (default: the run's folder)")
    recall.add_argument("--episodes", type=int, default=400, help="greedy episodes to probe")
    recall.add_argument("--lags", type=int, default=8, help="the largest lag k (at least 1)")
    recall.add_argument(
        "--fast-lr",
        type=float,
        metavar="RATE",
        help="play and probe with eta set to RATE, the weights kept (default: as trained)",
    )
    ablate = commands.add_parser(
        "ablate",
        formatter_class=defaults_shown,
        help="a fast-weights agent's greedy return with its fast memory and without it "
        "(eta = 0 at evaluation)",
    )
    ablate.add_argument(
        "runs", nargs="+", type=Path, help="run directories (final checkpoints) or study folders"
    )
    ablate.add_argument(
        "--out", type=Path, required=True, help="where ablation.csv (and the --fast-lr CSV) go"
    )
    ablate.add_argument("--episodes", type=int, default=100, help="greedy episodes each way")
    ablate.add_argument(
        "--fast-lr",
        type=float,
        nargs="+",
        metavar="RATE",
        help="also evaluate each run with eta set to each RATE (the fast memory put in or "
        "resized, the weights kept): fast_lr_at_evaluation.csv",
    )
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command, for the report
    commands_by_name = {
        "run": _run,
        "report": _report,
        "generalise": _generalise,
        "best": _best,
        "attention": _attention,
        "recall": _recall,
        "ablate": _ablate,
        "mmer": _mmer,
    }
    return commands_by_name[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
