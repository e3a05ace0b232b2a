#!/usr/bin/env bash
# The memory benchmarks, resumable: every command skips the settings (bsuite) whose run
# finished, so running this again continues. Each core's sweep is one stream on one CPU
# core; run two of these lines at once on a 2-core machine (taskset -c 0 / -c 1).
#
#   bash docs/results/memory/run_all.sh            # everything, one after another
#   STAGE=pilot bash docs/results/memory/run_all.sh  # memory_size and memory_len 0-9 only
set -euo pipefail
cd "$(dirname "$0")/../../.."
PY=${PY:-.venv/bin/python}
OUT=docs/results/memory/bsuite
LEN_SETTINGS=""
if [ "${STAGE:-all}" = pilot ]; then LEN_SETTINGS="--settings 0 1 2 3 4 5 6 7 8 9"; fi

for core in fastweights lstm irnn; do
  $PY scripts/bsuite_memory.py run --core "$core" --experiment memory_size --out "$OUT"
  # shellcheck disable=SC2086
  $PY scripts/bsuite_memory.py run --core "$core" --experiment memory_len $LEN_SETTINGS --out "$OUT"
done
# the LSTM at bsuite's baseline size (actor_critic_rnn: LSTM(64)), as a check of terms
# shellcheck disable=SC2086
$PY scripts/bsuite_memory.py run --core lstm --name lstm64 --experiment memory_len $LEN_SETTINGS \
  --out "$OUT" -- --hidden-size 64
$PY scripts/bsuite_memory.py score "$OUT"
# POPGym's grid (finished runs are skipped) and its MMER report
$PY scripts/study.py run docs/results/memory/grids/popgym.json --out docs/results/memory/popgym
$PY scripts/study.py mmer docs/results/memory/popgym
# sb3-contrib's RecurrentPPO on three of those envs, and the MMER table of both
$PY scripts/study.py run docs/results/memory/grids/popgym_sb3.json --out docs/results/memory/popgym_sb3
$PY scripts/study.py mmer docs/results/memory/popgym --with docs/results/memory/popgym_sb3 \
  --out docs/results/memory/popgym_vs_sb3
# POPGym whole under PPO (issue #33): the 14 Easy envs, fast weights, the GRU and the LSTM,
# 3 seeds, 2 M frames (seeds outermost: an interrupted grid has every cell's first seed)
$PY scripts/study.py run docs/results/memory/grids/popgym_ppo.json --out docs/results/memory/popgym_ppo
$PY scripts/study.py mmer docs/results/memory/popgym_ppo --baseline gru
# bsuite on bsuite's terms (issue #33): no previous action (bsuite's agent has none), fast
# weights, the GRU and the LSTM, 3 seeds of the agent a setting (bsuite fixes the env's)
for seed in 0 1 2; do
  for core in fastweights gru lstm; do
    for experiment in memory_len memory_size; do
      $PY scripts/bsuite_memory.py run --core "$core" --experiment "$experiment" \
        --out docs/results/memory/bsuite_no_previous_action --name "$core-seed$seed" \
        -- --no-previous-action --seed "$seed"
    done
  done
done
# the truncated-backpropagation check: one core at bsuite's 32 steps. Only the settings
# whose episodes are longer than 32 steps (16-22: L = 40-100) differ from lstm-seed0's runs
# (below that both roll out 32 steps), so only those run; they are compared setting by setting
$PY scripts/bsuite_memory.py run --core lstm --experiment memory_len --settings 16 17 18 19 20 21 22 \
  --out docs/results/memory/bsuite_no_previous_action --name lstm-bptt32-seed0 \
  -- --no-previous-action --seed 0 --rollout-steps 32
$PY scripts/bsuite_memory.py score docs/results/memory/bsuite_no_previous_action
# Why fast weights lose the recent past (issue #33, section 3): eta = 0.005; the slow part
# alone (eta = 0); eta = 0.0005 and 0.05; each with its MMER report
for grid in recent_past slow_part fast_lr_sweep; do
  $PY scripts/study.py run docs/results/memory/grids/$grid.json --out docs/results/memory/$grid
  $PY scripts/study.py mmer docs/results/memory/$grid
done
# the slow part's trained agents with a fast term put in at evaluation
$PY scripts/study.py ablate docs/results/memory/slow_part --out docs/results/memory/slow_part \
  --fast-lr 0 0.0005 0.005 0.05 0.5
PROBE=docs/results/memory/recent_past/probe/RepeatPreviousEasy-slow_part-seed0
$PY scripts/study.py recall docs/results/memory/slow_part/runs/RepeatPreviousEasy-seed0 --out $PROBE
for rate in 0.0005 0.005; do
  $PY scripts/study.py recall docs/results/memory/slow_part/runs/RepeatPreviousEasy-seed0 \
    --fast-lr $rate --out $PROBE-eta$rate
done
# RepeatFirst without the previous action (a cue held for the whole episode)
$PY scripts/study.py run docs/results/memory/grids/long_cue.json --out docs/results/memory/long_cue
$PY scripts/study.py mmer docs/results/memory/long_cue --compare model --baseline gru
$PY scripts/study.py ablate docs/results/memory/long_cue --out docs/results/memory/long_cue
# a core that learns how much fast memory to read (fast_gain: g from 0), on both tasks
$PY scripts/study.py run docs/results/memory/grids/fast_gain.json --out docs/results/memory/fast_gain
$PY scripts/study.py mmer docs/results/memory/fast_gain --env-axis task
$PY scripts/study.py ablate docs/results/memory/fast_gain --out docs/results/memory/fast_gain
$PY docs/results/memory/fast_gain_values.py  # the g each run learned: fast_gain/gain.csv
# Why a bsuite pass does not hold to the end (issue #33, section 1): fast weights at L = 8
# (setting 7) and 14 (setting 11), where the committed runs ended at chance, 3 seeds; a
# larger entropy cost at both, a smaller learning rate at L = 8
RERUNS=docs/results/memory/bsuite_collapse
for seed in 0 1 2; do
  for variant in default entropy0.05 lr4e-4; do
    case $variant in
      default) extra=();;
      entropy0.05) extra=(--entropy-cost 0.05);;
      lr4e-4) extra=(--lr 0.0004);;
    esac
    $PY scripts/bsuite_memory.py run --core fastweights --experiment memory_len --settings 7 \
      --out $RERUNS --name "fastweights-$variant-seed$seed" -- --seed $seed "${extra[@]}"
  done
  $PY scripts/bsuite_memory.py run --core fastweights --experiment memory_len --settings 11 \
    --out $RERUNS --name "fastweights-default-seed$seed" -- --seed $seed
done
for seed in 0 1 2; do  # at L = 14 the larger entropy cost too
  $PY scripts/bsuite_memory.py run --core fastweights --experiment memory_len --settings 11 \
    --out $RERUNS --name "fastweights-entropy0.05-seed$seed" -- --seed $seed --entropy-cost 0.05
done
$PY docs/results/memory/collapse.py
