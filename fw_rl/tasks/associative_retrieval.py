"""Associative retrieval (Ba et al. 2016, section 4.1).

A sequence lists ``K`` key-value pairs (keys distinct letters, values digits), then
``??`` and a query key; the target is the query's value: ``"c9k8j3f1??c" -> 9``.
Vocabulary: 26 letters, 10 digits and ``?`` (37 symbols).
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

LETTERS = string.ascii_lowercase
DIGITS = string.digits
VOCABULARY = LETTERS + DIGITS + "?"
SYMBOL = {c: i for i, c in enumerate(VOCABULARY)}
NUM_CLASSES = 10
DEFAULT_SPLITS = {"train": 100_000, "validation": 10_000, "test": 20_000}


def generate(count: int, num_pairs: int, rng: np.random.Generator) -> tuple[list[str], list[int]]:
    """``count`` sequences as strings, and their targets (the query's digit)."""
    if not 1 <= num_pairs <= len(LETTERS):
        raise ValueError(f"num_pairs must be in [1, {len(LETTERS)}], got {num_pairs}")
    keys = np.argsort(rng.random((count, len(LETTERS))), axis=1)[:, :num_pairs]  # distinct
    values = rng.integers(0, 10, size=(count, num_pairs))
    query = rng.integers(0, num_pairs, size=count)
    texts, targets = [], []
    for k, v, q in zip(keys, values, query):
        pairs = "".join(LETTERS[a] + DIGITS[b] for a, b in zip(k, v))
        texts.append(f"{pairs}??{LETTERS[k[q]]}")
        targets.append(int(v[q]))
    return texts, targets


def encode(texts: list[str]) -> torch.Tensor:
    """Strings -> ``[N, L]`` symbol indices."""
    return torch.tensor([[SYMBOL[c] for c in t] for t in texts], dtype=torch.long)


@dataclass
class RetrievalSplit(Dataset):
    texts: list[str]
    inputs: torch.Tensor  # [N, L] symbol indices
    targets: torch.Tensor  # [N] digits

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int):
        return self.inputs[i], self.targets[i]


def distinct_sequences(num_pairs: int) -> int:
    """How many different sequences exist with ``num_pairs`` pairs."""
    return math.perm(len(LETTERS), num_pairs) * 10**num_pairs * num_pairs


def make_splits(
    seed: int = 0, num_pairs: int = 4, sizes: dict[str, int] | None = None
) -> dict[str, RetrievalSplit]:
    """Train, validation and test splits, the same for the same seed, with no sequence in
    more than one split."""
    sizes = dict(DEFAULT_SPLITS if sizes is None else sizes)
    available = distinct_sequences(num_pairs)
    if sum(sizes.values()) > available // 2:
        raise ValueError(
            f"{sum(sizes.values())} distinct sequences asked for, but only {available} exist "
            f"with {num_pairs} pairs: ask for at most {available // 2} or use more pairs"
        )
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    splits = {}
    for name, count in sizes.items():
        texts: list[str] = []
        targets: list[int] = []
        while len(texts) < count:
            more, more_targets = generate(count - len(texts), num_pairs, rng)
            for text, target in zip(more, more_targets):
                if text not in seen:
                    seen.add(text)
                    texts.append(text)
                    targets.append(target)
        splits[name] = RetrievalSplit(texts, encode(texts), torch.tensor(targets))
    return splits
