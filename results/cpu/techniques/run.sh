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
python3 "$ROOT/results/cpu/cut_data.py" "$DATA" "$WORK/small" 33
# The script as it was measured (28514b4): the techniques this batch declined were retired from train_gpt.py after it
# (docs/measurements.md), so today's script no longer has their variables.
git -C "$ROOT" show 28514b4:train_gpt.py > "$WORK/train_gpt.py"
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
# The records' middle loop at this depth: the two middle blocks of four, LOOPS=3 from 35% (the top record's schedule)
# and LOOPS=2 from 50% (2026-03-31_ParallelResiduals_MiniDepthRecurrence's, the competition default's).
three_passes="PRELUDE_LAYERS=1 SHARED_BLOCKS=2 CODA_LAYERS=1 NUM_LAYERS= LOOPS=3 LOOP_START_FRAC=0.35"
two_passes="PRELUDE_LAYERS=1 SHARED_BLOCKS=2 CODA_LAYERS=1 NUM_LAYERS= LOOPS=2 LOOP_START_FRAC=0.5"
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
    echo "loop $seed $three_passes"
    echo "loop2 $seed $two_passes"
  done
}
jobs | xargs -P 2 -L 1 bash -c 'run "$@"' _
# Step time of the flat model and of two_passes switched on from step 0: 12 steps, 3 alternating rounds, one run at a
# time (the 160-step runs above share the CPU in pairs, so their step times are not comparable).
for r in 1 2 3; do
  for name in flat loop2on; do
    extra=""; [ $name = loop2on ] && extra="$two_passes LOOP_START_FRAC=0.0"
    (cd "$WORK" && env CONFIG_PROFILE=competition DATA_PATH="$WORK/small" TOKENIZER_PATH="$TOKENIZER" NUM_LAYERS=4 MODEL_DIM=256 \
      NUM_HEADS=8 NUM_KV_HEADS=4 MLP_MULT=4 EMBED_DIM=84 TRAIN_SEQ_LEN=256 TRAIN_BATCH_TOKENS=4096 ITERATIONS=12 \
      MAX_WALLCLOCK_SECONDS=0 COMPILE_WARMUP_STEPS=0 VAL_LOSS_EVERY=0 TTT=off TRAIN_LOG_EVERY=1 OMP_NUM_THREADS=1 $extra \
      SEED=1337 RUN_ID="time_${name}_r$r" timeout 100 python3 train_gpt.py > /dev/null 2>&1) || true  # stops after training
  done
done
# two_passes at the flat model's wall clock: the loop runs from half-way, so its mean step is (1 + ratio) / 2 flat steps.
# Fewer steps, no cap: the runs stay deterministic and their schedules end at their own last step.
steps=$(python3 - "$WORK/logs" <<'PY'
import re, statistics, sys
def last_ms(name):  # steps 2..12 of each round (step 1 carries the first call's set-up)
    out = []
    for r in (1, 2, 3):
        t = {int(s): float(ms) for s, ms in re.findall(r"^step:(\d+)/12 \S+ train_time:([\d.]+)ms", open(f"{sys.argv[1]}/time_{name}_r{r}.txt").read(), re.M)}
        out.append((t[12] - t[1]) / 11)
    return statistics.mean(out)
ratio = last_ms("loop2on") / last_ms("flat")
print(round(160 / ((1 + ratio) / 2)))
PY
)
echo "loop2 steps at equal wall clock: $steps"
for seed in 1337 42 2024; do echo "loop2_wallclock $seed $two_passes ITERATIONS=$steps"; done | xargs -P 2 -L 1 bash -c 'run "$@"' _
