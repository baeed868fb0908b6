set -u
repo=/work/main; out=/tmp/prof/pairs_bf16; mkdir -p $out; cd $out
common="DATA_PATH=$repo/data/sample TOKENIZER_PATH=$repo/data/sample/fineweb_1024_bpe.model VOCAB_SIZE=1024 NUM_LAYERS=4 MODEL_DIM=128 NUM_HEADS=4 NUM_KV_HEADS=2 MLP_MULT=2 TRAIN_SEQ_LEN=1024 TRAIN_BATCH_TOKENS=8192 ITERATIONS=30 MAX_WALLCLOCK_SECONDS=0 VAL_LOSS_EVERY=0 TRAIN_LOG_EVERY=30 WARMUP_STEPS=0 OMP_NUM_THREADS=2"
ours="CONFIG_PROFILE=cpu_sample TERNARY_LAYERS=none LOOPS=1 TTT=off EVAL_STRIDE=0 GRAD_ACCUM_STEPS=8 COMPILE_WARMUP_STEPS=0 VAL_BATCH_SIZE=65536"
for r in 3 4; do
  env $common RUN_ID=peer_$r python <the challenge baseline train_gpt.py, patched only to run on CPU (not shipped)> > peer_$r.txt 2>&1
  env $common $ours RUN_ID=fp32_$r python $repo/train_gpt.py > fp32_$r.txt 2>&1
  env $common $ours AUTOCAST=bf16 MUON_DTYPE=bf16 RUN_ID=bf16_$r python $repo/train_gpt.py > bf16_$r.txt 2>&1
  for f in peer_$r fp32_$r bf16_$r; do echo "$f $(grep -o 'step:30/30 train_loss.*step_avg:[0-9.]*ms' $f.txt | grep -o 'step_avg:[0-9.]*ms')"; done
done
