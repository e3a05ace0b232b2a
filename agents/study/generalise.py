"""Generalisation to conditions not trained on: a study's trained agents evaluated with
other numbers of visible observations (the paper leaves this open).

Each finished run's final checkpoint (the weights at the end of its frame budget, not the
best ones, which were chosen on the training condition) plays ``episodes`` fixed
episodes greedily with every ``visible_steps`` asked for; the rest of the game is the
run's own. Seeds are aggregated as in the report (IQM, 95 % stratified-bootstrap CIs).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from fw_rl.agents.evaluate import evaluate
from fw_rl.agents.study.report import ReportError, interval_estimates
from fw_rl.agents.study.runner import DONE_NAME, SPEC_NAME
from fw_rl.agents.study.trained import trained_agent
from fw_rl.checkpoint import (
    CHECKPOINT_NAME,
    CheckpointError,
)
from fw_rl.envs.catch_family import is_catch

FIELDS = ["run", "labels", "seed", "trained_visible_steps", "visible_steps", "mean_return"]


def evaluate_run(run_dir: Path, visible_steps: list[int], episodes: int, seed: int) -> list[dict]:
    """One row per ``visible_steps`` value for the run in ``run_dir``."""
    model, config = trained_agent(run_dir)
    if not is_catch(config.env):
        raise ReportError(
            f"{run_dir} was trained on {config.env}: generalisation varies Catch's visible steps"
        )
    spec = json.loads((run_dir / SPEC_NAME).read_text())
    rows = []
    torch.set_num_threads(1)
    for visible in visible_steps:
        env_kwargs = {**config.env_options, "visible_steps": visible}
        result = evaluate(model, env_kwargs, episodes, seed)
        rows.append(
            {
                "run": run_dir.name,
                "labels": json.dumps(spec["labels"]),  # in the grid's axis order
                "seed": spec["seed"],
                "trained_visible_steps": config.visible_steps,
                "visible_steps": visible,
                "mean_return": result["mean_return"],
            }
        )
    return rows


def generalise(
    study: Path,
    out: Path,
    visible_steps: list[int],
    compare: str = "core",
    only: dict[str, set[str]] | None = None,
    episodes: int = 1000,
    seed: int = 20_000,
    reps: int = 2000,
) -> list[Path]:
    """Evaluate every finished run (matching ``only``) that has its weights here, write
    ``generalisation.csv`` (rows of the runs not evaluated now are kept from an earlier
    one), its table ``generalisation.md`` and a figure per cell of the other axes; returns
    the paths."""
    runs_dir = Path(study) / "runs"
    if not runs_dir.is_dir():
        raise ReportError(f"{study} is not a study folder: it has no runs/")
    rows, missing = [], []
    for run_dir in sorted(p for p in runs_dir.iterdir() if (p / DONE_NAME).is_file()):
        labels = json.loads((run_dir / SPEC_NAME).read_text())["labels"]
        if only and any(labels.get(k) not in v for k, v in only.items()):
            continue
        if not (run_dir / CHECKPOINT_NAME).is_file():  # a run folder kept without weights
            missing.append(run_dir.name)
            continue
        try:
            rows += evaluate_run(run_dir, visible_steps, episodes, seed)
        except CheckpointError as e:
            raise ReportError(str(e)) from None
    if missing:
        print(
            f"warning: {len(missing)} finished runs have no checkpoint here, left out: "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
        )
    out = Path(out)
    table = out / "generalisation.csv"
    kept = [r for r in read_rows(table) if r["run"] not in {row["run"] for row in rows}]
    if kept:  # runs evaluated before whose weights are no longer kept, or not asked for now
        print(f"{len(kept)} rows of runs not evaluated now are kept from {table}")
    rows = kept + rows
    if not rows:
        raise ReportError(
            f"{study} has no finished runs with weights matching {only or 'the study'}"
        )
    out.mkdir(parents=True, exist_ok=True)
    rows.sort(key=lambda r: (r["run"], r["visible_steps"]))
    with open(table, "w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        writer.writerows({**r, "mean_return": f"{r['mean_return']:.4f}"} for r in rows)
    markdown = out / "generalisation.md"
    markdown.write_text(generalisation_table(rows, compare, reps))
    return [table, markdown, *draw(rows, compare, out, reps)]


def read_rows(path: Path) -> list[dict]:
    """The rows of an earlier ``generalisation.csv`` (none if there is none)."""
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [
            {
                **r,
                "seed": int(r["seed"]),
                "trained_visible_steps": int(r["trained_visible_steps"]),
                "visible_steps": int(r["visible_steps"]),
                "mean_return": float(r["mean_return"]),
            }
            for r in csv.DictReader(f)
        ]


def _by_cell(rows: list[dict], compare: str):
    """``{cell: {compared value: {visible steps: [returns]}}}`` and each cell's trained M."""
    cells: dict[str, dict[str, dict[int, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    trained = {}
    for r in rows:
        labels = json.loads(r["labels"])
        if compare not in labels:
            raise ReportError(f"--compare {compare!r} is not an axis of the runs ({r['run']})")
        cell = "-".join(v for k, v in labels.items() if k != compare) or "all"
        cells[cell][labels[compare]][r["visible_steps"]].append(r["mean_return"])
        trained[cell] = r["trained_visible_steps"]
    return cells, trained


def generalisation_table(rows: list[dict], compare: str, reps: int) -> str:
    """Markdown: per cell of the other axes, a row per compared value and a column per
    number of visible observations, each the greedy return's IQM over seeds with its 95 %
    stratified-bootstrap interval (as in the figures; the trained M in bold)."""
    cells, trained = _by_cell(rows, compare)
    lines = [
        "Greedy return, IQM over seeds [95 % stratified-bootstrap CI]; written by "
        "`study.py generalise` from `generalisation.csv`.",
    ]
    for cell, groups in sorted(cells.items()):
        xs = sorted({x for by_visible in groups.values() for x in by_visible})
        head = " | ".join(f"**M = {x}**" if x == trained[cell] else f"M = {x}" for x in xs)
        lines += ["", f"### {cell}", "", f"| {compare} | seeds | {head} |"]
        lines.append("|---|---" + "|---" * len(xs) + "|")
        for value, by_visible in sorted(groups.items()):
            estimates = interval_estimates({str(x): by_visible[x] for x in by_visible}, reps)
            cells_text = []
            for x in xs:
                if x not in by_visible:
                    cells_text.append("-")
                    continue
                mid, low, high = estimates[str(x)]
                cells_text.append(f"{mid:+.2f} [{low:+.2f}, {high:+.2f}]")
            seeds = len(next(iter(by_visible.values())))
            lines.append(f"| {value} | {seeds} | " + " | ".join(cells_text) + " |")
    return "\n".join(lines) + "\n"


def draw(rows: list[dict], compare: str, out: Path, reps: int) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells, trained = _by_cell(rows, compare)
    paths = []
    for cell, groups in sorted(cells.items()):
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
        for i, (value, by_visible) in enumerate(sorted(groups.items())):
            xs = sorted(by_visible)
            estimates = interval_estimates({str(x): by_visible[x] for x in xs}, reps)
            mid = np.array([estimates[str(x)][0] for x in xs])
            low = np.array([estimates[str(x)][1] for x in xs])
            high = np.array([estimates[str(x)][2] for x in xs])
            seeds = len(by_visible[xs[0]])
            ax.plot(xs, mid, "o-", color=f"C{i}", label=f"{value} ({seeds} seeds)")
            ax.fill_between(xs, low, high, color=f"C{i}", alpha=0.2, linewidth=0)
        ax.axvline(trained[cell], color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel("visible observations at evaluation (dotted: trained with)")
        ax.set_ylabel("greedy return (IQM over seeds, 95 % CI)")
        ax.set_ylim(-1.05, 1.05)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
        ax.set_title(f"Generalisation, {cell}")
        fig.tight_layout()
        path = out / f"generalisation-{cell}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths
