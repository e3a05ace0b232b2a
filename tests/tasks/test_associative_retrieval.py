"""The associative-retrieval task (fw_rl/tasks/associative_retrieval.py,
scripts/assoc_retrieval.py): the generator, its splits, short runs."""

import json
import re

import pytest
import torch
from task_helpers import SMALL, retrieval_run

from fw_rl.scripts import assoc_retrieval
from fw_rl.tasks.associative_retrieval import VOCABULARY, encode, make_splits


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


@pytest.mark.parametrize("core", ["fastweights", "lstm"])
def test_a_seeded_retrieval_run_is_reproducible(tmp_path, core):
    """Same flags and --seed: the same curve and results (the model's initialisation
    follows the seed too)."""
    first = retrieval_run(tmp_path / "a", core, 100)
    second = retrieval_run(tmp_path / "b", core, 100)
    assert first == second


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
        (["--train-size", "100"], "--batch-size (128) must be at most --train-size (100)"),
        (["--core", "alstm", "--hidden", "7"], "core 'alstm' refuses its settings: hidden_size"),
    ):
        with pytest.raises(SystemExit) as stop:
            assoc_retrieval.main(bad)
        assert stop.value.code == 2 and message in capsys.readouterr().err
