#!/usr/bin/env bash
# Issue #22's PPO study, resumable: run it again and it continues (finished runs are skipped).
#   bash docs/results/ppo/run_all.sh        # on 2 cores: run the two settings at once,
#                                           # each line under taskset -c 0 / -c 1
set -euo pipefail
cd "$(dirname "$0")/../../.."
PY=${PY:-.venv/bin/python}
OUT=docs/results/ppo
study() { "$PY" -m fw_rl.scripts.study "$@"; }

# fast weights, the LSTM and the IRNN under PPO's defaults, 5 seeds, 2 M frames
study run "$OUT/grids/catch.json" --out "$OUT/catch" --only setting=24x24_M5
study run "$OUT/grids/catch.json" --out "$OUT/catch" --only setting=24x24_M2
study report "$OUT/catch" --baseline lstm

# our PPO (LSTM) beside sb3-contrib's RecurrentPPO at matched settings: learning curves
study run "$OUT/grids/vs_sb3_ours.json" --out "$OUT/vs_sb3"
study run "$OUT/grids/vs_sb3_theirs.json" --out "$OUT/vs_sb3"
study report "$OUT/vs_sb3" --baseline sb3_lstm
