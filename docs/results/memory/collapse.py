"""Why a bsuite pass does not hold to the end (issue #33, section 1): the runs of
``bsuite_collapse/`` (fast weights on memory_len at L = 8 and 14, the previous action fed, as
the committed sweep, whose runs there were at chance in their last 1,000 episodes; the
defaults and an entropy cost of 0.05 instead of 0.01 at both, a learning rate of 4e-4
instead of 1.4e-3 at L = 8; 3 seeds each), by length, variant and seed: the fraction of
episodes correct over the whole run (bsuite's score) and in the last 1,000 episodes, and,
over the last tenth of the training log, the policy's entropy (nats) and the value loss
(``mean((R_t - V_t)^2) / 2``: near 0 only where the critic knows each episode's outcome).

    python docs/results/memory/collapse.py                 # writes bsuite_collapse/collapse.md
    python docs/results/memory/collapse.py --out -         # to stdout
    python docs/results/memory/collapse.py --runs docs/results/memory/bsuite --lengths 8 14 --out -
                                                          # the committed sweep's runs

Chance is 0.5 correct; the entropy of a uniform choice of the 2 answers is 0.69.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # last_episodes.py beside this file reads bsuite's logs

from last_episodes import correct_by_episode, setting_values  # noqa: E402


def correct_fractions(log: Path) -> tuple[float, float]:
    """(whole run, last 1,000 episodes) from bsuite's cumulative ``total_perfect``."""
    counts = correct_by_episode(log)
    last = max(counts)
    return counts[last] / last, (counts[last] - counts[last - 1000]) / 1000


def late_mean(metrics: Path, column: str) -> float:
    """Mean of a logged column over the last tenth of the run's rows."""
    with metrics.open() as f:
        values = [float(r[column]) for r in csv.DictReader(f) if r[column] != "nan"]
    return statistics.mean(values[-max(1, len(values) // 10) :])


def rows(root: Path, lengths=None) -> list[tuple[int, str, int, float, float, float, float]]:
    """``(L, variant, seed, whole, last 1,000, late entropy, late value loss)`` of every
    finished run."""
    lengths_of = setting_values("memory_len")
    found = []
    for agent in sorted(p for p in root.iterdir() if (p / "csv").is_dir()):
        # <core>-<variant>-seed<n> (a variant's name may hold dashes: lr4e-4); a folder of
        # the committed sweep is named by its core alone and ran seed 0
        name = agent.name
        variant, seed = name.split("-", 1)[1].rsplit("-seed", 1) if "-seed" in name else (name, 0)
        for log in sorted((agent / "csv").glob("bsuite_id_-_memory_len-*.csv")):
            setting = int(log.stem.rsplit("-", 1)[1])
            run = agent / "runs" / f"memory_len-{setting}"
            length = lengths_of[setting]
            if not (run / "done.json").is_file() or (lengths and length not in lengths):
                continue
            whole, tail = correct_fractions(log)
            entropy, value = (late_mean(run / "metrics.csv", c) for c in ("entropy", "value_loss"))
            found.append((length, variant, int(seed), whole, tail, entropy, value))
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=HERE / "bsuite_collapse")
    parser.add_argument("--out", default=None, help="'-' for stdout (default: RUNS/collapse.md)")
    parser.add_argument("--lengths", type=int, nargs="+", help="only these L (default: all)")
    raw = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(raw)
    table = rows(args.runs, args.lengths)
    if not table:
        print(f"collapse.py: error: no finished run under {args.runs}", file=sys.stderr)
        return 2
    lines = [
        "# bsuite memory_len: does the pass hold to the end?",
        "",
        f"Made by: `{' '.join(['python docs/results/memory/collapse.py', *raw])}` from the",
        "runs' bsuite CSV logs and training logs (the previous action fed, 10,000 episodes",
        "each).",
        "Fraction of episodes correct over the whole run (bsuite's score counts these) and in",
        "the last 1,000; over the last tenth of the training log, the policy's entropy (0.69",
        "is a uniform choice of the two answers) and the value loss (0 only where the critic",
        "predicts each episode's +1 or -1). Chance is 0.5 correct.",
        "",
        "| L | variant | seed | whole run | last 1,000 episodes | entropy | value loss |",
        "|---|---|---|---|---|---|---|",
    ]
    for length, variant, seed, whole, tail, entropy, value in sorted(table):
        lines.append(
            f"| {length} | {variant} | {seed} | {whole:.3f} | {tail:.3f} | {entropy:.4f} "
            f"| {value:.4f} |"
        )
    text = "\n".join(lines) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        out = Path(args.out) if args.out else args.runs / "collapse.md"
        out.write_text(text)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
