#!/usr/bin/env bash
# Table 1 of Ba et al. (2016) and the generalisation over K (issues #15 and #20), resumable: run it
# again and it continues where it stopped (finished runs are skipped).
#   bash docs/results/assoc_retrieval/run_all.sh      # JOBS=2 runs at once; PY=python3
set -euo pipefail
cd "$(dirname "$0")/../../.."
PY=${PY:-.venv/bin/python}
JOBS=${JOBS:-2}
OUT=docs/results/assoc_retrieval
study() { "$PY" -m fw_rl.scripts.study run "$@" --jobs "$JOBS"; }
report() { "$PY" -m fw_rl.scripts.supervised_report "$@"; }

# 1. the same tuning budget for every core: 4 learning rates at R = 20 and R = 50
study "$OUT/grids/tuning.json" --out "$OUT/tuning"
report tuning "$OUT/tuning"
"$PY" "$OUT/make_grids.py"   # each core at its best learning rate

# 2. Table 1: the headline column first, then the others (seeds outermost)
study "$OUT/grids/table1_R20.json" --out "$OUT/table1_R20"
study "$OUT/grids/table1_R50_R100.json" --out "$OUT/table1_R50_R100"
report table "$OUT/table1_R20" "$OUT/table1_R50_R100" --out "$OUT"

# 3. why fast weights miss the paper's R = 20 figure: their choices one at a time
study "$OUT/grids/diagnosis.json" --out "$OUT/diagnosis"
report compare "$OUT/diagnosis" --axis variant --baseline default

study "$OUT/grids/table1_variant.json" --out "$OUT/table1_variant"   # what it found, in full
report table "$OUT/table1_R20" "$OUT/table1_R50_R100" "$OUT/table1_variant" --out "$OUT"

# 4. the long protocol (issue #20): fast weights with the paper's h^0 and the LSTM at
# R = 20, fast weights at R = 50 and 100; then the associative LSTM as the budget allows
study "$OUT/grids/table1_long_R20.json" --out "$OUT/table1_long_R20" --only core=fastweights
study "$OUT/grids/table1_long_R20.json" --out "$OUT/table1_long_R20" --only core=lstm --seeds 0 1 2
study "$OUT/grids/table1_long_R50_R100.json" --out "$OUT/table1_long_R50_R100"
LONG=("$OUT/table1_long_R20" "$OUT/table1_long_R50_R100")
report table "$OUT/table1_R20" "$OUT/table1_R50_R100" "$OUT/table1_variant" "${LONG[@]}" --out "$OUT"
# what else differs from the paper: two training choices on the seed furthest from it
study "$OUT/grids/diagnosis_long.json" --out "$OUT/diagnosis_long" --seeds 0
study "$OUT/grids/diagnosis_long.json" --out "$OUT/diagnosis_long" --seeds 1 2 3 4 --only variant=lr1e.3
report compare "$OUT/diagnosis_long" --axis variant --baseline default   # default: table1_long_R20's runs, linked
study "$OUT/grids/table1_long_R20.json" --out "$OUT/table1_long_R20" --only core=alstm --seeds 0 1 2

# 5. beyond the paper: K from 2 to 6 in training, 2 to 10 at test time
study "$OUT/grids/pairs.json" --out "$OUT/pairs"
report generalisation "$OUT/table1_R20" "$OUT/table1_R50_R100" "$OUT/table1_variant" "$OUT/pairs" \
  "${LONG[@]}" --out "$OUT"

# 6. Table 1 at the paper's level (issue #34): every core tuned at the protocol's length, the
# same budget each (2 learning rates x 2 schedules x 3 seeds, R = 20)
study "$OUT/grids/tuning_protocol.json" --out "$OUT/tuning_protocol"
report tuning "$OUT/tuning_protocol"       # best.json: a core's choice once its cells are full
"$PY" "$OUT/make_tuned_grids.py"           # the chosen settings, the tuning's seeds 0-2 linked
study "$OUT/grids/table1_tuned_R20.json" --out "$OUT/table1_tuned_R20"
study "$OUT/grids/table1_tuned_R50_R100.json" --out "$OUT/table1_tuned_R50_R100"
report table "$OUT/table1_tuned_R20" "$OUT/table1_tuned_R50_R100" --out "$OUT/tuned"
report table "$OUT/table1_tuned_R20" "$OUT/table1_long_R20" --out "$OUT/tuned_vs_long"
# does the seed decide a run's outcome? the same seeds in forms equal in exact arithmetic
study "$OUT/grids/numerics.json" --out "$OUT/numerics"
report compare "$OUT/numerics" --axis compute --baseline compiled_loop
R="$OUT/numerics/runs"
"$PY" "$OUT/by_position.py" "$R/attention-seed0" "$R/pytorch_matrix-seed0" "$R/attention-seed1" \
  "$R/pytorch_matrix-seed1" --out "$OUT/numerics/by_position.md"
