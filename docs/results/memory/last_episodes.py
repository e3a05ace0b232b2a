"""Fraction of correct episodes per bsuite memory setting: over the whole run (what bsuite
scores) and over the last 1,000 of its 10,000 episodes (what the agent does at the end).

    python docs/results/memory/last_episodes.py                # writes last_episodes.md here
    python docs/results/memory/last_episodes.py --out -        # to stdout

Reads the bsuite CSV logs in ``bsuite/<agent>/csv`` (bsuite's logger writes cumulative
counts at episodes 1, 2, ..., 9,000, 10,000; ``total_perfect`` counts the correct ones).
bsuite passes a setting when its regret ratio over all 10,000 episodes,
(episodes - correct) / (0.5 episodes), is below 0.75, i.e. when more than 62.5 % of all
episodes were correct; "margin" is the whole-run fraction minus 62.5 %, in points.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPERIMENTS = {"memory_len": "memory_length", "memory_size": "num_bits"}
PASS_FRACTION = 1 - 0.75 * 0.5  # bsuite's LEARNING_THRESH on the regret ratio, as a fraction


def setting_values(experiment: str) -> list[int]:
    from importlib import import_module

    sweep = import_module(f"bsuite.experiments.{experiment}.sweep")
    return [s[EXPERIMENTS[experiment]] for s in sweep.SETTINGS]


def correct_by_episode(path: Path) -> dict[int, int]:
    with path.open() as f:
        return {int(r["episode"]): int(r["total_perfect"]) for r in csv.DictReader(f)}


EPISODES = 10_000  # bsuite's episodes a memory setting


def table(root: Path, experiment: str) -> list[str]:
    agents = sorted(p.name for p in root.iterdir() if (p / "csv").is_dir())
    values = setting_values(experiment)
    key = EXPERIMENTS[experiment]
    lines = [
        f"### {experiment}: correct fraction, whole run (bsuite's score) / last 1,000 episodes",
        "",
        f"| {key} | " + " | ".join(agents) + " |",
        "|---" * (len(agents) + 1) + "|",
    ]
    for i, value in enumerate(values):
        cells = []
        for agent in agents:
            path = root / agent / "csv" / f"bsuite_id_-_{experiment}-{i}.csv"
            if not path.is_file():
                cells.append("-")
                continue
            counts = correct_by_episode(path)
            last = max(counts)
            if last < EPISODES:  # a run still going (or stopped): not the setting's result
                cells.append(f"unfinished ({last:,} episodes)")
                continue
            whole = counts[last] / last
            tail = (counts[last] - counts[last - 1000]) / 1000
            verdict = "pass" if whole > PASS_FRACTION else "fail"
            margin = 100 * (whole - PASS_FRACTION)
            cells.append(f"{whole:.3f} ({verdict}, {margin:+.1f}) / {tail:.3f}")
        lines.append(f"| {value} | " + " | ".join(cells) + " |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bsuite", type=Path, default=HERE / "bsuite", help="bsuite's logs")
    parser.add_argument("--out", default=str(HERE / "last_episodes.md"), help="'-' for stdout")
    args = parser.parse_args(argv)
    command = "python docs/results/memory/last_episodes.py"
    if args.bsuite != HERE / "bsuite":
        command += f" --bsuite {args.bsuite}"
    lines = [
        "# bsuite memory: the whole run against its last 1,000 episodes",
        "",
        f"Made by: `{command}` (from the bsuite CSV logs in",
        f"`{args.bsuite.name}/<agent>/csv`). A cell: the fraction of the 10,000 episodes answered",
        "correctly (bsuite's verdict, and the margin over its pass line of 62.5 %, in",
        "points) / the fraction correct in episodes 9,001-10,000. Chance is 0.5. One run",
        "per setting and agent.",
        "",
    ]
    for experiment in EXPERIMENTS:
        lines += table(args.bsuite, experiment) + [""]
    text = "\n".join(lines)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
