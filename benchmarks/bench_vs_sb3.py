"""Training throughput against sb3-contrib's RecurrentPPO, side by side on one CPU core.

    python benchmarks/bench_vs_sb3.py [--core-id 0] [--rounds 2] [--out benchmarks/vs_sb3.md]

Each configuration trains from scratch, pinned to one core (``taskset -c``, as every run of
our studies), through its own script: ``scripts/ppo.py`` and ``scripts/a3c.py`` (ours) and
``scripts/sb3_recurrent_ppo.py`` (sb3-contrib's code, written to a run folder like ours).
The rate is read from ``metrics.csv`` between its first and last rows, so start-up, numba's
compilation and the first rollout are not counted; evaluation is off. The rounds alternate
the configurations, so a machine that slows down slows all of them; the table gives the
median over rounds and its ratio to the matched sb3-contrib run on the same env.

* ``sb3 matched``: sb3-contrib with our PPO's settings: 16 envs x 128 steps, 4 epochs of
  4 minibatches (batch 512), one LSTM of 128 shared by the policy and the value, no layers
  after it (``--shared-lstm --net-arch []``).
* ``sb3 as in the POPGym grid``: the settings of ``docs/results/memory/grids/popgym_sb3.json``
  (32 envs x 64 steps, batch 512, 4 epochs, sb3's two LSTMs and its 64 x 64 layers).
* ``ppo <core>``: ours, the matched settings (our model also has a 128-unit encoder before
  the core and feeds it the previous action).
* ``a3c <core> 2 x 16``: our A3C as the POPGym grid ran it (2 workers x 16 envs, both
  workers on the one core).
"""

from __future__ import annotations

import argparse
import csv
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
ENVS = {
    "Catch 24x24": ["--env", "Catch-v0"],
    "RepeatFirstEasy": ["--env", "popgym:popgym-RepeatFirstEasy-v0"],
}
MATCHED_PPO = ["--num-envs", "16", "--rollout-steps", "128", "--epochs", "4", "--minibatches", "4"]
MATCHED_SB3 = ["--n-envs", "16", "--n-steps", "128", "--n-epochs", "4", "--batch-size", "512"]
CONFIGS = {
    "sb3 matched": ("sb3_recurrent_ppo", [*MATCHED_SB3, "--shared-lstm", "--net-arch", "[]"]),
    "sb3 as in the POPGym grid": (
        "sb3_recurrent_ppo",
        ["--n-envs", "32", "--n-steps", "64", "--n-epochs", "4", "--batch-size", "512"],
    ),
    "ppo lstm": ("ppo", ["--core", "lstm", *MATCHED_PPO]),
    "ppo fastweights": ("ppo", ["--core", "fastweights", *MATCHED_PPO]),
    "ppo irnn": ("ppo", ["--core", "irnn", *MATCHED_PPO]),
    "a3c lstm 2 x 16": ("a3c", ["--core", "lstm", "--workers", "2", "--envs-per-worker", "16"]),
    "a3c fastweights 2 x 16": (
        "a3c",
        ["--core", "fastweights", "--workers", "2", "--envs-per-worker", "16"],
    ),
}
# frames per measurement: about 20-40 s of each on this machine
FRAMES = {"sb3_recurrent_ppo": 65_536, "ppo": 81_920, "a3c": 400_000}


def command(script: str, flags: list[str], env: list[str], run: Path, core_id: int) -> list[str]:
    frames = ["--total-frames", str(FRAMES[script])]
    if script == "sb3_recurrent_ppo":
        quiet = ["--eval-interval", "0"]
    else:
        quiet = ["--eval-interval", str(10**12), "--log-interval", "1", "--no-progress"]
    script_path = ROOT / "scripts" / f"{script}.py"
    return ["taskset", "-c", str(core_id), sys.executable, str(script_path), *env, *flags] + [
        *frames,
        *quiet,
        "--run-dir",
        str(run),
    ]


def measure(script: str, flags: list[str], env: list[str], core_id: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        proc = subprocess.run(
            command(script, flags, env, run, core_id), capture_output=True, text=True, cwd=ROOT
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{script} {flags} failed:\n{proc.stdout}\n{proc.stderr}")
        with open(run / "metrics.csv", newline="") as f:
            rows = [r for r in csv.DictReader(f) if float(r["frames"]) > 0]
    first, last = rows[1], rows[-1]  # from the end of the first rollout on
    return (float(last["frames"]) - float(first["frames"])) / (
        float(last["elapsed_s"]) - float(first["elapsed_s"])
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--core-id", type=int, default=0, help="the CPU core to pin runs to")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--envs", nargs="+", default=list(ENVS), choices=list(ENVS))
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--out", type=Path, help="write the table here (Markdown)")
    args = parser.parse_args(argv)
    fps: dict[tuple[str, str], list[float]] = {}
    for round_ in range(args.rounds):
        for env in args.envs:
            for name in args.configs:
                script, flags = CONFIGS[name]
                rate = measure(script, flags, ENVS[env], args.core_id)
                fps.setdefault((env, name), []).append(rate)
                print(f"round {round_ + 1} {env:16s} {name:28s} {rate:9,.0f} fps", flush=True)
    lines = [
        f"Frames per second on one core ({platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}), median of {args.rounds} rounds; x: the ratio to "
        "'sb3 matched' on the same env.",
        "",
        "| env | configuration | fps | x sb3 matched |",
        "|---|---|---:|---:|",
    ]
    for env in args.envs:
        base = statistics.median(fps.get((env, "sb3 matched"), [float("nan")]))
        for name in args.configs:
            rate = statistics.median(fps[(env, name)])
            lines.append(f"| {env} | {name} | {rate:,.0f} | {rate / base:.1f} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
