#!/usr/bin/env bash
# Reproduces its figures with train_gpt.py as of commit a596de6 (git show a596de6:train_gpt.py > <copy>); the current
# script removed chunk TTT and the per-loop parameters, and stops with a message on their variables.
# Issue 13: late loops over a middle pair, on CPU core 0 with one thread (other work kept on core 1
# cannot disturb the comparison), from a snapshot of train_gpt.py (edits made meanwhile cannot leak in).
#   bash results/cpu/run_loop_comparison.sh                 equal wall clock: the CPU profile's 120 s cap,
#                                                           3 seeds, configurations interleaved seed by seed
#                                                           so that load falls on all alike (about 45 min)
#   bash results/cpu/run_loop_comparison.sh --equal-steps   learning per step: 80 steps, no cap (the learning
#                                                           rate and the switch follow the step count), seed
#                                                           1337, deterministic (about 12 min)
set -euo pipefail
cd "$(dirname "$0")/../.."
snap=$(mktemp -d)/train_gpt.py
cp train_gpt.py "$snap"
cp -r data "$(dirname "$snap")/"
MIDDLE="NUM_LAYERS= PRELUDE_LAYERS=2 SHARED_BLOCKS=2 CODA_LAYERS=2 LOOPS=3"
PARAMS="LOOP_INJECT=1 LOOP_NORM=1 LOOP_RANK=4"
NOPARAMS="LOOP_INJECT=0 LOOP_NORM=0 LOOP_RANK=0"
declare -A CONFIGS=(
  [flat6]="NUM_LAYERS=6"
  [loop3_from0]="$MIDDLE LOOP_START_FRAC=0 $PARAMS"
  [loop3_late50]="$MIDDLE LOOP_START_FRAC=0.5 $PARAMS"
  [loop3_late50_noparams]="$MIDDLE LOOP_START_FRAC=0.5 $NOPARAMS"
  [loop3_late35_noparams]="$MIDDLE LOOP_START_FRAC=0.35 $NOPARAMS"
  [loop3_late75_noparams]="$MIDDLE LOOP_START_FRAC=0.75 $NOPARAMS"
)
if [ "${1:-}" = --equal-steps ]; then
  out=results/cpu/loops_equal_steps seeds=1337 names="flat6 loop3_from0 loop3_late50 loop3_late50_noparams"
  budget="MAX_WALLCLOCK_SECONDS=0 ITERATIONS=80"
else
  out=results/cpu/loops seeds=${SEEDS:-"1337 42 2024"} budget=""
  names="flat6 loop3_from0 loop3_late50 loop3_late50_noparams loop3_late35_noparams loop3_late75_noparams"
fi
mkdir -p "$out"
for seed in $seeds; do
  for name in $names; do
    log=$out/${name}_seed$seed.txt
    [ -s "$log" ] && grep -q '^final val_bpb' "$log" && continue
    echo "== $name seed $seed"
    env ${CONFIGS[$name]} $budget SEED=$seed TTT=off RUN_ID=loops_${name}_$seed ARTIFACT_PATH=/tmp/loops_$name.pgolf \
      OMP_NUM_THREADS=1 taskset -c 0 python "$snap" > "$log" 2>&1
  done
done
