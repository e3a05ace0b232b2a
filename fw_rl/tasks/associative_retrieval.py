"""Associative retrieval (Ba et al. 2016, section 4.1).

A sequence lists ``K`` key-value pairs (keys distinct letters, values digits), then
``??`` and a query key; the target is the query's value: ``"c9k8j3f1??c" -> 9``.
Vocabulary: 26 letters, 10 digits and ``?`` (37 symbols).

Sequences of different lengths (``K`` drawn per sequence, or a test with other ``K``
than training) are padded on the left to the longest; the model is told where each one
starts (``starts``), and the recurrent core's state is reset there, so the padding has no
effect on the result at all (:class:`~fw_rl.tasks.classifier.SequenceClassifier`).
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


def check_pairs(num_pairs: int) -> None:
    if isinstance(num_pairs, bool) or not 1 <= num_pairs <= len(LETTERS):
        raise ValueError(
            f"num_pairs must be in [1, {len(LETTERS)}] (the keys are distinct letters), "
            f"got {num_pairs}"
        )


def generate(count: int, num_pairs: int, rng: np.random.Generator) -> tuple[list[str], list[int]]:
    """``count`` sequences as strings, and their targets (the query's digit)."""
    check_pairs(num_pairs)
    keys = np.argsort(rng.random((count, len(LETTERS))), axis=1)[:, :num_pairs]  # distinct
    values = rng.integers(0, 10, size=(count, num_pairs))
    query = rng.integers(0, num_pairs, size=count)
    texts, targets = [], []
    for k, v, q in zip(keys, values, query):
        pairs = "".join(LETTERS[a] + DIGITS[b] for a, b in zip(k, v))
        texts.append(f"{pairs}??{LETTERS[k[q]]}")
        targets.append(int(v[q]))
    return texts, targets


PAD = "?"  # what left padding is filled with (never seen: the state is reset after it)


def encode(texts: list[str]) -> torch.Tensor:
    """Strings of one length -> ``[N, L]`` symbol indices."""
    return torch.tensor([[SYMBOL[c] for c in t] for t in texts], dtype=torch.long)


def encode_padded(texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Strings of any lengths -> ``[N, L_max]`` indices padded on the left, and where each
    sequence starts ``[N]``."""
    longest = max(map(len, texts))
    inputs = encode([PAD * (longest - len(t)) + t for t in texts])
    starts = torch.tensor([longest - len(t) for t in texts], dtype=torch.long)
    return inputs, starts


@dataclass
class RetrievalSplit(Dataset):
    """Sequences and targets; ``starts`` is None when all have one length, else where each
    starts (items are then ``((inputs, start), target)``)."""

    texts: list[str]
    inputs: torch.Tensor  # [N, L] symbol indices
    targets: torch.Tensor  # [N] digits
    starts: torch.Tensor | None = None  # [N] first real position, for left-padded ones

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int):
        if self.starts is None:
            return self.inputs[i], self.targets[i]
        return (self.inputs[i], self.starts[i]), self.targets[i]

    def batch(self, indices: torch.Tensor):
        """The items at ``indices`` as one batch (what collating them one by one gives)."""
        if self.starts is None:
            return [self.inputs[indices], self.targets[indices]]
        return [[self.inputs[indices], self.starts[indices]], self.targets[indices]]


def split_of(texts: list[str], targets: list[int]) -> RetrievalSplit:
    if len(set(map(len, texts))) == 1:
        return RetrievalSplit(texts, encode(texts), torch.tensor(targets))
    inputs, starts = encode_padded(texts)
    return RetrievalSplit(texts, inputs, torch.tensor(targets), starts)


def distinct_sequences(num_pairs: int) -> int:
    """How many different sequences exist with ``num_pairs`` pairs."""
    return math.perm(len(LETTERS), num_pairs) * 10**num_pairs * num_pairs


def make_splits(
    seed: int = 0,
    num_pairs: int = 4,
    sizes: dict[str, int] | None = None,
    max_pairs: int | None = None,
) -> dict[str, RetrievalSplit]:
    """Train, validation and test splits, the same for the same seed, with no sequence in
    more than one split. With ``max_pairs``, each sequence has ``K`` pairs drawn uniformly
    from ``num_pairs .. max_pairs`` (then padded on the left, see the module docstring)."""
    sizes = dict(DEFAULT_SPLITS if sizes is None else sizes)
    low, high = num_pairs, num_pairs if max_pairs is None else max_pairs
    check_pairs(low)
    check_pairs(high)
    if high < low:
        raise ValueError(f"max_pairs ({high}) must be at least num_pairs ({low})")
    available = sum(distinct_sequences(k) for k in range(low, high + 1))
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
            if low == high:
                more, more_targets = generate(count - len(texts), low, rng)
            else:
                more, more_targets = _generate_mixed(count - len(texts), low, high, rng)
            for text, target in zip(more, more_targets):
                if text not in seen:
                    seen.add(text)
                    texts.append(text)
                    targets.append(target)
        splits[name] = split_of(texts, targets)
    return splits


def _generate_mixed(count: int, low: int, high: int, rng: np.random.Generator):
    """``count`` sequences, each with ``K`` pairs drawn uniformly from ``low .. high``."""
    pairs = rng.integers(low, high + 1, size=count)
    texts, targets = [""] * count, [0] * count
    for k in range(low, high + 1):
        where = np.flatnonzero(pairs == k)
        batch, batch_targets = generate(len(where), k, rng)
        for i, text, target in zip(where.tolist(), batch, batch_targets):
            texts[i], targets[i] = text, target
    return texts, targets


def other_pairs_split(seed: int, num_pairs: int, size: int, exclude: set[str]) -> RetrievalSplit:
    """``size`` sequences of ``num_pairs`` pairs, none of them in ``exclude`` (the training
    and validation sequences), for testing with another ``K`` than training."""
    rng = np.random.default_rng([seed, num_pairs])
    texts: list[str] = []
    targets: list[int] = []
    while len(texts) < size:
        more, more_targets = generate(size - len(texts), num_pairs, rng)
        for text, target in zip(more, more_targets):
            if text not in exclude:
                exclude.add(text)
                texts.append(text)
                targets.append(target)
    return split_of(texts, targets)
