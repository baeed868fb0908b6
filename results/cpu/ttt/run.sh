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
# The artifacts come from 28514b4 (format 3), whose configuration also records the knobs retired after it
# (ROPE_DIMS, LN_SCALE, MLP_LEAK, XSA_LAYERS, ATTN_GATE), all at their neutral values in these
# runs: drop them and write format 4, the same tensors, for today's script.
python3 - "$WORK/artifacts" "$WORK/ttt_artifacts" <<'PY'
import json, os, struct, sys, zlib
import zstandard
src, out = sys.argv[1:]
os.makedirs(out, exist_ok=True)
retired = {"rope_dims": 0, "ln_scale": False, "mlp_leak": 0.0, "xsa_layers": 0, "attn_gate": False}
for name in sorted(os.listdir(src)):
    if not name.startswith("base_s"):
        continue
    blob = open(f"{src}/{name}", "rb").read()
    assert blob[:8] == b"PGOLFART" and struct.unpack("<I", blob[8:12])[0] == 3, name
    body = zstandard.ZstdDecompressor().decompress(blob[16:])
    (n,) = struct.unpack("<I", body[:4])
    manifest = json.loads(body[4 : 4 + n])
    for key, neutral in retired.items():
        assert manifest["config"].pop(key) == neutral, (name, key)
    text = json.dumps(manifest).encode()
    packed = zstandard.ZstdCompressor(level=22).compress(struct.pack("<I", len(text)) + text + body[4 + n :])
    open(f"{out}/{name}", "wb").write(b"PGOLFART" + struct.pack("<II", 4, zlib.crc32(packed)) + packed)
PY
score() {  # score <pass> <seed> [VAR=value ...]
  local name=$1 seed=$2; shift 2
  [ -f "$WORK/ttt_logs/${name}_s$seed.txt" ] && grep -q "^final val_bpb" "$WORK/ttt_logs/${name}_s$seed.txt" && return 0
  (cd "$WORK" && env CONFIG_PROFILE=competition DATA_PATH="$WORK/small" TOKENIZER_PATH="$TOKENIZER" OMP_NUM_THREADS=1 \
    EVAL_ARTIFACT="$WORK/ttt_artifacts/base_s$seed.pgolf" TRAIN_SEQ_LEN=256 EVAL_BUDGET_SECONDS=3600 VAL_BATCH_SIZE=32768 TTT_DOC_BATCH=8 \
    SEED="$seed" RUN_ID="ttt_${name}_s$seed" "$@" python3 train_gpt_eval.py > "$WORK/ttt_logs/${name}_s$seed.txt" 2>&1) || true
}
for seed in 1337 42 2024; do
  score sliding16 "$seed" TTT=off EVAL_STRIDE=16
  score ttt_competition "$seed" TTT=doc EVAL_STRIDE=0
  score ttt_cpu "$seed" TTT=doc EVAL_STRIDE=0 TTT_DOC_CHUNK=64 TTT_LORA_RANK=8 TTT_LR=0.003 TTT_BETA1=0.9 TTT_BETA2=0.999 \
    TTT_WEIGHT_DECAY=0
done
