#!/usr/bin/env bash
# CPU comparison of this repository's train_gpt.py with the challenge baseline's (openai/parameter-golf).
#
#   bash results/cpu/baseline_compare/run.sh BASELINE_TRAIN_GPT [WORK]      (WORK: default /tmp/basecmp/work)
#
# 1. Patches BASELINE_TRAIN_GPT to run on a CPU (patch_baseline.py) into WORK/baseline_cpu.py.
# 2. Step time: ROUNDS rounds, each one run of the baseline then one of ours, STEPS steps each. Shape of
#    both: 4 layers x 128, 4 heads / 2 KV heads, MLP 2x, vocabulary 1024, sequence 1024, 8,192 tokens a
#    step as 8 micro-steps of one sequence, bf16 autocast, data/sample; no warm-up, no evaluation during
#    training (the baseline still scores at its last step; both score after their export roundtrip; untimed).
#    Read:  "step_time baseline_r1 ... ms" lines, then "step_time mean baseline ... ours ... ratio ours/baseline ...".
# 3. Equal wall clock: the baseline, then ours, each trained WALL seconds (MAX_WALLCLOCK_SECONDS) in the
#    same configuration with the default ITERATIONS (20000 in both: the clock stops them), then exported
#    and scored on data/sample's validation tokens. Ours warms the learning rate down over its last
#    WARMDOWN_FRAC=0.8 of the clock (its cpu_sample default); the baseline counts its warm-down in steps
#    (WARMDOWN_ITERS, scaled by its live step time), so it gets BASE_WARMDOWN_FRAC (default 0.8, the same
#    share) of WALL divided by its mean step time from part 2.
#    Read:  "wallclock baseline final_int8_zlib_roundtrip ..." and "wallclock ours final_roundtrip ... / final val_bpb ...".
# 4. Equal steps (PARTS=steps; deterministic, so the two runs of a seed share the CPU): for each seed of SEEDS, the
#    baseline and ours for EQUAL_STEPS steps (default 80, about what the baseline trains in 150 s on our CPU), each
#    warming down over its last BASE_WARMDOWN_FRAC (the baseline's WARMDOWN_ITERS in steps), then both scored as in 3.
#    Read:  "steps s<seed> baseline ... ours ..." lines, then "steps mean baseline ... ours ... ours-baseline ...".
# PARTS (default "time wall") picks the parts: time (2), wall (3, needs time or BASE_MS), steps (4). SEEDS, EQUAL_STEPS: part 4's.
# Every run: one process, OMP_NUM_THREADS=1, a clean environment (env -i), one at a time; logs in WORK/logs/
# (<run>.txt: the script's own log; <run>.out: its console). The baseline also writes final_model.pt and
# final_model.int8.ptz, ours artifacts/<run>.pgolf, in WORK.
# Test-only overrides (never for the measurement): ROUNDS (3), STEPS (30), WALL (150). PRECISION=fp32 runs both in
# fp32 (the baseline without its own bf16 casts too, patch_baseline.py), for a CPU without native bf16 (no
# avx512_bf16 or AMX in lscpu's flags), where torch emulates bf16 products about 90x slower than fp32 ones.
set -euo pipefail
BASELINE=$(realpath "${1:?usage: run.sh BASELINE_TRAIN_GPT [WORK]}")
WORK=${2:-/tmp/basecmp/work}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
ROUNDS=${ROUNDS:-3} STEPS=${STEPS:-30} WALL=${WALL:-150} BASE_WARMDOWN_FRAC=${BASE_WARMDOWN_FRAC:-0.8}
PRECISION=${PRECISION:-bf16} PARTS=" ${PARTS:-time wall} " SEEDS=${SEEDS:-1337 42 2024} EQUAL_STEPS=${EQUAL_STEPS:-80}
PY=$(python3 -c "import sys; print(sys.executable)")
mkdir -p "$WORK/logs" && cd "$WORK"
python3 "$REPO/results/cpu/baseline_compare/patch_baseline.py" "$BASELINE" baseline_cpu.py "$PRECISION"

COMMON="OMP_NUM_THREADS=1 NUM_LAYERS=4 MODEL_DIM=128 NUM_HEADS=4 NUM_KV_HEADS=2 MLP_MULT=2 TRAIN_SEQ_LEN=1024
        TRAIN_BATCH_TOKENS=8192 VAL_LOSS_EVERY=0 WARMUP_STEPS=0"
# The baseline: 8 micro-steps is its own 8 // WORLD_SIZE; WARMUP_STEPS=0 skips its untimed torch.compile priming.
BASE="DATA_PATH=$REPO/data/sample TOKENIZER_PATH=$REPO/data/sample/fineweb_1024_bpe.model VOCAB_SIZE=1024"
OURS="CONFIG_PROFILE=cpu_sample TERNARY_LAYERS=none LOOPS=1 TTT=off EVAL_STRIDE=0 GRAD_ACCUM_STEPS=8
      COMPILE_WARMUP_STEPS=0 AUTOCAST=$([ "$PRECISION" = fp32 ] && echo off || echo bf16) MUON_DTYPE=$PRECISION"

run() {  # run NAME SCRIPT VARS...: one training run in a clean environment
  local name=$1 script=$2; shift 2
  echo "run $name $(date +%T)" >&2
  env -i PATH="$PATH" HOME="$HOME" RUN_ID="$name" "$@" "$PY" "$script" > "logs/$name.out" 2>&1 \
    || { echo "run $name failed: see $WORK/logs/$name.out" >&2; tail -5 "logs/$name.out" >&2; exit 1; }
}
step_avg() { grep -o "step:$STEPS/$STEPS train_loss.*step_avg:[0-9.]*" "logs/$1.txt" | sed 's/.*step_avg://'; }

# ---- 2. step time
if [[ $PARTS == *" time "* ]]; then
  for r in $(seq "$ROUNDS"); do
    run "baseline_r$r" baseline_cpu.py $COMMON SEED=1337 $BASE ITERATIONS="$STEPS" MAX_WALLCLOCK_SECONDS=0 TRAIN_LOG_EVERY="$STEPS"
    run "ours_r$r" "$REPO/train_gpt.py" $COMMON SEED=1337 $OURS ITERATIONS="$STEPS" MAX_WALLCLOCK_SECONDS=0 TRAIN_LOG_EVERY="$STEPS"
    echo "step_time baseline_r$r $(step_avg "baseline_r$r") ms  ours_r$r $(step_avg "ours_r$r") ms"
  done
  BASE_MS=$(for r in $(seq "$ROUNDS"); do step_avg "baseline_r$r"; done | awk '{s+=$1} END {printf "%.2f", s/NR}')
  OURS_MS=$(for r in $(seq "$ROUNDS"); do step_avg "ours_r$r"; done | awk '{s+=$1} END {printf "%.2f", s/NR}')
  echo "step_time mean baseline $BASE_MS ms  ours $OURS_MS ms  ratio ours/baseline $(awk "BEGIN {printf \"%.3f\", $OURS_MS/$BASE_MS}")"
fi

# ---- 3. equal wall clock
if [[ $PARTS == *" wall "* ]]; then
  : "${BASE_MS:?the wall part needs the time part, or BASE_MS: the mean ms a step of the baseline from an earlier one}"
  WARMDOWN_ITERS=$(awk "BEGIN {v = int($BASE_WARMDOWN_FRAC * $WALL * 1000 / $BASE_MS + 0.5); print (v < 1 ? 1 : v)}")  # 0 would turn it off
  echo "wallclock ${WALL}s: baseline WARMDOWN_ITERS=$WARMDOWN_ITERS (= $BASE_WARMDOWN_FRAC x ${WALL}s / $BASE_MS ms)"
  run baseline_wall baseline_cpu.py $COMMON SEED=1337 $BASE MAX_WALLCLOCK_SECONDS="$WALL" WARMDOWN_ITERS="$WARMDOWN_ITERS"
  run ours_wall "$REPO/train_gpt.py" $COMMON SEED=1337 $OURS MAX_WALLCLOCK_SECONDS="$WALL"
  echo "wallclock baseline $(grep -h '^stopping_early' logs/baseline_wall.txt | tail -1)"
  echo "wallclock baseline $(grep -h '^final_int8_zlib_roundtrip ' logs/baseline_wall.txt)"
  echo "wallclock ours $(grep -h '^stopping_early' logs/ours_wall.txt | tail -1)"
  echo "wallclock ours $(grep -h '^final_roundtrip \|^final val_bpb' logs/ours_wall.txt | tr '\n' ' ')"
fi

# ---- 4. equal steps
if [[ $PARTS == *" steps "* ]]; then
  WARMDOWN_ITERS=$(awk "BEGIN {v = int($BASE_WARMDOWN_FRAC * $EQUAL_STEPS + 0.5); print (v < 1 ? 1 : v)}")
  score() { grep -ho "$2 val_loss:[0-9.]* val_bpb:[0-9.]*" "logs/$1.txt" | tail -1 | sed 's/.*val_bpb://'; }
  for seed in $SEEDS; do
    run "baseline_steps_s$seed" baseline_cpu.py $COMMON SEED="$seed" $BASE ITERATIONS="$EQUAL_STEPS" \
      MAX_WALLCLOCK_SECONDS=0 WARMDOWN_ITERS="$WARMDOWN_ITERS" TRAIN_LOG_EVERY=10 &
    pid=$!
    run "ours_steps_s$seed" "$REPO/train_gpt.py" $COMMON SEED="$seed" $OURS ITERATIONS="$EQUAL_STEPS" \
      MAX_WALLCLOCK_SECONDS=0 WARMDOWN_FRAC="$BASE_WARMDOWN_FRAC" TRAIN_LOG_EVERY=10
    wait "$pid"
    echo "steps s$seed baseline $(score "baseline_steps_s$seed" final_int8_zlib_roundtrip_exact)" \
         "ours $(score "ours_steps_s$seed" final_roundtrip)"
  done | tee "$WORK/steps_table.txt"
  awk '{b += $4; o += $6; n++} END {printf "steps mean baseline %.5f ours %.5f ours-baseline %+.5f (%d seeds)\n", b/n, o/n, (o-b)/n, n}' \
    "$WORK/steps_table.txt"
fi
