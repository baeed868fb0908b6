#!/usr/bin/env bash
# The later records' techniques, the middle loop and their combination, each on ternary at the competition
# profile scaled to 4 x 256 (8/4 heads, MLP 4x, EMBED_DIM=84), 160 steps of 4,096 tokens at sequence 256, no
# wall-clock cap (equal steps, deterministic for a seed), TTT off, scored by stride-64 sliding windows on the
# first 33 whole validation documents. Seeds 1337, 42, 2024; two runs at a time, one thread each.
#
#   bash results/cpu/techniques/run.sh DATA TOKENIZER [WORK]
#
# DATA: a folder of sp8192 shards (fineweb_train_*.bin, fineweb_val_000000.bin), e.g. the challenge's
# data/datasets/fineweb10B_sp8192; TOKENIZER: fineweb_8192_bpe.model. WORK (default /tmp/techniques) gets a
# validation shard cut to its first 33 documents, the runs' logs/ and artifacts/. Then
# `python results/cpu/recipe/table.py WORK/logs --reference base` prints the table.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
DATA=$(cd "${1:?DATA: a folder of sp8192 shards}" && pwd); TOKENIZER=$(realpath "${2:?TOKENIZER: fineweb_8192_bpe.model}")
WORK=${3:-/tmp/techniques}
mkdir -p "$WORK/small" "$WORK/logs"
python3 - "$DATA" "$WORK/small" <<'PY'
import os, sys
import numpy as np
data, out = sys.argv[1:]
head = np.fromfile(f"{data}/fineweb_val_000000.bin", "<i4", 256)
val = np.fromfile(f"{data}/fineweb_val_000000.bin", "<u2", int(head[2]), offset=1024)
cut = np.nonzero(val == 1)[0][33]  # the first 33 whole documents
head[2] = cut
open(f"{out}/fineweb_val_000000.bin", "wb").write(head.tobytes() + val[:cut].tobytes())
for name in sorted(os.listdir(data)):
    if name.startswith("fineweb_train_") and not os.path.exists(f"{out}/{name}"):
        os.symlink(f"{data}/{name}", f"{out}/{name}")
PY
cp "$ROOT/train_gpt.py" "$WORK/train_gpt.py"  # one copy for every run, so an edit meanwhile changes nothing
run() {  # run <name> <seed> [VAR=value ...]
  local name=$1 seed=$2; shift 2
  [ -f "$WORK/logs/${name}_s$seed.txt" ] && grep -q "^final val_bpb" "$WORK/logs/${name}_s$seed.txt" && return 0
  rm -f "$WORK/logs/${name}_s$seed.txt"
  (cd "$WORK" && env CONFIG_PROFILE=competition DATA_PATH="$WORK/small" TOKENIZER_PATH="$TOKENIZER" NUM_LAYERS=4 MODEL_DIM=256 \
    NUM_HEADS=8 NUM_KV_HEADS=4 MLP_MULT=4 EMBED_DIM=84 TRAIN_SEQ_LEN=256 TRAIN_BATCH_TOKENS=4096 ITERATIONS=160 \
    MAX_WALLCLOCK_SECONDS=0 COMPILE_WARMUP_STEPS=0 VAL_LOSS_EVERY=0 EVAL_STRIDE=64 VAL_BATCH_SIZE=32768 TTT=off \
    TRAIN_LOG_EVERY=20 OMP_NUM_THREADS=1 "$@" SEED="$seed" RUN_ID="${name}_s$seed" python3 train_gpt.py > /dev/null 2>&1) || true
}
export -f run; export WORK TOKENIZER
MIDDLE_LOOP="PRELUDE_LAYERS=1 SHARED_BLOCKS=2 CODA_LAYERS=1 NUM_LAYERS= LOOPS=3 LOOP_START_FRAC=0.35"
jobs() {
  for seed in 1337 42 2024; do
    echo "base $seed"
    echo "leaky $seed MLP_LEAK=0.5"
    echo "rope $seed ROPE_DIMS=8"
    echo "lnscale $seed LN_SCALE=1"
    echo "qk5 $seed QK_GAIN_INIT=5.0"
    echo "floor $seed WARMDOWN_FLOOR=0.1"
    echo "parallel $seed PARALLEL_LAYERS=1"
    echo "gate $seed ATTN_GATE=1"
    echo "smear $seed SMEAR_GATE=1"
    echo "xsa $seed XSA_LAYERS=1"
    echo "loop $seed $MIDDLE_LOOP"
  done
}
jobs | xargs -P 2 -L 1 bash -c 'run "$@"' _
# The loop at the flat model's wall clock: fewer steps, in the ratio of the two measured step times (no cap, so the
# runs stay deterministic and their schedules end at their own last step).
avg() { grep -h -o "^step:160/160 train_loss:[^ ]* train_time:[0-9]*" "$WORK"/logs/$1_s*.txt | grep -o "[0-9]*$" | paste -sd+ | bc; }
steps=$(( 160 * $(avg base) / $(avg loop) ))
echo "loop steps at equal wall clock: $steps"
for seed in 1337 42 2024; do echo "loop_wallclock $seed $MIDDLE_LOOP ITERATIONS=$steps"; done | xargs -P 2 -L 1 bash -c 'run "$@"' _
