#!/usr/bin/env bash
# The first real GPU figures from ONE prepared command of at most 9 minutes: an import and compiler check,
# an attention micro-benchmark, a 5-step compiled smoke run, then tools/gpu_bench.sh's stack and peer runs
# (plain and stack_eval on request), each started only if its expected time fits in what is left of a fixed
# budget, and one tarball of logs. A broken or slow compiler does not empty it: the later runs go on eagerly.
#
#   bash tools/gpu_check.sh OUT               # on a GPU machine; OUT: the argument, else $GPU_CHECK_OUT, else $OUT
#   bash tools/gpu_check.sh --cpu-smoke OUT   # the same stages and budget logic on CPU at a tiny shape (~2 min)
#   bash tools/gpu_check.sh --dry-run [OUT]   # the plan: expected times, what fits, each run's command; runs nothing
#
# Stages, in this order; each log kept (stdout and stderr). Default: import bench smoke stack peer.
#   import      tools/import_check.py: imports train_gpt, zstandard, sentencepiece, torch; versions; a C compiler,
#               Python.h, `import triton`; one tiny torch.compile on the device (its own limit: 60 s, CPU 120 s);
#               nvidia-smi. If the compile fails, every later run has COMPILE=0 TORCH_COMPILE_DISABLE=1 (the
#               baseline's torch.compile too) and the summary says `compile:off reason:<why>`.
#   bench       tools/attn_bench.py: attention forward and forward + backward at the per-GPU shape (bf16, 8/4 heads,
#               1024 tokens, head size 96) with SDPA flash, cuDNN and efficient, FlashAttention-3 or -4 if they import,
#               and one Newton-Schulz step; a deadline of GPU_CHECK_BENCH_SECONDS; its table goes into the summary.
#   smoke       competition shape, COMPILE=1: ITERATIONS=5 MAX_WALLCLOCK_SECONDS=0 COMPILE_WARMUP_STEPS=4
#               VAL_LOSS_EVERY=0 TTT=off EVAL_STRIDE=0, on DATA_PATH's training shards, scored on the first
#               GPU_CHECK_SMOKE_VAL_TOKENS validation tokens of DATA_PATH only: it checks compilation, export
#               and the CUDA path, not a score, and leaves the stack's training graphs in inductor's cache.
#               It stops at its own limit (GPU_CHECK_SMOKE_LIMIT; default: the longest smoke after which the
#               compiled stack still fits with GPU_CHECK_MIN_SECONDS of training). If it fails compiled, or hits
#               that limit, compilation goes off (reason:smoke_failed, smoke_timeout) and the later runs go on
#               eagerly; a smoke that fails with train_gpt.py's own `error:` line (configuration, data), or
#               fails eagerly, or an import that fails, skips every later stage (the table and tarball still come).
#   plain       gpu_bench.sh's plain run (the baseline's shape, sp1024 data), GPU_CHECK_PLAIN_SECONDS of training
#   stack       gpu_bench.sh's stack run (the competition defaults, sp8192 data), GPU_CHECK_STACK_SECONDS of
#               training, with VAL_LOSS_EVERY=0 COMPILE_WARMUP_STEPS=4 (every combination of QAT and loop
#               switches, so no graph compiles in the timed run) TRAIN_LOG_EVERY=20
#               (plain, stack and peer train fewer seconds when theirs do not fit: "Shortened stages" below)
#   stack_eval  the stack artifact re-scored: sliding windows (stride 64), then TTT=doc if this
#               train_gpt.py accepts it (else TTT=off), on the whole validation shard of DATA_PATH
#   peer        the challenge's baseline (PEER_SCRIPT, sp1024 data), GPU_CHECK_PEER_SECONDS of training; its
#               measured step converts the one-GPU figures to 8xH100 (tools/project.py)
# Inputs (environment): GPU_CHECK_BUDGET (540 s, the whole script, 15 s of it kept for the table and
# the tarball), GPU_CHECK_STAGES (a space list among bench smoke plain stack stack_eval peer; default
# "bench smoke stack peer"; import always runs), GPU_CHECK_PLAIN_SECONDS / _STACK_SECONDS / _PEER_SECONDS
# (60/45/20; --cpu-smoke: 3 each), GPU_CHECK_MIN_SECONDS (30; --cpu-smoke: 1: the fewest training seconds a
# shortened stage gets), GPU_CHECK_SMOKE_VAL_TOKENS (65536; --cpu-smoke: 4096), GPU_CHECK_BENCH_SECONDS (20;
# --cpu-smoke: 10), GPU_CHECK_SMOKE_LIMIT (seconds; default computed, see smoke), GPU_CHECK_COMPILE (auto; 0:
# no compile probe, every run eager, reason:asked), GPU_CHECK_SMOKE_VARS (VAR=value words for the smoke alone,
# after its own: the rehearsal of a compile failure below), GPU_CHECK_ASSUME ("<stage>:<fixed>/<cold>/<shared>
# ...": replaces rows of the table of expected seconds below), GPU_CHECK_CLOCK (real, the default; or
# "expected [<stage>:<seconds> ...]": a stage counts as taking its expected seconds, or those given, whatever
# it really takes, so that every budget decision is the same on any machine; the tests use it; stage limits
# still stop a run at the seconds the clock leaves it), GPU_CHECK_WORK (the work folder, artifacts included;
# bench_runs/gpu_check_<UTC stamp>; must be new or empty), DATA_PATH and TOKENIZER_PATH (the sp8192 data of
# smoke, stack and stack_eval: .gpu/data8192/ and its fineweb_8192_bpe.model when present, else
# ./data/datasets/fineweb10B_sp8192 and ./data/tokenizers/fineweb_8192_bpe.model), DATA_PATH_1024 and
# TOKENIZER_PATH_1024 (the sp1024 data of plain and peer: .gpu/data/ and its fineweb_1024_bpe.model when
# present, else ./data/datasets/fineweb10B_sp1024 and ./data/tokenizers/fineweb_1024_bpe.model; --cpu-smoke:
# both pairs data/sample/, vocabulary 1024; only the pairs of the chosen stages are checked), PEER_SCRIPT
# (.gpu/peer_train_gpt.py when present; --cpu-smoke: only if set), NPROC (gpu_bench.sh's).
# Any other train_gpt.py variable in the environment reaches every run (the smoke keeps its own).
# Relative folders and files given by the caller count from where it stands; the defaults, from the repo.
# Output: OUT/gpu_check.tgz (every *.txt and *.json of the work folder: logs, bench_env.txt,
# bench.json, summary.txt; no artifact or weights, so it stays far under 16 MiB) and OUT/summary.txt
# (the gpu_check lines, the import and compile checks, the attention table and the fastest kernel, then
# tools/project.py's table).
# Exit status: 0 if no stage failed (skips are not failures; a compile probe that fails is reported, not a
# failure), 1 if one failed, 2 for bad input (before any run).
#
# Log lines (stdout and WORK/gpu_check.txt):
#   gpu_check start mode:<gpu|cpu> budget_s:<n> stages:<list> ttt:<doc|off|unused> peer:<path|none> clock:<real|expected> work:<dir> out:<dir>
#   gpu_check stage:<name> status:<ok|fail> seconds:<n> expected_s:<n> exit_status:<n> compile:<on|off>   (124: stopped at its limit)
#             (seconds: what the clock counted; with GPU_CHECK_CLOCK=expected, the expected or given seconds)
#   gpu_check skip:<name> reason:budget expected_s:<n> left_s:<n>     (also reason:smoke_failed,
#             import_failed, no_stack_artifact, no_peer_script, not_selected)
#             (a training stage's expected_s there is the least it needs: see "Shortened stages")
#   gpu_check shorten:<name> seconds:<n> planned_s:<n> left_s:<n>   a training stage given fewer seconds
#   gpu_check compile:<on|off> reason:<none|asked|no_c_compiler|no_python_h|no_triton|probe_failed|probe_timeout|
#             smoke_failed|smoke_timeout> stage:<import|smoke>   after the import, and when the smoke turns it off
#   gpu_check smoke_limit seconds:<n> left_s:<n>   before the smoke: where it is stopped
#   gpu_check calibrate scale:<f> smoke_s:<n> smoke_expected_s:<n> cold_s:<n>   after a good compiled smoke: its
#             seconds beyond its fixed part, over its cold-compile part (cold_s), 0.25 to 4, multiply the cold
#             column of every later stage (nothing else: training seconds, fixed parts and cached compiles stay)
#   gpu_check done status:<ok|fail> seconds:<n> failed:<names|none> compile:<on|off> reason:<...>
#   (--dry-run: gpu_check plan stage:<name> expected_s:<n> fits:<yes|no> ends_s:<n> train_s:<n> compile_s:<n>,
#    then gpu_check plan total_expected_s:<n> fitting_s:<n> budget_s:<n> reserve_s:<n> spare_s:<n>; it plays the
#    same decisions as a run on the expected clock: GPU_CHECK_CLOCK="expected smoke:200" plans a 200 s smoke)
# tools/import_check.py's lines (import_check, compile_check) and tools/attn_bench.py's (attn_bench) are
# documented in their headers.
#
# On the lent GPU machine (/work/shared/gpu/README.md): once, here, `bash ../shared/gpu/prepare.sh`
# (fills .gpu/); then one device `run` with carry [".gpu"] and timeout_s 570, command:
#   python3 -m pip install -q --no-index --no-deps --target /tmp/site .gpu/whl/*.whl && export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 DATA_PATH=$PWD/.gpu/data8192 TOKENIZER_PATH=$PWD/.gpu/data8192/fineweb_8192_bpe.model DATA_PATH_1024=$PWD/.gpu/data TOKENIZER_PATH_1024=$PWD/.gpu/data/fineweb_1024_bpe.model || exit 1; bash tools/gpu_check.sh "$OUT"
# Figures from it: one GPU, the development data repeated (about 11.6M training tokens as sp1024, 7.6M as
# sp8192, the same text), scored on the first 902 documents of the official validation set (1,040,298
# sp1024 tokens, 679,222 sp8192 tokens, the same bytes); 8xH100 numbers in its table are projections.
#
# Expected time of each stage on one H100/H200, in three columns: fixed (not scaled), cold (cold compiles,
# scaled by the smoke's calibration) and shared (graphs the smoke compiles too: after a good compiled smoke they
# come from inductor's on-disk cache at half their cold cost, unscaled; else cold and scaled); with compilation
# off both compile columns count 0. No GPU has run this script, so they are sized from what is known, not
# measured; the smoke measures the compile speed, and GPU_CHECK_ASSUME replaces rows once a run has measured them.
# They assume the competition defaults about to come (TTT=doc as the scoring pass, the stride-16 sliding pass only
# when EVAL_STRIDE>0, a looped middle switched on late): the present ones (sliding stride 16, 36 s; one training
# graph per QAT state) cost less.
#   C  = 35 s  one cold torch.compile of a training graph (forward + backward) at the competition shape: the
#              lower part of the kit's 30-60 s on H100 (45 would not leave 60 s spare). Ce = 15 s for a
#              forward-only evaluation graph. A graph an earlier process compiled at the same shapes: half.
#   S  = 20 s  gpu_bench.sh's environment probe 5 + process start, torch and CUDA, the validation tokens and
#              their byte tables, model build 15. E = 10 s: export (packing, zstd level 22 of ~14 MB) and reload.
#   steps      plain 8 x 43.5 ms = 0.35 s (the baseline's 8xH100 step; one GPU accumulates 8 micro-steps);
#              stack 3.0 x 0.35 s (its forward FLOPs per token) + 15% for QAT = 1.2 s. They only matter for
#              untimed steps (compile warm-up, the smoke): training itself stops at its wall clock.
#   TTT        the doc-TTT pass of the stack on the development validation set: 60 s on one GPU.
#   stage       fixed                                             cold                     shared       train  expected
#   import      python, torch, CUDA, checks, nvidia-smi 5         probe 10                 -                -    15
#   bench       the micro-benchmark's deadline 20                 -                        -                -    20
#   smoke       S 20 + (4 + 5) steps x 1.2 + E 10 = 41            2C 70 + Ce 15 = 85       -                -   126
#   plain       S 20 + 20 warm-up x 0.35 + E 10 + roundtrip 1 = 38  C 35 + Ce 15 = 50      -               60   148
#   stack       S 20 + 4 warm-up x 1.2 + E 10 + roundtrip 1       2 TTT graphs 2Ce = 30    the smoke's 85  45   214
#               + TTT 60 = 96                                     (evaluation primes 3:    (training 2C,
#                                                                 roundtrip + 2 TTT)       roundtrip Ce): 43
#   stack_eval  S 20 + load 5 + roundtrip 1 + sliding (stride 64) 9  3Ce = 45              -                -   140
#               + TTT 60 = 95                                                 (TTT off: fixed 35 + Ce 15 = 50)
#   peer        probe 5 + start 10 + 20 warm-up x 0.35 + int8/zlib 5  its own graph C 35   -               20    87
#               + 2 evaluations 5 = 32
#   The default plan, import bench smoke stack peer: 15 + 20 + 126 + 214 + 87 = 462 s, 63 s inside the 525 s that
#   the budget leaves after the 15 s for the table and tarball. A slower compiler: the calibration scales the cold
#   column (stack and peer train fewer seconds, or peer is skipped); past the smoke limit (247 s at the defaults)
#   compilation goes off and the stack still runs, eagerly.
# Shortened stages: plain, stack and peer train for their planned seconds when those fit, else for what
#   fits, down to GPU_CHECK_MIN_SECONDS; below that they are skipped (reason:budget). While stack is still
#   to come, plain keeps room for stack's untrained part and GPU_CHECK_MIN_SECONDS (or stack's seconds,
#   if fewer): stack, the competition default, must reach its final score even when compilation is slow.
#   stack_eval and peer run only when the clock (after calibration) says they fit.
# --cpu-smoke (2 shared cores, tiny shape; measured import 3 + probe 5 to 25 s (cold), bench 4, smoke 19, plain 14 + s,
# stack 15 + s, stack_eval 30, peer 4 + s): import 5/10, bench 5, smoke 10/20 (the CPU runs do not compile: the
# split only rehearses the calibration), plain 20, stack 15 + shared 10, stack_eval 45 (TTT off: 20), peer 10.
# There the stack run keeps TTT=off, as the competition profile does (the CPU profile's default is doc), and the
# peer runs only with PEER_SCRIPT set (the real baseline needs CUDA).
# Rehearsing a broken compiler on CPU: CC=/bin/false CXX=/bin/false (the import's probe fails: compile:off
# reason:no_c_compiler, every run eager); GPU_CHECK_SMOKE_VARS="COMPILE=1 CC=/bin/false CXX=/bin/false" (the
# probe passes, the compiled smoke fails: compile:off reason:smoke_failed, the stack runs eagerly).
# Every stage runs under `timeout` with what is left of the budget (or its own, shorter limit), so the script
# ends in time even when an estimate is wrong (that stage then fails with exit status 124).
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

ALL_STAGES=(bench smoke plain stack stack_eval peer)
DEFAULT_STAGES=(bench smoke stack peer)
RESERVE=15  # seconds of the budget kept for tools/project.py and the tarball
# The table of expected seconds (the header's): fixed, cold (scaled by the calibration), shared (the smoke's graphs).
if [ "$MODE" = cpu ]; then
  declare -A FIXED=([import]=5 [bench]=5 [smoke]=10 [plain]=20 [stack]=15 [stack_eval]=45 [peer]=10)
  declare -A COLD=([import]=10 [smoke]=20)
  declare -A SHARED=([stack]=10)
  # The CPU profile's vocabulary is 1024: both pairs are the bundled sample.
  DATA_PATH=${DATA_PATH:-data/sample}
  TOKENIZER_PATH=${TOKENIZER_PATH:-data/sample/fineweb_1024_bpe.model}
  DATA_PATH_1024=${DATA_PATH_1024:-data/sample}
  TOKENIZER_PATH_1024=${TOKENIZER_PATH_1024:-data/sample/fineweb_1024_bpe.model}
  DEFAULT_SECONDS=3
  MIN_SECONDS=${GPU_CHECK_MIN_SECONDS:-1}
  SMOKE_VAL_TOKENS=${GPU_CHECK_SMOKE_VAL_TOKENS:-4096}
  ATTN_SECONDS=${GPU_CHECK_BENCH_SECONDS:-10}
  PROBE_TIMEOUT=120
  PEER=${PEER_SCRIPT:-}
else
  declare -A FIXED=([import]=5 [bench]=20 [smoke]=41 [plain]=38 [stack]=96 [stack_eval]=95 [peer]=32)
  declare -A COLD=([import]=10 [smoke]=85 [plain]=50 [stack]=30 [stack_eval]=45 [peer]=35)
  declare -A SHARED=([stack]=85)
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
  ATTN_SECONDS=${GPU_CHECK_BENCH_SECONDS:-20}
  PROBE_TIMEOUT=60
  PEER=${PEER_SCRIPT:-}
  [ -n "$PEER" ] || [ ! -f .gpu/peer_train_gpt.py ] || PEER=.gpu/peer_train_gpt.py
fi
declare -A SECONDS_OF=(
  [plain]=${GPU_CHECK_PLAIN_SECONDS:-${DEFAULT_SECONDS:-60}}
  [stack]=${GPU_CHECK_STACK_SECONDS:-${DEFAULT_SECONDS:-45}}
  [peer]=${GPU_CHECK_PEER_SECONDS:-${DEFAULT_SECONDS:-20}}
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
is_count "$ATTN_SECONDS" || die "GPU_CHECK_BENCH_SECONDS=$ATTN_SECONDS: need a whole number of seconds (at least 1)"
SMOKE_LIMIT=${GPU_CHECK_SMOKE_LIMIT:-}
[ -z "$SMOKE_LIMIT" ] || is_count "$SMOKE_LIMIT" || die "GPU_CHECK_SMOKE_LIMIT=$SMOKE_LIMIT: need a whole number of seconds (at least 1)"
case "${GPU_CHECK_COMPILE:-auto}" in
  auto) COMPILE=on; COMPILE_REASON=none ;;
  0) COMPILE=off; COMPILE_REASON=asked ;;
  *) die "GPU_CHECK_COMPILE=$GPU_CHECK_COMPILE: auto (probe, then decide) or 0 (every run eager)" ;;
esac
for entry in ${GPU_CHECK_ASSUME:-}; do
  [[ "$entry" =~ ^(import|bench|smoke|plain|stack|stack_eval|peer):([0-9]+)/([0-9]+)/([0-9]+)$ ]] \
    || die "GPU_CHECK_ASSUME entry '$entry': need <stage>:<fixed>/<cold>/<shared> in whole seconds, stage among import ${ALL_STAGES[*]}"
  FIXED[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]} COLD[${BASH_REMATCH[1]}]=${BASH_REMATCH[3]} SHARED[${BASH_REMATCH[1]}]=${BASH_REMATCH[4]}
done
read -ra CLOCK_WORDS <<< "${GPU_CHECK_CLOCK:-real}"
CLOCK=${CLOCK_WORDS[0]:-real}
declare -A DECLARED=()  # GPU_CHECK_CLOCK=expected's given seconds per stage
[[ "$CLOCK" =~ ^(real|expected)$ ]] || die "GPU_CHECK_CLOCK=${GPU_CHECK_CLOCK:-}: real, or expected [<stage>:<seconds> ...]"
for entry in "${CLOCK_WORDS[@]:1}"; do
  [ "$CLOCK" = expected ] && [[ "$entry" =~ ^(import|bench|smoke|plain|stack|stack_eval|peer):([0-9]+)$ ]] \
    || die "GPU_CHECK_CLOCK entry '$entry': need expected, then <stage>:<seconds>"
  DECLARED[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
done
[ "$DRY_RUN" = 0 ] || CLOCK=expected  # the plan plays the run on the expected clock
read -ra WANTED <<< "${GPU_CHECK_STAGES:-${DEFAULT_STAGES[*]}}"
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
    bench) ;;
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

# Doc TTT "if enabled in that version", for stack_eval: whether this train_gpt.py accepts TTT=doc (doc if it
# cannot even be imported here: the import stage then fails and says why). Not asked when stack_eval is not chosen.
TTT_MODE=unused
selected stack_eval && TTT_MODE=$(python3 -c "
try:
    import train_gpt as t
except Exception:
    print('doc'); raise SystemExit
try:
    t.Hyperparameters.from_env(env={'TTT': 'doc'}, cuda=True); print('doc')
except Exception:
    print('off')" 2>/dev/null)
if [ "$TTT_MODE" != doc ] && [ "$TTT_MODE" != unused ]; then
  TTT_MODE=off
  FIXED[stack_eval]=$([ "$MODE" = cpu ] && echo 20 || echo 35)
  COLD[stack_eval]=$([ "$MODE" = cpu ] && echo 0 || echo 15)
fi

KIT_FLAGS=()
STACK_VARS=(VAL_LOSS_EVERY=0 COMPILE_WARMUP_STEPS=4 TRAIN_LOG_EVERY=20)
[ "$MODE" = gpu ] || { KIT_FLAGS+=(--cpu-smoke); STACK_VARS+=(TTT=off); }
[ "$DRY_RUN" = 0 ] || KIT_FLAGS+=(--dry-run)
SMOKE_DATA=$WORK/smoke_data
SMOKE_CONFIG="smoke:ITERATIONS=5 COMPILE_WARMUP_STEPS=4 VAL_LOSS_EVERY=0 TTT=off EVAL_STRIDE=0 TRAIN_LOG_EVERY=1 DATA_PATH=$SMOKE_DATA"
read -ra SMOKE_VARS <<< "${GPU_CHECK_SMOKE_VARS:-}"
for var in "${SMOKE_VARS[@]}"; do
  [[ "$var" =~ ^[A-Za-z_][A-Za-z0-9_]*=[^\;]*$ ]] || die "GPU_CHECK_SMOKE_VARS: '$var' is not VAR=value"
  SMOKE_CONFIG+=" $var"
done

# ---- logging and the clock ----
T0=$SECONDS
CLOCK_S=0  # GPU_CHECK_CLOCK=expected: the seconds counted so far
LOG=$WORK/gpu_check.txt
if [ "$DRY_RUN" = 0 ]; then
  mkdir -p "$WORK" || die "cannot create GPU_CHECK_WORK=$WORK"
  mkdir -p "$OUT_DIR" || die "cannot create the output folder $OUT_DIR"
  : > "$LOG"
else
  LOG=/dev/null
fi
say() { echo "$*" | tee -a "$LOG"; }
elapsed() { if [ "$CLOCK" = real ]; then echo $((SECONDS - T0)); else echo "$CLOCK_S"; fi; }
left() { echo $((BUDGET - RESERVE - $(elapsed))); }
FAILED=()
STOP=  # set when import or smoke fails for good: every later stage is skipped with this reason
SCALE_PM=1000  # calibration, per mille
SMOKE_COMPILED=0  # 1 after a good compiled smoke: the shared column comes from inductor's cache

compile_s() {  # compile_s <stage>: the compile seconds in its expected time, as things stand
  local cold=${COLD[$1]:-0} shared=${SHARED[$1]:-0}
  if [ "$COMPILE" = off ]; then echo 0
  elif [ "$1" = import ] || [ "$1" = smoke ]; then echo $((cold + shared))  # the smoke is what the calibration measures
  elif [ "$SMOKE_COMPILED" = 1 ]; then echo $((cold * SCALE_PM / 1000 + (shared + 1) / 2))
  else echo $(((cold + shared) * SCALE_PM / 1000)); fi
}
untrained() { echo $((FIXED[$1] + $(compile_s "$1"))); }  # expected seconds apart from training
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
smoke_limit() {  # smoke_limit <left_s>: the longest smoke after which the compiled stack still fits (at least
  # the smoke's expected seconds, at most what is left): the scale s solves
  # smoke fixed + smoke cold x s + stack fixed + stack cold x s + stack shared / 2 + least training = left
  local left_s=$1 limit=$1
  if [ -n "$SMOKE_LIMIT" ]; then limit=$SMOKE_LIMIT
  elif [ "$COMPILE" = on ] && selected stack && [ $((COLD[smoke] + ${COLD[stack]:-0})) -gt 0 ]; then
    local room=$((left_s - FIXED[smoke] - FIXED[stack] - (${SHARED[stack]:-0} + 1) / 2 - $(least_training stack)))
    limit=$((FIXED[smoke] + COLD[smoke] * room / (COLD[smoke] + ${COLD[stack]:-0})))
    [ "$limit" -ge "$(expected smoke)" ] || limit=$(expected smoke)
  fi
  echo $((limit < left_s ? limit : left_s))
}

stub() {  # stub <stage> <reason>: a log that tools/project.py lists as skipped
  case "$1" in import|bench) return 0 ;; esac
  mkdir -p "$WORK/$1"
  echo "bench_run name:$1 skipped:$2" > "$WORK/$1/$1.txt"
}

skip() {  # skip <stage> <reason> [fields]; in the plan, its line says fits:no (or why it is skipped)
  if [ "$DRY_RUN" = 1 ]; then
    if [ "$2" = budget ]; then
      echo "gpu_check plan stage:$1 expected_s:$(expected "$1") fits:no ends_s:$(elapsed) train_s:${SECONDS_OF[$1]:-0} compile_s:$(compile_s "$1")"
    else
      echo "gpu_check plan stage:$1 skipped:$2"
    fi
    return 0
  fi
  say "gpu_check skip:$1 reason:$2${3:+ $3}"
  stub "$1" "$2"
}

set_compile() {  # set_compile <on|off> <reason> <stage>
  COMPILE=$1 COMPILE_REASON=$2
  say "gpu_check compile:$1 reason:$2 stage:$3"
}

command -v timeout >/dev/null || timeout() { shift 2; "$@"; }  # without coreutils' timeout: no limit, as a fallback

show_command() {  # the plan's view of a command: echoed; gpu_bench.sh --dry-run then prints its runs' commands
  echo "+ $*"
  [ "$1" != env ] || "$@"
}

# run_stage <stage> <limit_s> <command...>: the budget check, then the command under timeout (the budget left,
# or limit_s if less), its output to the log (and to $STAGE_TEE when set). Returns 0 only if the command ran
# and succeeded; RC holds its exit status. In the plan (--dry-run) it prints the stage's line and counts its
# expected (or given) seconds instead, then shows the command.
STAGE_TEE=/dev/null
LAST_SECONDS=0
RC=0
FITTED=  # the stage whose seconds run_training has just fitted to the clock: run_stage does not check it again
run_stage() {
  local stage=$1 limit=$2 expect left_s start status=ok
  shift 2
  expect=$(expected "$stage")
  left_s=$(left)
  if [ "$stage" != "$FITTED" ] && [ "$expect" -gt "$left_s" ]; then
    skip "$stage" budget "expected_s:$expect left_s:$left_s"
    [ "$DRY_RUN" = 0 ] || show_command "$@"
    RC=
    return 1
  fi
  [ "$limit" -le "$left_s" ] || limit=$left_s
  [ "$limit" -ge 1 ] || limit=1  # timeout 0 would mean no limit
  RC=0
  start=$SECONDS
  if [ "$DRY_RUN" = 1 ]; then
    LAST_SECONDS=${DECLARED[$stage]:-$expect}
    [ "$LAST_SECONDS" -le "$limit" ] || { LAST_SECONDS=$limit; RC=124; }
    CLOCK_S=$((CLOCK_S + LAST_SECONDS))
    echo "gpu_check plan stage:$stage expected_s:$expect fits:yes ends_s:$CLOCK_S train_s:${SECONDS_OF[$stage]:-0} compile_s:$(compile_s "$stage")"
    show_command "$@"
    [ "$RC" = 0 ]
    return
  fi
  say ""
  say "== gpu_check $stage (expected ${expect} s, ${left_s} s left, limit ${limit} s, compile $COMPILE)"
  timeout --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$LOG" "$STAGE_TEE"
  RC=${PIPESTATUS[0]}
  if [ "$RC" != 0 ]; then
    status=fail
    FAILED+=("$stage")
    # A run stopped at its limit never wrote its own end line: record it for the table, once torchrun
    # has stopped its workers (they run in their own sessions, so the TERM reaches them through it) and
    # nothing writes to the log any more.
    local runlog="$WORK/$stage/$stage.txt" waited=0
    if [ -f "$runlog" ] && ! grep -q '^bench_run ' "$runlog"; then
      while [ "$waited" -lt 10 ] && [ -n "$(find /proc/[0-9]*/fd -maxdepth 1 -lname "$runlog" 2>/dev/null | head -n 1)" ]; do
        sleep 1
        waited=$((waited + 1))
      done
      echo "bench_run name:$stage exit_status:$RC wall_time:$((SECONDS - start))s" >> "$runlog"
    fi
  fi
  LAST_SECONDS=$((SECONDS - start))
  if [ "$CLOCK" = expected ]; then
    LAST_SECONDS=${DECLARED[$stage]:-$([ "$RC" = 124 ] && echo "$limit" || echo "$expect")}
    CLOCK_S=$((CLOCK_S + LAST_SECONDS))
  fi
  say "gpu_check stage:$stage status:$status seconds:$LAST_SECONDS expected_s:$expect exit_status:$RC compile:$COMPILE"
  [ "$RC" = 0 ]
}

COMPILE_VARS=()  # every later run's, once compilation is off
kit() {  # kit <stage> [VAR=value ...]: KIT, the command of tools/gpu_bench.sh for one run in its own folder
  local stage=$1
  shift
  [ "$COMPILE" = on ] || COMPILE_VARS=(COMPILE=0 TORCH_COMPILE_DISABLE=1)
  KIT=(env BENCH_OUT="$WORK/$stage" BENCH_RUNS="$stage" PEER_SCRIPT= "${COMPILE_VARS[@]}" "$@" bash tools/gpu_bench.sh "${KIT_FLAGS[@]}")
}

run_training() {  # run_training <stage> [VAR=value ...]: plain, stack or peer with the seconds that fit (train_seconds)
  local stage=$1 left_s secs planned=${SECONDS_OF[$1]}
  shift
  left_s=$(left)
  secs=$(train_seconds "$stage" "$left_s")
  if [ "$secs" = 0 ]; then
    skip "$stage" budget "expected_s:$(($(untrained "$stage") + $(least_training "$stage") + $(kept_for_stack "$stage"))) left_s:$left_s"
    [ "$DRY_RUN" = 0 ] || { kit "$stage" BENCH_SECONDS="$planned" "$@"; show_command "${KIT[@]}"; }
    return 1
  fi
  if [ "$secs" -lt "$planned" ]; then
    say "gpu_check shorten:$stage seconds:$secs planned_s:$planned left_s:$left_s"
    SECONDS_OF[$stage]=$secs
  fi
  kit "$stage" BENCH_SECONDS="$secs" "$@"
  FITTED=$stage
  run_stage "$stage" "$left_s" "${KIT[@]}"
}

# The smoke scores only the first SMOKE_VAL_TOKENS validation tokens: a folder of links to the training
# shards and a cut validation shard.
make_smoke_data() {
  if [ "$DRY_RUN" = 1 ]; then
    echo "+ smoke data: links to $DATA_PATH/fineweb_train_*.bin, the first $SMOKE_VAL_TOKENS validation tokens, in $SMOKE_DATA"
    return 0
  fi
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

# ---- the stages ----

stage_import() {
  local flags=(--probe-timeout "$PROBE_TIMEOUT") line
  [ "$COMPILE" = on ] || flags+=(--no-probe)
  STAGE_TEE=$WORK/import.txt
  if run_stage import $((PROBE_TIMEOUT + 60)) python3 tools/import_check.py "${flags[@]}"; then
    if [ "$DRY_RUN" = 1 ]; then
      echo "+ nvidia-smi"
    elif command -v nvidia-smi >/dev/null; then
      timeout 30 nvidia-smi 2>&1 | tee -a "$LOG" "$STAGE_TEE"
    else
      echo "nvidia-smi: not found" | tee -a "$LOG" "$STAGE_TEE"
    fi
    line=$(grep -h '^compile_check ' "$STAGE_TEE" 2>/dev/null | tail -n 1)
    if [ "$DRY_RUN" = 1 ]; then :
    elif [[ "$line" == *" compile:on "* ]]; then set_compile on none import
    else
      [[ "$line" =~ \ reason:([^ ]+) ]] && set_compile off "${BASH_REMATCH[1]}" import || set_compile off probe_failed import
    fi
  elif [[ " ${FAILED[*]} " == *" import "* ]]; then
    STOP=import_failed
  fi
  STAGE_TEE=/dev/null
}

stage_smoke() {
  local limit compiled=$COMPILE
  kit smoke BENCH_SECONDS=0 BENCH_CONFIGS="$SMOKE_CONFIG"
  if ! make_smoke_data 2>&1 | tee -a "$LOG"; then
    FAILED+=(smoke)
    say "gpu_check stage:smoke status:fail seconds:0 expected_s:$(expected smoke) exit_status:1 compile:$COMPILE"
    STOP=smoke_failed
    return
  fi
  limit=$(smoke_limit "$(left)")
  [ "$(expected smoke)" -gt "$(left)" ] || say "gpu_check smoke_limit seconds:$limit left_s:$(left)"
  if run_stage smoke "$limit" "${KIT[@]}"; then
    [ "$compiled" = on ] || return 0
    local smoke_s=$LAST_SECONDS
    SMOKE_COMPILED=1
    SCALE_PM=$(((smoke_s - FIXED[smoke]) * 1000 / (COLD[smoke] > 0 ? COLD[smoke] : 1)))
    [ "$SCALE_PM" -ge 250 ] || SCALE_PM=250
    [ "$SCALE_PM" -le 4000 ] || SCALE_PM=4000
    say "gpu_check calibrate scale:$((SCALE_PM / 1000)).$(printf '%03d' $((SCALE_PM % 1000))) smoke_s:$smoke_s smoke_expected_s:$(expected smoke) cold_s:${COLD[smoke]}"
  elif [ -n "$RC" ]; then
    # A configuration or data error (train_gpt.py's `error:` line) fails every run alike; a compiled smoke that
    # fails otherwise, or overruns its limit, leaves the later runs to go on eagerly.
    if [ "$compiled" = on ] && [ "$RC" = 124 ]; then set_compile off smoke_timeout smoke
    elif [ "$compiled" = on ] && ! grep -q '^error: ' "$WORK/smoke/smoke.txt" 2>/dev/null; then set_compile off smoke_failed smoke
    else STOP=smoke_failed; fi
  fi
}

say "gpu_check start mode:$MODE budget_s:$BUDGET stages:$(IFS=,; echo "${WANTED[*]}") ttt:$TTT_MODE peer:${PEER:-none} clock:$CLOCK work:$WORK out:$OUT_DIR"
total=0
for stage in import "${ALL_STAGES[@]}"; do
  if [ "$stage" != import ] && ! selected "$stage"; then
    [ "$DRY_RUN" = 1 ] || say "gpu_check skip:$stage reason:not_selected"
    continue
  fi
  if [ -n "$STOP" ]; then skip "$stage" "$STOP"; continue; fi
  [ "$stage" = peer ] && [ -z "$PEER" ] || total=$((total + $(expected "$stage")))
  case "$stage" in
    import) stage_import ;;
    bench)
      STAGE_TEE=$WORK/bench.txt
      bench_flags=(--seconds "$ATTN_SECONDS")
      [ "$MODE" = gpu ] || bench_flags+=(--cpu)
      run_stage bench $((ATTN_SECONDS + 20)) python3 tools/attn_bench.py "${bench_flags[@]}"
      STAGE_TEE=/dev/null ;;
    smoke) stage_smoke ;;
    plain) run_training plain ;;
    stack) run_training stack "${STACK_VARS[@]}" ;;
    stack_eval)
      kit stack_eval BENCH_ARTIFACT="$WORK/stack/stack.pgolf" BENCH_TTT="$TTT_MODE"
      if [ "$DRY_RUN" = 0 ] && [ ! -f "$WORK/stack/stack.pgolf" ]; then
        skip stack_eval no_stack_artifact
      else
        run_stage stack_eval "$(left)" "${KIT[@]}"
      fi ;;
    peer)
      if [ -z "$PEER" ]; then
        skip peer no_peer_script
      else
        run_training peer PEER_SCRIPT="$PEER"
      fi ;;
  esac
done

if [ "$DRY_RUN" = 1 ]; then
  fitting=$(elapsed)
  echo "gpu_check plan total_expected_s:$total fitting_s:$fitting budget_s:$BUDGET reserve_s:$RESERVE spare_s:$((BUDGET - RESERVE - fitting))"
  echo
  echo "+ python3 tools/project.py <stage logs> --json $WORK/bench.json; tar czf $OUT_DIR/gpu_check.tgz (*.txt, *.json of $WORK); $OUT_DIR/summary.txt"
  exit 0
fi

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
say "gpu_check done status:$status seconds:$(elapsed) failed:${failed_list// /,} compile:$COMPILE reason:$COMPILE_REASON"
{
  if [ "$MODE" = gpu ]; then
    echo "gpu_check summary (one GPU; on the development data of .gpu/: about 11.6M training tokens as sp1024, 7.6M as"
    echo "sp8192, repeated, and the first 902 documents of the official validation set, 1,040,298 sp1024 / 679,222 sp8192"
    echo "tokens; every 8xH100 figure is a projection; DATA_PATH=$DATA_PATH DATA_PATH_1024=$DATA_PATH_1024)"
  else
    echo "gpu_check summary (CPU rehearsal at a tiny shape on $DATA_PATH and $DATA_PATH_1024: pipeline figures, not measurements)"
  fi
  grep -E '^gpu_check (start|stage|skip|shorten|compile|smoke_limit|calibrate|done)' "$LOG"
  grep -h -E '^(import_check|compile_check) ' "$WORK/import.txt" 2>/dev/null
  if [ -f "$WORK/bench.txt" ]; then
    echo
    sed -n '/^|\|^fastest \|^newton_schulz /p' "$WORK/bench.txt"
  fi
  echo
  cat "$TABLE"
} > "$WORK/summary.txt"
cat "$TABLE"
cp "$WORK/summary.txt" "$OUT_DIR/summary.txt"
(cd "$WORK" && find . -type f \( -name '*.txt' -o -name '*.json' \) -not -path './smoke_data/*' | sort \
  | tar czf "$OUT_DIR/gpu_check.tgz" -T -)
echo "gpu_check tarball: $OUT_DIR/gpu_check.tgz ($(stat -c %s "$OUT_DIR/gpu_check.tgz") bytes), summary: $OUT_DIR/summary.txt"
[ "$status" = ok ]
