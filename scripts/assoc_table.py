#!/usr/bin/env python
"""Reproduce the paper's Table 1: associative-retrieval test error by core and hidden size.

    python scripts/assoc_table.py --out docs/results/assoc_retrieval -- --updates 20000

Trains every core at every ``--hidden`` size with scripts/assoc_retrieval.py (flags after
``--`` go to it; finished runs are reused), then writes ``table.md`` and ``curves.png``
(validation error against updates) to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from fw_rl.scripts import assoc_retrieval


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cores", nargs="+", default=["fastweights", "lstm", "irnn"])
    parser.add_argument("--hidden", nargs="+", type=int, default=[20, 50, 100])
    parser.add_argument("--out", type=Path, default=Path("docs/results/assoc_retrieval"))
    args = parser.parse_args(argv)
    results = {}
    for core in args.cores:
        for hidden in args.hidden:
            run = args.out / "runs" / f"{core}-R{hidden}"
            if not (run / "results.json").exists():
                code = assoc_retrieval.main(
                    [
                        "--core",
                        core,
                        "--hidden",
                        str(hidden),
                        "--run-dir",
                        str(run),
                        "--no-progress",
                        *extra,
                    ]
                )
                if code != 0:
                    return code
            results[core, hidden] = json.loads((run / "results.json").read_text())
    lines = [
        "| core | " + " | ".join(f"R = {h}" for h in args.hidden) + " |",
        "|---" * (len(args.hidden) + 1) + "|",
    ]
    for core in args.cores:
        cells = [f"{100 * results[core, h]['test_error']:.1f} %" for h in args.hidden]
        lines.append(f"| {core} | " + " | ".join(cells) + " |")
    updates = results[args.cores[0], args.hidden[0]]["updates"]
    command = "python scripts/assoc_table.py " + " ".join(argv + ["--", *extra])
    text = (
        f"Test error (%) on 20,000 sequences, K = 4 pairs, {updates} updates of batch "
        f"128.\n\n" + "\n".join(lines) + f"\n\nMade by: `{command}`\n"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(text)
    draw_curves(args, results)
    print(text)
    return 0


def draw_curves(args, results) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(args.hidden), figsize=(4 * len(args.hidden), 3.5), sharey=True)
    for ax, hidden in zip(list(axes) if len(args.hidden) > 1 else [axes], args.hidden):
        for i, core in enumerate(args.cores):
            with open(args.out / "runs" / f"{core}-R{hidden}" / "curve.csv", newline="") as f:
                rows = list(csv.DictReader(f))
            ax.plot(
                [int(r["update"]) for r in rows],
                [100 * float(r["validation_error"]) for r in rows],
                color=f"C{i}",
                label=core,
            )
        ax.set_title(f"R = {hidden}")
        ax.set_xlabel("updates")
        ax.grid(alpha=0.3)
    (list(axes) if len(args.hidden) > 1 else [axes])[0].set_ylabel("validation error (%)")
    (list(axes) if len(args.hidden) > 1 else [axes])[0].legend()
    fig.tight_layout()
    fig.savefig(args.out / "curves.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
