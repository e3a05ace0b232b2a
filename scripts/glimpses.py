#!/usr/bin/env python
"""Classify MNIST from a sequence of multi-level glimpses (Ba et al. 2016, section 4.2).

    python scripts/glimpses.py --data-dir ~/data/mnist --core fastweights --hidden 100
    python scripts/glimpses.py --data-dir ~/data/mnist --core convnet   # the baseline

The glimpse scheme is documented in fw_rl/tasks/glimpses.py. ``--data-dir`` holds the
four standard IDX files (gzipped or not); nothing is downloaded. The last
``--validation-size`` training images are held out for validation.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from torch.utils.data import TensorDataset

from fw_rl.cli import option, parse_config
from fw_rl.cores import CORES
from fw_rl.run_dir import Resumption
from fw_rl.tasks.classifier import SequenceClassifier
from fw_rl.tasks.glimpses import (
    GLIMPSE_FEATURES,
    DataFileError,
    MissingDataError,
    SmallConvNet,
    extract_glimpses,
    load_mnist,
)
from fw_rl.tasks.training import KIND, SupervisedConfig, run_training

MODELS = sorted(CORES) + ["convnet"]


@dataclass
class GlimpseConfig(SupervisedConfig):
    core: str = option(
        "fastweights",
        f"model: one of {', '.join(MODELS)} (convnet is the baseline on whole images)",
        choices=MODELS,
        role="identity",
    )
    hidden: int = option(100, "hidden units of the core", role="identity")
    data_dir: str = option("data/mnist", "folder holding MNIST's four IDX files")
    validation_size: int = option(5_000, "training images held out for validation")
    updates: int = option(10_000, "updates to train for")

    other_models = ("convnet",)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.validation_size < 1:
            raise ValueError("--validation-size must be >= 1")


def main(argv=None) -> int:
    resumption = Resumption(KIND)
    config = parse_config(GlimpseConfig, __doc__.split("\n\n")[0], argv, saved=resumption)
    try:
        data = load_mnist(config.data_dir)
    except (MissingDataError, DataFileError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    images, labels = data["train"]
    if config.validation_size >= len(images):
        print(
            f"error: --validation-size {config.validation_size} leaves no training images "
            f"(there are {len(images)})",
            file=sys.stderr,
        )
        return 2
    cut = len(images) - config.validation_size

    def build_model():
        if config.core == "convnet":
            return SmallConvNet()
        return SequenceClassifier(
            config.core,
            config.hidden,
            10,
            input_size=GLIMPSE_FEATURES,
            core_options=config.core_kwargs,
        )

    if config.core == "convnet":
        features = {"train": images[:cut], "validation": images[cut:], "test": data["test"][0]}
    else:
        features = {
            "train": extract_glimpses(images[:cut]),
            "validation": extract_glimpses(images[cut:]),
            "test": extract_glimpses(data["test"][0]),
        }
    targets = {"train": labels[:cut], "validation": labels[cut:], "test": data["test"][1]}
    splits = {k: TensorDataset(features[k], targets[k]) for k in features}
    default_run_dir = f"runs/glimpses-{config.core}-{config.hidden}"
    return run_training(build_model, splits, config, default_run_dir, resumption.payload)


if __name__ == "__main__":
    sys.exit(main())
