"""A study's report: per-run scores aggregated over seeds with rliable (Agarwal et al. 2021).

Scores of one run, from its ``eval.csv`` (greedy evaluation on fixed episodes) and
``metrics.csv`` (mean return of the training episodes):

* ``auc``: the normalised area under the greedy-evaluation curve over the run's whole
  frame budget, ``mean over evaluations of (return + 1) / 2``, in ``[0, 1]`` (1: caught
  everything from the first evaluation on). It rewards learning early *and* staying good.
* ``train_auc``: the same for the training return (what the paper plots).
* ``frames_to``: frames until the greedy evaluation first reaches the threshold; a run
  that never does counts as its whole budget (censored, so the IQM of this score is a
  lower bound where some runs did not reach it: the table says how many did).
* ``final``: the mean greedy return of the last 5 evaluations.
* ``train_drop``: how far the training return fell back: the mean training return in the
  best tenth of the frame budget minus that in the last tenth (0 for a run that ends at
  its best; a run that learned and then lost it shows it here, where its AUC does not).

Across seeds: the interquartile mean (IQM) with 95 % stratified-bootstrap percentile
intervals, and the probability of improvement ``P(X > Y)`` of each compared value over
the baseline (Mann-Whitney), with its interval, all from ``rliable.library``.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fw_rl.agents.algorithms import ALGORITHMS
from fw_rl.agents.config import TrainerConfig
from fw_rl.cli import fields_with_role
from fw_rl.cores.identity import run_core_label
from fw_rl.envs.catch_family import CATCH_ID
from fw_rl.envs.family import family_of
from fw_rl.run_dir import log_column, read_config, read_log
from fw_rl.statistics import (  # noqa: F401  (the study's statistics, re-exported for its users)
    MIN_RUNS_FOR_P,
    ReportError,
    _rliable,
    _seed_resampling,
    exact_permutation_p,
    improvement_probability,
    improvement_text,
    interval_estimates,
)

SCORES = ("auc", "train_auc", "frames_to", "final", "train_drop")
# what makes two runs of one core different agents, besides the core's own options (which
# RunCurves.core labels): the trainer's identity fields (the network around the core, the env)
AGENT_SETTINGS = tuple(
    name
    for name in fields_with_role(TrainerConfig, "identity")
    if name not in ("core", "core_options", "core_version")
)
# a field of config.json that only one trainer writes (agents/config.py, sb3_recurrent_ppo.py)
# a setting only each trainer's config.json has, by trainer (each algorithm's declaration)
TRAINER_MARKERS = {a.name: a.marker for a in ALGORITHMS.values()}
TENTHS = 10  # the frame budget's parts over which train_drop compares the training return


@dataclass
class RunCurves:
    name: str
    labels: dict[str, str]
    seed: int
    budget: int
    eval_frames: np.ndarray
    eval_seconds: np.ndarray
    eval_return: np.ndarray
    train_frames: np.ndarray
    train_seconds: np.ndarray
    train_return: np.ndarray
    core: str = ""  # the core as it ran: its label with the options resolved (identity.py)
    settings: dict = field(default_factory=dict)  # the trainer and AGENT_SETTINGS (run_settings)
    env: str = ""
    # the least and most an episode can return: the env family's, else (read_study) the
    # range the study's runs of this env reached
    return_range: tuple[float, float] | None = None
    threshold: float | None = None  # the family's solved return, else 90 % of the range

    def normalised(self, returns: np.ndarray) -> np.ndarray:
        low, high = self.return_range or (-1.0, 1.0)
        return (returns - low) / (high - low) if high > low else np.zeros_like(returns)

    def training_tenths(self) -> np.ndarray:
        """The mean training return in each tenth of the frame budget (NaN where a tenth
        has no logged row)."""
        finite = np.isfinite(self.train_return)
        frames, returns = self.train_frames[finite], self.train_return[finite]
        part = np.minimum((frames * TENTHS) // max(self.budget, 1), TENTHS - 1).astype(int)
        return np.array(
            [returns[part == i].mean() if (part == i).any() else np.nan for i in range(TENTHS)]
        )

    def scores(self, threshold: float | None = None) -> dict[str, float]:
        """The run's scores; ``threshold`` None: the run's own (its env family's)."""
        threshold = self.threshold if threshold is None else threshold
        hits = np.flatnonzero(self.eval_return >= threshold)
        train = self.train_return[np.isfinite(self.train_return)]
        tenths = self.training_tenths()
        logged = tenths[np.isfinite(tenths)]
        return {
            "auc": float(np.mean(self.normalised(self.eval_return))),
            "train_auc": float(np.mean(self.normalised(train))) if len(train) else float("nan"),
            "frames_to": float(self.eval_frames[hits[0]]) if len(hits) else float(self.budget),
            "reached": bool(len(hits)),
            "final": float(np.mean(self.eval_return[-5:])),
            "train_drop": float(logged.max() - logged[-1]) if len(logged) else float("nan"),
        }


def read_run(run_dir: Path) -> RunCurves | None:
    """A finished run's curves; None (with the reason) for a run without evaluations."""
    try:
        spec = json.loads((run_dir / "study.json").read_text())
        config = read_config(run_dir)
        evals, train = read_log(run_dir, "eval"), read_log(run_dir, "metrics")
    except (OSError, json.JSONDecodeError) as e:
        raise ReportError(f"cannot read the run {run_dir}: {e}") from None
    if not evals:
        return None
    family = family_of(config.get("env", CATCH_ID))
    return RunCurves(
        run_dir.name,
        spec["labels"],
        int(spec["seed"]),
        int(config["total_frames"]),
        log_column(evals, "frames"),
        log_column(evals, "elapsed_s"),
        log_column(evals, "mean_return"),
        log_column(train, "frames"),
        log_column(train, "elapsed_s"),
        log_column(train, "mean_return"),
        run_core_label(config),
        run_settings(config),
        config.get("env", CATCH_ID),
        family.return_range,
        family.threshold,
    )


def run_settings(config: dict) -> dict:
    """What a run's ``config.json`` says of its agent beyond the core: the trainer that wrote
    it (by a field only that trainer has, :data:`TRAINER_MARKERS`; "" for none) and the
    :data:`AGENT_SETTINGS` it records."""
    trainer = next((kind for kind, key in TRAINER_MARKERS.items() if key in config), "")
    return {"trainer": trainer} | {k: config[k] for k in AGENT_SETTINGS if k in config}


def read_study(study: Path, finished_only: bool = True) -> tuple[list[RunCurves], list[str]]:
    """The study's runs (those with ``done.json`` unless ``finished_only`` is False) and
    warnings for the ones left out."""
    runs_dir = Path(study) / "runs"
    if not runs_dir.is_dir():
        raise ReportError(f"{study} is not a study folder: it has no runs/ (made by study.py run)")
    runs, warnings = [], []
    for run_dir in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        if finished_only and not (run_dir / "done.json").is_file():
            warnings.append(f"{run_dir.name}: not finished, left out")
            continue
        run = read_run(run_dir)
        if run is None:
            warnings.append(f"{run_dir.name}: no evaluation yet, left out")
            continue
        runs.append(run)
    if not runs:
        raise ReportError(f"{study} has no finished runs yet")
    fill_return_ranges(runs)
    return runs, warnings


def fill_return_ranges(runs: list[RunCurves]) -> None:
    """For runs whose env family declares no return range, the range their env's runs
    reached here (evaluation and training returns); the threshold, where the family
    declares none, 90 % of the way up that range."""
    by_env: dict[str, list[RunCurves]] = defaultdict(list)
    for r in runs:
        by_env[r.env].append(r)
    for members in by_env.values():
        if members[0].return_range is None:
            seen = np.concatenate([np.r_[r.eval_return, r.train_return] for r in members])
            seen = seen[np.isfinite(seen)]
            span = (float(seen.min()), float(seen.max())) if len(seen) else (-1.0, 1.0)
            for r in members:
                r.return_range = span
        for r in members:
            if r.threshold is None:
                low, high = r.return_range
                r.threshold = low + 0.9 * (high - low)


def group_runs(runs: list[RunCurves], compare: str) -> dict[tuple, dict[str, list[RunCurves]]]:
    """``{cell of the other axes: {compared value: runs}}``."""
    if any(compare not in r.labels for r in runs):
        axes = sorted({a for r in runs for a in r.labels})
        raise ReportError(f"--compare {compare!r} is not an axis of this study ({', '.join(axes)})")
    cells: dict[tuple, dict[str, list[RunCurves]]] = defaultdict(lambda: defaultdict(list))
    for r in runs:
        cell = tuple((a, v) for a, v in r.labels.items() if a != compare)
        # compared by core: by the core as it ran, so other versions get rows of their own
        value = r.core if compare == "core" and r.core else r.labels[compare]
        cells[cell][value].append(r)
    for cell, groups in cells.items():
        cells[cell] = _split_by_settings(groups)
    for groups in cells.values():
        for value, members in groups.items():
            cores = sorted({r.core for r in members})
            if len(cores) > 1:  # e.g. runs made before and after a change of default
                names = ", ".join(f"{r.name}: {r.core}" for r in members)
                raise ReportError(
                    f"the runs under {compare}={value!r} did not run the same core ({names});"
                    " give each core its own label (or folder) so they are not pooled"
                )
    return cells


def _split_by_settings(groups: dict[str, list[RunCurves]]) -> dict[str, list[RunCurves]]:
    """Runs pooled under one value whose agents differ (:func:`run_settings`; folders joined
    with ``--with``: the previous action fed or not, A3C and PPO) get a row each, the value
    labelled with what differs: ``lstm (previous_action=False)``, ``lstm (trainer=ppo)``."""
    split: dict[str, list[RunCurves]] = defaultdict(list)
    for value, members in groups.items():
        # a key some configs lack came with a later version of the code, not another choice
        keys = sorted(set.intersection(*(set(r.settings) for r in members)))
        differing = [k for k in keys if len({json.dumps(r.settings[k]) for r in members}) > 1]
        for r in members:
            shown = ", ".join(f"{k}={r.settings[k]}" for k in differing)
            if not shown:
                split[value].append(r)
            elif value.endswith(")"):  # a core label with options already
                split[f"{value[:-1]}, {shown})"].append(r)
            else:
                split[f"{value} ({shown})"].append(r)
    return dict(split)


def _fmt(value: tuple[float, float, float], kind: str) -> str:
    point, low, high = value
    if kind == "frames_to":
        return f"{point / 1e6:.2f} M [{low / 1e6:.2f}, {high / 1e6:.2f}]"
    return f"{point:.3f} [{low:.3f}, {high:.3f}]"


def cell_threshold(groups: dict[str, list[RunCurves]], threshold: float | None) -> float | None:
    """The threshold the cell's runs are scored with: the one given, else theirs where
    they share one (None where they differ)."""
    if threshold is not None:
        return threshold
    theirs = {r.threshold for members in groups.values() for r in members}
    return theirs.pop() if len(theirs) == 1 else None


def _threshold_text(threshold: float | None) -> str:
    return "the solved return" if threshold is None else f"{threshold:.3g}"


def cell_table(
    groups: dict[str, list[RunCurves]], threshold: float | None, baseline: str, reps: int
) -> str:
    """One Markdown table for one cell of the other axes: a row per compared value."""
    values = sorted(groups)
    scores = {v: [r.scores(threshold) for r in groups[v]] for v in values}
    shown = _threshold_text(cell_threshold(groups, threshold))
    estimates = {
        kind: interval_estimates({v: [s[kind] for s in scores[v]] for v in values}, reps)
        for kind in SCORES
    }
    lines = [
        f"| value | seeds | eval AUC (IQM [95 % CI]) | training AUC | frames to {shown} "
        f"| reached {shown} | final eval return | training drop | P(AUC > {baseline}'s) "
        f"| P(training AUC > {baseline}'s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def improvement(v: str, kind: str) -> str:
        if v == baseline or baseline not in groups:
            return "-"
        ours, theirs = [s[kind] for s in scores[v]], [s[kind] for s in scores[baseline]]
        return improvement_text(ours, theirs, reps)

    for v in values:
        reached = sum(s["reached"] for s in scores[v])
        lines.append(
            f"| {v} | {len(scores[v])} | {_fmt(estimates['auc'][v], 'auc')} | "
            f"{_fmt(estimates['train_auc'][v], 'auc')} | "
            f"{_fmt(estimates['frames_to'][v], 'frames_to')} | {reached} / {len(scores[v])} | "
            f"{_fmt(estimates['final'][v], 'final')} | "
            f"{_fmt(estimates['train_drop'][v], 'train_drop')} | {improvement(v, 'auc')} | "
            f"{improvement(v, 'train_auc')} |"
        )
    return "\n".join(lines)


def _iqm_band(xs: list[np.ndarray], ys: list[np.ndarray], grid: np.ndarray, reps: int):
    from scipy.stats import trim_mean

    library, _ = _rliable()
    _seed_resampling(0)
    curves = np.stack([np.interp(grid, x, y) for x, y in zip(xs, ys)])  # [runs, points]
    # rliable's aggregate_iqm (trim_mean(x, 0.25) over runs x tasks) at every point at once
    point, interval = library.get_interval_estimates(
        {"c": curves[:, None, :]},
        lambda s: trim_mean(s.reshape(-1, s.shape[-1]), 0.25, axis=0),
        reps=reps,
        random_state=np.random.RandomState(0),
    )
    return point["c"], interval["c"][0], interval["c"][1]


def draw_cell(
    groups: dict[str, list[RunCurves]],
    title: str,
    path: Path,
    threshold: float | None,
    reps: int,
) -> Path:
    """Four panels: greedy evaluation and training return, against frames and against
    wall-clock time; IQM over seeds with its 95 % band, one colour per value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharey=True)
    panels = [
        (axes[0, 0], "eval", "frames", 1e6, "frames (millions)", "greedy evaluation return"),
        (axes[0, 1], "eval", "seconds", 60.0, "training time (minutes)", ""),
        (axes[1, 0], "train", "frames", 1e6, "frames (millions)", "training episode return"),
        (axes[1, 1], "train", "seconds", 60.0, "training time (minutes)", ""),
    ]
    # more than 10 values (an ablation grid): tab20 keeps every colour distinct
    palette = [f"C{i}" for i in range(10)] if len(groups) <= 10 else plt.cm.tab20.colors
    for i, value in enumerate(sorted(groups)):
        runs = groups[value]
        color = palette[i % len(palette)]
        for ax, which, axis, scale, _, _ in panels:
            xs = [getattr(r, f"{which}_{axis}") for r in runs]
            ys = [getattr(r, f"{which}_return") for r in runs]
            keep = [np.isfinite(y) for y in ys]
            xs, ys = [x[k] for x, k in zip(xs, keep)], [y[k] for y, k in zip(ys, keep)]
            if not all(len(x) for x in xs):
                continue
            end = min(x[-1] for x in xs)
            grid = np.linspace(max(x[0] for x in xs), end, 60)
            mid, low, high = _iqm_band(xs, ys, grid, min(reps, 200))
            ax.plot(grid / scale, mid, color=color, linewidth=2, label=f"{value} ({len(runs)})")
            ax.fill_between(grid / scale, low, high, color=color, alpha=0.2, linewidth=0)
    for ax, _, _, _, xlabel, ylabel in panels:
        line = cell_threshold(groups, threshold)
        if line is not None:
            ax.axhline(line, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel(xlabel)
        if ylabel:
            ax.set_ylabel(ylabel)
        ax.margins(y=0.05)  # the axes from the data: any env's return range
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="lower right", title="IQM over seeds, 95 % CI")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def best_values(
    study: Path, choose: str, per: str, score: str = "auc", threshold: float | None = None
) -> dict[str, dict]:
    """For each value of the axis ``per`` (e.g. each core), the value of the axis
    ``choose`` (e.g. the learning rate) whose runs have the highest IQM of ``score``:
    ``{per value: {"best": label, "iqm": {label: IQM}}}``. The tuning rule of a study."""
    if score not in ("auc", "train_auc", "final"):
        raise ReportError(f"score must be auc, train_auc or final, got {score!r}")
    library, metrics = _rliable()
    runs, _ = read_study(Path(study))
    scores: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in runs:
        if choose not in r.labels or per not in r.labels:
            raise ReportError(f"{study}: its runs have no axis {choose!r} or {per!r}")
        scores[r.labels[per]][r.labels[choose]].append(r.scores(threshold)[score])
    result = {}
    for value, by_label in sorted(scores.items()):
        iqm = {k: float(metrics.aggregate_iqm(np.asarray(v)[:, None])) for k, v in by_label.items()}
        result[value] = {"best": max(iqm, key=iqm.get), "iqm": iqm}
    return result


def write_report(
    study: Path,
    out: Path,
    compare: str = "core",
    threshold: float | None = None,
    baseline: str | None = None,
    reps: int = 2000,
    command: str = "",
    others: tuple = (),
) -> list[Path]:
    """``report.md`` and one figure per cell of the other axes; returns the paths.
    ``others``: more study folders whose runs join ``study``'s (e.g. the same grid run
    under another version of a core)."""
    runs, warnings = read_study(Path(study))
    for other in others:
        more, notes = read_study(Path(other))
        runs, warnings = runs + more, warnings + notes
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cells = group_runs(runs, compare)
    values = sorted({v for groups in cells.values() for v in groups})
    if baseline is not None and baseline not in values:
        raise ReportError(
            f"--baseline {baseline!r} is not a value of --compare {compare} in this study: "
            f"{', '.join(values)}"
        )
    baseline = baseline or "lstm"  # compared with where the study has it
    sections, paths = [], []
    for cell in sorted(cells):
        name = "-".join(v for _, v in cell) or "all"
        title = ", ".join(f"{a} {v}" for a, v in cell) or "all runs"
        figure = draw_cell(cells[cell], title, out / f"curves-{name}.png", threshold, reps)
        paths.append(figure)
        sections.append(
            f"### {title}\n\n{cell_table(cells[cell], threshold, baseline, reps)}\n\n"
            f"![{title}]({figure.name})\n"
        )
    notes = "".join(f"- {w}\n" for w in warnings)
    reach = _threshold_text(threshold) if threshold is not None else "the threshold (Catch: 0.9)"
    text = (
        f"# Study {Path(study).name}: {compare} compared\n\n"
        f"Made by: `{command}`\n\n"
        "Scores per run (see `agents/study/report.py`): eval AUC, the mean over "
        "evaluations of the greedy return scaled to [0, 1] by the env's return range "
        "((return + 1) / 2 for Catch and POPGym) over the whole frame budget; training AUC, "
        f"the same for the training episodes' return; frames to {reach}, censored at the "
        "budget for runs that never reach it; final, the mean of the last 5 evaluations; "
        "training drop, the mean training return in the best tenth of the frame budget "
        "minus that in the last tenth (how far a run fell back from its best). "
        "Across seeds: interquartile mean with 95 % stratified-bootstrap intervals "
        f"({reps} resamples, rliable); P(AUC > {baseline}'s) is the probability of "
        "improvement with its interval (and the same for the training AUC).\n\n"
        + "\n".join(sections)
    )
    if notes:
        text += f"\nLeft out:\n\n{notes}"
    report = out / "report.md"
    report.write_text(text)
    scores_path = out / "scores.csv"
    with open(scores_path, "w", newline="") as f:
        axes = list(runs[0].labels)
        writer = csv.writer(f)
        writer.writerow(
            ["run", *axes, "seed", "budget", "auc", "train_auc", "frames_to", "reached", "final"]
            + ["train_drop"]
        )
        for r in runs:
            s = r.scores(threshold)
            writer.writerow(
                [r.name, *(r.labels.get(a, "") for a in axes), r.seed, r.budget]
                + [
                    f"{s[k]:.6g}" if isinstance(s[k], float) else s[k]
                    for k in ("auc", "train_auc", "frames_to", "reached", "final", "train_drop")
                ]
            )
    return [report, scores_path, *paths]
