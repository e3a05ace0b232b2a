"""The statistics of every report (the RL studies, the supervised tables, POPGym's MMER):
rliable's interquartile mean with stratified-bootstrap intervals and probability of
improvement (Agarwal et al. 2021), and the exact permutation p-value for a complete split.
Below both ``fw_rl/tasks`` and ``agents/study`` (docs/ARCHITECTURE.md's layers).
"""

from __future__ import annotations

import numpy as np


class ReportError(ValueError):
    """A study folder that cannot be reported (no runs, unreadable files, no rliable)."""


def _rliable():
    try:
        import warnings

        # arch (rliable's bootstrap) warns that RandomState is deprecated on every call
        warnings.filterwarnings("ignore", category=FutureWarning, module="arch")
        from rliable import library, metrics
    except Exception as e:  # missing, or broken by a dependency (arch 7 with pandas 3)
        raise ReportError(
            f"the study report needs rliable, which cannot be imported "
            f"({type(e).__name__}: {e}): pip install 'fw-rl[study]'"
        ) from None
    return library, metrics


def _seed_resampling(seed: int) -> None:
    """rliable's stratified bootstrap draws its indices from NumPy's global generator
    (``np.random.choice``), whatever ``random_state`` says: seed it, so a report is the same
    every time it is made."""
    np.random.seed(seed)  # noqa: NPY002  (rliable draws from the legacy global generator)


def interval_estimates(
    groups: dict[str, np.ndarray], reps: int, seed: int = 0
) -> dict[str, tuple[float, float, float]]:
    """IQM and its 95 % stratified-bootstrap interval of each group's scores ``[runs]``."""
    library, metrics = _rliable()
    _seed_resampling(seed)
    score_dict = {k: np.asarray(v, float)[:, None] for k, v in groups.items()}
    point, interval = library.get_interval_estimates(
        score_dict,
        lambda x: np.array([metrics.aggregate_iqm(x)]),
        reps=reps,
        random_state=np.random.RandomState(seed),
    )
    return {
        k: (float(point[k][0]), float(interval[k][0, 0]), float(interval[k][1, 0])) for k in groups
    }


def improvement_probability(
    x: np.ndarray, y: np.ndarray, reps: int, seed: int = 0
) -> tuple[float, float, float]:
    """``P(X > Y)`` of one run's score against another's, with its 95 % interval."""
    library, metrics = _rliable()
    _seed_resampling(seed)
    pair = [np.asarray(x, float)[:, None], np.asarray(y, float)[:, None]]
    point, interval = library.get_interval_estimates(
        {"pair": pair},
        metrics.probability_of_improvement,
        reps=reps,
        random_state=np.random.RandomState(seed),
    )
    low, high = np.ravel(interval["pair"])
    return float(np.ravel(point["pair"])[0]), float(low), float(high)


MIN_RUNS_FOR_P = 3  # no probability of improvement from fewer runs a side


def exact_permutation_p(x, y) -> float:
    """One-sided exact permutation p-value of ``mean(X) > mean(Y)``: the share of all
    ``C(n + m, n)`` ways of splitting the pooled scores into groups of ``n`` and ``m`` whose
    difference of means is at least the observed one. Where every run of X beats every run
    of Y it is ``1 / C(n + m, n)`` (ties aside): 1/252 = 0.004 for 5 against 5."""
    from itertools import combinations

    x, y = np.asarray(x, float), np.asarray(y, float)
    pooled, n = np.concatenate([x, y]), len(x)
    total = pooled.sum()
    observed = x.mean() - y.mean()
    count = splits = 0
    for chosen in combinations(range(len(pooled)), n):
        part = pooled[list(chosen)].sum()
        splits += 1
        count += part / n - (total - part) / len(y) >= observed - 1e-12
    return count / splits


def improvement_text(x, y, reps: int, seed: int = 0) -> str:
    """``P(X > Y) [95 % CI]`` for a report's cell. Below :data:`MIN_RUNS_FOR_P` runs a side
    no estimate is given; where every run of one side beats every run of the other the
    bootstrap interval is ``[1, 1]`` (or ``[0, 0]``) by construction, so the runs a side and
    the exact permutation p-value are given beside it."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if min(len(x), len(y)) < MIN_RUNS_FOR_P:
        return f"- ({len(x)} v {len(y)} runs)"
    point, low, high = improvement_probability(x, y, reps, seed)
    text = f"{point:.2f} [{low:.2f}, {high:.2f}]"
    if x.min() > y.max():
        text += f"; all {len(x)} > all {len(y)}, p = {exact_permutation_p(x, y):.3f}"
    elif x.max() < y.min():
        text += f"; all {len(x)} < all {len(y)}, p = {exact_permutation_p(y, x):.3f}"
    return text
