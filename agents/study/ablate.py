"""Does a trained fast-weights agent use its fast memory? The fast term taken out.

The recall probe (``recall.py``) says what the fast memory *holds*; this says whether the
policy *needs* it. Each run's final weights play the same greedy episodes twice: as
trained, and with the fast memory removed, i.e. the fast learning rate ``eta`` set to 0 for
the evaluation, so ``A_t = 0`` (paper eq. 1) and every inner step is
``h_t = f(LN(W h_{t-1} + C x_t + b))`` (eq. 2 without its fast term ``A_t h^s``). Nothing
else changes: the same weights, encoder, heads and episode seeds. Where the return holds
without the fast term, the slow part carries the task and the fast read is not used; where
it falls, the policy depends on the fast term.

Removing the term also changes the scale of what enters the layer norm (with the paper's
``eta = 0.5`` the fast term is hundreds of times the slow drive), so a fall may come from
the network seeing inputs unlike any in training rather than from lost memory. A third
evaluation keeps the scale and takes out the content: before every step each episode's
fast memory is handed to the next episode of the batch (rolled by one), so ``A_t`` holds,
at its usual size, writes from other episodes: after ``k`` steps, the write of ``k`` steps
back comes from the episode ``k`` places away (the batch's episodes outnumber the steps of
the episodes this is meant for, so no episode gets its own past back). The episode's own
hidden state and its latest write stay its own.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import torch

from fw_rl.agents.evaluate import evaluate
from fw_rl.agents.study.runner import DONE_NAME
from fw_rl.agents.study.trained import trained_agent
from fw_rl.checkpoint import CHECKPOINT_NAME
from fw_rl.cores import core_declaration

FIELDS = ["run", "core", "fast_lr", "episodes", "mean_return", "mean_return_without_fast",
          "mean_return_other_memory", "success_rate", "success_rate_without_fast",
          "success_rate_other_memory"]  # fmt: skip


class _OtherEpisodesMemory:
    """The model, with each episode's fast memory handed to the next episode of the batch
    before every step (what :func:`evaluate` calls: ``initial_state``, ``act``, ``head``)."""

    def __init__(self, model):
        self.model, self.head = model, model.head

    def initial_state(self, batch_size: int):
        return self.model.initial_state(batch_size)

    def act(self, obs, state):
        hidden, memory = state.core
        return self.model.act(obs, state._replace(core=(hidden, memory.roll(1, dims=0))))


def ablate_fast_memory(run_dir: Path, episodes: int = 100, seed: int = 30_000) -> dict:
    """The run's greedy mean return (and success rate, NaN where the env reports none) with
    its fast memory, without it (``eta = 0``) and with other episodes' fast memories, on
    episodes ``seed .. seed + episodes - 1``."""
    run_dir = Path(run_dir)
    if episodes < 1:
        raise ValueError(f"--episodes must be at least 1, got {episodes}")
    lacking = "no fast memory to take out (the ablation needs a fast-weights run)"
    model, config = trained_agent(run_dir, without_fast_memory=lacking)
    play = dict(env_id=config.env, wrappers=config.wrappers, max_steps=config.eval_step_cap)
    trained_lr = model.core.fast_lr
    with_fast = evaluate(model, config.env_options, episodes, seed, **play)
    model.core.fast_lr = 0.0  # A_t = 0: eq. 2 without its fast term
    try:
        without = evaluate(model, config.env_options, episodes, seed, **play)
    finally:
        model.core.fast_lr = trained_lr
    other = evaluate(_OtherEpisodesMemory(model), config.env_options, episodes, seed, **play)
    return {
        "run": (run_dir.parent if run_dir.is_file() else run_dir).name,
        "core": config.core,
        "fast_lr": trained_lr,
        "episodes": episodes,
        "mean_return": with_fast["mean_return"],
        "mean_return_without_fast": without["mean_return"],
        "mean_return_other_memory": other["mean_return"],
        "success_rate": with_fast["success_rate"],
        "success_rate_without_fast": without["success_rate"],
        "success_rate_other_memory": other["success_rate"],
    }


def evaluate_at_fast_lrs(
    run_dir: Path, rates: list[float], episodes: int = 100, seed: int = 30_000
) -> list[dict]:
    """The reverse of the ablation: the run's greedy mean return with the fast learning rate
    set to each of ``rates`` for the evaluation (the fast memory put in, or resized, with
    every trained weight kept), on the ablation's episodes. On a run trained without fast
    memory (``eta = 0``, the slow part alone) it asks whether the solution training found
    survives a fast term of that size, apart from learning with one."""
    run_dir = Path(run_dir)
    _check_rates(rates)
    lacking = "no fast memory to resize (this needs a fast-weights run)"
    model, config = trained_agent(run_dir, without_fast_memory=lacking)
    play = dict(env_id=config.env, wrappers=config.wrappers, max_steps=config.eval_step_cap)
    trained_lr = model.core.fast_lr
    name = (run_dir.parent if run_dir.is_file() else run_dir).name
    rows = []
    try:
        for rate in rates:
            model.core.fast_lr = float(rate)
            result = evaluate(model, config.env_options, episodes, seed, **play)
            rows.append(
                {"run": name, "core": config.core, "trained_fast_lr": trained_lr,
                 "evaluated_fast_lr": float(rate), "episodes": episodes,
                 "mean_return": result["mean_return"], "success_rate": result["success_rate"]}
            )  # fmt: skip
    finally:
        model.core.fast_lr = trained_lr
    return rows


def _check_rates(rates: list[float]) -> None:
    bad = [r for r in rates if isinstance(r, bool) or not 0 <= r < math.inf]
    if bad or not rates:
        raise ValueError(f"--fast-lr takes finite rates >= 0, got {bad or 'none'}")


def _runs(paths: list[Path]) -> list[Path]:
    """Run folders (or checkpoint files): each path that is or holds a checkpoint, and a
    study folder's finished runs."""
    runs = []
    for path in map(Path, paths):
        if path.is_file() or (path / CHECKPOINT_NAME).exists():
            runs.append(path)
        elif (path / "runs").is_dir():
            found = sorted(p for p in (path / "runs").iterdir() if (p / DONE_NAME).exists())
            if not found:
                raise ValueError(f"{path} has no finished runs")
            runs += found
        else:
            raise ValueError(
                f"{path} is not a run folder (holding {CHECKPOINT_NAME}), a checkpoint file "
                "or a study folder (holding runs/)"
            )
    return runs


def _has_fast_memory(run: Path) -> bool:
    """From the run's ``config.json`` where it has one (no checkpoint is loaded)."""
    config = (run.parent if run.is_file() else run) / "config.json"
    if not config.exists():
        return True  # ablate_fast_memory reads the checkpoint and says
    return core_declaration(json.loads(config.read_text())["core"]).has_attention


def write_ablation(
    paths: list[Path], out: Path, episodes: int = 100, fast_lrs: list[float] | None = None
) -> list[Path]:
    """``ablation.csv`` in ``out``: a row per fast-weights run of ``paths`` (run folders or
    study folders; a study's runs of cores without fast memory are left out); with
    ``fast_lrs``, also ``fast_lr_at_evaluation.csv``: each run evaluated at each of those
    fast learning rates (:func:`evaluate_at_fast_lrs`)."""
    if fast_lrs is not None:
        _check_rates(fast_lrs)  # before the ablation's evaluations, not after
    runs = _runs(paths)
    torch.set_num_threads(1)
    if len(runs) > 1:  # a single run of another core is refused by name below
        left_out = [run for run in runs if not _has_fast_memory(run)]
        for run in left_out:
            print(f"{run}: its core has no fast memory, left out")
        runs = [run for run in runs if run not in left_out]
        if not runs:
            raise ValueError(f"no fast-weights run in {', '.join(map(str, paths))}")
    rows = [ablate_fast_memory(run, episodes) for run in runs]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = out / "ablation.csv"
    with open(table, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    **{k: f"{v:.4f}" if isinstance(v, float) else v for k, v in row.items()},
                    "fast_lr": f"{row['fast_lr']:g}",
                }
            )
    if not fast_lrs:
        return [table]
    resized = [row for run in runs for row in evaluate_at_fast_lrs(run, fast_lrs, episodes)]
    at_rates = out / "fast_lr_at_evaluation.csv"
    with open(at_rates, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(resized[0]))
        writer.writeheader()
        for row in resized:
            writer.writerow(
                {
                    **row,
                    "trained_fast_lr": f"{row['trained_fast_lr']:g}",
                    "evaluated_fast_lr": f"{row['evaluated_fast_lr']:g}",
                    "mean_return": f"{row['mean_return']:.4f}",
                    "success_rate": f"{row['success_rate']:.4f}",
                }
            )
    return [table, at_rates]
