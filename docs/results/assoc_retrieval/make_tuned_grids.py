"""Write Table 1's tuned grids (issue #34) from the protocol-length tuning's choice
(``tuning_protocol/best.json``, made by ``supervised_report.py tuning``), and link the
tuning's own runs of each chosen setting in as that core's first seeds.

    python docs/results/assoc_retrieval/make_tuned_grids.py

Each core with a choice (a core joins once every one of its tuning settings has all its
seeds) runs at its chosen learning rate and schedule, trained as the tuning was: 10 seeds
at R = 20, 5 at R = 50 and at R = 100 (the setting chosen at R = 20). Seeds 0-2 at R = 20
are the tuning's runs of that setting (the same flags and seeds), linked, not rerun.
"""

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORES = ("fastweights", "gru", "lstm", "alstm")  # the table's order
SEEDS_R20, SEEDS_R50_R100 = list(range(10)), list(range(5))


def _setting_flags(core: str, chosen: dict) -> list[str]:
    return ["--core", core, "--lr", chosen["lr"], "--lr-schedule", chosen["lr_schedule"]]


def _tuning_runs(tuning: Path) -> dict[tuple, Path]:
    """``{(core, lr, schedule, seed): run folder}`` of the tuning's finished runs."""
    runs = {}
    for run in sorted((tuning / "runs").iterdir()):
        if not (run / "done.json").is_file():
            continue
        config = json.loads((run / "config.json").read_text())
        key = (config["core"], float(config["lr"]), config["lr_schedule"], int(config["seed"]))
        runs[key] = run
    return runs


def main() -> None:
    tuning = HERE / "tuning_protocol"
    best = json.loads((tuning / "best.json").read_text())
    flags = json.loads((HERE / "grids" / "tuning_protocol.json").read_text())["flags"]
    chosen = {core: best[core]["20"] for core in CORES if core in best}
    at = flags.index("--hidden")
    without_hidden = flags[:at] + flags[at + 2 :]  # R = 50 and 100 are an axis
    grids = {
        "table1_tuned_R20": {
            "description": (
                "Table 1 at R = 20 with each core's setting chosen by tuning_protocol.json "
                "(the lowest mean best validation error over 3 seeds; issue #34): 10 seeds, "
                "trained as the tuning (until validation error 0, 30 evaluations without "
                "improvement, or the cap of 150,000 updates). Seeds 0-2 are the tuning's own "
                "runs of the chosen setting, linked; a core joins the grid when its tuning "
                "has finished (written by make_tuned_grids.py)."
            ),
            "script": "assoc_retrieval",
            "flags": flags,
            "axes": {"core": {core: _setting_flags(core, c) for core, c in chosen.items()}},
            "seeds": SEEDS_R20,
        },
        "table1_tuned_R50_R100": {
            "description": (
                "Table 1 at R = 50 and 100 with each core's setting chosen at R = 20 by "
                "tuning_protocol.json (issue #34): 5 seeds, trained as the tuning (written by "
                "make_tuned_grids.py)."
            ),
            "script": "assoc_retrieval",
            "flags": without_hidden,
            "axes": {
                "core": {core: _setting_flags(core, c) for core, c in chosen.items()},
                "hidden": {"R50": ["--hidden", "50"], "R100": ["--hidden", "100"]},
            },
            "seeds": SEEDS_R50_R100,
        },
    }
    for name, grid in grids.items():
        (HERE / "grids" / f"{name}.json").write_text(json.dumps(grid, indent=2) + "\n")
    runs = _tuning_runs(tuning)
    linked = HERE / "table1_tuned_R20" / "runs"
    linked.mkdir(parents=True, exist_ok=True)
    for core, c in chosen.items():
        for seed in SEEDS_R20:
            run = runs.get((core, float(c["lr"]), c["lr_schedule"], seed))
            link = linked / f"{core}-seed{seed}"
            if run is not None and not link.exists():
                link.symlink_to(Path("..", "..", tuning.name, "runs", run.name))


if __name__ == "__main__":
    main()
