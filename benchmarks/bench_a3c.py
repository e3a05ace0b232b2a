"""A3C training throughput: frames per second by core, workers and boards per worker.

    python benchmarks/bench_a3c.py [--seconds 20] [--out benchmarks/a3c_fps.md]
    python benchmarks/bench_a3c.py --env popgym:popgym-RepeatPreviousEasy-v0 --workers 2 --envs 16
    python benchmarks/bench_a3c.py --env bsuite/memory_len-v0 --env-kwargs '{"setting": 22}' \
        --workers 1 --envs 1 --rollout-steps 101        # bsuite's one stream

Each configuration trains for ``--seconds`` on an env (default Catch-v0) through scripts/a3c.py;
the rate is taken from metrics.csv between the first and last logged rows, so process
start-up is not counted. Evaluation is switched off for the measurement.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(
    core: str, workers: int, envs: int, seconds: float, extra: list[str] | None = None
) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "a3c.py"),
                "--core",
                core,
                "--workers",
                str(workers),
                "--envs-per-worker",
                str(envs),
                "--max-minutes",  # workers start one after another: allow for it
                str((seconds + 1.5 * workers) / 60),
                "--eval-interval",
                str(10**12),
                "--log-interval",
                "1",
                "--run-dir",
                str(run),
                "--no-progress",
                *(extra or []),
            ],
            check=True,
            capture_output=True,
            cwd=ROOT,
            timeout=600,
        )
        with open(run / "metrics.csv", newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(r["frames"]) > 0]
    if len(rows) < 3:
        return float("nan")
    # from the row after every worker has started to the last row before they stop
    first, last = rows[min(len(rows) - 3, int(1.5 * workers))], rows[-2]
    return (int(last["frames"]) - int(first["frames"])) / (
        float(last["elapsed_s"]) - float(first["elapsed_s"])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--cores", nargs="+", default=["fastweights", "lstm", "irnn"])
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2, 16])
    parser.add_argument("--envs", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--env", default="Catch-v0")
    parser.add_argument("--env-kwargs", default="{}")
    parser.add_argument("--rollout-steps", type=int, default=0, help="0: the env's default")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    extra = ["--env", args.env, "--env-kwargs", args.env_kwargs]
    extra += ["--rollout-steps", str(args.rollout_steps)]
    header = (
        "| core | "
        + " | ".join(f"{w} workers x {k} boards" for w in args.workers for k in args.envs)
        + " |"
    )
    lines = [header, "|---" * (1 + len(args.workers) * len(args.envs)) + "|"]
    for core in args.cores:
        cells = []
        for w in args.workers:
            for k in args.envs:
                fps = measure(core, w, k, args.seconds, extra)
                cells.append(f"{fps:,.0f}")
                print(f"{core} workers={w} envs={k}: {fps:,.0f} frames/s", flush=True)
        lines.append(f"| {core} | " + " | ".join(cells) + " |")
    setting = f"{args.env} {args.env_kwargs}" if args.env_kwargs != "{}" else args.env
    text = f"Frames per second ({setting}, 2-core machine):\n\n" + "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
