"""What a trained fast-weights agent can recall of the observation ``k`` steps back.

Issue #33 asks why fast weights lose the tasks about the recent past (POPGym's
RepeatPrevious: answer the card of 4 steps ago). This probe asks it of a trained agent,
for any env whose observations are ``Discrete`` (a class) or a ``Box`` (a vector): the agent
plays greedy episodes; the whole episodes then go through ``forward_with_attention``, which
gives at step ``t`` the weight ``w_tj = eta * lambda^(t-1-j) * <h_j, h^{S-1}_t>`` of each
earlier hidden state ``h_j`` (paper eq. 3), so the fast memory's read at ``t`` is

    read_t = A_t h^{S-1}_t = sum_{j<t} w_tj h_j

For each lag ``k`` a linear probe (ridge regression, fitted on half the episodes and
scored on the other half) decodes the observation of step ``t - k`` from ``read_t`` and,
for comparison, from the hidden state ``h_t`` and from the core's input at ``t`` (the
encoder's features of the observation and the previous action: near 1 at lag 0, a check
that the lags line up, and at chance beyond unless observations repeat). The score is the
accuracy for a ``Discrete`` observation (chance: the commonest class's share) and ``R^2``
for a ``Box``. Where the
read decodes the lag the task needs worse than the hidden state does, the fast memory is
not what carries it. It also gives the mean share of ``read_t``'s weight on step ``t - k``
against the share decay alone would give (``lambda^(k-1)`` normalised), and, per step, how
large the fast term is beside the slow drive inside the layer norm, ``|A_t h^{S-1}_t| /
|W h_{t-1} + C x_t + b|``: where it is much larger, ``LN(z_t + A_t h)`` is nearly
``LN(A_t h)`` and the current observation hardly reaches the hidden state.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from gymnasium import spaces

from fw_rl.agents.study.trained import trained_agent
from fw_rl.envs.factory import make_vector_env

RIDGE = 1e-2  # on standardised features, times the number of samples


@torch.no_grad()
def play(model, config, episodes: int, seed: int, max_steps: int):
    """Greedy episodes, one per env: observations ``[T, B, ...]`` (as the model sees them),
    actions ``[T, B, ...]`` (as the model records them) and each episode's length ``[B]``."""
    env = make_vector_env(config.env, config.env_options, episodes, wrappers=config.wrappers)
    obs, _ = env.reset(seed=seed)
    state = model.initial_state(episodes)
    head = model.head
    observations, actions = [], []
    length = np.zeros(episodes, dtype=int)
    running = np.ones(episodes, dtype=bool)
    for _ in range(max_steps):
        seen = torch.as_tensor(np.asarray(obs))
        seen = seen if seen.dtype == torch.uint8 else seen.float()
        observations.append(seen)
        params, _, state = model.act(seen, state)
        action = head.greedy(params)
        state = state.after(action)
        actions.append(action)
        obs, _, terminated, truncated, _ = env.step(head.to_env(action))
        length += running
        running &= ~(np.asarray(terminated) | np.asarray(truncated))
        if not running.any():
            break
    env.close()
    return torch.stack(observations), torch.stack(actions), length


def _ridge_score(x_fit, y_fit, x_test, y_test, classes: int | None) -> float:
    """Fit ``y ~ x`` by ridge least squares; accuracy (``classes``) or R^2 on the test part."""
    mean, std = x_fit.mean(0), x_fit.std(0)
    std[std < 1e-8] = 1.0  # a unit that never varies (a dead ReLU) stays 0
    x_fit, x_test = (x_fit - mean) / std, (x_test - mean) / std
    if classes is not None:
        targets = np.eye(classes)[y_fit]
    else:
        targets = y_fit
    offset = targets.mean(0)
    gram = x_fit.T @ x_fit + RIDGE * len(x_fit) * np.eye(x_fit.shape[1])  # features standardised
    weights = np.linalg.solve(gram, x_fit.T @ (targets - offset))
    predicted = x_test @ weights + offset
    if classes is not None:
        return float((predicted.argmax(1) == y_test).mean())
    residual = ((y_test - predicted) ** 2).sum()
    total = ((y_test - y_test.mean(0)) ** 2).sum()
    return float(1 - residual / total) if total > 0 else float("nan")


def recall_profile(
    run_dir: Path,
    episodes: int = 400,
    seed: int = 40_000,
    lags: int = 8,
    max_steps: int = 1000,
    fast_lr: float | None = None,
) -> dict:
    """Per lag ``k = 0..lags``: the probe's score from the fast read and from the hidden
    state, chance, and the attention share on step ``t - k`` against decay alone's.
    ``fast_lr``: play and probe with ``eta`` set to it, every weight kept (the fast memory
    put into a run trained without it, or resized; ``study.py ablate --fast-lr``)."""
    model, config = trained_agent(run_dir, without_fast_memory="no fast memory")
    if fast_lr is not None:
        if isinstance(fast_lr, bool) or not 0 <= fast_lr < float("inf"):
            raise ValueError(f"--fast-lr takes a finite rate >= 0, got {fast_lr}")
        model.core.fast_lr = float(fast_lr)
    space = config.env_info.observation_space
    if isinstance(space, spaces.Discrete):
        classes = int(space.n)
    elif isinstance(space, spaces.Box) and space.dtype != np.uint8:
        classes = None
    else:
        raise ValueError(
            f"the recall probe reads Discrete or Box observations, not {type(space).__name__}"
        )
    if episodes < 4:
        raise ValueError(f"--episodes must be at least 4 (half fit the probe), got {episodes}")
    if lags < 1:
        raise ValueError(f"--lags must be at least 1, got {lags}")
    obs, actions, length = play(model, config, episodes, seed, max_steps)
    with torch.no_grad():
        inputs, hidden, attention = model.core_trace(obs, actions)
        read = torch.einsum("tbj,jbh->tbh", attention, hidden)  # [T, B, H]
        # the slow drive z_t = W h_{t-1} + C x_t + b beside the fast term A_t h^{S-1}_t
        previous = torch.cat([torch.zeros_like(hidden[:1]), hidden[:-1]])
        slow = model.core.slow(previous) + model.core.inp(inputs)
        ratio = (read.norm(dim=-1) / slow.norm(dim=-1).clamp_min(1e-12)).numpy()  # [T, B]
    read = read.numpy()
    hidden, weights, inputs = hidden.numpy(), attention.numpy(), inputs.numpy()
    flat = obs.reshape(obs.shape[0], obs.shape[1], -1).numpy()
    labels = flat.argmax(-1) if classes is not None else flat  # one-hot -> class
    decay = float(model.core.decay)
    fit = np.arange(episodes) < episodes // 2
    rows = []
    for k in range(lags + 1):
        t_idx, b_idx = np.nonzero(
            (np.arange(obs.shape[0])[:, None] >= max(k, 1))
            & (np.arange(obs.shape[0])[:, None] < length[None, :])
        )
        if len(t_idx) == 0:
            break
        targets = labels[t_idx - k, b_idx]
        part = fit[b_idx]
        scores = {}
        for name, features in (("fast_read", read), ("hidden", hidden), ("input", inputs)):
            x = features[t_idx, b_idx].astype(np.float64)
            scores[name] = _ridge_score(x[part], targets[part], x[~part], targets[~part], classes)
        if classes is not None:
            chance = float(np.bincount(targets[~part], minlength=classes).max() / (~part).sum())
        else:
            chance = 0.0
        row = {"lag": k, "read_score": scores["fast_read"], "hidden_score": scores["hidden"]}
        row["input_score"] = scores["input"]
        row["chance"] = chance
        if k >= 1:
            past = weights[t_idx, b_idx, :].sum(-1)
            on_lag = weights[t_idx, b_idx, t_idx - k]
            keep = past > 0
            row["attention_share"] = float((on_lag[keep] / past[keep]).mean()) if keep.any() else 0
            total = (1 - decay**t_idx) / (1 - decay) if decay < 1 else t_idx.astype(float)
            row["decay_share"] = float(np.mean(decay ** (k - 1) / total))
        else:
            row["attention_share"] = row["decay_share"] = float("nan")
        rows.append(row)
    live = np.arange(obs.shape[0])[:, None] < length[None, :]
    drive = [float(np.median(ratio[t][live[t]])) for t in range(obs.shape[0]) if live[t].any()]
    return {"rows": rows, "score": "accuracy" if classes is not None else "R^2",
            "episodes": episodes, "mean_length": float(length.mean()),
            "fast_to_slow": drive}  # fmt: skip


def write_recall(
    run_dir: Path, out: Path, episodes: int = 400, lags: int = 8, fast_lr: float | None = None
):
    """``recall.csv``: a row per lag (the probe's scores, chance, the attention shares);
    ``drive.csv``: a row per step, the median over episodes of ``|A_t h| / |z_t|``."""
    profile = recall_profile(Path(run_dir), episodes, lags=lags, fast_lr=fast_lr)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = out / "recall.csv"
    fields = ["lag", "read_score", "hidden_score", "input_score", "chance", "attention_share",
              "decay_share"]  # fmt: skip
    with open(table, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*fields, "score"])
        for row in profile["rows"]:
            writer.writerow([*(f"{row[k]:.4f}" if k != "lag" else row[k] for k in fields),
                             profile["score"]])  # fmt: skip
    drive = out / "drive.csv"
    with open(drive, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "median_fast_to_slow"])
        writer.writerows([t, f"{r:.4f}"] for t, r in enumerate(profile["fast_to_slow"]))
    return table, drive
