#!/usr/bin/env bash
# PPO's frames per second with the GRU core, its compiled loop against torch.nn.GRU,
# alternating, on POPGym's RepeatPreviousEasy as the POPGym grid runs it (PPO's defaults,
# the previous action fed), one pinned core. Each line: form, run, frames/s over the run
# (frames over elapsed seconds in the last row of metrics.csv).
#   bash benchmarks/bench_gru_ppo_fps.sh [ROUNDS] [FRAMES]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
ROUNDS=${1:-2}
FRAMES=${2:-65536}
OUT=$(mktemp -d)
for round in $(seq 1 "$ROUNDS"); do
  for form in compiled torch; do
    compute='{}'
    [ "$form" = torch ] && compute='{"compiled": false}'
    taskset -c 0 "$PY" scripts/ppo.py --env popgym:popgym-RepeatPreviousEasy-v0 --core gru \
      --core-compute "$compute" --total-frames "$FRAMES" --eval-interval 100000000 \
      --eval-episodes 1 --seed 0 --run-dir "$OUT/$form-$round" --no-progress >/dev/null
    tail -n 1 "$OUT/$form-$round/metrics.csv" |
      awk -F, -v f="$form" -v r="$round" '{printf "%s round %s: %.0f frames/s\n", f, r, $1 / $4}'
  done
done
rm -rf "$OUT"
