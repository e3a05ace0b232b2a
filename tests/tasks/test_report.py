"""The supervised tables (fw_rl/tasks/report.py, scripts/supervised_report.py): grids,
rows, the paper beside."""

import json
import re
import shutil

from task_helpers import TINY, write_grid


def test_a_supervised_grid_runs_resumably_and_reports_beside_the_paper(tmp_path, capsys):
    """The tables' pipeline on tiny data: study.py runs a retrieval grid (the trainer named
    by its "script"), supervised_report.py chooses learning rates and writes the table."""
    from fw_rl.scripts import study, supervised_report

    grid = write_grid(tmp_path / "grid.json", {
        "script": "assoc_retrieval",
        "flags": ["--hidden", "8", "--updates", "20", "--eval-interval", "10", *TINY,
                  "--test-pairs", "2-3"],
        "axes": {"core": {"fastweights": ["--core", "fastweights"], "lstm": ["--core", "lstm"]},
                 "lr": {"lr1e.3": ["--lr", "1e-3"], "lr1e.2": ["--lr", "1e-2"]}},
        "seeds": [0, 1],
    })  # fmt: skip
    out = tmp_path / "study"
    assert study.main(["run", str(grid), "--out", str(out), "--jobs", "2"]) == 0
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert len(runs) == 8 and "fastweights-lr1e.2-seed1" in runs
    config = json.loads((out / "runs" / "lstm-lr1e.3-seed1" / "config.json").read_text())
    assert (config["core"], config["lr"], config["seed"], config["hidden"]) == ("lstm", 1e-3, 1, 8)
    stamp = (out / "runs" / "lstm-lr1e.3-seed1" / "results.json").stat().st_mtime_ns
    assert study.main(["run", str(grid), "--out", str(out)]) == 0  # finished: skipped
    assert (out / "runs" / "lstm-lr1e.3-seed1" / "results.json").stat().st_mtime_ns == stamp
    capsys.readouterr()

    assert supervised_report.main(["tuning", str(out)]) == 0
    best = json.loads((out / "best.json").read_text())
    assert set(best) == {"fastweights", "lstm"} and set(best["lstm"]) == {"8"}
    from fw_rl.tasks.report import read_runs

    errors = {}
    for run in read_runs(out):
        if run.core == "lstm":
            errors.setdefault(run.lr, []).append(run.results["best_validation_error"])
    means = {lr: sum(v) / len(v) for lr, v in errors.items()}
    assert float(best["lstm"]["8"]) == min(means, key=lambda lr: (means[lr], lr))
    assert "**" in (out / "tuning.md").read_text()

    assert supervised_report.main(["table", str(out), "--reps", "50"]) == 0
    table = (out / "table.md").read_text()
    # the two learning rates are rows of their own (never pooled); R = 8 is not in the
    # paper's table: ours with n = 2 seeds, the paper's "-"
    row = next(line for line in table.splitlines() if line.startswith("| fastweights [lr 0.001] |"))
    assert re.fullmatch(
        r"\| fastweights \[lr 0\.001\] \| \d+\.\d\d ± \d+\.\d\d \(\S+\), n = 2 \| - \|", row
    )
    assert "| lstm [lr 0.01] |" in table.split("P(`fastweights [lr")[1]
    assert (out / "curves.png").is_file()
    alone = tmp_path / "fastweights_alone"  # one model: no empty table of P against nothing
    for run in (out / "runs").glob("fastweights-lr1e.3-*"):
        shutil.copytree(run, alone / "runs" / run.name)
    shutil.copy(out / "grid.json", alone / "grid.json")
    assert supervised_report.main(["table", str(alone), "--reps", "50"]) == 0
    text = (alone / "table.md").read_text()
    assert "No other model in these runs" in text and "| against |" not in text
    trained = next(
        line for line in table.splitlines() if line.startswith("| fastweights [lr 0.01] | 8 |")
    )
    assert "the cap x 2 | 2 of 2 |" in trained  # 20 updates: every run met the cap

    compare = ["compare", str(out), "--axis", "lr", "--baseline", "lr1e.3", "--reps", "50"]
    assert supervised_report.main(compare) == 0
    rows = [line for line in (out / "compare.md").read_text().splitlines() if "n = 4" in line]
    assert [row.split(" | ")[0] for row in rows] == ["| lr1e.3", "| lr1e.2"]
    assert rows[0].endswith("| - |") and re.search(
        r"\| \d\.\d\d \[\d\.\d\d, \d\.\d\d\](; all 4 [<>] all 4, p = 0\.\d+)? \|$", rows[1]
    )
    assert supervised_report.main([*compare[:-4], "--baseline", "lr5"]) == 2
    assert "no finished run has lr=lr5" in capsys.readouterr().err

    assert supervised_report.main(["generalisation", str(out)]) == 0
    text = (out / "generalisation.md").read_text()
    assert "| 8 | fastweights [lr 0.001] | K = 4 | 2 |" in text and "K = 3" in text
    assert (out / "generalisation.png").is_file()


def test_runs_with_core_options_are_a_model_of_their_own(tmp_path):
    from fw_rl.tasks.report import SupervisedRun

    plain = SupervisedRun("a", tmp_path, {"core": "fastweights", "hidden": 20, "lr": 1e-3,
                                          "core_options": "{}"}, {})  # fmt: skip
    variant = SupervisedRun("b", tmp_path, {**plain.config,
                            "core_options": '{"norm_preliminary": false}'}, {})  # fmt: skip
    # configs of format 1 (no core_version): "{}" ran the old default, LN on h^0
    assert plain.key == ("fastweights (norm_preliminary=True)", 20)
    assert variant.key == ("fastweights", 20)  # the paper's h^0, today's default
    today = SupervisedRun("c", tmp_path, {**plain.config, "core_version": 2}, {})
    assert today.key == variant.key


def test_runs_of_different_protocols_never_share_a_row(tmp_path):
    from fw_rl.tasks.report import SupervisedRun, mark_protocols, reference_model

    def run(name, core, updates, patience):
        config = {"core": core, "hidden": 20, "lr": 1e-3, "core_version": 0, "core_options": "{}",
                  "updates": updates, "patience": patience}  # fmt: skip
        return SupervisedRun(name, tmp_path, config, {})

    same = [run("a", "fastweights", 40_000, 10), run("b", "lstm", 40_000, 10)]
    mark_protocols(same)
    assert [r.model for r in same] == ["fastweights", "lstm"]  # one protocol: plain labels
    mixed = [*same, run("c", "fastweights", 150_000, 30)]
    mark_protocols(mixed)
    assert [r.key for r in mixed] == [
        ("fastweights [cap 40k, patience 10]", 20),
        ("lstm [cap 40k, patience 10]", 20),
        ("fastweights [cap 150k, patience 30]", 20),
    ]
    assert reference_model(mixed) == "fastweights [cap 150k, patience 30]"
    slower = run("d", "fastweights", 150_000, 30)
    slower.config["lr"] = 3e-3
    with_rates = [run("c", "fastweights", 150_000, 30), slower]
    mark_protocols(with_rates)
    assert [r.model for r in with_rates] == ["fastweights [lr 0.001]", "fastweights [lr 0.003]"]


def test_a_run_linked_in_from_another_study_takes_this_grids_labels(tmp_path):
    from fw_rl.tasks.report import read_runs

    theirs = tmp_path / "theirs" / "runs" / "fastweights-seed0"
    theirs.mkdir(parents=True)
    (theirs / "config.json").write_text(json.dumps({"core": "lstm", "hidden": 20, "lr": 1e-3}))
    (theirs / "results.json").write_text(json.dumps({"test_error": 0.1}))
    (theirs / "study.json").write_text(json.dumps({"labels": {"core": "fastweights"}}))
    ours = tmp_path / "ours"
    (ours / "runs").mkdir(parents=True)
    (ours / "grid.json").write_text(json.dumps({"axes": {"variant": {"default": []}}}))
    (ours / "runs" / "default-seed0").symlink_to(theirs)
    (run,) = read_runs(ours)
    assert run.labels == {"variant": "default"}
    assert read_runs(tmp_path / "theirs")[0].labels == {"core": "fastweights"}


def test_spread_cell_and_the_papers_tables():
    from fw_rl.tasks.report import PAPER_TABLE1, PAPER_TABLE2, spread_cell

    assert spread_cell([0.0181]) == "1.81"
    assert spread_cell([0.01, 0.02, 0.03]) == "2.00 ± 1.00 (1.00-3.00), median 2.00"
    assert spread_cell([0.01, 0.02, 0.09]) == "4.00 ± 4.36 (1.00-9.00), median 2.00"
    assert spread_cell([0.01, 0.03]) == "2.00 ± 1.41 (1.00-3.00)"  # no median of two
    assert PAPER_TABLE1["fastweights"][20] == 1.81 and PAPER_TABLE2["convnet"][200] == 0.90


def test_reports_refuse_what_they_cannot_read(tmp_path, capsys):
    from fw_rl.scripts import supervised_report

    assert supervised_report.main(["table", str(tmp_path)]) == 2
    assert "grid.json" in capsys.readouterr().err
    (tmp_path / "grid.json").write_text(json.dumps({"flags": [], "axes": {}, "seeds": [0]}))
    assert supervised_report.main(["table", str(tmp_path)]) == 2
    assert "study of a3c" in capsys.readouterr().err
    (tmp_path / "grid.json").write_text(json.dumps({"script": "glimpses"}))
    (tmp_path / "runs").mkdir()
    assert supervised_report.main(["table", str(tmp_path)]) == 2
    assert "no finished runs" in capsys.readouterr().err


def test_a_tuning_of_rates_and_schedules_chooses_and_shows_the_pair(tmp_path):
    """Where the runs tried several schedules, the setting is the (rate, schedule) pair:
    a column each, the pair with the lowest mean best validation error chosen."""
    from fw_rl.tasks.report import PAPER_TABLE1, SupervisedRun, choose_learning_rates, tuning_table

    def run(name, lr, schedule, error):
        config = {"core": "fastweights", "core_version": 2, "hidden": 20, "lr": lr,
                  "lr_schedule": schedule}  # fmt: skip
        return SupervisedRun(name, tmp_path, config, {"best_validation_error": error})

    runs = [run("a", 1e-3, "constant", 0.02), run("b", 1e-3, "constant", 0.04),
            run("c", 1e-3, "plateau", 0.01), run("d", 1e-3, "plateau", 0.02),
            run("e", 3e-3, "constant", 0.10), run("f", 3e-3, "constant", 0.12)]  # fmt: skip
    assert choose_learning_rates(runs) == {
        "fastweights": {"20": {"lr": "0.001", "lr_schedule": "plateau"}}
    }
    table = tuning_table(runs, PAPER_TABLE1)
    assert "| lr 0.001 constant | lr 0.001 plateau | lr 0.003 constant |" in table
    assert "| fastweights | 20 | 3.0 (n = 2) | **1.5** (n = 2) | 11.0 (n = 2) |" in table
    # one schedule: the rate alone, as before
    assert choose_learning_rates(runs[:2] + runs[4:]) == {"fastweights": {"20": "0.001"}}


def test_a_tuning_row_with_runs_still_to_finish_chooses_nothing(tmp_path):
    """A row chooses only when each setting of the study has all its seeds: from the seeds
    that happened to finish first, it would choose by luck."""
    from fw_rl.tasks.report import PAPER_TABLE1, SupervisedRun, choose_learning_rates, tuning_table

    def run(name, core, lr, error):
        config = {"core": core, "hidden": 20, "lr": lr, "core_version": 0}  # the newest
        return SupervisedRun(name, tmp_path, config, {"best_validation_error": error})

    complete = [run(f"fw{i}", "fastweights", lr, 0.01 * i) for i, lr in
                enumerate((1e-3, 1e-3, 3e-3, 3e-3))]  # fmt: skip
    partial = [run("lstm1", "lstm", 1e-3, 0.20), run("lstm2", "lstm", 1e-3, 0.30),
               run("lstm3", "lstm", 3e-3, 0.10)]  # fmt: skip
    assert choose_learning_rates(complete + partial) == {"fastweights": {"20": "0.001"}}
    table = tuning_table(complete + partial, PAPER_TABLE1)
    assert "| lstm | 20 | 25.0 | 10.0 |" in table  # shown, none in bold
    finished = [*partial, run("lstm4", "lstm", 3e-3, 0.40)]
    assert choose_learning_rates(complete + finished)["lstm"] == {"20": "0.001"}
    # a core with its own window of rates (as many as the others): complete with its own
    alstm = [run(f"alstm{i}", "alstm", lr, 0.05 - 0.01 * i) for i, lr in
             enumerate((3e-3, 3e-3, 1e-2, 1e-2))]  # fmt: skip
    chosen = choose_learning_rates(complete + finished + alstm)
    assert chosen["fastweights"] == {"20": "0.001"} and chosen["alstm"] == {"20": "0.01"}
    assert "alstm" not in choose_learning_rates(complete + finished + alstm[:3])


def test_a_tuned_row_beside_an_earlier_row_of_another_schedule_is_its_own_row(tmp_path):
    from fw_rl.tasks.report import SupervisedRun, mark_protocols

    def run(name, lr, schedule):
        config = {"core": "lstm", "hidden": 20, "lr": lr, "lr_schedule": schedule,
                  "updates": 150_000, "patience": 30}  # fmt: skip
        return SupervisedRun(name, tmp_path, config, {})

    runs = [run("earlier", 3e-3, "constant"), run("tuned", 3e-3, "plateau")]
    mark_protocols(runs)
    assert [r.model for r in runs] == ["lstm [lr 0.003 constant]", "lstm [lr 0.003 plateau]"]
    runs = [run("earlier", 3e-3, "constant"), run("tuned", 1e-3, "constant")]
    mark_protocols(runs)
    assert [r.model for r in runs] == ["lstm [lr 0.003]", "lstm [lr 0.001]"]
