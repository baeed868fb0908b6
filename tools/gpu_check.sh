#!/usr/bin/env bash
# The first real GPU figures from ONE prepared command of at most 9 minutes: an import check and a
# 5-step compiled smoke run, then tools/gpu_bench.sh's plain, stack, stack_eval and peer runs, each
# started only if its expected time fits in what is left of a fixed budget, and one tarball of logs.
#
#   bash tools/gpu_check.sh OUT               # on a GPU machine; OUT: the argument, else $GPU_CHECK_OUT, else $OUT
#   bash tools/gpu_check.sh --cpu-smoke OUT   # the same stages and budget logic on CPU at a tiny shape (~1 min)
#   bash tools/gpu_check.sh --dry-run [OUT]   # the plan: expected times, what fits, each run's command; runs nothing
#
# Stages, in this order; each log kept (stdout and stderr):
#   import      python -c "import train_gpt, zstandard, sentencepiece, torch", versions, nvidia-smi
#   smoke       competition shape, COMPILE=1: ITERATIONS=5 MAX_WALLCLOCK_SECONDS=0 COMPILE_WARMUP_STEPS=2
#               VAL_LOSS_EVERY=0 TTT=off EVAL_STRIDE=0, on DATA_PATH's training shards, scored on the first
#               GPU_CHECK_SMOKE_VAL_TOKENS validation tokens of DATA_PATH only: it checks compilation, export
#               and the CUDA path, not a score.
#               If import or smoke fails, every later stage is skipped (the table and tarball still come).
#   plain       gpu_bench.sh's plain run (the baseline's shape, sp1024 data), GPU_CHECK_PLAIN_SECONDS of training
#   stack       gpu_bench.sh's stack run (the competition defaults, sp8192 data), GPU_CHECK_STACK_SECONDS of training
#               (plain, stack and peer train fewer seconds when theirs do not fit: "Shortened stages" below)
#   stack_eval  the stack artifact re-scored: sliding windows (stride 64), then TTT=doc if this
#               train_gpt.py accepts it (else TTT=off), on the whole validation shard of DATA_PATH
#   peer        the challenge's baseline (PEER_SCRIPT, sp1024 data), GPU_CHECK_PEER_SECONDS of training
# Inputs (environment): GPU_CHECK_BUDGET (540 s, the whole script, 15 s of it kept for the table and
# the tarball), GPU_CHECK_STAGES (a space list among smoke plain stack stack_eval peer; default all;
# import always runs), GPU_CHECK_PLAIN_SECONDS / _STACK_SECONDS / _PEER_SECONDS (60/120/60; --cpu-smoke:
# 3 each), GPU_CHECK_MIN_SECONDS (30; --cpu-smoke: 1: the fewest training seconds a shortened stage gets),
# GPU_CHECK_SMOKE_VAL_TOKENS (65536; --cpu-smoke: 4096), GPU_CHECK_WORK (the work folder,
# artifacts included; bench_runs/gpu_check_<UTC stamp>; must be new or empty), DATA_PATH and
# TOKENIZER_PATH (the sp8192 data of smoke, stack and stack_eval: .gpu/data8192/ and its
# fineweb_8192_bpe.model when present, else ./data/datasets/fineweb10B_sp8192 and
# ./data/tokenizers/fineweb_8192_bpe.model), DATA_PATH_1024 and TOKENIZER_PATH_1024 (the sp1024 data of
# plain and peer: .gpu/data/ and its fineweb_1024_bpe.model when present, else ./data/datasets/fineweb10B_sp1024
# and ./data/tokenizers/fineweb_1024_bpe.model; --cpu-smoke: both pairs data/sample/, vocabulary 1024; only
# the pairs of the chosen stages are checked), PEER_SCRIPT (.gpu/peer_train_gpt.py when present;
# --cpu-smoke: only if set), NPROC (gpu_bench.sh's).
# Any other train_gpt.py variable in the environment reaches every run (the smoke keeps its own).
# Relative folders and files given by the caller count from where it stands; the defaults, from the repo.
# Output: OUT/gpu_check.tgz (every *.txt and *.json of the work folder: logs, bench_env.txt,
# bench.json, summary.txt; no artifact or weights, so it stays far under 16 MiB) and OUT/summary.txt
# (the gpu_check lines, then tools/project.py's table). Exit status: 0 if no stage failed (skips are
# not failures), 1 if one failed, 2 for bad input (before any run).
#
# Log lines (stdout and WORK/gpu_check.txt):
#   gpu_check start mode:<gpu|cpu> budget_s:<n> stages:<list> ttt:<doc|off> peer:<path|none> work:<dir> out:<dir>
#   gpu_check stage:<name> status:<ok|fail> seconds:<n> expected_s:<n> exit_status:<n>   (124: stopped at the budget)
#   gpu_check skip:<name> reason:budget expected_s:<n> left_s:<n>     (also reason:smoke_failed,
#             import_failed, no_stack_artifact, no_peer_script, not_selected)
#             (a training stage's expected_s there is the least it needs: see "Shortened stages")
#   gpu_check shorten:<name> seconds:<n> planned_s:<n> left_s:<n>   a training stage given fewer seconds
#   gpu_check calibrate scale:<f> smoke_s:<n> smoke_expected_s:<n>   after a good smoke: every later
#             stage's expected time minus its training seconds is multiplied by smoke_s / 115 (0.5 to 3)
#   gpu_check done status:<ok|fail> seconds:<n> failed:<names|none>
#   (--dry-run: gpu_check plan stage:<name> expected_s:<n> fits:<yes|no> ends_s:<n> train_s:<n>, then the total)
#
# On the lent GPU machine (/work/shared/gpu/README.md): once, here, `bash ../shared/gpu/prepare.sh`
# (fills .gpu/); then one device `run` with carry [".gpu"] and timeout_s 570, command:
#   python3 -m pip install -q --no-index --no-deps --target /tmp/site .gpu/whl/*.whl && export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 DATA_PATH=$PWD/.gpu/data8192 TOKENIZER_PATH=$PWD/.gpu/data8192/fineweb_8192_bpe.model DATA_PATH_1024=$PWD/.gpu/data TOKENIZER_PATH_1024=$PWD/.gpu/data/fineweb_1024_bpe.model || exit 1; bash tools/gpu_check.sh "$OUT"
# Figures from it: one GPU, the development data repeated (about 11.6M training tokens as sp1024, 7.6M as
# sp8192, the same text), scored on the first 902 documents of the official validation set (1,040,298
# sp1024 tokens, 679,222 sp8192 tokens, the same bytes); 8xH100 numbers in its table are projections.
#
# Expected time of each stage on one H100/H200. No GPU has run this script, so they are sized from what
# is known, not measured (the CPU rehearsal cannot measure GPU compilation). Their evaluation figures count
# the sp1024 shard's 1,040,298 targets; stack and stack_eval score the sp8192 shard's 679,222, so they err long:
#   C  = 45 s  one cold torch.compile of a training graph (forward + backward): the kit's 30-60 s per graph
#              on H100, its middle. Ce = 30 s for the forward-only evaluation graph. A graph that an earlier
#              process compiled at the same shapes (inductor's on-disk cache): half.
#   S  = 20 s  gpu_bench.sh's environment probe 5 + process start, torch and CUDA, the 1,040,298 validation
#              tokens and their byte tables, model build 15. E = 10 s: export (packing, zstd level 22 of
#              ~14 MB) and reload.
#   steps      plain 8 x 43.5 ms = 0.35 s (the baseline's 8xH100 step; one GPU accumulates 8 micro-steps);
#              stack 3.0 x 0.35 s (its forward FLOPs per token, README "Measured results") + 15% for QAT = 1.2 s.
#              They only matter for untimed steps: training itself stops at its wall clock.
#   sliding    stride 64 on 1.04M targets: 67 s (README's 8xH100 projection) x 1,040,298 / 62,021,846 x 8 = 9 s;
#              stack's own evaluation runs the competition's stride 16: 4 x 9 = 36 s
#   doc TTT    window lengths 256, 512, 768, 1024 (TTT_DOC_CHUNK=256 up to EVAL_SEQ_LEN, dynamic=False),
#              each primed with and without gradients (eval_compile): 4 x C + 4 x Ce = 300 s; adapting 30 s (80 s x 0.134, the 8xH100
#              projection scaled to 1.04M targets on one GPU, x ~3 for the dev set's part-filled batches)
#   stage       arithmetic                                                                     expected
#   import      python, torch, CUDA init, nvidia-smi                                               10 s
#   smoke       S 20 + C 45 + (2 + 5) steps x 1.2 + E 10 + Ce 30 (65,536 targets: ~0)             115 s
#   plain       S 20 + C 45 + 20 warm-up x 0.35 + 60 + E 10 + Ce 30 + roundtrip 1           115 + 60 = 175 s
#   stack       S 20 + C/2 23 (the smoke's graph) + 20 warm-up x 1.2 + 120 + E 10 + Ce/2 15
#               + roundtrip 1 + sliding at stride 16 36                                    130 + 120 = 250 s
#   stack_eval  S 20 + load 5 + Ce/2 15 + roundtrip 1 + sliding 9 + doc TTT 300 + 30                  380 s (TTT off: 50)
#   peer        probe 5 + start 10 + C 45 + 20 warm-up x 0.35 + 60 + int8/zlib 5 + 2 evaluations 5  80 + 60 = 140 s
#   import to stack at the planned seconds: 10 + 115 + 175 + 250 = 550 s, 25 s more than the 525 s that the
#   budget leaves after the 15 s for the table and tarball; so stack trains 95 s unless the calibration
#   says compilation is faster than assumed (then up to 120 s).
# Shortened stages: plain, stack and peer train for their planned seconds when those fit, else for what
#   fits, down to GPU_CHECK_MIN_SECONDS; below that they are skipped (reason:budget). While stack is still
#   to come, plain keeps room for stack's untrained part and GPU_CHECK_MIN_SECONDS (or stack's seconds,
#   if fewer): stack, the competition default, must reach its final score even when compilation is slow.
#   stack_eval and peer run only when the clock (after calibration) says they fit, or with
#   GPU_CHECK_STAGES="smoke stack stack_eval".
# --cpu-smoke (2 cores, tiny shape, measured: 2, 8, 9 + s, 14 + s, 22, 3 + s): import 10, smoke 30, plain 20 + s,
# stack 25 + s, stack_eval 45, peer 10 + s. There the stack run keeps TTT=off, as the competition profile does
# (the CPU profile's default is doc), and the peer runs only with PEER_SCRIPT set (the real baseline needs CUDA).
# Every stage also runs under `timeout` with what is left of the budget, so the script ends in time
# even when an estimate is wrong (that stage then fails with exit status 124).
set -uo pipefail
CALLER=$PWD  # folders and files given by the caller are relative to where it stands; defaults, to the repo
cd "$(dirname "$0")/.."

MODE=gpu
DRY_RUN=0
OUT_ARG=
for arg in "$@"; do
  case "$arg" in
    --cpu-smoke) MODE=cpu ;;
    --dry-run) DRY_RUN=1 ;;
    -h|--help) sed -n '2,/^set -/{/^set -/!p;}' "$0"; exit 0 ;;
    -*) echo "gpu_check.sh: unknown option '$arg' (use --cpu-smoke, --dry-run or --help)" >&2; exit 2 ;;
    *)
      if [ -n "$OUT_ARG" ]; then
        echo "gpu_check.sh: one output folder only (got '$OUT_ARG' and '$arg')" >&2; exit 2
      fi
      OUT_ARG=$arg ;;
  esac
done

die() { echo "gpu_check.sh: $*" >&2; exit 2; }
absolute() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/${1#./}" ;; esac; }
from_caller() { case "$1" in /*) echo "$1" ;; *) echo "$CALLER/${1#./}" ;; esac; }
# Inputs given by the caller, made absolute from where it stands, before any default is filled in.
for var in DATA_PATH TOKENIZER_PATH DATA_PATH_1024 TOKENIZER_PATH_1024 PEER_SCRIPT GPU_CHECK_WORK; do
  if [ -n "${!var:-}" ]; then printf -v "$var" '%s' "$(from_caller "${!var}")"; fi
done
is_count() { [[ "$1" =~ ^[1-9][0-9]*$ ]]; }

ALL_STAGES=(smoke plain stack stack_eval peer)
RESERVE=15  # seconds of the budget kept for tools/project.py and the tarball
if [ "$MODE" = cpu ]; then
  declare -A EXPECT=([import]=10 [smoke]=30 [plain]=20 [stack]=25 [stack_eval]=45 [peer]=10)
  # The CPU profile's vocabulary is 1024: both pairs are the bundled sample.
  DATA_PATH=${DATA_PATH:-data/sample}
  TOKENIZER_PATH=${TOKENIZER_PATH:-data/sample/fineweb_1024_bpe.model}
  DATA_PATH_1024=${DATA_PATH_1024:-data/sample}
  TOKENIZER_PATH_1024=${TOKENIZER_PATH_1024:-data/sample/fineweb_1024_bpe.model}
  DEFAULT_SECONDS=3
  MIN_SECONDS=${GPU_CHECK_MIN_SECONDS:-1}
  SMOKE_VAL_TOKENS=${GPU_CHECK_SMOKE_VAL_TOKENS:-4096}
  PEER=${PEER_SCRIPT:-}
else
  declare -A EXPECT=([import]=10 [smoke]=115 [plain]=115 [stack]=130 [stack_eval]=380 [peer]=80)
  # The competition's sp8192 (smoke, stack, stack_eval) and the baseline's sp1024 (plain, peer):
  # ../shared/gpu/prepare.sh's folders when present, else the challenge's download paths.
  default_data() {  # default_data <variable suffix> <prepare.sh folder> <vocabulary>; a value the caller gave wins
    local data=DATA_PATH$1 tok=TOKENIZER_PATH$1 folder=./data/datasets/fineweb10B_sp$3 model=./data/tokenizers/fineweb_$3_bpe.model
    if [ -d "$2" ]; then folder=$2; model=$2/fineweb_$3_bpe.model; fi
    printf -v "$data" '%s' "${!data:-$folder}"
    printf -v "$tok" '%s' "${!tok:-$model}"
  }
  default_data "" .gpu/data8192 8192
  default_data _1024 .gpu/data 1024
  DEFAULT_SECONDS=
  MIN_SECONDS=${GPU_CHECK_MIN_SECONDS:-30}
  SMOKE_VAL_TOKENS=${GPU_CHECK_SMOKE_VAL_TOKENS:-65536}
  PEER=${PEER_SCRIPT:-}
  [ -n "$PEER" ] || [ ! -f .gpu/peer_train_gpt.py ] || PEER=.gpu/peer_train_gpt.py
fi
CAL_BASE=${EXPECT[smoke]}  # calibration compares the measured smoke with this
declare -A SECONDS_OF=(
  [plain]=${GPU_CHECK_PLAIN_SECONDS:-${DEFAULT_SECONDS:-60}}
  [stack]=${GPU_CHECK_STACK_SECONDS:-${DEFAULT_SECONDS:-120}}
  [peer]=${GPU_CHECK_PEER_SECONDS:-${DEFAULT_SECONDS:-60}}
)

# ---- inputs, all checked before any run ----
BUDGET=${GPU_CHECK_BUDGET:-540}
is_count "$BUDGET" || die "GPU_CHECK_BUDGET=$BUDGET: need a whole number of seconds (at least 1)"
for stage in plain stack peer; do
  var=GPU_CHECK_${stage^^}_SECONDS
  is_count "${SECONDS_OF[$stage]}" || die "$var=${SECONDS_OF[$stage]}: need a whole number of seconds (at least 1)"
done
is_count "$MIN_SECONDS" || die "GPU_CHECK_MIN_SECONDS=$MIN_SECONDS: need a whole number of seconds (at least 1)"
is_count "$SMOKE_VAL_TOKENS" && [ "$SMOKE_VAL_TOKENS" -ge 2 ] \
  || die "GPU_CHECK_SMOKE_VAL_TOKENS=$SMOKE_VAL_TOKENS: need a whole number of tokens, at least 2"
read -ra WANTED <<< "${GPU_CHECK_STAGES:-${ALL_STAGES[*]}}"
[ "${#WANTED[@]}" -gt 0 ] || die "GPU_CHECK_STAGES is empty: name at least one of ${ALL_STAGES[*]}"
for want in "${WANTED[@]}"; do
  [[ " ${ALL_STAGES[*]} " == *" $want "* ]] || die "GPU_CHECK_STAGES: unknown stage '$want' (choose from: ${ALL_STAGES[*]})"
done
selected() { [[ " ${WANTED[*]} " == *" $1 "* ]]; }

OUT_DIR=${OUT_ARG:-${GPU_CHECK_OUT:-${OUT:-}}}
if [ -z "$OUT_DIR" ]; then
  [ "$DRY_RUN" = 1 ] || die "no output folder: give it as the argument (or set GPU_CHECK_OUT or OUT)"
  OUT_DIR="(none)"
else
  OUT_DIR=$(from_caller "$OUT_DIR")
  [ ! -e "$OUT_DIR/gpu_check.tgz" ] || die "$OUT_DIR/gpu_check.tgz exists: choose a new output folder (earlier results are never overwritten)"
  [ ! -e "$OUT_DIR" ] || [ -d "$OUT_DIR" ] || die "output folder $OUT_DIR is not a folder"
fi
WORK=$(absolute "${GPU_CHECK_WORK:-bench_runs/gpu_check_$(date -u +%Y%m%d_%H%M%S)}")
[[ "$WORK" != *[[:space:]]* ]] || die "GPU_CHECK_WORK=$WORK: no spaces, please (the smoke's settings go through BENCH_CONFIGS)"
if [ -d "$WORK" ] && [ -n "$(ls -A "$WORK")" ]; then
  die "GPU_CHECK_WORK=$WORK is not empty: choose a new folder (earlier measurements are never overwritten)"
fi
DATA_PATH=$(absolute "$DATA_PATH")
TOKENIZER_PATH=$(absolute "$TOKENIZER_PATH")
DATA_PATH_1024=$(absolute "$DATA_PATH_1024")
TOKENIZER_PATH_1024=$(absolute "$TOKENIZER_PATH_1024")
[ -z "$PEER" ] || PEER=$(absolute "$PEER")
# Which chosen stages read which pair: smoke, stack and stack_eval DATA_PATH's, plain and peer the sp1024 one.
READ_MAIN=() READ_1024=()
for stage in "${WANTED[@]}"; do
  case "$stage" in
    plain) READ_1024+=(plain) ;;
    peer) [ -z "$PEER" ] || READ_1024+=(peer) ;;
    *) READ_MAIN+=("$stage") ;;
  esac
done
check_data() {  # check_data <data variable> <tokenizer variable> <the stages that read them>
  ls "${!1}"/fineweb_val_*.bin >/dev/null 2>&1 || die "no fineweb_val_*.bin in $1=${!1} (read by: $3)"
  ls "${!1}"/fineweb_train_*.bin >/dev/null 2>&1 || die "no fineweb_train_*.bin in $1=${!1} (read by: $3)"
  [ -f "${!2}" ] || die "no tokenizer at $2=${!2} (read by: $3)"
}
if [ "$DRY_RUN" = 0 ]; then
  [ "${#READ_MAIN[@]}" = 0 ] || check_data DATA_PATH TOKENIZER_PATH "${READ_MAIN[*]}"
  [ "${#READ_1024[@]}" = 0 ] || check_data DATA_PATH_1024 TOKENIZER_PATH_1024 "${READ_1024[*]}"
  [ -z "$PEER" ] || [ -f "$PEER" ] || die "PEER_SCRIPT=$PEER is not a file"
  if [ "$MODE" = gpu ] && [ -z "${NPROC:-}" ] && ! command -v nvidia-smi >/dev/null; then
    die "nvidia-smi not found: no GPU here (use --cpu-smoke to rehearse on CPU, or set NPROC)"
  fi
fi
export DATA_PATH TOKENIZER_PATH DATA_PATH_1024 TOKENIZER_PATH_1024
# The kit's own inputs are set per stage here: none may leak in from the caller's environment.
unset BENCH_OUT BENCH_RUNS BENCH_SECONDS BENCH_CONFIGS BENCH_TTT BENCH_ARTIFACT PEER_SCRIPT

# Doc TTT "if enabled in that version": whether this train_gpt.py accepts TTT=doc (doc if it cannot even be
# imported here: the import stage then fails and says why).
TTT_MODE=$(python3 -c "
try:
    import train_gpt as t
except Exception:
    print('doc'); raise SystemExit
try:
    t.Hyperparameters.from_env(env={'TTT': 'doc'}, cuda=True); print('doc')
except Exception:
    print('off')" 2>/dev/null)
if [ "$TTT_MODE" != doc ]; then
  TTT_MODE=off
  EXPECT[stack_eval]=$([ "$MODE" = cpu ] && echo 20 || echo 50)
fi

KIT_FLAGS=()
STACK_VARS=()
[ "$MODE" = gpu ] || { KIT_FLAGS+=(--cpu-smoke); STACK_VARS=(TTT=off); }
[ "$DRY_RUN" = 0 ] || KIT_FLAGS+=(--dry-run)
SMOKE_DATA=$WORK/smoke_data
SMOKE_CONFIG="smoke:ITERATIONS=5 COMPILE_WARMUP_STEPS=2 VAL_LOSS_EVERY=0 TTT=off EVAL_STRIDE=0 TRAIN_LOG_EVERY=1 DATA_PATH=$SMOKE_DATA"

# ---- logging and the clock ----
T0=$SECONDS
LOG=$WORK/gpu_check.txt
if [ "$DRY_RUN" = 0 ]; then
  mkdir -p "$WORK" || die "cannot create GPU_CHECK_WORK=$WORK"
  mkdir -p "$OUT_DIR" || die "cannot create the output folder $OUT_DIR"
  : > "$LOG"
else
  LOG=/dev/null
fi
say() { echo "$*" | tee -a "$LOG"; }
elapsed() { echo $((SECONDS - T0)); }
left() { echo $((BUDGET - RESERVE - (SECONDS - T0))); }
FAILED=()
STOP=  # set when import or smoke fails: every later stage is skipped with this reason
SCALE_PM=1000  # calibration, per mille

untrained() {  # untrained <stage>: expected seconds apart from training, calibrated after the smoke
  case "$1" in import|smoke) echo "${EXPECT[$1]}" ;; *) echo $((EXPECT[$1] * SCALE_PM / 1000)) ;; esac
}
expected() { echo $(($(untrained "$1") + ${SECONDS_OF[$1]:-0})); }  # training seconds are not scaled
least_training() {  # least_training <stage>: the fewest training seconds it may run with
  echo $((SECONDS_OF[$1] < MIN_SECONDS ? SECONDS_OF[$1] : MIN_SECONDS))
}
kept_for_stack() {  # kept_for_stack <stage>: seconds plain leaves free for the stack run still to come
  if [ "$1" = plain ] && selected stack; then echo $(($(untrained stack) + $(least_training stack))); else echo 0; fi
}
train_seconds() {  # train_seconds <stage> <left_s>: its planned seconds if they fit, else what fits (>= MIN_SECONDS), else 0
  local room=$(($2 - $(kept_for_stack "$1") - $(untrained "$1")))
  if [ "$room" -ge "${SECONDS_OF[$1]}" ]; then echo "${SECONDS_OF[$1]}"
  elif [ "$room" -ge "$MIN_SECONDS" ]; then echo "$room"
  else echo 0; fi
}

stub() {  # stub <stage> <reason>: a log that tools/project.py lists as skipped
  case "$1" in import) return 0 ;; esac
  mkdir -p "$WORK/$1"
  echo "bench_run name:$1 skipped:$2" > "$WORK/$1/$1.txt"
}

skip() {  # skip <stage> <reason> [fields]
  say "gpu_check skip:$1 reason:$2${3:+ $3}"
  [ "$DRY_RUN" = 1 ] || stub "$1" "$2"
}

# run_stage <stage> <command...>: the budget check, then the command under timeout, its output to the
# log (and to $STAGE_TEE when set). Returns 0 only if the command ran and succeeded.
STAGE_TEE=/dev/null
LAST_SECONDS=0
FITTED=  # the stage whose seconds run_training has just fitted to the clock: run_stage does not check it again
run_stage() {
  local stage=$1 expect left_s start rc=0 status=ok
  shift
  expect=$(expected "$stage")
  left_s=$(left)
  if [ "$stage" != "$FITTED" ] && [ "$expect" -gt "$left_s" ]; then
    skip "$stage" budget "expected_s:$expect left_s:$left_s"
    return 1
  fi
  start=$SECONDS
  say ""
  say "== gpu_check $stage (expected ${expect} s, ${left_s} s left)"
  if command -v timeout >/dev/null; then
    timeout --kill-after=10 "$left_s" "$@" 2>&1 | tee -a "$LOG" "$STAGE_TEE"
    rc=${PIPESTATUS[0]}
  else
    "$@" 2>&1 | tee -a "$LOG" "$STAGE_TEE"
    rc=${PIPESTATUS[0]}
  fi
  if [ "$rc" != 0 ]; then
    status=fail
    FAILED+=("$stage")
    # A run stopped at the budget never wrote its own end line: record it for the table, once torchrun
    # has stopped its workers (they run in their own sessions, so the TERM reaches them through it) and
    # nothing writes to the log any more.
    local runlog="$WORK/$stage/$stage.txt" waited=0
    if [ -f "$runlog" ] && ! grep -q '^bench_run ' "$runlog"; then
      while [ "$waited" -lt 10 ] && [ -n "$(find /proc/[0-9]*/fd -maxdepth 1 -lname "$runlog" 2>/dev/null | head -n 1)" ]; do
        sleep 1
        waited=$((waited + 1))
      done
      echo "bench_run name:$stage exit_status:$rc wall_time:$((SECONDS - start))s" >> "$runlog"
    fi
  fi
  LAST_SECONDS=$((SECONDS - start))
  say "gpu_check stage:$stage status:$status seconds:$LAST_SECONDS expected_s:$expect exit_status:$rc"
  [ "$rc" = 0 ]
}

kit() {  # kit <stage> [VAR=value ...]: KIT, the command of tools/gpu_bench.sh for one run in its own folder
  local stage=$1
  shift
  KIT=(env BENCH_OUT="$WORK/$stage" BENCH_RUNS="$stage" PEER_SCRIPT= "$@" bash tools/gpu_bench.sh "${KIT_FLAGS[@]}")
}

run_training() {  # run_training <stage> [VAR=value ...]: plain, stack or peer with the seconds that fit (train_seconds)
  local stage=$1 left_s secs planned=${SECONDS_OF[$1]}
  shift
  left_s=$(left)
  secs=$(train_seconds "$stage" "$left_s")
  if [ "$secs" = 0 ]; then
    skip "$stage" budget "expected_s:$(($(untrained "$stage") + $(least_training "$stage") + $(kept_for_stack "$stage"))) left_s:$left_s"
    return 1
  fi
  if [ "$secs" -lt "$planned" ]; then
    say "gpu_check shorten:$stage seconds:$secs planned_s:$planned left_s:$left_s"
    SECONDS_OF[$stage]=$secs
  fi
  kit "$stage" BENCH_SECONDS="$secs" "$@"
  FITTED=$stage
  run_stage "$stage" "${KIT[@]}"
}

IMPORT_PY='import platform, sys
import train_gpt, zstandard, sentencepiece, torch
cuda = torch.cuda.is_available()
gpu = torch.cuda.get_device_name(0).replace(" ", "_") if cuda else "none"
print(f"import_check python:{platform.python_version()} torch:{torch.__version__} cuda:{torch.version.cuda} "
      f"cuda_available:{cuda} gpus:{torch.cuda.device_count()} gpu:{gpu} zstandard:{zstandard.__version__} "
      f"sentencepiece:{sentencepiece.__version__}")'

# The smoke scores only the first SMOKE_VAL_TOKENS validation tokens: a folder of links to the training
# shards and a cut validation shard.
make_smoke_data() {
  mkdir -p "$SMOKE_DATA"
  ln -sf "$DATA_PATH"/fineweb_train_*.bin "$SMOKE_DATA"/
  local val
  val=$(ls "$DATA_PATH"/fineweb_val_*.bin | head -n 1)
  python3 - "$val" "$SMOKE_DATA/fineweb_val_000000.bin" "$SMOKE_VAL_TOKENS" <<'EOF'
import sys
import numpy as np
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
header = np.fromfile(src, dtype="<i4", count=256)
tokens = np.fromfile(src, dtype="<u2", count=min(n, int(header[2])), offset=256 * 4)
header[2] = len(tokens)
with open(dst, "wb") as f:
    f.write(header.tobytes())
    f.write(tokens.tobytes())
print(f"smoke validation: the first {len(tokens)} tokens of {src}")
EOF
}

# ---- the plan (--dry-run) ----
stage_list=(import "${ALL_STAGES[@]}")
say "gpu_check start mode:$MODE budget_s:$BUDGET stages:$(IFS=,; echo "${WANTED[*]}") ttt:$TTT_MODE peer:${PEER:-none} work:$WORK out:$OUT_DIR"
if [ "$DRY_RUN" = 1 ]; then
  at=0 total=0
  for stage in "${stage_list[@]}"; do
    [ "$stage" = import ] || selected "$stage" || continue
    [ "$stage" != peer ] || [ -n "$PEER" ] || { echo "gpu_check plan stage:peer skipped:no_peer_script"; continue; }
    total=$((total + $(expected "$stage")))
    secs=
    case "$stage" in
      plain|stack|peer) secs=$(train_seconds "$stage" $((BUDGET - RESERVE - at)))
        [ "$secs" = 0 ] || SECONDS_OF[$stage]=$secs ;;  # the commands below show the fitted seconds
    esac
    e=$(expected "$stage")
    fits=no
    if [ "$secs" != 0 ] && [ $((at + e)) -le $((BUDGET - RESERVE)) ]; then fits=yes; at=$((at + e)); fi
    echo "gpu_check plan stage:$stage expected_s:$e fits:$fits ends_s:$at train_s:${SECONDS_OF[$stage]:-0}"
  done
  echo "gpu_check plan total_expected_s:$total fitting_s:$at budget_s:$BUDGET reserve_s:$RESERVE"
  echo
  echo "+ import check: python3 -c \"import train_gpt, zstandard, sentencepiece, torch ...\"; nvidia-smi"
  if selected smoke; then
    echo "+ smoke data: links to $DATA_PATH/fineweb_train_*.bin, the first $SMOKE_VAL_TOKENS validation tokens, in $SMOKE_DATA"
    kit smoke BENCH_SECONDS=0 BENCH_CONFIGS="$SMOKE_CONFIG"; "${KIT[@]}"
  fi
  if selected plain; then kit plain BENCH_SECONDS="${SECONDS_OF[plain]}"; "${KIT[@]}"; fi
  if selected stack; then kit stack BENCH_SECONDS="${SECONDS_OF[stack]}" "${STACK_VARS[@]}"; "${KIT[@]}"; fi
  if selected stack_eval; then kit stack_eval BENCH_ARTIFACT="$WORK/stack/stack.pgolf" BENCH_TTT="$TTT_MODE"; "${KIT[@]}"; fi
  if selected peer && [ -n "$PEER" ]; then kit peer BENCH_SECONDS="${SECONDS_OF[peer]}" PEER_SCRIPT="$PEER"; "${KIT[@]}"; fi
  echo
  echo "+ python3 tools/project.py <stage logs> --json $WORK/bench.json; tar czf $OUT_DIR/gpu_check.tgz (*.txt, *.json of $WORK); $OUT_DIR/summary.txt"
  exit 0
fi

# ---- the stages ----
STAGE_TEE=$WORK/import.txt
if run_stage import python3 -c "$IMPORT_PY"; then
  if command -v nvidia-smi >/dev/null; then
    timeout 30 nvidia-smi 2>&1 | tee -a "$LOG" "$STAGE_TEE"
  else
    echo "nvidia-smi: not found" | tee -a "$LOG" "$STAGE_TEE"
  fi
elif [[ " ${FAILED[*]} " == *" import "* ]]; then
  STOP=import_failed
fi
STAGE_TEE=/dev/null
for stage in "${ALL_STAGES[@]}"; do
  if ! selected "$stage"; then say "gpu_check skip:$stage reason:not_selected"; continue; fi
  if [ -n "$STOP" ]; then skip "$stage" "$STOP"; continue; fi
  case "$stage" in
    smoke)
      kit smoke BENCH_SECONDS=0 BENCH_CONFIGS="$SMOKE_CONFIG"
      if ! make_smoke_data 2>&1 | tee -a "$LOG"; then
        FAILED+=(smoke)
        say "gpu_check stage:smoke status:fail seconds:0 expected_s:$(expected smoke) exit_status:1"
        STOP=smoke_failed
      elif run_stage smoke "${KIT[@]}"; then
        smoke_s=$LAST_SECONDS
        SCALE_PM=$((smoke_s * 1000 / CAL_BASE))
        [ "$SCALE_PM" -ge 500 ] || SCALE_PM=500
        [ "$SCALE_PM" -le 3000 ] || SCALE_PM=3000
        say "gpu_check calibrate scale:$((SCALE_PM / 1000)).$(printf '%03d' $((SCALE_PM % 1000))) smoke_s:$smoke_s smoke_expected_s:$CAL_BASE"
      elif [[ " ${FAILED[*]} " == *" smoke "* ]]; then
        STOP=smoke_failed
      fi ;;
    plain) run_training plain ;;
    stack) run_training stack "${STACK_VARS[@]}" ;;
    stack_eval)
      if [ ! -f "$WORK/stack/stack.pgolf" ]; then
        skip stack_eval no_stack_artifact
      else
        kit stack_eval BENCH_ARTIFACT="$WORK/stack/stack.pgolf" BENCH_TTT="$TTT_MODE"
        run_stage stack_eval "${KIT[@]}"
      fi ;;
    peer)
      if [ -z "$PEER" ]; then
        skip peer no_peer_script
      else
        run_training peer PEER_SCRIPT="$PEER"
      fi ;;
  esac
done

# ---- the table, the summary, the tarball ----
LOGS=()
for stage in "${ALL_STAGES[@]}"; do
  [ ! -f "$WORK/$stage/$stage.txt" ] || LOGS+=("$WORK/$stage/$stage.txt")
done
say ""
TABLE=$WORK/table.txt
if [ "${#LOGS[@]}" -gt 0 ]; then
  python3 tools/project.py "${LOGS[@]}" --json "$WORK/bench.json" > "$TABLE" 2>&1 || echo "(tools/project.py failed)" >> "$TABLE"
else
  echo "(no runs: nothing for tools/project.py)" > "$TABLE"
fi
status=ok
[ "${#FAILED[@]}" = 0 ] || status=fail
failed_list=${FAILED[*]:-none}
say "gpu_check done status:$status seconds:$(elapsed) failed:${failed_list// /,}"
{
  if [ "$MODE" = gpu ]; then
    echo "gpu_check summary (one GPU; on the development data of .gpu/: about 11.6M training tokens as sp1024, 7.6M as"
    echo "sp8192, repeated, and the first 902 documents of the official validation set, 1,040,298 sp1024 / 679,222 sp8192"
    echo "tokens; every 8xH100 figure is a projection; DATA_PATH=$DATA_PATH DATA_PATH_1024=$DATA_PATH_1024)"
  else
    echo "gpu_check summary (CPU rehearsal at a tiny shape on $DATA_PATH and $DATA_PATH_1024: pipeline figures, not measurements)"
  fi
  grep -E '^gpu_check (start|stage|skip|calibrate|done)' "$LOG"
  grep -h '^import_check ' "$WORK/import.txt" 2>/dev/null
  echo
  cat "$TABLE"
} > "$WORK/summary.txt"
cat "$TABLE"
cp "$WORK/summary.txt" "$OUT_DIR/summary.txt"
(cd "$WORK" && find . -type f \( -name '*.txt' -o -name '*.json' \) -not -path './smoke_data/*' | sort \
  | tar czf "$OUT_DIR/gpu_check.tgz" -T -)
echo "gpu_check tarball: $OUT_DIR/gpu_check.tgz ($(stat -c %s "$OUT_DIR/gpu_check.tgz") bytes), summary: $OUT_DIR/summary.txt"
[ "$status" = ok ]
