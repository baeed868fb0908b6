#!/usr/bin/env bash
# Back-to-back CPU step times at 4 x 128, sp1024, 8,192-token steps (8 micro-steps of one 1,024-token
# sequence), plain configuration, one process: the challenge baseline (patched only to run on CPU),
# our script before this session's changes (0144c7a) and after. Usage: bash bench_pairs.sh <repo> <outdir> <rounds>
set -u
repo=$1; out=$2; rounds=${3:-2}; mkdir -p "$out"; cd "$out"
common="DATA_PATH=$repo/data/sample TOKENIZER_PATH=$repo/data/sample/fineweb_1024_bpe.model VOCAB_SIZE=1024 NUM_LAYERS=4 MODEL_DIM=128 NUM_HEADS=4 NUM_KV_HEADS=2 MLP_MULT=2 TRAIN_SEQ_LEN=1024 TRAIN_BATCH_TOKENS=8192 ITERATIONS=30 MAX_WALLCLOCK_SECONDS=0 VAL_LOSS_EVERY=0 TRAIN_LOG_EVERY=30 WARMUP_STEPS=0 OMP_NUM_THREADS=2"
ours="${OURS_EXTRA:-} CONFIG_PROFILE=cpu_sample TERNARY_LAYERS=none LOOPS=1 TTT=off EVAL_STRIDE=0 GRAD_ACCUM_STEPS=8 COMPILE_WARMUP_STEPS=0 VAL_BATCH_SIZE=65536"
for r in $(seq 1 "$rounds"); do
  env $common RUN_ID=peer_$r python <the challenge baseline train_gpt.py, patched only to run on CPU (not shipped)> > peer_$r.txt 2>&1
  env $common $ours RUN_ID=old_$r python <train_gpt.py at commit 0144c7a> > old_$r.txt 2>&1
  env $common $ours RUN_ID=new_$r python $repo/train_gpt.py > new_$r.txt 2>&1
  for f in peer_$r old_$r new_$r; do echo "$f $(grep -o 'step:30/30 .*step_avg:[0-9.]*ms' $f.txt | grep -o 'step_avg:[0-9.]*ms')"; done
done
