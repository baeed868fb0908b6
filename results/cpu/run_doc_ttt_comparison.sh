#!/usr/bin/env bash
# Issue 12: the CPU default artifact for three seeds, each re-scored on the first 262,144 tokens of the
# development validation shard (234 FineWeb documents) with sliding windows, chunk TTT and doc TTT.
#   bash results/cpu/run_doc_ttt_comparison.sh     (needs ../shared/data beside the checkout)
# Extra doc-TTT settings for the doc runs can be passed in DOC_ENV.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=results/cpu/doc_ttt
mkdir -p "$out" artifacts
val=$(mktemp -d)
python3 - "$val" <<'PY'
import sys
sys.path.insert(0, ".")
import train_gpt as tg
v = tg.load_shard("../shared/data/datasets/fineweb10B_sp1024_dev/fineweb_val_000000.bin", 1024)[:262144]
tg.write_shard(f"{sys.argv[1]}/fineweb_val_000000.bin", v)
PY
for seed in ${SEEDS:-1337 42 2024}; do
  art=artifacts/cpu_default_seed$seed.pgolf
  # The default CPU run; its own evaluation (on data/sample) is skipped, the re-scores below replace it.
  [ -f "$art" ] || SEED=$seed RUN_ID=cpu_default_seed$seed ARTIFACT_PATH=$art TTT=off EVAL_STRIDE=0 \
    python3 train_gpt.py > "$out/train_seed$seed.txt" 2>&1
  for mode in sliding chunk doc; do
    case $mode in sliding) ttt=off ;; *) ttt=$mode ;; esac
    extra=""; [ "$mode" = doc ] && extra=${DOC_ENV:-}
    env $extra EVAL_ARTIFACT=$art DATA_PATH=$val TTT=$ttt RUN_ID=rescore_${mode}_$seed \
      python3 train_gpt.py > "$out/${mode}_seed$seed.txt" 2>&1
  done
done
grep -H "^final_ttt\|^final_sliding" "$out"/*_seed*.txt
