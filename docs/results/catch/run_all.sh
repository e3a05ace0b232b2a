#!/usr/bin/env bash
# The Catch study of issues #11 and #20, resumable: run it again and it continues where it stopped
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
# (needs the runs' checkpoints, which git does not keep: on a fresh clone no run is
# evaluated and the table and figures are drawn again from the committed CSV)
study generalise "$OUT/main" --only setting=24x24 --visible-steps 1 2 3 4 5 6 7 8
for seed in 0 1 2 3 4; do   # what the fast memory attends to (needs the weights too)
  study attention "$OUT/main/runs/24x24-fed-fastweights-seed$seed" \
    --out "$OUT/attention/seed$seed" --episodes 1000 || echo "attention: no weights here"
done
# the fast-weights cells as first run (version 1 of the core, the layer norm on h^0), kept
# for the record, and the two versions side by side
study run "$OUT/grids/main_ln_h0.json" --out "$OUT/main_ln_h0"
study generalise "$OUT/main_ln_h0" --visible-steps 1 2 3 4 5 6 7 8
study report "$OUT/main" --with "$OUT/main_ln_h0" --out "$OUT/h0_compare" \
  --baseline "fastweights (norm_preliminary=True)"

# 3. the fast-weights core's own choices (run with version 1 of the core)
study run "$OUT/grids/ablations.json" --out "$OUT/ablations"
study report "$OUT/ablations" --compare variant --baseline default

# 4. beyond the paper: longer blind periods (the first runs, version 1, 3 seeds, 4 M
# frames; then the paper's h^0, 5 seeds at 24 x 24 and 10 M frames at 32 x 32)
study run "$OUT/grids/beyond_first.json" --out "$OUT/beyond_first"
study report "$OUT/beyond_first"
study run "$OUT/grids/beyond.json" --out "$OUT/beyond" --only setting=24x24_M2
study run "$OUT/grids/beyond.json" --out "$OUT/beyond" --only setting=32x32_M3 --seeds 0 1 2
study report "$OUT/beyond"
