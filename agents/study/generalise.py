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

from fw_rl.agents.config import A3CConfig
from fw_rl.agents.evaluate import evaluate
from fw_rl.agents.model import build_model
from fw_rl.agents.study.report import ReportError, interval_estimates
from fw_rl.agents.study.runner import DONE_NAME, SPEC_NAME
from fw_rl.checkpoint import (
    CHECKPOINT_NAME,
    CheckpointError,
    load_checkpoint,
    load_model_state,
)

FIELDS = ["run", "labels", "seed", "trained_visible_steps", "visible_steps", "mean_return"]


def evaluate_run(run_dir: Path, visible_steps: list[int], episodes: int, seed: int) -> list[dict]:
    """One row per ``visible_steps`` value for the run in ``run_dir``."""
    payload = load_checkpoint(run_dir)
    config = A3CConfig.from_dict(payload["config"])
    model = build_model(config)
    load_model_state(model, payload, run_dir)
    model.eval()
    spec = json.loads((run_dir / SPEC_NAME).read_text())
    rows = []
    torch.set_num_threads(1)
    for visible in visible_steps:
        env_kwargs = {**config.env_kwargs, "visible_steps": visible}
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
    only: dict[str, str] | None = None,
    episodes: int = 1000,
    seed: int = 20_000,
    reps: int = 2000,
) -> list[Path]:
    """Evaluate every finished run (matching ``only``), write ``generalisation.csv`` and a
    figure per cell of the other axes; returns the paths."""
    runs_dir = Path(study) / "runs"
    if not runs_dir.is_dir():
        raise ReportError(f"{study} is not a study folder: it has no runs/")
    rows, missing = [], []
    for run_dir in sorted(p for p in runs_dir.iterdir() if (p / DONE_NAME).is_file()):
        labels = json.loads((run_dir / SPEC_NAME).read_text())["labels"]
        if only and any(labels.get(k) != v for k, v in only.items()):
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
    if not rows:
        raise ReportError(
            f"{study} has no finished runs with weights matching {only or 'the study'}"
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = out / "generalisation.csv"
    with open(table, "w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        writer.writerows({**r, "mean_return": f"{r['mean_return']:.4f}"} for r in rows)
    return [table, *draw(rows, compare, out, reps)]


def draw(rows: list[dict], compare: str, out: Path, reps: int) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells: dict[str, dict[str, dict[int, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    trained = {}
    for r in rows:
        labels = json.loads(r["labels"])
        cell = "-".join(v for k, v in labels.items() if k != compare) or "all"
        cells[cell][labels[compare]][r["visible_steps"]].append(r["mean_return"])
        trained[cell] = r["trained_visible_steps"]
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
