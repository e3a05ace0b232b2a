"""Reports of the supervised studies: Table 1 (associative retrieval) and Table 2 (MNIST
from glimpses) of Ba et al. (2016), their learning-rate tuning, and retrieval's
generalisation over the number of pairs K.

A supervised study is a grid run by ``scripts/study.py run`` with ``"script":
"assoc_retrieval"`` or ``"glimpses"``; each finished run folder holds ``config.json``,
``curve.csv`` and ``results.json`` (the test error of the weights best on validation).
Seeds are aggregated as mean, standard deviation and range (the issue's "mean and spread"),
with the median from 3 seeds, and, for the comparison of fast weights with each other
model, as rliable's probability of improvement ``P(fast weights' error < the other's)``
with its 95 % stratified-bootstrap interval (Agarwal et al. 2021).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fw_rl.cores.identity import run_core_label
from fw_rl.run_dir import read_config, read_log
from fw_rl.statistics import ReportError, improvement_text

# Ba et al. (2016), test error in % (docs/paper.md)
PAPER_TABLE1 = {  # associative retrieval, K = 4, by R
    "fastweights": {20: 1.81, 50: 0.0, 100: 0.0},
    "lstm": {20: 60.81, 50: 1.85, 100: 0.0},
    "alstm": {20: 60.13, 50: 1.62, 100: 0.0},
    "irnn": {20: 62.11, 50: 60.23, 100: 0.34},
}
PAPER_TABLE2 = {  # MNIST from glimpses, by hidden units
    "fastweights": {50: 7.21, 100: 1.30, 200: 0.85},
    "lstm": {50: 12.00, 100: 1.55, 200: 1.10},
    "irnn": {50: 12.95, 100: 1.95, 200: 1.42},
    "convnet": {50: 1.81, 100: 1.00, 200: 0.90},
}
PAPERS = {"assoc_retrieval": PAPER_TABLE1, "glimpses": PAPER_TABLE2}


@dataclass
class SupervisedRun:
    """One finished run of a supervised study."""

    name: str
    run_dir: Path
    config: dict
    results: dict
    labels: dict | None = None  # the grid's labels (study.json), when a study ran it
    protocol: str = ""  # set by mark_protocols where a table mixes training protocols

    @property
    def core(self) -> str:
        return self.config["core"]

    @property
    def hidden(self) -> int:
        return int(self.config["hidden"])

    @property
    def lr(self) -> float:
        return float(self.config["lr"])

    @property
    def model(self) -> str:
        """The core, with the options in which it differs from the core's newest defaults
        (``fastweights (norm_preliminary=True)``): runs of the same equations share a row,
        runs made under other defaults never do."""
        label = run_core_label(self.config)
        return f"{label} [{self.protocol}]" if self.protocol else label

    @property
    def key(self) -> tuple[str, int]:
        return self.model, self.hidden

    def curve(self) -> tuple[list[int], list[float]]:
        """Updates and validation errors (%) of the run's ``curve.csv``."""
        rows = read_log(self.run_dir, "curve")
        return [int(r["update"]) for r in rows], [100 * float(r["validation_error"]) for r in rows]


def _labels_from_name(study: Path, name: str) -> dict | None:
    """The labels of run ``name`` (``<label>-<label>-seed<n>``) by the axes of the study's
    ``grid.json``, for a run folder linked in from another study (whose own ``study.json``
    names its own grid's labels)."""
    try:
        axes = list(json.loads((study / "grid.json").read_text())["axes"])
    except (OSError, json.JSONDecodeError, KeyError):
        return None
    values = name.split("-")[:-1]
    return dict(zip(axes, values)) if len(values) == len(axes) else None


def read_runs(study: Path) -> list[SupervisedRun]:
    """Every finished run (one with ``results.json``) under ``study/runs``."""
    folder = Path(study) / "runs"
    if not folder.is_dir():
        raise ReportError(f"{study} has no runs/ folder: is it a study's --out folder?")
    runs = []
    for run_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        if not (run_dir / "results.json").is_file():
            continue
        try:
            config = read_config(run_dir)
            results = json.loads((run_dir / "results.json").read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ReportError(f"cannot read the run {run_dir}: {e}") from None
        if "core" not in config or "test_error" not in results:
            raise ReportError(f"{run_dir} is not a supervised run (no core / test_error)")
        labels = None
        if run_dir.is_symlink():  # another study's run linked in: labelled by this grid
            labels = _labels_from_name(Path(study), run_dir.name)
        elif (run_dir / "study.json").is_file():
            labels = json.loads((run_dir / "study.json").read_text()).get("labels")
        runs.append(SupervisedRun(run_dir.name, run_dir, config, results, labels))
    if not runs:
        raise ReportError(f"{study} has no finished runs yet")
    return runs


def mark_protocols(runs: list[SupervisedRun]) -> None:
    """Where the runs were trained under more than one protocol (cap of ``--updates``,
    ``--patience``), name each run's protocol in its row label, and a learning rate where
    one row would hold several, so that runs trained differently never share a row."""

    def protocol(r: SupervisedRun) -> str:
        cap, patience = int(r.config.get("updates", 0)), int(r.config.get("patience", 0))
        return f"cap {cap // 1000}k, patience {patience}" if patience else f"cap {cap // 1000}k"

    if len({protocol(r) for r in runs}) > 1:
        for r in runs:
            r.protocol = protocol(r)
    # a learning rate or schedule other than the rest of its row's (a diagnosis beside a
    # table, a tuned row beside an earlier one)
    settings: dict[tuple, set] = {}
    for r in runs:
        row = (run_core_label(r.config), r.hidden, r.protocol)
        settings.setdefault(row, set()).add((r.lr, _schedule(r)))
    for r in runs:
        row = settings[run_core_label(r.config), r.hidden, r.protocol]
        if len(row) > 1:
            several_schedules = len({schedule for _, schedule in row}) > 1
            setting = "lr " + _setting_text((r.lr, _schedule(r)), several_schedules)
            r.protocol = ", ".join(p for p in (r.protocol, setting) if p)


def _group(runs: list[SupervisedRun]) -> dict[tuple[str, int], list[SupervisedRun]]:
    groups: dict[tuple[str, int], list[SupervisedRun]] = {}
    for run in runs:
        groups.setdefault(run.key, []).append(run)
    return groups


def base_model(label: str) -> str:
    """The core of a row's label: ``fastweights (norm_preliminary=True)`` -> ``fastweights``."""
    return label.split(" (")[0].split(" [")[0]


def _order(cores: set[str], paper: dict) -> list[str]:
    """The paper's cores in its order, each followed by its variants; then the others."""
    ordered = [c for name in paper for c in sorted(cores) if base_model(c) == name]
    return ordered + sorted(cores - set(ordered))


def reference_model(runs: list[SupervisedRun], core: str = "fastweights") -> str | None:
    """The row the others are compared with: ``core`` with today's defaults (of the longest
    protocol, where the table has several); else its only variant that ran (e.g. runs of an
    older version)."""
    today = [r for r in runs if run_core_label(r.config) == core]
    if today:
        return max(today, key=lambda r: int(r.config.get("updates", 0))).model
    variants = sorted({r.model for r in runs if base_model(r.model) == core})
    return variants[0] if len(variants) == 1 else None


def _size_name(paper: dict) -> str:
    """What the hidden size is called: the paper's R in Table 1, "hidden" in Table 2."""
    return "R" if paper is PAPER_TABLE1 else "hidden"


def _lr_text(lr: float) -> str:
    return f"{lr:g}"


# ---- tuning ------------------------------------------------------------------------------


def _schedule(run: SupervisedRun) -> str:
    return str(run.config.get("lr_schedule", "constant"))


def _settings(runs: list[SupervisedRun]) -> list[tuple[float, str]]:
    """The (learning rate, schedule) pairs the runs tried, in order."""
    return sorted({(run.lr, _schedule(run)) for run in runs})


def _setting_text(setting: tuple[float, str], show_schedule: bool | None = None) -> str:
    """``3e-3`` or, with ``show_schedule``, ``3e-3 plateau`` (by default, the schedule
    where it is not constant)."""
    lr, schedule = setting
    if show_schedule is None:
        show_schedule = schedule != "constant"
    return _lr_text(lr) + (f" {schedule}" if show_schedule else "")


def _by_setting(group: list[SupervisedRun]) -> dict[tuple[float, str], list[float]]:
    """The best validation errors of a row's runs, by (learning rate, schedule)."""
    by_setting: dict[tuple[float, str], list[float]] = {}
    for run in group:
        by_setting.setdefault((run.lr, _schedule(run)), []).append(
            run.results["best_validation_error"]
        )
    return by_setting


def choose_settings(runs: list[SupervisedRun]) -> dict[tuple[str, int], tuple[float, str]]:
    """``{(core, hidden): (lr, schedule)}``: the setting with the lowest best validation
    error (mean over seeds) for each core and hidden size; a tie goes to the smaller rate
    (then the schedule first in the alphabet). Only complete rows choose: as many settings
    as the study's fullest row (each core may try its own window of rates, the same number
    of them), each with as many finished runs as its fullest cell (a row whose runs are
    still going would choose from the seeds that happened to end first)."""
    groups = {key: _by_setting(group) for key, group in _group(runs).items()}
    seeds = max(len(errors) for by_setting in groups.values() for errors in by_setting.values())
    width = max(len(by_setting) for by_setting in groups.values())
    best = {}
    for (core, hidden), by_setting in sorted(groups.items()):
        if len(by_setting) < width or any(len(e) < seeds for e in by_setting.values()):
            continue
        best[core, hidden] = min(by_setting, key=lambda k: (statistics.mean(by_setting[k]), k))
    return best


def choose_learning_rates(runs: list[SupervisedRun]) -> dict[str, dict[str, object]]:
    """``{core: {hidden: lr}}`` (``best.json``): the chosen rate of each core and hidden
    size (:func:`choose_settings`); where the runs tried several schedules, ``{"lr": ...,
    "lr_schedule": ...}``."""
    several = len({_schedule(run) for run in runs}) > 1
    best: dict[str, dict[str, object]] = {}
    for (core, hidden), (lr, schedule) in choose_settings(runs).items():
        chosen = {"lr": _lr_text(lr), "lr_schedule": schedule} if several else _lr_text(lr)
        best.setdefault(core, {})[str(hidden)] = chosen
    return best


def tuning_table(runs: list[SupervisedRun], paper: dict) -> str:
    """Best validation error (%), mean over seeds and the number of seeds, by core and
    hidden size (rows) and setting (columns: the learning rate, and the schedule where the
    runs tried several); the chosen setting of each row in bold, none in a row not yet
    complete (:func:`choose_settings`)."""
    settings = _settings(runs)
    schedules = len({schedule for _, schedule in settings})
    chosen = choose_settings(runs)
    groups = _group(runs)
    lines = [
        "| core | hidden | "
        + " | ".join("lr " + _setting_text(v, schedules > 1) for v in settings)
        + " |",
        "|---|---" + "|---" * len(settings) + "|",
    ]
    for core in _order({r.model for r in runs}, paper):
        for hidden in sorted({h for c, h in groups if c == core}):
            cells = []
            by_setting = _by_setting(groups[core, hidden])
            for setting in settings:
                errors = by_setting.get(setting)
                if not errors:
                    cells.append("")
                    continue
                text = f"{100 * statistics.mean(errors):.1f}"
                text = f"**{text}**" if chosen.get((core, hidden)) == setting else text
                cells.append(text if schedules == 1 else f"{text} (n = {len(errors)})")
            lines.append(f"| {core} | {hidden} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---- the tables ----------------------------------------------------------------------------


def spread_cell(errors: list[float]) -> str:
    """``mean ± sd (min-max)`` in %, with the median from 3 seeds (a seed far off moves
    the mean, not the median), or the one value."""
    percent = [100 * e for e in errors]
    if len(percent) == 1:
        return f"{percent[0]:.2f}"
    cell = (
        f"{statistics.mean(percent):.2f} ± {statistics.stdev(percent):.2f} "
        f"({min(percent):.2f}-{max(percent):.2f})"
    )
    return cell if len(percent) < 3 else f"{cell}, median {statistics.median(percent):.2f}"


def results_table(runs: list[SupervisedRun], paper: dict) -> str:
    """Test error (%) by core (rows) and hidden size: ours (mean ± sd (range) over seeds,
    the number of seeds) beside the paper's."""
    groups = _group(runs)
    hiddens = sorted({h for _, h in groups})
    size = _size_name(paper)
    head = "| core | " + " | ".join(f"{size} = {h}: ours | paper" for h in hiddens) + " |"
    lines = [head, "|---" + "|---|---" * len(hiddens) + "|"]
    for core in _order({r.model for r in runs}, paper):
        cells = []
        for hidden in hiddens:
            group = groups.get((core, hidden), [])
            ours = (
                f"{spread_cell([r.results['test_error'] for r in group])}, n = {len(group)}"
                if group
                else "-"
            )
            theirs = paper.get(base_model(core), {}).get(hidden)
            cells += [ours, "-" if theirs is None else f"{theirs:.2f}"]
        lines.append(f"| {core} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def training_table(runs: list[SupervisedRun], paper: dict) -> str:
    """How each cell trained: its learning rate, the updates its runs took (range), why
    they stopped and how many met the cap of ``--updates`` (by whatever rule they stopped:
    a run whose patience ran out on the last allowed update met it too)."""
    lines = [
        "| core | hidden | lr | updates (min-max) | stopped because | at the cap "
        "| train error at the end (%) |",
        "|---|---|---|---|---|---|---|",
    ]
    groups = _group(runs)
    for core in _order({r.model for r in runs}, paper):
        for hidden in sorted({h for c, h in groups if c == core}):
            group = groups[core, hidden]
            updates = [r.results["updates"] for r in group]
            reasons: dict[str, int] = {}
            for r in group:
                reason = _short_reason(r.results.get("stopped", ""))
                reasons[reason] = reasons.get(reason, 0) + 1
            final_train = []
            for r in group:
                rows = read_log(r.run_dir, "curve")
                if rows:
                    final_train.append(100 * float(rows[-1]["train_error"]))
            lrs = ", ".join(sorted({_setting_text((r.lr, _schedule(r))) for r in group}))
            # a run that stopped by patience on its last allowed update met the cap too
            capped = sum(r.results["updates"] >= int(r.config.get("updates", 0)) for r in group)
            lines.append(
                f"| {core} | {hidden} | {lrs} | {min(updates):,}-{max(updates):,} | "
                + ", ".join(f"{k} x {v}" for k, v in reasons.items())
                + f" | {capped} of {len(group)} | {statistics.mean(final_train):.1f} |"
            )
    return "\n".join(lines)


def _short_reason(stopped: str) -> str:
    if "stop-at-error" in stopped:
        return "reached the target error"
    if "no better" in stopped:
        return "no better for --patience"
    if "reached --updates" in stopped:
        return "the cap"
    return stopped or "?"


def improvement_table(
    runs: list[SupervisedRun], paper: dict, reference: str | None = None, reps: int = 2000
) -> str:
    """``P(reference's test error < other's)`` per hidden size, with its 95 % interval
    (:func:`reference_model` by default)."""
    reference = reference or reference_model(runs)
    if reference is None:
        return "(no single fast-weights row to compare with)"
    groups = _group(runs)
    hiddens = sorted({h for _, h in groups})
    others = [c for c in _order({r.model for r in runs}, paper) if c != reference]
    lines = [
        "| against | " + " | ".join(f"{_size_name(paper)} = {h}" for h in hiddens) + " |",
        "|---" * (len(hiddens) + 1) + "|",
    ]
    for other in others:
        cells = []
        for hidden in hiddens:
            mine = groups.get((reference, hidden), [])
            theirs = groups.get((other, hidden), [])
            if not mine or not theirs:
                cells.append("-")
                continue
            # lower error is better: P(-mine > -theirs)
            cells.append(
                improvement_text(
                    [-r.results["test_error"] for r in mine],
                    [-r.results["test_error"] for r in theirs],
                    reps,
                )
            )
        lines.append(f"| {other} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def compare_table(runs: list[SupervisedRun], axis: str, baseline: str, reps: int = 2000) -> str:
    """One row per label of a grid's ``axis``: test error (mean ± sd (range), n), the
    updates taken, and ``P(label's error < baseline's)`` with its 95 % interval."""
    by_label: dict[str, list[SupervisedRun]] = {}
    for run in runs:
        if not run.labels or axis not in run.labels:
            raise ReportError(f"run {run.name} has no label on the axis {axis!r}")
        by_label.setdefault(run.labels[axis], []).append(run)
    if baseline not in by_label:
        raise ReportError(
            f"no finished run has {axis}={baseline}; labels: {', '.join(sorted(by_label))}"
        )
    base = np.array([-r.results["test_error"] for r in by_label[baseline]])
    lines = [
        f"| {axis} | test error (%) | updates (min-max) | P(error < {baseline}'s) |",
        "|---|---|---|---|",
    ]
    for label in [baseline, *sorted(set(by_label) - {baseline})]:
        group = by_label[label]
        updates = [r.results["updates"] for r in group]
        errors = [r.results["test_error"] for r in group]
        if label == baseline:
            improvement = "-"
        else:
            improvement = improvement_text([-e for e in errors], base, reps)
        lines.append(
            f"| {label} | {spread_cell(errors)}, n = {len(group)} | "
            f"{min(updates):,}-{max(updates):,} | {improvement} |"
        )
    return "\n".join(lines)


def draw_curves(runs: list[SupervisedRun], paper: dict, path: Path) -> None:
    """Validation error against updates, a panel per hidden size, a colour per core, a line
    per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = _group(runs)
    hiddens = sorted({h for _, h in groups})
    cores = _order({r.model for r in runs}, paper)
    fig, axes = plt.subplots(
        1, len(hiddens), figsize=(4 * len(hiddens), 3.5), sharey=True, squeeze=False
    )
    for ax, hidden in zip(axes[0], hiddens):
        for i, core in enumerate(cores):
            for j, run in enumerate(sorted(groups.get((core, hidden), []), key=lambda r: r.name)):
                updates, errors = run.curve()
                ax.plot(
                    updates, errors, color=f"C{i}", alpha=0.8, lw=1,
                    label=core if j == 0 else None,
                )  # fmt: skip
        ax.set_title(f"{_size_name(paper)} = {hidden}")
        ax.set_xlabel("updates")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("validation error (%)")
    axes[0, 0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- generalisation over K ---------------------------------------------------------------


def generalisation_rows(
    runs: list[SupervisedRun],
) -> dict[tuple[int, str, str], dict[int, list]]:
    """``{(R, model, training K): {tested K: [test errors over seeds]}}`` of runs tested
    on other K (``--test-pairs``)."""
    rows: dict[tuple[int, str, str], dict[int, list]] = {}
    for run in runs:
        tested = run.results.get("test_errors") or {}
        if not tested:
            continue
        low, high = run.config["num_pairs"], run.config.get("max_pairs") or 0
        trained = f"K = {low}" if not high else f"K = {low}-{high}"
        cell = rows.setdefault((run.hidden, run.model, trained), {})
        for name, error in tested.items():
            cell.setdefault(int(name.split("=")[1]), []).append(error)
    if not rows:
        raise ReportError("no run of this study was tested on other K (--test-pairs)")
    return rows


def generalisation_table(runs: list[SupervisedRun]) -> str:
    rows = generalisation_rows(runs)
    ks = sorted({k for cell in rows.values() for k in cell})
    lines = [
        "| R | core | trained on | seeds | " + " | ".join(f"K = {k}" for k in ks) + " |",
        "|---|---|---|---" + "|---" * len(ks) + "|",
    ]
    for (hidden, model, trained), cell in sorted(rows.items()):
        values = [
            f"{100 * statistics.mean(cell[k]):.1f}" if k in cell else "-" for k in ks
        ]  # fmt: skip
        seeds = max(len(v) for v in cell.values())
        lines.append(f"| {hidden} | {model} | {trained} | {seeds} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def draw_generalisation(runs: list[SupervisedRun], path: Path) -> None:
    """Test error against the tested K, a panel per R: a line per (model, training K),
    the mean over seeds, each seed a dot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = generalisation_rows(runs)
    hiddens = sorted({h for h, _, _ in rows})
    models = sorted({m for _, m, _ in rows})
    trainings = sorted({t for _, _, t in rows})
    fig, axes = plt.subplots(
        1, len(hiddens), figsize=(5.5 * len(hiddens), 4), sharey=True, squeeze=False
    )
    for ax, hidden in zip(axes[0], hiddens):
        for (h, model, trained), cell in sorted(rows.items()):
            if h != hidden:
                continue
            ks = sorted(cell)
            colour = f"C{models.index(model)}"
            style = ["-", "--", ":", "-."][trainings.index(trained) % 4]
            ax.plot(
                ks, [100 * statistics.mean(cell[k]) for k in ks], style, color=colour,
                marker="o", ms=3, label=f"{model}, trained on {trained}",
            )  # fmt: skip
            for k in ks:
                ax.scatter([k] * len(cell[k]), [100 * e for e in cell[k]], color=colour, s=6,
                           alpha=0.4)  # fmt: skip
        ax.set_title(f"R = {hidden}")
        ax.set_xlabel("K pairs at test time")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("test error (%)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
