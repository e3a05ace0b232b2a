#!/usr/bin/env bash
# Speed before and after a change, side by side on this machine: the same benchmarks run
# from a worktree of BASE (default: the commit before this session's work) and from the
# checkout, alternating, with the same Python. Pause other work first (the numbers are
# frames per second on shared cores).
#   bash benchmarks/before_after.sh [BASE] > benchmarks/before_after.md
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:-11c3dc1}
PY=${PY:-$PWD/.venv/bin/python}
source benchmarks/worktree.sh
echo "# Before ($BASE) and after ($(git rev-parse --short HEAD)), side by side"
echo
echo "Machine: $(machine)."
for round in 1 2; do
  for side in before after; do
    dir=$PWD; [ "$side" = before ] && dir=$OLD
    echo; echo "## Round $round, $side"; echo
    # A3C on Catch 24 x 24, 2 workers x 16 boards, fast weights and the LSTM
    (cd "$dir" && PYTHONPATH="$dir" "$PY" benchmarks/bench_a3c.py --seconds 20 \
      --cores fastweights lstm --workers 2 --envs 16 | tail -n 6)
    # our PPO at sb3-contrib's matched settings, one pinned core
    (cd "$dir" && PYTHONPATH="$dir" "$PY" benchmarks/bench_vs_sb3.py --rounds 1 \
      --envs "Catch 24x24" --configs "ppo lstm" "ppo fastweights" | tail -n 5)
    # one core's acting step and training call
    (cd "$dir" && PYTHONPATH="$dir" "$PY" benchmarks/bench_cores.py --quick --only acting \
      | tail -n 12)
  done
done
