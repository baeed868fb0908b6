#!/usr/bin/env bash
# Issue 13, learning per step: the configurations of run_loop_comparison.sh at an equal 80 steps
# (no wall-clock cap, so the learning rate and the loop switch follow the step count alone; one seed,
# deterministic). One thread on CPU core $CORE (default 0).
#   bash results/cpu/run_loop_equal_steps.sh      (about 12 minutes)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=results/cpu/loops_equal_steps
mkdir -p "$out"
MIDDLE="NUM_LAYERS= PRELUDE_LAYERS=2 SHARED_BLOCKS=2 CODA_LAYERS=2 LOOPS=3"
NOPARAMS="LOOP_INJECT=0 LOOP_NORM=0 LOOP_RANK=0"
declare -A CONFIGS=(
  [flat6]="NUM_LAYERS=6"
  [loop3_from0]="$MIDDLE LOOP_START_FRAC=0"
  [loop3_late50]="$MIDDLE LOOP_START_FRAC=0.5"
  [loop3_late50_noparams]="$MIDDLE LOOP_START_FRAC=0.5 $NOPARAMS"
)
for name in flat6 loop3_from0 loop3_late50 loop3_late50_noparams; do
  env ${CONFIGS[$name]} SEED=1337 TTT=off MAX_WALLCLOCK_SECONDS=0 ITERATIONS=80 RUN_ID=loops_eq_$name \
    ARTIFACT_PATH=/tmp/loops_eq_$name.pgolf OMP_NUM_THREADS=1 taskset -c "${CORE:-0}" python train_gpt.py > "$out/$name.txt" 2>&1
done
