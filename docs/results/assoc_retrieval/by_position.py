"""Where a trained retrieval model errs: test error by the position of the queried pair
(1 = the first pair written, K = the last), what its wrong answers are (another pair's
value in the same sequence, or a digit not in it), and which keys it confuses.

    python docs/results/assoc_retrieval/by_position.py RUN [RUN ...] [--out FILE]

Each RUN is a run folder of ``scripts/assoc_retrieval.py`` with its ``best.pt`` (the
weights its test error is of); its test split is made again from its ``config.json`` (the
same seed and sizes give the same sequences). Written for issue #34: what separates the
seeds that fail from those that reach the paper's error.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from collections import Counter
from pathlib import Path

import torch

from fw_rl.checkpoint import load_checkpoint
from fw_rl.scripts.assoc_retrieval import RetrievalConfig
from fw_rl.tasks.associative_retrieval import (
    LETTERS,
    NUM_CLASSES,
    SYMBOL,
    VOCABULARY,
    make_splits,
)
from fw_rl.tasks.classifier import SequenceClassifier
from fw_rl.tasks.training import KIND


def letter_similarity(model: SequenceClassifier) -> dict[frozenset, float]:
    """The cosine similarity of every two letters' learned embeddings."""
    letters = [SYMBOL[c] for c in LETTERS]
    vectors = torch.nn.functional.normalize(model.inputs.weight.detach()[letters], dim=1)
    cosine = vectors @ vectors.T
    return {
        frozenset((LETTERS[i], LETTERS[j])): cosine[i, j].item()
        for i, j in itertools.combinations(range(len(LETTERS)), 2)
    }


def analyse(run: Path) -> dict:
    saved = json.loads((run / "config.json").read_text())
    config = RetrievalConfig(**{**saved, "resume": "", "run_dir": ""})
    if config.max_pairs:
        raise SystemExit(f"{run}: trained with K drawn per sequence; this reads fixed K only")
    sizes = {"train": config.train_size, "validation": config.validation_size}
    sizes["test"] = config.test_size
    test = make_splits(config.seed, config.num_pairs, sizes)["test"]
    model = SequenceClassifier(
        config.core, config.hidden, NUM_CLASSES, vocabulary=len(VOCABULARY),
        embedding_size=config.embedding_size, core_options=config.core_kwargs,
    )  # fmt: skip
    model.load_state_dict(load_checkpoint(run / "best.pt", kind=KIND)["model"])
    model.eval()
    with torch.no_grad():
        answers = torch.cat([model(x).argmax(-1) for x in test.inputs.split(1000)]).tolist()
    k = config.num_pairs
    wrong = [0] * k
    asked = [0] * k
    other_value = not_in_sequence = 0
    confused: Counter[frozenset] = Counter()  # {asked key, key whose value was answered}
    together: Counter[frozenset] = Counter()  # {asked key, another key of the sequence}
    for text, target, answer in zip(test.texts, test.targets.tolist(), answers):
        keys, values = text[0 : 2 * k : 2], text[1 : 2 * k : 2]
        position = keys.index(text[-1])
        asked[position] += 1
        together.update(frozenset((key, text[-1])) for key in keys if key != text[-1])
        if answer != target:
            wrong[position] += 1
            if str(answer) in values:
                other_value += 1
                for key, value in zip(keys, values):  # every pair that holds that value
                    if value == str(answer) and key != text[-1]:
                        confused[frozenset((key, text[-1]))] += 1
            else:
                not_in_sequence += 1
    errors = sum(wrong)
    counts = sorted(confused.values(), reverse=True)
    collided = [p for p, n in together.items() if confused[p] >= 0.25 * n]
    similarity = letter_similarity(model)
    return {
        "run": run.name,
        "test_error": errors / len(answers),
        "by_position": [w / a for w, a in zip(wrong, asked)],
        "other_value": other_value / max(errors, 1),
        "not_in_sequence": not_in_sequence / max(errors, 1),
        # letter pairs the model cannot tell apart: asked one with the other in the
        # sequence, it answers the other's value at least a quarter of the time
        "collided": len(collided),
        # how alike the letters' learned embeddings are: all pairs' median cosine, and
        # the collided pairs' mean
        "cos_median": statistics.median(similarity.values()),
        "cos_collided": statistics.mean(similarity[p] for p in collided) if collided else None,
        # of the confusions, the share of the 10 most frequent letter pairs (of 325)
        "top10_pairs": sum(counts[:10]) / max(sum(counts), 1),
        "top_pairs": ", ".join(
            f"{''.join(sorted(pair))} {n}" for pair, n in confused.most_common(3)
        ),
        "k": k,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--out", default="-", help="a Markdown file (default: stdout)")
    args = parser.parse_args(argv)
    results = [analyse(run) for run in args.runs]
    k = results[0]["k"]
    head = " | ".join(f"pair {i + 1}" for i in range(k))
    lines = [
        "Test error (%) by the position of the queried pair (1 = written first), and of "
        "the wrong answers the share that is another pair's value in the sequence; of "
        "those confusions, the share of the 10 most confused letter pairs (of 325) and "
        "the 3 most confused with their counts; collided pairs: letter pairs that, asked "
        "for one with the other in the sequence, it answers with the other's value at "
        "least a quarter of the time; embedding cosine: the cosine similarity of two "
        "letters' learned embeddings:",
        "",
        f"| run | test error | {head} | wrong: another pair's value | top 10 letter pairs "
        "| collided pairs | most confused | embedding cosine: all pairs' median, collided "
        "pairs' mean |",
        "|---|---|" + "---|" * k + "---|---|---|---|---|",
    ]
    for r in results:
        cells = " | ".join(f"{100 * e:.2f}" for e in r["by_position"])
        lines.append(
            f"| {r['run']} | {100 * r['test_error']:.2f} | {cells} | "
            f"{100 * r['other_value']:.0f} % | {100 * r['top10_pairs']:.0f} % | "
            f"{r['collided']} | {r['top_pairs']} | {r['cos_median']:.2f}, "
            + ("-" if r["cos_collided"] is None else f"{r['cos_collided']:.2f}")
            + " |"
        )
    made_by = " ".join(["python docs/results/assoc_retrieval/by_position.py", *sys.argv[1:]])
    text = "\n".join([*lines, "", f"Made by: `{made_by}`", ""])
    if args.out == "-":
        print(text)
    else:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
