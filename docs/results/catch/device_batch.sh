#!/usr/bin/env bash
# A study's batch on a lent machine of 16 cores: 8 runs at once, each pinned to 2 cores,
# for at most MINUTES; then the finished runs' small files (CSVs, configs, logs) are packed
# into $OUT/runs.tar.gz, to unpack here over the study's folder. Runs cut off by the time
# limit start again in the next batch (finished ones are skipped).
#
# Here, once: the two wheels that machine lacks (it has torch, numba, tqdm, tensorboard):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp -d .whl gymnasium==1.4.0 farama-notifications==0.0.4
# Then, with the device tool: run, carry [".whl"], command
#   bash docs/results/catch/device_batch.sh docs/results/catch/grids/ablations.json \
#       docs/results/catch/ablations 8
# and here: tar xzf <files_at>/runs.tar.gz
# Test it here on a tiny grid: JOBS=1 PIN=1 OUT=/tmp/out bash docs/results/catch/device_batch.sh GRID DIR 1
set -uo pipefail
cd "$(dirname "$0")/../../.."
grid=$1 study=$2 minutes=${3:-8}
: "${OUT:?OUT must name the folder whose files come back}"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}   # fw_rl from this checkout
PY=${PY:-python3}
"$PY" -m fw_rl.cores.fast_weights.warm_up
timeout --signal=TERM "$((minutes * 60))" \
  "$PY" -m fw_rl.scripts.study run "$grid" --out "$study" --jobs "${JOBS:-8}" --pin "${PIN:-2}"
echo "study exited with $? (124 or 130: cut off by the time limit; run again to continue)"
# the finished runs' small files, and the study's own
files=$(cd "$study" && find . -maxdepth 1 -type f; for run in runs/*/; do
  [ -f "$run/done.json" ] && find "$run" -maxdepth 1 -type f \
    \( -name '*.csv' -o -name '*.json' -o -name 'log.txt' \)
done)
tar czf "$OUT/runs.tar.gz" -C "$study" $files
echo "packed $(echo "$files" | grep -c done.json) finished runs into $OUT/runs.tar.gz"
