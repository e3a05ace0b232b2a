"""The read gain ``g`` each ``fast_gain`` run learned: how much fast memory training chose.

    python docs/results/memory/fast_gain_values.py                  # writes fast_gain/gain.csv
    python docs/results/memory/fast_gain_values.py --out -          # to stdout

Reads ``core.gain`` from each finished run's ``checkpoint.pt`` under
``fast_gain/runs`` (the checkpoints are not in git: run the grid to make them). Since the
fast memory ``A_t`` enters eq. 2 only through ``g A_t h``, a run at ``g`` computes what the
paper's core computes at ``eta' = g eta``; ``effective_eta`` is that product (eta from the
run's core options).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def rows(study: Path) -> list[dict]:
    from fw_rl.agents.algorithms import agent_kinds
    from fw_rl.checkpoint import load_checkpoint

    found = []
    for run in sorted((study / "runs").iterdir()):
        if not (run / "done.json").exists():
            continue
        payload = load_checkpoint(run / "checkpoint.pt", agent_kinds())
        gain = float(payload["model"]["core.gain"])
        options = json.loads(payload["config"]["core_options"])
        frames = payload["counters"].get("frames")
        found.append(
            {
                "run": run.name,
                "frames": frames,
                "gain": f"{gain:.6f}",
                "effective_eta": f"{gain * options['fast_lr']:.6f}",
            }
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", type=Path, default=HERE / "fast_gain")
    parser.add_argument("--out", default=None, help="a CSV path, or - for stdout")
    args = parser.parse_args()
    table = rows(args.study)
    if not table:
        sys.exit(f"no finished run with a checkpoint under {args.study / 'runs'}")
    out = args.out or str(args.study / "gain.csv")
    handle = sys.stdout if out == "-" else open(out, "w", newline="")
    writer = csv.DictWriter(handle, fieldnames=list(table[0]))
    writer.writeheader()
    writer.writerows(table)
    if handle is not sys.stdout:
        handle.close()
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
