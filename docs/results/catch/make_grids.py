"""Write the comparison's and the ablations' grids from the tuning's choice of learning
rate (``tuning/best.json``, made by ``study.py best``): each core runs at its own best.

    python docs/results/catch/make_grids.py
"""

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
# no time limit: the runs end at their frame budgets (A3C's default is 15 minutes since
# issue #32; the runs before it had none)
COMMON = ["--workers", "2", "--envs-per-worker", "16", "--max-minutes", "0"]
COMMON += ["--eval-interval", "100000"]
LR = {"0.00035": "3.5e-4", "0.0007": "7e-4", "0.0014": "1.4e-3", "0.0028": "2.8e-3"}
# the grids run before version 2 of the fast-weights core ran its version 1 (the layer norm
# on h^0 too) and name it, so that a resumed or extended grid runs what it ran; the later
# ones name the paper's h^0 = f(W h_{t-1} + C x_t) (version 2's default) explicitly
V1 = ["--core-version", "1"]
PAPER_H0 = ["--core-options", json.dumps({"norm_preliminary": False})]


def _cores(lr: dict, fast_weights: list[str], cores=("fastweights", "lstm", "irnn")) -> dict:
    return {c: ["--core", c, "--lr", lr[c], *(fast_weights if c == "fastweights" else [])]
            for c in cores}  # fmt: skip


def main() -> None:
    best = json.loads((HERE / "tuning" / "best.json").read_text())
    lr = {core: LR[choice["best"]] for core, choice in best.items()}
    settings = {
        "24x24": ["--size", "24", "--visible-steps", "5", "--total-frames", "5000000"],
        "16x16": ["--size", "16", "--visible-steps", "3", "--total-frames", "3000000"],
    }
    main_grid = {
        "description": (
            "The paper's comparison (section 4.4): its three cores (fast weights with the "
            "paper's h^0 = f(W h + C x), no layer norm), each at the learning rate the tuning "
            "chose for it, at both of the paper's settings, with and without the previous "
            "action as an input, 5 seeds. Frame budgets: 5 M (24 x 24), 3 M (16 x 16)."
        ),
        "flags": COMMON,
        "axes": {
            "setting": settings,
            "previous_action": {"fed": [], "blind": ["--no-previous-action"]},
            "core": _cores(lr, PAPER_H0),
        },
        "seeds": [0, 1, 2, 3, 4],
    }
    main_ln_h0 = {
        "description": (
            "The paper's comparison's fast-weights cells as first run, with the layer norm on "
            "h^0 (the default before version 2 of the core), 5 seeds; kept for the record "
            "(issue #20)."
        ),
        "flags": COMMON,
        "axes": {
            "setting": settings,
            "previous_action": {"fed": [], "blind": ["--no-previous-action"]},
            "core": _cores(lr, V1, ("fastweights",)),
        },
        "seeds": [0, 1, 2, 3, 4],
    }
    options = {
        "default": {},
        "no_ln_h0": {"norm_preliminary": False},
        "decay0.9": {"decay": 0.9},
        "decay0.99": {"decay": 0.99},
        "eta0.25": {"fast_lr": 0.25},
        "eta1.0": {"fast_lr": 1.0},
        "eta0": {"fast_lr": 0.0},
        "S2": {"inner_steps": 2},
        "W1.0": {"slow_init_scale": 1.0},
    }
    variant = {k: ["--core-options", json.dumps(v)] for k, v in options.items()}
    variant["H64"] = ["--hidden-size", "64"]
    variant["H256"] = ["--hidden-size", "256"]
    ablations = {
        "description": (
            "The fast-weights core's own choices, one at a time from the defaults (layer norm "
            "on h^0, lambda 0.95, eta 0.5, S = 1, W = 0.05 I, 128 hidden units), at 24 x 24 "
            "with 5 visible frames and the previous action fed, 3 seeds, 3 M frames (the "
            "budget that fits one session's 2 cores; the main study's 24 x 24 runs had 5 M)."
        ),
        "flags": [
            *COMMON,
            "--size",
            "24",
            "--visible-steps",
            "5",
            "--total-frames",
            "3000000",
            "--core",
            "fastweights",
            *V1,
            "--lr",
            lr["fastweights"],
        ],
        "axes": {"variant": variant},
        "seeds": [0, 1, 2],
    }
    beyond_first = {
        "description": (
            "Beyond the paper, as first run: longer blind periods, where memory matters more "
            "(24 x 24 with 2 visible observations, 32 x 32 with 3), fast weights (version 1: "
            "the layer norm on h^0) against the LSTM, each at its tuned learning rate, the "
            "previous action fed, 3 seeds, 4 M frames; kept for the record (issue #20)."
        ),
        "flags": [*COMMON, "--total-frames", "4000000"],
        "axes": {
            "setting": {
                "24x24_M2": ["--size", "24", "--visible-steps", "2"],
                "32x32_M3": ["--size", "32", "--visible-steps", "3"],
            },
            "core": _cores(lr, V1, ("fastweights", "lstm")),
        },
        "seeds": [0, 1, 2],
    }
    beyond = {
        "description": (
            "Beyond the paper: longer blind periods, where memory matters more, fast weights "
            "(the paper's h^0) against the LSTM, each at its tuned learning rate, the previous "
            "action fed: 24 x 24 with 2 visible observations (4 M frames, 5 seeds) and 32 x 32 "
            "with 3 (10 M frames, 2.5 times the first runs' budget; seeds as the budget allows)."
        ),
        "flags": COMMON,
        "axes": {
            "setting": {
                "24x24_M2": ["--size", "24", "--visible-steps", "2", "--total-frames", "4000000"],
                "32x32_M3": ["--size", "32", "--visible-steps", "3", "--total-frames", "10000000"],
            },
            "core": _cores(lr, PAPER_H0, ("fastweights", "lstm")),
        },
        "seeds": [0, 1, 2, 3, 4],
    }
    grids = {"main": main_grid, "main_ln_h0": main_ln_h0, "ablations": ablations,
             "beyond_first": beyond_first, "beyond": beyond}  # fmt: skip
    for name, grid in grids.items():
        (HERE / "grids" / f"{name}.json").write_text(json.dumps(grid, indent=2) + "\n")
    print("learning rates:", lr)


if __name__ == "__main__":
    main()
