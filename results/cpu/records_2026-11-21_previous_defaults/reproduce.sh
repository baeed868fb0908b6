#!/usr/bin/env bash
# Rebuilds this folder's evidence on a CPU: three seeds of the plain `python train_gpt.py` default
# (the cpu_sample profile), then submission.json and the loss curves from those logs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
sample=$(cd ../../data/sample && pwd)
for seed in 1337 42 2024; do
  rm -f "logs/cpu_sample_seed$seed.txt"  # the logger appends; a rebuild starts each log afresh
  SEED=$seed RUN_ID=cpu_sample_seed$seed DATA_PATH="$sample" TOKENIZER_PATH="$sample/fineweb_1024_bpe.model" \
    python train_gpt.py > /dev/null
done
python ../../tools/summarize.py logs/cpu_sample_seed*.txt --out submission.json \
  --author "parameter-golf ternary-recurrence-ttt team" --github-id "" --date "${DATE:-}" \
  --name "Ternary QAT + depth recurrence + score-first TTT (CPU sample, non-record)" \
  --blurb "Non-record evidence: the default python train_gpt.py run on a 2-core CPU with the bundled data/sample (410,644 FineWeb-Edu training tokens, the first 65,536 FineWeb validation tokens). No 8xH100 run of this script exists yet."
python ../../tools/plot_logs.py logs/cpu_sample_seed*.txt --out curves.png || echo "curves.png skipped (matplotlib not installed)"
