#!/usr/bin/env bash
# The Catch study of issue #11, resumable: run it again and it continues where it stopped
# (finished runs are skipped). Each step's results land in docs/results/catch/<study>/.
#   bash docs/results/catch/run_all.sh            # PY=python3 to use another interpreter
set -euo pipefail
cd "$(dirname "$0")/../../.."
PY=${PY:-.venv/bin/python}
OUT=docs/results/catch
study() { "$PY" -m fw_rl.scripts.study "$@"; }

# 1. the same tuning budget for every core: 4 learning rates x 2 seeds
study run "$OUT/grids/tuning.json" --out "$OUT/tuning"
study best "$OUT/tuning" --choose lr --per core > "$OUT/tuning/best.json"
study report "$OUT/tuning" --compare lr --baseline 0.0007
"$PY" "$OUT/make_grids.py"   # each core at its best learning rate

# 2. the paper's comparison: the harder setting first, then the other
study run "$OUT/grids/main.json" --out "$OUT/main" --only setting=24x24
study run "$OUT/grids/main.json" --out "$OUT/main" --only setting=16x16
study report "$OUT/main"
# (needs the runs' checkpoints, which git does not keep: on a fresh clone this step is
# skipped and the committed generalisation.csv stays)
study generalise "$OUT/main" --only setting=24x24 --visible-steps 1 2 3 4 5 6 7 8 \
  || echo "generalisation skipped: no trained weights here"

# 3. the fast-weights core's own choices
study run "$OUT/grids/ablations.json" --out "$OUT/ablations"
study report "$OUT/ablations" --compare variant --baseline default

# 4. beyond the paper: longer blind periods
study run "$OUT/grids/beyond.json" --out "$OUT/beyond"
study report "$OUT/beyond"
