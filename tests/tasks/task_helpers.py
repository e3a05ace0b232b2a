"""Helpers of the supervised-task tests: IDX and MNIST files, short runs, grids."""

import gzip
import json
import struct
from pathlib import Path

import numpy as np

from fw_rl.scripts import assoc_retrieval


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write unsigned bytes as an IDX file (gzipped when ``path`` ends in ``.gz``)."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


SMALL = {"train": 3000, "validation": 500, "test": 500}


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


def truncate(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def retrieval_run(run: Path, core: str, updates: int) -> dict:
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


TINY = ["--train-size", "300", "--validation-size", "100", "--test-size", "100"]


def write_grid(path: Path, grid: dict) -> Path:
    path.write_text(json.dumps(grid))
    return path
