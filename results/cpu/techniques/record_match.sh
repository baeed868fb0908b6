#!/usr/bin/env bash
# This script's previous competition default and its new one against the ternary record's own script, in the
# configuration that script ran in at ff01379 (results/cpu/recipe/record_script/: 4 x 256, EMBED_DIM=84, 80 steps of
# 4,096 tokens at sequence 1024, stride-64 sliding windows on the first 82 whole validation documents). Seeds 1337,
# 42 and 2024, two runs at a time, one thread each; equal steps.
#
#   bash results/cpu/techniques/record_match.sh DATA TOKENIZER WORK
#
# DATA, TOKENIZER as for run.sh. `previous`: the ternary record's recipe as the default was before the techniques
# (flat, no smear gate, no parallel blocks, no learning-rate floor); `adopted`: today's default at this depth, the
# middle two of four blocks looped twice from half-way and the last block parallel, as the default's 4, 2 x 2, 4
# with its coda parallel. Logs: WORK/record_logs/<name>_s<seed>.txt; `python results/cpu/recipe/table.py
# WORK/record_logs --reference previous` prints the table.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
DATA=$(cd "${1:?DATA}" && pwd); TOKENIZER=$(realpath "${2:?TOKENIZER}"); WORK=${3:?WORK}
mkdir -p "$WORK/full" "$WORK/record_logs"
python3 "$ROOT/results/cpu/cut_data.py" "$DATA" "$WORK/full" 82
cp "$ROOT/train_gpt.py" "$WORK/train_gpt_match.py"
run() {  # run <name> <seed> [VAR=value ...]
  local name=$1 seed=$2; shift 2
  [ -f "$WORK/record_logs/${name}_s$seed.txt" ] && grep -q "^final val_bpb" "$WORK/record_logs/${name}_s$seed.txt" && return 0
  (cd "$WORK" && env CONFIG_PROFILE=competition DATA_PATH="$WORK/full" TOKENIZER_PATH="$TOKENIZER" NUM_LAYERS=4 MODEL_DIM=256 \
    NUM_HEADS=8 NUM_KV_HEADS=4 MLP_MULT=4 EMBED_DIM=84 TRAIN_SEQ_LEN=1024 TRAIN_BATCH_TOKENS=4096 ITERATIONS=80 \
    MAX_WALLCLOCK_SECONDS=0 COMPILE_WARMUP_STEPS=0 VAL_LOSS_EVERY=0 EVAL_STRIDE=64 VAL_BATCH_SIZE=32768 TTT=off \
    TRAIN_LOG_EVERY=20 OMP_NUM_THREADS=1 "$@" SEED="$seed" RUN_ID="${name}_s$seed" python3 train_gpt_match.py \
    > "$WORK/record_logs/${name}_s$seed.out" 2>&1 && cp "$WORK/logs/${name}_s$seed.txt" "$WORK/record_logs/") || true
}
export -f run; export WORK TOKENIZER
for seed in 1337 42 2024; do
  echo "previous $seed PRELUDE_LAYERS=0 CODA_LAYERS=0 LOOPS=1 SMEAR_GATE=0 PARALLEL_LAYERS=0 WARMDOWN_FLOOR=0"
  echo "adopted $seed PRELUDE_LAYERS=1 CODA_LAYERS=1 PARALLEL_LAYERS=1"
done | xargs -P "${JOBS:-2}" -L 1 bash -c 'run "$@"' _  # JOBS: runs at a time
