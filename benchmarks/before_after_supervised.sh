#!/usr/bin/env bash
# One associative-retrieval update per core, before and after a change, side by side: the
# benchmark runs from a worktree of BASE and from the checkout, alternating, two rounds,
# pinned to one core. Pause other work on that core first.
#   bash benchmarks/before_after_supervised.sh BASE [CPU] > benchmarks/before_after_supervised.md
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=$1
CPU=${2:-0}
PY=${PY:-$PWD/.venv/bin/python}
BENCH=$PWD/benchmarks/bench_supervised.py
source benchmarks/worktree.sh
echo "# One associative-retrieval update, before ($BASE) and after ($(git rev-parse --short HEAD))"
echo
echo "Machine: $(machine); pinned to core $CPU."
echo "Command: \`bash benchmarks/before_after_supervised.sh $BASE $CPU\`"
for round in 1 2; do
  for side in before after; do
    dir=$PWD; [ "$side" = before ] && dir=$OLD
    echo; echo "## Round $round, $side"; echo; echo '```'
    (cd "$dir" && PYTHONPATH="$dir" taskset -c "$CPU" "$PY" "$BENCH")
    echo '```'
  done
done
