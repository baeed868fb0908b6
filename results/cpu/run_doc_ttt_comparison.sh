#!/usr/bin/env bash
# Reproduces its figures with train_gpt.py as of commit ae53359 (git show ae53359:train_gpt.py > <copy>); the current
# script removed chunk TTT and the per-loop parameters, and stops with a message on their variables.
# Issue 12: the CPU default artifact for three seeds, each re-scored on the first 262,144 tokens of the
# development validation shard (234 FineWeb documents) with sliding windows, chunk TTT and doc TTT.
#   bash results/cpu/run_doc_ttt_comparison.sh     (needs ../shared/data beside the checkout)
# Extra doc-TTT settings for the doc runs can be passed in DOC_ENV. The re-scores get a 3600 s evaluation
# budget so that TTT adapts on every document (on 2 CPU cores doc TTT takes minutes; every time is logged).
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
  # doc_noadapt: doc mode's document-isolated chunk windows with no adaptation at all (a budget that has
  # run out before the first document), to tell isolation apart from adaptation.
  for mode in sliding chunk doc doc_noadapt; do
    [ -s "$out/${mode}_seed$seed.txt" ] && grep -q '^final val_bpb' "$out/${mode}_seed$seed.txt" && continue
    case $mode in sliding) ttt=off ;; doc*) ttt=doc ;; *) ttt=$mode ;; esac
    budget=3600; [ "$mode" = doc_noadapt ] && budget=0.001
    extra=""; [ "$ttt" = doc ] && extra="EVAL_STRIDE=0 ${DOC_ENV:-}"  # doc mode scores in its own windows
    env $extra EVAL_ARTIFACT=$art DATA_PATH=$val TTT=$ttt EVAL_BUDGET_SECONDS=$budget RUN_ID=rescore_${mode}_$seed \
      python3 train_gpt.py > "$out/${mode}_seed$seed.txt" 2>&1
  done
done
grep -H "^final_ttt\|^final_sliding" "$out"/*_seed*.txt
