#!/usr/bin/env python
"""Reproduce the paper's Table 1: associative-retrieval test error by core and hidden size.

    python scripts/assoc_table.py --out docs/results/assoc_retrieval --seeds 0 1 2 -- \\
        --updates 100000 --patience 20 --stop-at-error 0

Trains every core at every ``--hidden`` size and seed with scripts/assoc_retrieval.py
(flags after ``--`` go to it; finished runs are reused, so the command continues an
interrupted table), then writes ``table.md`` (mean and range over seeds, the paper's
figure beside each cell) and ``curves.png`` (validation error against updates).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from fw_rl.scripts import assoc_retrieval

# Table 1 of Ba et al. (2016), test error in %, K = 4 (shared/PAPER.md)
PAPER = {
    "irnn": {20: 62.11, 50: 60.23, 100: 0.34},
    "lstm": {20: 60.81, 50: 1.85, 100: 0.0},
    "alstm": {20: 60.13, 50: 1.62, 100: 0.0},
    "fastweights": {20: 1.81, 50: 0.0, 100: 0.0},
}


def run_name(core: str, hidden: int, seed: int) -> str:
    return f"{core}-R{hidden}" + (f"-seed{seed}" if seed else "")


def cell(errors: list[float], paper: float | None) -> str:
    """``mean % (min-max, n seeds) [paper %]``."""
    percent = [100 * e for e in errors]
    mean = sum(percent) / len(percent)
    spread = f" ({min(percent):.1f}-{max(percent):.1f}, {len(percent)})" if len(percent) > 1 else ""
    theirs = f" [{paper:.2f}]" if paper is not None else ""
    return f"{mean:.1f}{spread}{theirs}"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--cores", nargs="+", default=["fastweights", "lstm", "irnn", "alstm"])
    parser.add_argument("--hidden", nargs="+", type=int, default=[20, 50, 100])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--out", type=Path, default=Path("docs/results/assoc_retrieval"))
    args = parser.parse_args(argv)
    results: dict[tuple[str, int], list[dict]] = {}
    for core in args.cores:
        for hidden in args.hidden:
            for seed in args.seeds:
                run = args.out / "runs" / run_name(core, hidden, seed)
                if not (run / "results.json").exists():
                    flags = ["--core", core, "--hidden", str(hidden), "--seed", str(seed)]
                    flags += ["--run-dir", str(run), "--no-progress", *extra]
                    if (run / "checkpoint.pt").exists():  # interrupted: continue it
                        flags = ["--resume", str(run), "--no-progress", *extra]
                    code = assoc_retrieval.main(flags)
                    if code != 0:
                        return code
                result = json.loads((run / "results.json").read_text())
                results.setdefault((core, hidden), []).append(result)
    lines = [
        "| core | " + " | ".join(f"R = {h}" for h in args.hidden) + " |",
        "|---" * (len(args.hidden) + 1) + "|",
    ]
    for core in args.cores:
        cells = [
            cell([r["test_error"] for r in results[core, h]], PAPER.get(core, {}).get(h))
            for h in args.hidden
        ]
        lines.append(f"| {core} | " + " | ".join(cells) + " |")
    updates = sorted({r["updates"] for rs in results.values() for r in rs})
    command = "python scripts/assoc_table.py " + " ".join(argv + ["--", *extra])
    text = (
        "Test error (%) on 20,000 sequences, K = 4 pairs: the mean over seeds, (its range, "
        "the number of seeds), [the paper's Table 1]. Updates of batch 128 per run: "
        f"{updates[0]:,}"
        + (f" to {updates[-1]:,}" if len(updates) > 1 else "")
        + ".\n\n"
        + "\n".join(lines)
        + f"\n\nMade by: `{command}`\n"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(text)
    draw_curves(args)
    print(text)
    return 0


def draw_curves(args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, len(args.hidden), figsize=(4 * len(args.hidden), 3.5), sharey=True, squeeze=False
    )
    for ax, hidden in zip(axes[0], args.hidden):
        for i, core in enumerate(args.cores):
            for j, seed in enumerate(args.seeds):
                path = args.out / "runs" / run_name(core, hidden, seed) / "curve.csv"
                with open(path, newline="") as f:
                    rows = list(csv.DictReader(f))
                ax.plot(
                    [int(r["update"]) for r in rows],
                    [100 * float(r["validation_error"]) for r in rows],
                    color=f"C{i}",
                    alpha=1.0 if j == 0 else 0.4,
                    label=core if j == 0 else None,
                )
        ax.set_title(f"R = {hidden}")
        ax.set_xlabel("updates")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("validation error (%)")
    axes[0, 0].legend()
    fig.tight_layout()
    fig.savefig(args.out / "curves.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
