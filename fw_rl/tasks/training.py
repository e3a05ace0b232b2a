"""The training loop both supervised tasks share: Adam, validation, the best checkpoint.

A run directory holds ``config.json``, ``curve.csv`` (update, train loss and error,
validation error), ``checkpoint.pt`` (the latest state, to resume), ``best.pt`` (the weights
with the lowest validation error) and ``results.json`` (test error of the best weights).
Ctrl-C saves the latest state before exiting.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from fw_rl.checkpoint import (
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from fw_rl.cli import check_finite, option
from fw_rl.cores import CORES, parse_core_options

KIND = "supervised"


@dataclass
class SupervisedConfig:
    core: str = option(
        "fastweights", f"recurrent core: one of {', '.join(sorted(CORES))}", choices=sorted(CORES)
    )
    hidden: int = option(20, "hidden units of the core (the paper's R)")
    core_options: str = option("{}", "extra core options as JSON")
    lr: float = option(1e-3, "Adam learning rate")
    batch_size: int = option(128, "examples per update")
    updates: int = option(20_000, "updates to train for")
    eval_interval: int = option(500, "updates between validation passes")
    max_grad_norm: float = option(5.0, "clip the gradient norm to this")
    seed: int = option(0, "seed of the data and the model")
    threads: int = option(
        1, "torch threads (these models are small: more threads mostly contend for the cores)"
    )
    run_dir: str = option("", "where to write the run (default runs/<task>-<core>-<hidden>)")
    resume: str = option("", "continue the run in this directory")
    progress: bool = option(True, "show a progress bar")

    # models a task offers besides the registered cores (they take no core options)
    other_models: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        check_finite(self)
        models = sorted(CORES) + list(self.other_models)
        if self.core not in models:
            raise ValueError(f"--core must be one of {', '.join(models)}, got {self.core!r}")
        parse_core_options(self.core if self.core in CORES else None, self.core_options)
        for name in ("hidden", "batch_size", "updates", "eval_interval", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(
                    f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}"
                )
        if self.lr <= 0 or self.max_grad_norm <= 0:
            raise ValueError("--lr and --max-grad-norm must be > 0")

    @property
    def core_kwargs(self) -> dict:
        return json.loads(self.core_options)


@torch.no_grad()
def error_rate(model: nn.Module, data: Dataset, batch_size: int = 1000) -> float:
    model.eval()
    wrong = total = 0
    for x, y in DataLoader(data, batch_size=batch_size):
        wrong += (model(x).argmax(-1) != y).sum().item()
        total += len(y)
    model.train()
    return wrong / total


def train_classifier(
    model: nn.Module, splits: dict[str, Dataset], config, run_dir: Path, say=print
) -> dict:
    """Train on ``splits["train"]``, keep the weights best on ``"validation"``, report the
    test error of those; resumes from ``run_dir/checkpoint.pt`` when ``config.resume``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    counters = {"update": 0, "best_validation_error": 1.0, "elapsed_s": 0.0}
    curve_path = run_dir / "curve.csv"
    if config.resume:
        payload = load_checkpoint(run_dir, kind=KIND)
        saved = {k: payload["config"].get(k) for k in ("core", "hidden", "core_options")}
        asked = {k: getattr(config, k) for k in saved}
        if saved != asked:
            raise CheckpointError(f"{run_dir} was made for {saved}, not {asked}")
        model.load_state_dict(payload["model"])
        optimiser.load_state_dict(payload["optimiser"])
        counters.update(payload["counters"])
    else:
        with open(curve_path, "w", newline="") as f:
            csv.writer(f).writerow(
                ["update", "elapsed_s", "train_loss", "train_error", "validation_error"]
            )
    (run_dir / "config.json").write_text(json.dumps(asdict(config), indent=2))

    def save() -> None:
        save_checkpoint(
            run_dir / "checkpoint.pt",
            model_state=model.state_dict(),
            optimiser_state=optimiser.state_dict(),
            counters=counters,
            config=asdict(config),
            kind=KIND,
        )

    from tqdm import tqdm

    generator = torch.Generator().manual_seed(config.seed + counters["update"])
    loader = DataLoader(
        splits["train"],
        batch_size=config.batch_size,
        shuffle=True,
        generator=generator,
        drop_last=True,
    )
    batches = iter(loader)
    bar = tqdm(
        total=config.updates, initial=counters["update"], unit="update", disable=not config.progress
    )
    start = time.monotonic() - counters["elapsed_s"]
    loss_sum = wrong = seen = 0.0
    try:
        while counters["update"] < config.updates:
            try:
                x, y = next(batches)
            except StopIteration:
                batches = iter(loader)
                x, y = next(batches)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimiser.step()
            counters["update"] += 1
            bar.update(1)
            loss_sum += loss.item() * len(y)
            wrong += (logits.argmax(-1) != y).sum().item()
            seen += len(y)
            if (
                counters["update"] % config.eval_interval == 0
                or counters["update"] == config.updates
            ):
                val = error_rate(model, splits["validation"])
                counters["elapsed_s"] = time.monotonic() - start
                with open(curve_path, "a", newline="") as f:
                    csv.writer(f).writerow(
                        [
                            counters["update"],
                            f"{counters['elapsed_s']:.1f}",
                            f"{loss_sum / seen:.5f}",
                            f"{wrong / seen:.5f}",
                            f"{val:.5f}",
                        ]
                    )
                bar.set_postfix_str(f"train error {wrong / seen:.3f} | val error {val:.3f}")
                loss_sum = wrong = seen = 0.0
                if val < counters["best_validation_error"]:
                    counters["best_validation_error"] = val
                    save_checkpoint(
                        run_dir / "best.pt",
                        model_state=model.state_dict(),
                        optimiser_state=None,
                        counters=counters,
                        config=asdict(config),
                        kind=KIND,
                    )
                save()
    except KeyboardInterrupt:
        counters["elapsed_s"] = time.monotonic() - start
        save()
        bar.close()
        say(f"interrupted: saved {run_dir / 'checkpoint.pt'}; continue with --resume {run_dir}")
        raise
    bar.close()
    best = load_checkpoint(run_dir / "best.pt", kind=KIND)
    model.load_state_dict(best["model"])
    results = {
        "core": config.core,
        "hidden": config.hidden,
        "updates": counters["update"],
        "best_validation_error": counters["best_validation_error"],
        "test_error": error_rate(model, splits["test"]),
        "elapsed_s": counters["elapsed_s"],
    }
    (run_dir / "results.json").write_text(json.dumps(results, indent=2))
    return results


def run_training(
    build_model: Callable[[], nn.Module],
    splits: dict[str, Dataset],
    config,
    default_run_dir: str,
) -> int:
    """What both task scripts do once the data exist: seed, build the model (so its
    initialisation follows ``--seed``), train; returns the exit code."""
    run_dir = Path(config.resume or config.run_dir or default_run_dir)
    if not config.resume and (run_dir / "checkpoint.pt").exists():
        print(f"error: {run_dir} already holds a run: pass --resume {run_dir}", file=sys.stderr)
        return 2
    torch.manual_seed(config.seed)
    model = build_model()
    try:
        results = train_classifier(model, splits, config, run_dir)
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    print(json.dumps(results, indent=2))
    return 0
