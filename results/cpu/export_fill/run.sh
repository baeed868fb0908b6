#!/usr/bin/env bash
# The competition default at its full shape (10 x 768, vocabulary 8192, the middle pair looped twice from half-way,
# smear gate, the coda parallel) trained a few CPU steps and exported by the budget-filling export: the artifact's
# real bytes_total against 16,000,000, and the budget estimate beside it. Then random weights, which compress like a
# trained model's (fullshape_fit.py). One process, one thread.
#
#   bash results/cpu/export_fill/run.sh DATA TOKENIZER [WORK]
#
# DATA: a folder of sp8192 shards (the challenge's data/datasets/fineweb10B_sp8192); TOKENIZER: fineweb_8192_bpe.model.
# WORK (default /tmp/export_fill) gets a validation shard cut to its first 4 documents (evaluation here only checks
# that the artifact reloads and scores), the log and the artifact.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
DATA=$(cd "${1:?DATA: a folder of sp8192 shards}" && pwd); TOKENIZER=$(realpath "${2:?TOKENIZER: fineweb_8192_bpe.model}")
WORK=${3:-/tmp/export_fill}
mkdir -p "$WORK/data"
python3 "$ROOT/results/cpu/cut_data.py" "$DATA" "$WORK/data" 4
(cd "$WORK" && env CONFIG_PROFILE=competition DATA_PATH="$WORK/data" TOKENIZER_PATH="$TOKENIZER" ITERATIONS=4 \
  TRAIN_BATCH_TOKENS=2048 MAX_WALLCLOCK_SECONDS=0 COMPILE_WARMUP_STEPS=0 VAL_LOSS_EVERY=0 TRAIN_LOG_EVERY=1 TTT=off \
  EVAL_STRIDE=0 VAL_BATCH_SIZE=8192 OMP_NUM_THREADS=1 RUN_ID=fullshape_default python3 "$ROOT/train_gpt.py")
OMP_NUM_THREADS=1 python3 "$ROOT/results/cpu/export_fill/fullshape_fit.py"
