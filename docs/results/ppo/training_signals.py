"""What PPO's logs say around a run's fall-back: per core, the training return, the policy's
entropy, the gradient norm before clipping and the approximate KL in three tenths of the
frame budget (the first, the run's best by training return, the last), medians over the
rows of each tenth, then the median over seeds.

    python docs/results/ppo/training_signals.py docs/results/ppo/catch [more study folders]
        [--signals mean_return grad_norm_core ...] [--out docs/results/ppo/training_signals.md]

Reads each finished run's ``metrics.csv`` (columns written by ``agents/ppo.py``); groups
runs by every label but the seed.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from fw_rl.run_dir import log_column, read_config, read_log

SIGNALS = ("mean_return", "entropy", "grad_norm", "approx_kl", "lr")
TENTHS = 10


def tenth_medians(
    run: Path, signals: tuple[str, ...] = SIGNALS
) -> dict[str, tuple[float, float, float]] | None:
    """``{signal: (first tenth, best tenth, last tenth)}`` of one run, or None if the run
    is not finished; the best tenth is that of the highest training return."""
    if not (run / "done.json").is_file():
        return None
    rows = read_log(run, "metrics")
    budget = int(read_config(run)["total_frames"])
    frames = log_column(rows, "frames")
    part = np.minimum((frames * TENTHS) // budget, TENTHS - 1).astype(int)
    columns = {s: log_column(rows, s) for s in {"mean_return", *signals}}

    def median(signal: str, tenth: int) -> float:
        values = columns[signal][part == tenth]
        values = values[np.isfinite(values)]
        return float(np.median(values)) if len(values) else float("nan")

    returns = [median("mean_return", i) for i in range(TENTHS)]
    best = int(np.nanargmax(returns))
    return {s: (median(s, 0), median(s, best), median(s, TENTHS - 1)) for s in signals} | {
        "best tenth": (best + 1, best + 1, best + 1)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("studies", nargs="+", type=Path)
    parser.add_argument(
        "--signals", nargs="+", default=list(SIGNALS), help="metrics.csv's columns to show"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    signals = tuple(args.signals)
    groups: dict[str, list[dict]] = defaultdict(list)
    for study in args.studies:
        for run in sorted((study / "runs").iterdir()):
            medians = tenth_medians(run, signals)
            if medians is None:
                continue
            labels = json.loads((run / "study.json").read_text())["labels"]
            groups[f"{study.name}: " + ", ".join(labels.values())].append(medians)
    header = "| runs | seeds | best tenth | " + " | ".join(
        f"{s} (first / best / last)" for s in signals
    )
    lines = [header + " |", "|---" * (3 + len(signals)) + "|"]
    for name, runs in sorted(groups.items()):
        cells = []
        for s in signals:
            seeds = np.array([r[s] for r in runs])  # [seeds, 3]
            first, best, last = np.median(seeds, axis=0)
            cells.append(f"{first:.3g} / {best:.3g} / {last:.3g}")
        tenth = np.median([r["best tenth"][0] for r in runs])
        lines.append(f"| {name} | {len(runs)} | {tenth:g} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        command = "python docs/results/ppo/training_signals.py " + " ".join(
            str(s) for s in args.studies
        )
        if signals != SIGNALS:
            command += " --signals " + " ".join(signals)
        args.out.write_text(
            f"# PPO's training signals by tenth of the frame budget\n\nMade by: `{command}"
            f" --out {args.out}`\n\nMedians over each tenth's logged rows (a row every 2 s), "
            'then over seeds; "best" is each run\'s tenth with the highest training '
            "return.\n\n" + text
        )


if __name__ == "__main__":
    main()
