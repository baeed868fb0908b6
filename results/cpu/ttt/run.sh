#!/usr/bin/env bash
# The evaluation passes on the same trained artifacts: the roundtrip, sliding windows at the competition's
# former stride 16, doc TTT with the competition's settings (chunk 48, LoRA rank 80 on every block linear and
# the head's projection, AdamW lr 1e-4, betas 0 / 0.99, weight decay 0.5) and doc TTT with the CPU profile's
# (chunk 64, rank 8, lr 0.003, default betas, no weight decay). TTT_DOC_BATCH=8 in both: documents never mix,
# so the batch size changes the time, not the scores. Budget 3600 s, so that TTT adapts on every document.
#
#   bash results/cpu/ttt/run.sh WORK TOKENIZER
#
# WORK: the folder results/cpu/techniques/run.sh filled (its small/ data and artifacts/base_s<seed>.pgolf);
# TOKENIZER: fineweb_8192_bpe.model. Logs go to WORK/ttt_logs/<pass>_s<seed>.txt, one pass at a time.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
WORK=$(cd "${1:?WORK: the techniques work folder}" && pwd); TOKENIZER=$(realpath "${2:?TOKENIZER}")
mkdir -p "$WORK/ttt_logs"
cp "$ROOT/train_gpt.py" "$WORK/train_gpt_eval.py"
score() {  # score <pass> <seed> [VAR=value ...]
  local name=$1 seed=$2; shift 2
  [ -f "$WORK/ttt_logs/${name}_s$seed.txt" ] && grep -q "^final val_bpb" "$WORK/ttt_logs/${name}_s$seed.txt" && return 0
  (cd "$WORK" && env CONFIG_PROFILE=competition DATA_PATH="$WORK/small" TOKENIZER_PATH="$TOKENIZER" OMP_NUM_THREADS=1 \
    EVAL_ARTIFACT="$WORK/artifacts/base_s$seed.pgolf" EVAL_BUDGET_SECONDS=3600 VAL_BATCH_SIZE=32768 TTT_DOC_BATCH=8 \
    SEED="$seed" RUN_ID="ttt_${name}_s$seed" "$@" python3 train_gpt_eval.py > "$WORK/ttt_logs/${name}_s$seed.txt" 2>&1) || true
}
for seed in 1337 42 2024; do
  score sliding16 "$seed" TTT=off EVAL_STRIDE=16
  score ttt_competition "$seed" TTT=doc EVAL_STRIDE=0
  score ttt_cpu "$seed" TTT=doc EVAL_STRIDE=0 TTT_DOC_CHUNK=64 TTT_LORA_RANK=8 TTT_LR=0.003 TTT_BETA1=0.9 TTT_BETA2=0.999 \
    TTT_WEIGHT_DECAY=0
done
