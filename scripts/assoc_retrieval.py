#!/usr/bin/env python
"""Train a core on associative retrieval (Ba et al. 2016, section 4.1; "c9k8j3f1??c" -> 9).

python scripts/assoc_retrieval.py --core fastweights --hidden 20
python scripts/assoc_retrieval.py --resume runs/assoc-fastweights-R20
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from fw_rl.cli import command, option, parse_config
from fw_rl.run_dir import Resumption
from fw_rl.tasks.associative_retrieval import (
    NUM_CLASSES,
    VOCABULARY,
    make_splits,
    other_pairs_split,
)
from fw_rl.tasks.classifier import SequenceClassifier
from fw_rl.tasks.training import KIND, SupervisedConfig, run_training


@dataclass
class RetrievalConfig(SupervisedConfig):
    num_pairs: int = option(4, "key-value pairs per sequence (the paper's K)")
    max_pairs: int = option(
        0, "train with K drawn uniformly from --num-pairs to this for each sequence (0: fixed K)"
    )
    test_pairs: str = option(
        "",
        "also test the best weights on sequences with these K (20,000 each unless "
        "--test-size says otherwise), e.g. '2-10' or '2,4,8'",
    )
    train_size: int = option(100_000, "training sequences")
    validation_size: int = option(10_000, "validation sequences")
    test_size: int = option(20_000, "test sequences")
    embedding_size: int = option(64, "width of the symbol embedding", role="identity")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.num_pairs <= 26:
            raise ValueError(f"--num-pairs must be in [1, 26], got {self.num_pairs}")
        if self.max_pairs and not self.num_pairs <= self.max_pairs <= 26:
            raise ValueError(
                f"--max-pairs must be in [--num-pairs, 26] = [{self.num_pairs}, 26], "
                f"or 0, got {self.max_pairs}"
            )
        for name in ("train_size", "validation_size", "test_size", "embedding_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1")
        if self.batch_size > self.train_size:
            raise ValueError(
                f"--batch-size ({self.batch_size}) must be at most --train-size ({self.train_size})"
            )
        self.tested_pairs  # noqa: B018  (checks --test-pairs)

    @property
    def tested_pairs(self) -> list[int]:
        """``--test-pairs`` as a list of ints."""
        pairs: list[int] = []
        try:
            for part in filter(None, self.test_pairs.replace(" ", "").split(",")):
                low, _, high = part.partition("-")
                pairs += range(int(low), int(high or low) + 1)
        except ValueError:
            pairs = [0]
        if any(not 1 <= k <= 26 for k in pairs):
            raise ValueError(
                f"--test-pairs takes K in [1, 26] as '2-10' or '2,4,8', got {self.test_pairs!r}"
            )
        return pairs


def main(argv=None) -> int:
    resumption = Resumption(KIND)
    config = parse_config(RetrievalConfig, __doc__.split("\n\n")[0], argv, saved=resumption)
    default_run_dir = f"runs/assoc-{config.core}-R{config.hidden}"
    sizes = {
        "train": config.train_size,
        "validation": config.validation_size,
        "test": config.test_size,
    }
    try:
        splits = make_splits(config.seed, config.num_pairs, sizes, config.max_pairs or None)
    except ValueError as e:
        print(f"{command()}: error: {e}", file=sys.stderr)
        return 2

    def build_model() -> SequenceClassifier:
        return SequenceClassifier(
            config.core,
            config.hidden,
            NUM_CLASSES,
            vocabulary=len(VOCABULARY),
            embedding_size=config.embedding_size,
            core_options=config.core_kwargs,
        )

    seen = set(splits["train"].texts) | set(splits["validation"].texts)
    extra = {
        f"K={k}": other_pairs_split(config.seed, k, config.test_size, seen)
        for k in config.tested_pairs
    }
    return run_training(
        build_model, splits, config, default_run_dir, resumption.payload, extra_tests=extra
    )


if __name__ == "__main__":
    sys.exit(main())
