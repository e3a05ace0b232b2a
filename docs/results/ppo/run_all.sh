#!/usr/bin/env bash
# Issue #22's PPO study, resumable: run it again and it continues (finished runs are skipped).
#   bash docs/results/ppo/run_all.sh        # on 2 cores: run the two settings at once,
#                                           # each line under taskset -c 0 / -c 1;
#                                           # the fast-weights diagnosis grid last
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
study report "$OUT/vs_sb3" --baseline sb3-lstm  # the core as it ran: "lstm" (ours), "sb3-lstm"
study mmer "$OUT/vs_sb3" --baseline sb3_lstm     # the grids' labels: ppo_lstm, sb3_lstm
# ours without the previous action (sb3-contrib's LSTM sees the observation alone)
study run "$OUT/grids/vs_sb3_ours_no_previous_action.json" --out "$OUT/vs_sb3_no_previous_action"
study report "$OUT/vs_sb3_no_previous_action" --with "$OUT/vs_sb3" --baseline sb3-lstm
study mmer "$OUT/vs_sb3_no_previous_action" --with "$OUT/vs_sb3" --baseline sb3_lstm

# diagnosis (not tuning): fast weights' fall-back with a smaller lr, one epoch or 3x the entropy cost
study run "$OUT/grids/catch_fw_diagnosis.json" --out "$OUT/catch_fw_diagnosis"
study report "$OUT/catch_fw_diagnosis" --compare variant --baseline default
"$PY" docs/results/ppo/training_signals.py "$OUT/catch" "$OUT/catch_fw_diagnosis" --out "$OUT/training_signals.md"
# the largest fall-backs again (seed 1), with each part's gradient norm logged
study run "$OUT/grids/catch_gradient_parts.json" --out "$OUT/catch_gradient_parts"
"$PY" docs/results/ppo/training_signals.py "$OUT/catch_gradient_parts" --signals mean_return \
  grad_norm grad_norm_encoder grad_norm_core grad_norm_policy grad_norm_value entropy \
  --out "$OUT/catch_gradient_parts/signals.md"
# every core with the entropy cost at 0.03 (the diagnosis' one change)
study run "$OUT/grids/catch_entropy.json" --out "$OUT/catch_entropy"
study report "$OUT/catch_entropy" --baseline lstm
