#!/usr/bin/env bash
# Issue 13: late loops over a middle pair at equal wall clock (the CPU profile's 120 s cap), 3 seeds,
# configurations interleaved seed by seed so that load on the shared CPU falls on all of them alike.
# Runs a snapshot of train_gpt.py (edits made meanwhile cannot leak in) on CPU core 0 with one thread,
# so that other work kept on core 1 does not disturb the wall-clock comparison.
#   bash results/cpu/run_loop_comparison.sh        (about 45 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=results/cpu/loops
snap=$(mktemp -d)/train_gpt.py
cp train_gpt.py "$snap"
cp -r data "$(dirname "$snap")/"
MIDDLE="NUM_LAYERS= PRELUDE_LAYERS=2 SHARED_BLOCKS=2 CODA_LAYERS=2 LOOPS=3"
NOPARAMS="LOOP_INJECT=0 LOOP_NORM=0 LOOP_RANK=0"
declare -A CONFIGS=(
  [flat6]="NUM_LAYERS=6"
  [loop3_from0]="$MIDDLE LOOP_START_FRAC=0"
  [loop3_late50]="$MIDDLE LOOP_START_FRAC=0.5"
  [loop3_late50_noparams]="$MIDDLE LOOP_START_FRAC=0.5 $NOPARAMS"
  [loop3_late35_noparams]="$MIDDLE LOOP_START_FRAC=0.35 $NOPARAMS"
  [loop3_late75_noparams]="$MIDDLE LOOP_START_FRAC=0.75 $NOPARAMS"
)
ORDER="flat6 loop3_from0 loop3_late50 loop3_late50_noparams loop3_late35_noparams loop3_late75_noparams"
for seed in ${SEEDS:-1337 42 2024}; do
  for name in $ORDER; do
    log=$out/${name}_seed$seed.txt
    [ -s "$log" ] && grep -q '^final val_bpb' "$log" && continue
    echo "== $name seed $seed"
    env ${CONFIGS[$name]} SEED=$seed TTT=off RUN_ID=loops_${name}_$seed ARTIFACT_PATH=/tmp/loops_$name.pgolf \
      OMP_NUM_THREADS=1 taskset -c 0 python "$snap" > "$log" 2>&1
  done
done
