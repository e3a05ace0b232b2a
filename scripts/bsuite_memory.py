#!/usr/bin/env python
"""bsuite's memory experiments for a core, on bsuite's protocol, scored by bsuite's code.

    python scripts/bsuite_memory.py run --core fastweights --experiment memory_len --out runs/bsuite
    python scripts/bsuite_memory.py run --core lstm --name lstm64 --experiment memory_len \\
        --out runs/bsuite -- --hidden-size 64          # flags after -- go to scripts/a3c.py
    python scripts/bsuite_memory.py score runs/bsuite         # every core and experiment found

``run`` trains one A3C run per setting: one worker, one env (bsuite's one stream of
episodes), for the number of episodes bsuite sets (10,000 for memory_len and memory_size),
logging with bsuite's CSV logger into ``OUT/<name>/csv`` (``--name``, default the core's);
runs are in ``OUT/<name>/runs/<setting>``. A setting whose run finished is skipped, so the command
resumes a sweep; an unfinished one starts again (bsuite's log counts from episode 1).
``score`` loads the logs with ``bsuite.logging.csv_load`` and scores them with
``bsuite.experiments.<experiment>.analysis.score``, per experiment and per setting
(1 = the setting passed bsuite's learning threshold), into ``OUT/scores.md`` and
``OUT/scores.csv`` (agents named ``<name>-seed<N>`` also get a table across their seeds:
the score per seed, the mean, and the settings passed in every seed or in some), and
draws bsuite's own plots of each experiment (``plot_scale``, ``plot_learning``, every agent
found) into ``OUT/<experiment>-scale.png`` and
``OUT/<experiment>-learning.png``. Needs the ``benchmarks`` extra.

Exit codes: 0 done, 1 a run failed, 2 bad arguments, 130 stopped by Ctrl-C or SIGTERM
(passed on to the setting's trainer, whose unfinished run starts anew next time).
"""

from __future__ import annotations

import csv
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

from fw_rl.cli import Parser, command
from fw_rl.cores import core_names
from fw_rl.envs.bsuite_adapter import EXPERIMENTS

ROOT = Path(__file__).resolve().parents[1]
DONE_NAME = "done.json"


def settings_of(experiment: str) -> list[str]:
    from bsuite import sweep

    return list(getattr(sweep, experiment.upper()))


def run_flags(
    core: str, experiment: str, setting: int, out: Path, name: str | None = None
) -> tuple[list[str], Path]:
    """The scripts/a3c.py flags of one setting's run, and its run directory (under
    ``out/name``, ``name`` defaulting to the core's)."""
    name = name or core
    from fw_rl.envs.bsuite_adapter import BsuiteEnv

    env = BsuiteEnv(experiment, setting)
    length = env.max_episode_length or 32
    frames = env.bsuite_num_episodes * length
    run_dir = out / name / "runs" / env.bsuite_id.replace("/", "-")
    kwargs = {"setting": setting, "results_dir": str(out / name / "csv")}
    flags = [
        "--env",
        f"bsuite/{experiment}-v0",
        "--env-kwargs",
        json.dumps(kwargs),
        "--core",
        core,
        "--workers",
        "1",
        "--envs-per-worker",
        "1",
        # bsuite's number of episodes, however long they take (A3C's default stops at 15 min)
        "--max-minutes",
        "0",
        # an update per 32 steps at least (bsuite's baseline: sequences of 32); several
        # short episodes then go into one update, each with its reset
        "--rollout-steps",
        str(max(32, length)),
        "--total-frames",
        str(frames),
        "--eval-interval",
        str(frames),
        "--eval-episodes",
        "100",
        "--run-dir",
        str(run_dir),
        "--no-progress",
    ]
    return flags, run_dir


def _train(argv: list[str]) -> tuple[int, bool]:
    """Run one setting's trainer; a SIGTERM (or SIGINT) to this process is passed on to it,
    so that stopping the sweep never leaves a trainer running on. Returns its exit code and
    whether the sweep was asked to stop."""
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    stopped = []

    def forward(signum, _frame):
        stopped.append(signum)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = process.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return code, bool(stopped)


def run(args) -> int:
    settings = (
        args.settings if args.settings is not None else range(len(settings_of(args.experiment)))
    )
    for setting in settings:
        flags, run_dir = run_flags(args.core, args.experiment, setting, args.out, args.name)
        if (run_dir / DONE_NAME).is_file():
            print(f"{run_dir.name}: finished, skipped")
            continue
        if run_dir.exists():  # unfinished: bsuite's log of it starts again
            import shutil

            shutil.rmtree(run_dir)
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, str(ROOT / "scripts" / "a3c.py"), *flags, *args.extra]
        print(f"{run_dir.name}: training", flush=True)
        code, stopped = _train(argv)
        if stopped:  # asked to stop: the trainer has stopped; the sweep goes no further
            print(f"{run_dir.name}: stopped (run the same command again to start it anew)")
            return 130
        if code != 0:
            if run_dir.is_dir() and not any(run_dir.iterdir()):
                run_dir.rmdir()  # refused before it wrote anything: leave no empty folder
            print(
                f"{command()}: error: {run_dir.name} failed with exit code {code}", file=sys.stderr
            )
            return 2 if code == 2 else 1
        (run_dir / DONE_NAME).write_text(json.dumps({"flags": flags + args.extra}) + "\n")
    return 0


def setting_number(bsuite_id: str) -> int:
    """``memory_len/12`` -> 12, to list settings in bsuite's order."""
    return int(bsuite_id.split("/")[1])


def load_logs(out: Path) -> dict:
    """Each agent folder's bsuite log, ``{name: DataFrame}``, by bsuite's loader."""
    from bsuite.logging import csv_load

    logs = {}
    for core_dir in sorted(p for p in out.iterdir() if (p / "csv").is_dir()):
        if not any((core_dir / "csv").glob("*.csv")):  # a run stopped before its first log
            print(f"{core_dir.name}: no bsuite log yet in {core_dir / 'csv'}, left out")
            continue
        logs[core_dir.name] = csv_load.load_bsuite(str(core_dir / "csv"))[0]
    return logs


def score(out: Path) -> list[dict]:
    """Rows ``core, experiment, setting (or "all"), score`` from bsuite's analysis; an
    ``"all"`` row also says how many of the experiment's settings ran all their episodes
    (``finished``: bsuite scores a sweep still running over the settings logged so far, each
    at its last episode, so such a score is not the sweep's)."""
    import importlib

    rows = []
    for name, df in load_logs(out).items():
        core_dir = out / name
        for experiment in EXPERIMENTS:
            part = df[df.bsuite_env == experiment]
            if part.empty:
                continue
            analysis = importlib.import_module(f"bsuite.experiments.{experiment}.analysis")
            by_setting = sorted(part.groupby("bsuite_id"), key=lambda kv: setting_number(kv[0]))
            finished = sum(one.episode.max() >= analysis.NUM_EPISODES for _, one in by_setting)
            rows.append(
                {
                    "core": core_dir.name,
                    "experiment": experiment,
                    "setting": "all",
                    "score": float(analysis.score(part)),
                    "finished": finished,
                    "settings": len(settings_of(experiment)),
                }
            )
            for bsuite_id, one in by_setting:
                rows.append(
                    {
                        "core": core_dir.name,
                        "experiment": experiment,
                        "setting": bsuite_id,
                        "score": float(analysis.score(one)),
                    }
                )
    return rows


def _finished_text(row: dict) -> str:
    """``23 of 23``, or ``2 of 23 (partial)`` where the sweep has not run every setting."""
    if "finished" not in row:
        return "?"
    done, total = row["finished"], row["settings"]
    return f"{done} of {total}" + ("" if done == total else " (partial)")


def _complete(row: dict) -> bool:
    return row.get("finished", 0) == row.get("settings", -1)


def write_scores(out: Path, rows: list[dict]) -> list[Path]:
    fields = ["core", "experiment", "setting", "score", "finished", "settings"]
    with open(out / "scores.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fields)
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        "A sweep marked partial has not run all its settings to their last episode; bsuite "
        "scores it over the settings logged so far, so its score is not the sweep's.",
        "",
        "| core | experiment | bsuite score | settings passed | settings finished |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        if row["setting"] != "all":
            continue
        passed = [
            r["setting"].split("/")[1]
            for r in rows
            if r["core"] == row["core"]
            and r["experiment"] == row["experiment"]
            and r["setting"] != "all"
            and r["score"] >= 1
        ]
        lines.append(
            f"| {row['core']} | {row['experiment']} | {row['score']:.2f} | "
            f"{', '.join(passed) or 'none'} | {_finished_text(row)} |"
        )
    lines += across_seeds(rows)
    (out / "scores.md").write_text("\n".join(lines) + "\n")
    return [out / "scores.csv", out / "scores.md"]


SEED_SUFFIX = re.compile(r"-seed(\d+)$")


def across_seeds(rows: list[dict]) -> list[str]:
    """For agents named ``<name>-seed<N>`` with two seeds or more: each experiment's score
    per seed and their mean, and how many seeds passed each setting (bsuite runs one seed
    of the agent a setting; this shows whether a pass holds across seeds). Only sweeps that
    ran every setting count."""
    complete = {
        (r["core"], r["experiment"]) for r in rows if r["setting"] == "all" and _complete(r)
    }
    groups: dict[tuple[str, str], dict[int, list[dict]]] = {}
    for row in rows:
        match = SEED_SUFFIX.search(row["core"])
        if match and (row["core"], row["experiment"]) in complete:
            key = (row["core"][: match.start()], row["experiment"])
            groups.setdefault(key, {}).setdefault(int(match.group(1)), []).append(row)
    lines: list[str] = []
    for (name, experiment), seeds in sorted(groups.items()):
        if len(seeds) < 2:
            continue
        if not lines:
            lines = ["", "Across seeds (agents named `<name>-seed<N>`, finished sweeps only):", ""]
            lines += [
                "| agent | experiment | seeds | score per seed | mean "
                "| settings passed in every seed | in some seeds (how many) |"
            ]
            lines += ["|---|---|---|---|---|---|---|"]
        overall = {
            seed: next(r["score"] for r in rs if r["setting"] == "all")
            for seed, rs in seeds.items()
        }
        passes: dict[str, int] = {}
        for rs in seeds.values():
            for r in rs:
                if r["setting"] != "all":
                    passes[r["setting"]] = passes.get(r["setting"], 0) + (r["score"] >= 1)
        order = sorted(passes, key=setting_number)
        every = [s.split("/")[1] for s in order if passes[s] == len(seeds)]
        some = [f"{s.split('/')[1]} ({passes[s]})" for s in order if 0 < passes[s] < len(seeds)]
        per_seed = ", ".join(f"{overall[seed]:.2f}" for seed in sorted(overall))
        mean = sum(overall.values()) / len(overall)
        lines.append(
            f"| {name} | {experiment} | {', '.join(map(str, sorted(seeds)))} | {per_seed} | "
            f"{mean:.2f} | {', '.join(every) or 'none'} | {', '.join(some) or 'none'} |"
        )
    return lines


def write_plots(out: Path) -> list[Path]:
    """bsuite's own figures of each experiment, every agent of ``out`` in one plot."""
    import importlib

    import pandas as pd

    logs = load_logs(out)
    frames = [df.assign(agent_name=name) for name, df in logs.items()]
    if not frames:
        return []
    df = pd.concat(frames, ignore_index=True)
    written = []
    for experiment in EXPERIMENTS:
        part = df[df.bsuite_env == experiment]
        if part.empty or experiment == "catch":
            continue
        analysis = importlib.import_module(f"bsuite.experiments.{experiment}.analysis")
        plot = analysis.plot_learning(part, sweep_vars=["agent_name"])
        path = out / f"{experiment}-learning.png"
        plot.save(str(path), width=8, height=4.5, dpi=110, verbose=False)
        written.append(path)
        written.append(plot_scale(out, experiment, part, analysis))
    return written


def plot_scale(out: Path, experiment: str, part, analysis) -> Path:
    """bsuite's ``plot_scale`` figure: each setting's average regret after all its
    episodes, computed by bsuite (``plotting._preprocess_ave_regret`` on
    ``memory_preprocess``), drawn with matplotlib because bsuite's plotnine code fails on
    today's plotnine (a log scale on a categorical axis)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from bsuite.experiments.memory_len import analysis as memory_len_analysis
    from bsuite.utils import plotting

    # memory_size's plot_scale is memory_len's with group_col "num_bits"
    group_col = "num_bits" if experiment == "memory_size" else "memory_length"
    df = plotting._preprocess_ave_regret(
        memory_len_analysis.memory_preprocess(part),
        group_col,
        memory_len_analysis.NUM_EPISODES,
        ["agent_name"],
        "regret_ratio",
    )
    x_name = group_col.replace("_", " ")
    agents = sorted(df.agent_name.unique())
    fig, axes = plt.subplots(1, len(agents), figsize=(3.2 * len(agents), 3.2), sharey=True)
    for ax, agent in zip(list(getattr(axes, "flat", [axes])), agents):
        one = df[df.agent_name == agent]
        x = one[x_name].astype(float)
        passed = one.average_regret < memory_len_analysis.LEARNING_THRESH
        ax.scatter(x[passed], one.average_regret[passed], c="#313695", label="passed")
        ax.scatter(x[~passed], one.average_regret[~passed], c="#d73027", label="failed")
        ax.axhline(memory_len_analysis.LEARNING_THRESH, color="grey", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_title(agent)
        ax.set_xlabel(x_name)
    axes_list = list(getattr(axes, "flat", [axes]))
    episodes = memory_len_analysis.NUM_EPISODES
    axes_list[0].set_ylabel(f"average regret ratio at {episodes} episodes")
    axes_list[0].legend(fontsize=8)
    fig.suptitle(f"bsuite {experiment}: below the dashed line a setting passes")
    fig.tight_layout()
    path = out / f"{experiment}-scale.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = Parser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    r = commands.add_parser("run", help="train a core on an experiment's settings")
    r.add_argument("--core", required=True, choices=core_names())
    r.add_argument("--experiment", required=True, choices=EXPERIMENTS)
    r.add_argument("--settings", type=int, nargs="+", default=None, help="default: all")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument(
        "--name", default=None, help="the agent's folder under --out (default: the core's)"
    )
    s = commands.add_parser("score", help="score the logs with bsuite's analysis")
    s.add_argument(
        "out", type=Path, help="the folder that run's --out wrote (<name>/csv/ under it)"
    )
    args = parser.parse_args(argv)
    try:
        import bsuite  # noqa: F401
    except ImportError:
        parser.error("bsuite is not installed: pip install 'fw-rl[benchmarks]'")
    if args.command == "run":
        count = len(settings_of(args.experiment))
        bad = [i for i in args.settings or [] if not 0 <= i < count]
        if bad:
            parser.error(f"--settings of {args.experiment} must be in 0 .. {count - 1}, got {bad}")
        args.extra = extra
        return run(args)
    if not args.out.is_dir():
        parser.error(f"{args.out} is not a folder of bsuite runs")
    rows = score(args.out)
    if not rows:
        parser.error(f"{args.out} holds no bsuite logs (<core>/csv/)")
    written = write_scores(args.out, rows)
    try:
        written += write_plots(args.out)
    except ValueError as e:  # bsuite plots only sweeps that ran all their episodes
        print(f"note: no bsuite plots ({e})")
    for path in written:
        print(f"wrote {path}")
    print((args.out / "scores.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
