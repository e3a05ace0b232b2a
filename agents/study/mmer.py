"""POPGym's score of a study's runs: MMER, the maximum over training of the mean episode
return, normalised as ``0.5 * MMER + 0.5`` (POPGym's returns lie in [-1, 1]).

A run's mean episode return over training is its ``metrics.csv`` ``mean_return`` (the mean
of the last 200 training episodes, a row every ``--log-interval`` seconds); its MMER is
the largest. Seeds and envs are aggregated with rliable: per env, the IQM over seeds with
its 95 % stratified-bootstrap interval; across envs, the IQM over every (env, seed) score,
the bootstrap stratified by env, and the probability of improvement of each core over a
baseline core (rliable's, averaged over envs).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from fw_rl.agents.study.report import (
    MIN_RUNS_FOR_P,
    ReportError,
    _rliable,
    _seed_resampling,
    interval_estimates,
    read_study,
)


def normalised_mmer(train_return: np.ndarray) -> float:
    finite = train_return[np.isfinite(train_return)]
    return float(0.5 * finite.max() + 0.5) if len(finite) else float("nan")


def env_short_name(env_id: str) -> str:
    """``popgym:popgym-RepeatFirstEasy-v0`` -> ``RepeatFirstEasy`` (as the grids label it)."""
    name = env_id.split(":", 1)[-1]
    name = name.split("/")[-1].removeprefix("popgym-")
    return name.rsplit("-v", 1)[0] if "-v" in name else name


def collect(
    study: Path, env_axis: str, compare: str, others: tuple[Path, ...] = ()
) -> dict[str, dict[str, list[float]]]:
    """``{core: {env: [normalised MMER of each seed]}}`` of the finished runs of the study
    and of the ``others`` (another trainer's runs on the same envs, e.g. sb3-contrib's)."""
    runs = [run for folder in (study, *others) for run in read_study(folder)[0]]
    scores: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        # a study of one core (no core axis) compares by the core as it ran, options shown
        label = run.labels.get(compare) or (run.core if compare == "core" else None)
        # a grid of one env (no env axis) names it by the env the runs ran
        env = run.labels.get(env_axis) or env_short_name(run.env)
        if not env or not label:
            raise ReportError(f"{study}: the runs need the axes {env_axis!r} and {compare!r}")
        scores[label][env].append(normalised_mmer(run.train_return))
    return scores


def across_envs(
    scores: dict[str, dict[str, list[float]]], baseline: str, reps: int, seed: int = 0
) -> dict[str, dict]:
    """Per core, on the envs every core has with the same number of seeds: the IQM over
    (env, seed) [95 % CI] and P(core > baseline) [95 % CI]."""
    library, metrics = _rliable()
    envs = sorted(set.intersection(*(set(s) for s in scores.values())))
    if not envs:
        raise ReportError(
            "no env has runs of every core ("
            + "; ".join(f"{c}: {', '.join(sorted(scores[c]))}" for c in sorted(scores))
            + "): report the studies apart, or when their grids have filled"
        )
    seeds = min(len(scores[c][e]) for c in scores for e in envs)
    matrix = {c: np.array([scores[c][e][:seeds] for e in envs], float).T for c in scores}
    _seed_resampling(seed)
    point, interval = library.get_interval_estimates(
        matrix,
        lambda x: np.array([metrics.aggregate_iqm(x)]),
        reps=reps,
        random_state=np.random.RandomState(seed),
    )
    out = {
        c: {
            "envs": envs,
            "seeds": seeds,
            "iqm": (float(point[c][0]), float(interval[c][0, 0]), float(interval[c][1, 0])),
        }
        for c in matrix
    }
    if baseline in matrix and seeds >= MIN_RUNS_FOR_P:
        for c in matrix:
            if c == baseline:
                continue
            _seed_resampling(seed)
            p_point, p_interval = library.get_interval_estimates(
                {"pair": [matrix[c], matrix[baseline]]},
                metrics.probability_of_improvement,
                reps=reps,
                random_state=np.random.RandomState(seed),
            )
            low, high = np.ravel(p_interval["pair"])
            out[c]["p_improvement"] = (float(np.ravel(p_point["pair"])[0]), float(low), float(high))
    return out


def write_mmer_report(
    study: Path,
    out: Path | None = None,
    env_axis: str = "env",
    compare: str = "core",
    baseline: str = "lstm",
    reps: int = 2000,
    others: tuple[Path, ...] = (),
) -> list[Path]:
    """``mmer.csv`` (a row per run) and ``mmer.md`` (the tables) in ``out`` (default: the
    study's folder); the runs of ``others`` join (across envs: the envs every one has)."""
    out = Path(out or study)
    out.mkdir(parents=True, exist_ok=True)
    scores = collect(Path(study), env_axis, compare, tuple(Path(o) for o in others))
    cores = sorted(scores)
    envs = sorted({e for c in cores for e in scores[c]})
    with open(out / "mmer.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([compare, env_axis, "seed_index", "normalised_mmer"])
        for c in cores:
            for e in envs:
                for i, v in enumerate(scores[c].get(e, [])):
                    writer.writerow([c, e, i, f"{v:.4f}"])
    lines = [
        f"Normalised MMER (0.5 MMER + 0.5), IQM over seeds [95 % CI]; {compare} by {env_axis}.",
        "",
        f"| {env_axis} | " + " | ".join(cores) + " |",
        "|---" * (1 + len(cores)) + "|",
    ]
    for e in envs:
        cells = []
        for c in cores:
            values = scores[c].get(e, [])
            if not values:
                cells.append("-")
                continue
            iqm = interval_estimates({"x": np.array(values)}, reps)["x"]
            cells.append(f"{iqm[0]:.3f} [{iqm[1]:.3f}, {iqm[2]:.3f}] ({len(values)})")
        lines.append(f"| {e} | " + " | ".join(cells) + " |")
    summary = across_envs(scores, baseline, reps)
    first = next(iter(summary.values()))
    lines += [
        "",
        f"Across {len(first['envs'])} envs, {first['seeds']} seeds each (IQM over every "
        f"(env, seed), bootstrap stratified by env; P({compare} > {baseline}) averaged over envs):",
        "",
        f"| {compare} | IQM [95 % CI] | P(> {baseline}) [95 % CI] |",
        "|---|---|---|",
    ]
    for c, s in summary.items():
        iqm = s["iqm"]
        p = s.get("p_improvement")
        p_text = f"{p[0]:.2f} [{p[1]:.2f}, {p[2]:.2f}]" if p else "-"
        lines.append(f"| {c} | {iqm[0]:.3f} [{iqm[1]:.3f}, {iqm[2]:.3f}] | {p_text} |")
    (out / "mmer.md").write_text("\n".join(lines) + "\n")
    return [out / "mmer.csv", out / "mmer.md"]
