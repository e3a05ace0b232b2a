"""The training loop both supervised tasks share: Adam, validation, the best checkpoint.

A run directory holds ``config.json``, ``curve.csv`` (update, train loss and error,
validation error), ``checkpoint.pt`` (the latest state, to resume), ``best.pt`` (the weights
with the lowest validation error) and ``results.json`` (test error of the best weights),
through the run session every trainer uses (:mod:`fw_rl.run_session`). Ctrl-C and SIGTERM
save the latest state before exiting.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, TensorDataset, default_collate

from fw_rl.checkpoint import (
    CHECKPOINT_NAME,
    CheckpointError,
    check_same_run,
    load_checkpoint,
    load_model_state,
)
from fw_rl.cli import check_finite, command, fields_with_role, option
from fw_rl.cores.config import CoreConfig
from fw_rl.run_dir import BEST_NAME, RunDirError, describe_os_error
from fw_rl.run_session import EXIT_FAILED, EXIT_OK, EXIT_USAGE, EXIT_WRITE_FAILED, RunSession

KIND = "supervised"
LR_SCHEDULES = ("constant", "plateau", "cosine")


def cosine_lr(lr: float, update: int, updates: int) -> float:
    """The cosine schedule's rate for ``update`` (0-based) of ``updates``: ``lr`` at the
    start, 0 at the end (Loshchilov and Hutter 2017, without restarts)."""
    return 0.5 * lr * (1.0 + math.cos(math.pi * min(update, updates) / updates))


@dataclass
class SupervisedConfig(CoreConfig):
    hidden: int = option(20, "hidden units of the core (the paper's R)", role="identity")
    lr: float = option(1e-3, "Adam learning rate (the start of --lr-schedule)")
    lr_schedule: str = option(
        "constant",
        "the learning rate over a run: constant; plateau (times --lr-decay after "
        "--lr-patience evaluations without a better validation error); cosine (from --lr "
        "to 0 at --updates)",
        choices=list(LR_SCHEDULES),
    )
    lr_decay: float = option(0.5, "plateau: the factor of each cut of the learning rate")
    lr_patience: int = option(
        10, "plateau: evaluations without a better validation error before a cut"
    )
    batch_size: int = option(128, "examples per update")
    updates: int = option(20_000, "updates to train for at most (the cap)")
    patience: int = option(
        0,
        "stop once the validation error has not improved for this many evaluations "
        "(0: train to --updates)",
    )
    stop_at_error: float = option(
        -1.0, "stop once the validation error is at most this, e.g. 0 (-1: never)"
    )
    eval_interval: int = option(500, "updates between validation passes")
    max_grad_norm: float = option(5.0, "clip the gradient norm to this")
    seed: int = option(0, "seed of the data and the model")
    threads: int = option(
        1, "torch threads (these models are small: more threads mostly contend for the cores)"
    )
    run_dir: str = option(
        "", "where to write the run (default runs/<task>-<core>-<hidden>)", role="invocation"
    )
    resume: str = option(
        "", "continue the run in this directory (its settings fill the flags not given)",
        role="invocation",
    )  # fmt: skip
    progress: bool = option(True, "show a progress bar", role="invocation")

    def __post_init__(self) -> None:
        check_finite(self)
        self._resolve_core()
        if self.patience < 0:
            raise ValueError(f"--patience must be >= 0, got {self.patience}")
        for name in ("hidden", "batch_size", "updates", "eval_interval", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(
                    f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}"
                )
        if self.lr <= 0 or self.max_grad_norm <= 0:
            raise ValueError("--lr and --max-grad-norm must be > 0")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(
                f"--lr-schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}"
            )
        if not 0 < self.lr_decay < 1:
            raise ValueError(f"--lr-decay must be in (0, 1), got {self.lr_decay}")
        if self.lr_patience < 1:
            raise ValueError(f"--lr-patience must be >= 1, got {self.lr_patience}")


@torch.no_grad()
def error_rate(model: nn.Module, data: Dataset, batch_size: int = 1000) -> float:
    model.eval()
    wrong = total = 0
    for x, y in DataLoader(data, batch_size=batch_size):
        wrong += (model(x).argmax(-1) != y).sum().item()
        total += len(y)
    model.train()
    return wrong / total


def shuffled_batches(data: Dataset, batch_size: int, generator: torch.Generator):
    """Endless training batches: those of ``DataLoader(data, batch_size, shuffle=True,
    generator=generator, drop_last=True)``, epoch after epoch, in the same order, but
    gathered by indexing the split's tensors at once instead of one item at a time
    (a tenth of a small model's update). Each epoch draws from ``generator`` what the
    loader draws: its workers' base seed, the permutation, and the permutation it starts
    when it runs out."""
    size = len(data)
    if size < batch_size:
        raise ValueError(f"a batch of {batch_size} needs at least that many examples, got {size}")
    while True:
        torch.empty((), dtype=torch.int64).random_(generator=generator)
        order = torch.randperm(size, generator=generator)
        for start in range(0, size - batch_size + 1, batch_size):
            yield gather(data, order[start : start + batch_size])
        torch.randperm(size, generator=generator)


def gather(data: Dataset, indices: Tensor):
    """The batch of ``data``'s items at ``indices``, as the default collation makes it."""
    if isinstance(data, TensorDataset):
        return [t[indices] for t in data.tensors]
    if hasattr(data, "batch"):
        return data.batch(indices)
    return default_collate([data[i] for i in indices.tolist()])


class TrainingFailed(RuntimeError):
    """A run that ended with no weights worth testing (it diverged before validating)."""


CURVE_FIELDS = ["update", "elapsed_s", "train_loss", "train_error", "validation_error", "lr"]


def train_classifier(
    model: nn.Module,
    splits: dict[str, Dataset],
    config,
    run_dir: Path,
    say=print,
    payload: dict | None = None,
    extra_tests: dict[str, Dataset] | None = None,
) -> tuple[int, dict | None]:
    """Train on ``splits["train"]``, keep the weights best on ``"validation"``, report the
    test error of those (and on each of ``extra_tests``, as ``results["test_errors"]``);
    resumes from the run's checkpoint when ``config.resume`` (``payload``, when the caller
    has read it already). Returns the exit code and the results (None unless finished).

    The run directory, resume check, ``curve.csv``, checkpoints and signals are the run
    session's (:class:`~fw_rl.run_session.RunSession`), as for every trainer: SIGINT and
    SIGTERM save the latest state and end the run with 130 / 143."""
    if config.resume and payload is None:
        payload = load_checkpoint(run_dir, kind=KIND)
    session = RunSession(
        run_dir,
        asdict(config),
        counters={
            "update": 0,
            "best_validation_error": 1.0,
            "elapsed_s": 0.0,
            "since_best": 0,
            "lr": config.lr,  # the rate now (plateau cuts it; a resume continues from it)
            "since_cut": 0,  # evaluations since the last improvement or cut (plateau)
        },
        logs={"curve": CURVE_FIELDS},
        key="update",
        kind=KIND,
        payload=payload,
        identity=fields_with_role(type(config), "identity"),
    )
    run_dir, counters = session.run_dir, session.counters
    torch.set_num_threads(config.threads)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    if payload is not None:
        load_model_state(model, payload, run_dir)
        optimiser.load_state_dict(payload["optimiser"])
    session.open()
    stopped = f"reached --updates {config.updates}"

    from tqdm import tqdm

    schedule = getattr(config, "lr_schedule", "constant")

    def set_lr(rate: float) -> None:
        for group in optimiser.param_groups:
            group["lr"] = rate

    set_lr(counters["lr"])
    generator = torch.Generator().manual_seed(config.seed + counters["update"])
    batches = shuffled_batches(splits["train"], config.batch_size, generator)
    bar = tqdm(
        total=config.updates,
        initial=counters["update"],
        unit="update",
        disable=not session.shows_progress(),  # a terminal's, as the RL trainers' bar
        file=session.out,
    )
    loss_sum = wrong = seen = 0.0
    with session.catching_signals():
        while counters["update"] < config.updates:
            signalled = session.signal_stop()
            if signalled:
                session.save(model.state_dict(), optimiser.state_dict())
                bar.close()
                session.close()
                say(
                    f"interrupted: saved {run_dir / CHECKPOINT_NAME} ({signalled[1]}); "
                    f"continue with --resume {run_dir}"
                )
                return signalled[0], None
            x, y = next(batches)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            if not torch.isfinite(loss):  # diverged: every later update would be NaN too
                stopped = (
                    f"the training loss became {loss.item()} at update {counters['update'] + 1}"
                )
                say(f"{stopped}: stopped; the best weights so far are tested")
                break
            if schedule == "cosine":
                counters["lr"] = cosine_lr(config.lr, counters["update"], config.updates)
                set_lr(counters["lr"])
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
                session.log(
                    "curve",
                    {
                        "update": counters["update"],
                        "elapsed_s": round(session.elapsed(), 1),
                        "train_loss": loss_sum / seen,
                        "train_error": wrong / seen,
                        "validation_error": val,
                        "lr": counters["lr"],
                    },
                )
                bar.set_postfix_str(f"train error {wrong / seen:.3f} | val error {val:.3f}")
                loss_sum = wrong = seen = 0.0
                counters["since_best"] += 1
                counters["since_cut"] += 1
                if val < counters["best_validation_error"]:
                    counters["best_validation_error"] = val
                    counters["since_best"] = counters["since_cut"] = 0
                    session.save_best(model.state_dict())
                if schedule == "plateau" and counters["since_cut"] >= config.lr_patience:
                    counters["lr"] *= config.lr_decay
                    counters["since_cut"] = 0
                    set_lr(counters["lr"])
                    bar.write(
                        f"update {counters['update']}: learning rate cut to {counters['lr']:.3g}"
                    )
                session.save(model.state_dict(), optimiser.state_dict())
                if val <= config.stop_at_error:
                    stopped = f"validation error {val} reached --stop-at-error"
                    break
                if config.patience and counters["since_best"] >= config.patience:
                    stopped = f"no better validation error for {config.patience} evaluations"
                    break
    bar.close()
    session.close()
    if not (run_dir / BEST_NAME).is_file():
        raise TrainingFailed(f"{stopped}, before the first validation: no weights to test")
    best = load_checkpoint(run_dir / BEST_NAME, kind=KIND)
    model.load_state_dict(best["model"])
    results = {
        "core": config.core,
        "hidden": config.hidden,
        "updates": counters["update"],
        "best_validation_error": counters["best_validation_error"],
        "stopped": stopped,
        "test_error": error_rate(model, splits["test"]),
        "elapsed_s": session.elapsed(),
    }
    if extra_tests:
        results["test_errors"] = {k: error_rate(model, v) for k, v in extra_tests.items()}
    (run_dir / "results.json").write_text(json.dumps(results, indent=2))
    return EXIT_OK, results


def nothing_left(counters: dict, config) -> str | None:
    """Why a saved run's ``counters`` have nothing left to train under ``config`` (its
    updates used up, its patience run out, its target error reached), in the flags'
    words; None when it can train on."""
    if counters.get("update", 0) >= config.updates:
        return (
            f"has done {counters['update']:,} updates, its --updates {config.updates:,}: "
            f"give an --updates above {counters['update']:,} (the run's total) to train on"
        )
    if config.patience and counters.get("since_best", 0) >= config.patience:
        return (
            f"stopped after {counters['since_best']} evaluations without a better validation "
            f"error, its --patience {config.patience}: give --patience more, or 0, to train on"
        )
    if counters.get("best_validation_error", 1.0) <= config.stop_at_error:
        return (
            f"reached validation error {counters['best_validation_error']}, its "
            f"--stop-at-error {config.stop_at_error}: give a lower one to train on"
        )
    return None


def run_training(
    build_model: Callable[[], nn.Module],
    splits: dict[str, Dataset],
    config,
    default_run_dir: str,
    payload: dict | None = None,
    extra_tests: dict[str, Dataset] | None = None,
) -> int:
    """What both task scripts do once the data exist: seed, build the model (so its
    initialisation follows ``--seed``), train; returns the exit code. ``payload`` is the
    checkpoint of a resumed run (see :class:`fw_rl.run_dir.Resumption`)."""
    run_dir = Path(config.resume or config.run_dir or default_run_dir)
    if payload is not None and (run_dir / "results.json").is_file():
        spent = nothing_left(payload["counters"], config)
        if spent:  # finished and tested: training on would rewrite its results for nothing
            try:  # another model asked for is the first thing to say
                identity = fields_with_role(type(config), "identity")
                check_same_run(payload, asdict(config), identity, run_dir)
            except CheckpointError as e:
                print(f"{command()}: error: {e}", file=sys.stderr)
                return EXIT_USAGE
            print(f"{command()}: error: the run in {run_dir} {spent}", file=sys.stderr)
            return EXIT_USAGE
    torch.manual_seed(config.seed)
    model = build_model()
    try:
        code, results = train_classifier(
            model, splits, config, run_dir, payload=payload, extra_tests=extra_tests
        )
    except (CheckpointError, RunDirError) as e:
        print(f"{command()}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:  # a full disk while saving: the last good checkpoint is kept
        print(
            f"{command()}: error: cannot write to {run_dir}: {describe_os_error(e)}; "
            "the last good checkpoint is kept",
            file=sys.stderr,
        )
        return EXIT_WRITE_FAILED
    except TrainingFailed as e:
        print(f"{command()}: error: {e}", file=sys.stderr)
        return EXIT_FAILED
    if results is not None:
        print(json.dumps(results, indent=2))
    return code
