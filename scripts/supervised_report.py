#!/usr/bin/env python
"""Report a supervised study (a grid of scripts/assoc_retrieval.py or scripts/glimpses.py
runs made by scripts/study.py run): the paper's tables with ours beside them.

    python scripts/supervised_report.py tuning docs/results/assoc_retrieval/tuning
    python scripts/supervised_report.py table docs/results/assoc_retrieval/table1_R20 \
        docs/results/assoc_retrieval/table1_R50_R100 --out docs/results/assoc_retrieval
    python scripts/supervised_report.py generalisation docs/results/assoc_retrieval/pairs
    python scripts/supervised_report.py compare docs/results/assoc_retrieval/diagnosis \
        --axis variant --baseline default

``tuning`` writes ``tuning.md`` (best validation error by core, hidden size and learning
rate) and ``best.json`` (``{core: {hidden: lr}}``, the rate each core is then trained
with); ``table`` writes ``table.md`` (test error, ours beside the paper's; how each cell
trained; the probability that fast weights beat each other model) and ``curves.png``;
``generalisation`` writes ``generalisation.md`` and ``generalisation.png`` (test error by
the number of pairs K at test time); ``compare`` writes ``compare.md`` (one row per label of
a grid's axis against a baseline label). Several study folders (of the same task) are
reported together; the files go to ``--out`` (default: the first folder). Exit code 2 when
a folder cannot be reported.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fw_rl.agents.study.report import ReportError
from fw_rl.cli import Parser, command
from fw_rl.tasks import report

TASK_NAMES = {
    "assoc_retrieval": "associative retrieval (Table 1), test error (%) on 20,000 sequences",
    "glimpses": "MNIST from glimpses (Table 2), test error (%)",
}


def task_of(study: Path) -> str:
    """The study's trainer, from the ``grid.json`` that ``study.py run`` wrote."""
    try:
        grid = json.loads((study / "grid.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ReportError(
            f"cannot read {study / 'grid.json'} (made by study.py run): {e}"
        ) from None
    script = grid.get("script", "a3c")
    if script not in report.PAPERS:
        raise ReportError(
            f"{study} is a study of {script}; this report is for "
            f"{' or '.join(report.PAPERS)} (use study.py report for A3C studies)"
        )
    return script


def main(argv=None) -> int:
    parser = Parser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("what", choices=["tuning", "table", "generalisation", "compare"])
    parser.add_argument(
        "studies", type=Path, nargs="+", help="the studies' folders (study.py run --out)"
    )
    parser.add_argument("--out", type=Path, default=None, help="where the report goes")
    parser.add_argument("--reps", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--axis", default="variant", help="compare: the grid's axis")
    parser.add_argument("--baseline", default="default", help="compare: the label to beat")
    args = parser.parse_args(argv)
    out = args.out or args.studies[0]
    made_by = (
        f"python scripts/supervised_report.py {args.what} "
        + " ".join(str(s) for s in args.studies)
        + (f" --out {args.out}" if args.out else "")
    )
    if args.what == "compare":
        made_by += f" --axis {args.axis} --baseline {args.baseline}"
    try:
        tasks = {task_of(study) for study in args.studies}
        if len(tasks) > 1:
            raise ReportError(f"the studies are of different tasks ({', '.join(sorted(tasks))})")
        task = tasks.pop()
        paper = report.PAPERS[task]
        runs = [run for study in args.studies for run in report.read_runs(study)]
        if args.what in ("table", "generalisation"):
            report.mark_protocols(runs)
        out.mkdir(parents=True, exist_ok=True)
        if args.what == "tuning":
            best = report.choose_learning_rates(runs)
            text = (
                f"Learning-rate tuning, {TASK_NAMES[task].split(',')[0]}: the best validation "
                "error (%) each run reached, mean over seeds; in bold the setting chosen for "
                "each core and hidden size (none in a row with runs still to finish: a row "
                "chooses only when every setting has all its seeds)."
                f"\n\n{report.tuning_table(runs, paper)}\n\n"
                f"Made by: `{made_by}`\n"
            )
            (out / "best.json").write_text(json.dumps(best, indent=2) + "\n")
            (out / "tuning.md").write_text(text)
        elif args.what == "table":
            reference = report.reference_model(runs)
            if {run.model for run in runs} == {reference}:
                improvement = f"No other model in these runs, so no P(`{reference}` < it)."
            else:
                improvement = (
                    f"P(`{reference}`'s test error < the other model's), rliable's "
                    "probability of improvement over seeds with its 95 % stratified-bootstrap "
                    f"interval ({args.reps} resamples; none below 3 runs a side; where every "
                    "run of one side beats every run of the other, the runs a side and the "
                    "exact one-sided permutation p-value):\n\n"
                    f"{report.improvement_table(runs, paper, reps=args.reps)}"
                )
            text = (
                f"{TASK_NAMES[task][0].upper()}{TASK_NAMES[task][1:]}: ours as mean ± standard "
                "deviation (range) over seeds, the median from 3 seeds, n seeds; the paper's "
                "beside it.\n\n"
                f"{report.results_table(runs, paper)}\n\n"
                "How each cell trained:\n\n"
                f"{report.training_table(runs, paper)}\n\n"
                f"{improvement}\n\n"
                f"Made by: `{made_by}`\n"
            )
            report.draw_curves(runs, paper, out / "curves.png")
            (out / "table.md").write_text(text)
        elif args.what == "compare":
            table = report.compare_table(runs, args.axis, args.baseline, args.reps)
            text = (
                f"{TASK_NAMES[task][0].upper()}{TASK_NAMES[task][1:]} by {args.axis}: mean ± "
                "standard deviation (range) over seeds, the median from 3 seeds; P is "
                f"rliable's probability of improvement over {args.baseline} with its 95 % "
                "stratified-bootstrap interval "
                f"({args.reps} resamples; none below 3 runs a side).\n\n{table}\n\n"
                f"Made by: `{made_by}`\n"
            )
            (out / "compare.md").write_text(text)
        else:
            text = (
                "Retrieval test error (%) by the number of pairs K at test time (20,000 "
                "sequences each, none seen in training), mean over seeds. Guessing one of the "
                "sequence's values errs (K - 1) / K of the time, less when values repeat; "
                "at K = 4 the models sit near 62 % before they learn the retrieval (the "
                "paper's 60-62 %).\n\n"
                f"{report.generalisation_table(runs)}\n\nMade by: `{made_by}`\n"
            )
            report.draw_generalisation(runs, out / "generalisation.png")
            (out / "generalisation.md").write_text(text)
    except ReportError as e:
        print(f"{command()}: error: {e}", file=sys.stderr)
        return 2
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
