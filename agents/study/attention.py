"""What a trained fast-weights agent attends to once the screen is blank (paper eq. 3).

The agent plays ``episodes`` greedy episodes; the whole episodes then go through
``forward_with_attention``, which gives at step ``t`` the weight
``w_tj = eta * lambda^(t-1-j) * <h_j, h^{S-1}_t>`` of each earlier step ``j`` (non-negative:
the hidden states are ReLU outputs). Two summaries, averaged over episodes:

* the mean weight ``w_tj`` for every pair of steps;
* at each step ``t``, the share of the weight that lands on the visible steps
  ``j < M`` (the observations that showed the ball), against the share that decay alone
  would give them, ``sum_{j<M} lambda^(t-1-j) / sum_{j<t} lambda^(t-1-j)``. A share above
  decay's means the content of the memory, not only its recency, points back to the
  visible frames.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from fw_rl.agents.study.trained import trained_agent
from fw_rl.envs.catch_family import is_catch
from fw_rl.envs.factory import make_vector_env


@torch.no_grad()
def attention_profile(run_dir: Path, episodes: int = 500, seed: int = 30_000) -> dict:
    """``{"mean": [T, T], "visible_share": [T], "decay_share": [T], "visible": M,
    "mean_return": float}`` for the run's final weights."""
    model, config = trained_agent(run_dir, without_fast_memory="no attention to show")
    if not is_catch(config.env):
        raise ValueError(
            f"{run_dir} was trained on {config.env}: the attention profile measures Catch's "
            "visible steps"
        )
    env = make_vector_env(config.env, config.env_options, episodes, wrappers=config.wrappers)
    obs, _ = env.reset(seed=seed)
    state = model.initial_state(episodes)
    observations, actions, total = [], [], np.zeros(episodes)
    for _ in range(env.rules.episode_length):
        observations.append(torch.from_numpy(obs))
        logits, _, state = model.act(observations[-1], state)
        action = logits.argmax(-1)
        state = state.after(action)
        actions.append(action)
        obs, reward, *_ = env.step(action.numpy())
        total += reward
    obs_seq, act_seq = torch.stack(observations), torch.stack(actions)  # [T, B, ...], [T, B]
    _, _, _, attention = model.forward_with_attention(obs_seq, actions=act_seq)
    mean = attention.mean(1).numpy()  # [T, T]: step t's weight on step j
    steps = mean.shape[0]
    visible = min(env.rules.visible_until, steps)
    weights = attention.numpy()  # [T, B, T]
    share, decay_share = np.full(steps, np.nan), np.full(steps, np.nan)
    decay = model.core.decay
    for t in range(1, steps):
        past = weights[t, :, :t].sum(-1)
        on_visible = weights[t, :, : min(visible, t)].sum(-1)
        keep = past > 0
        if keep.any():
            share[t] = float((on_visible[keep] / past[keep]).mean())
        lags = decay ** (t - 1 - np.arange(t))
        decay_share[t] = lags[: min(visible, t)].sum() / lags.sum()
    return {
        "mean": mean,
        "visible_share": share,
        "decay_share": decay_share,
        "visible": visible,
        "mean_return": float(total.mean()),
    }


def write_attention(run_dir: Path, out: Path, episodes: int = 500) -> list[Path]:
    """``attention.csv`` (per step: the two shares) and ``attention.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    profile = attention_profile(Path(run_dir), episodes)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = out / "attention.csv"
    with open(table, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "share_on_visible", "share_by_decay_alone"])
        for t, (a, b) in enumerate(zip(profile["visible_share"], profile["decay_share"])):
            writer.writerow([t, f"{a:.4f}", f"{b:.4f}"])
    m = profile["visible"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.3))
    image = left.imshow(profile["mean"], cmap="viridis", origin="upper")
    left.axvline(m - 0.5, color="white", linestyle=":", linewidth=1)
    left.axhline(m - 0.5, color="white", linestyle=":", linewidth=1)
    left.set_xlabel("earlier step j (left of the dotted line: visible)")
    left.set_ylabel("step t")
    left.set_title("mean attention weight w_tj")
    fig.colorbar(image, ax=left, shrink=0.85)
    steps = np.arange(len(profile["visible_share"]))
    right.plot(steps, profile["visible_share"], "o-", label="trained agent")
    right.plot(steps, profile["decay_share"], "--", color="grey", label="decay alone")
    right.axvline(m - 0.5, color="grey", linestyle=":", linewidth=1)
    right.set_xlabel("step t (right of the dotted line: the screen is blank)")
    right.set_ylabel(f"share of step t's attention on the {m} visible steps")
    right.set_ylim(0, 1.02)
    right.grid(alpha=0.3)
    right.legend()
    fig.suptitle(
        f"{Path(run_dir).name}: greedy return {profile['mean_return']:.2f} over {episodes} episodes"
    )
    fig.tight_layout()
    figure = out / "attention.png"
    fig.savefig(figure, dpi=110)
    plt.close(fig)
    return [table, figure]
