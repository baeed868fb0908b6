#!/usr/bin/env bash
# Measure on 1 to 8 GPUs, then project to 8xH100: the challenge baseline (peer), this script at the
# baseline's shape (plain) and at its defaults (stack), the stack artifact re-scored with sliding
# windows + TTT (stack_eval), and any extra named configurations, back to back, one table at the end.
#
#   DATA_PATH=... TOKENIZER_PATH=... DATA_PATH_1024=... TOKENIZER_PATH_1024=... PEER_SCRIPT=... bash tools/gpu_bench.sh
#   bash tools/gpu_bench.sh --cpu-smoke    # the same pipeline on CPU at a tiny shape (minutes, no GPU)
#   bash tools/gpu_bench.sh --dry-run      # print each run's command and environment, run nothing
#
# Inputs (environment):
#   DATA_PATH, TOKENIZER_PATH  the sp8192 data of stack, stack_eval and BENCH_CONFIGS runs (train_gpt.py's
#                  competition defaults, ./data/datasets/fineweb10B_sp8192 and ./data/tokenizers/fineweb_8192_bpe.model;
#                  --cpu-smoke: data/sample/, vocabulary 1024 like the CPU profile)
#   DATA_PATH_1024, TOKENIZER_PATH_1024  the sp1024 data of plain and peer, passed to them as DATA_PATH and
#                  TOKENIZER_PATH (./data/datasets/fineweb10B_sp1024, ./data/tokenizers/fineweb_1024_bpe.model;
#                  --cpu-smoke: data/sample/). Only the pairs the chosen runs read are checked.
#   BENCH_SECONDS  training wall clock of each run, MAX_WALLCLOCK_SECONDS (180; --cpu-smoke: 10)
#   BENCH_OUT      output folder (bench_runs/<UTC timestamp>); an existing non-empty one is refused
#   PEER_SCRIPT    the challenge's own baseline train_gpt.py; the peer run happens only when it is set
#   BENCH_CONFIGS  extra runs at the competition defaults plus variables: entries separated by ';',
#                  each name:VAR=value VAR=value ... (name: letters, digits, _; values without spaces),
#                  e.g. BENCH_CONFIGS="ns3:MUON_BACKEND_STEPS=3;late_loops:PRELUDE_LAYERS=4 CODA_LAYERS=4 LOOPS=3 LOOP_START_FRAC=0.5"
#   BENCH_RUNS     which runs, a space list of: peer plain stack stack_eval <config names> (all that apply)
#   BENCH_TTT      TTT mode of stack_eval (doc)
#   BENCH_ARTIFACT the artifact stack_eval re-scores ($BENCH_OUT/stack.pgolf; another folder's, to split runs over calls)
#   NPROC          processes (GPUs) per run (the GPUs listed by nvidia-smi -L; --cpu-smoke: 1)
# Any other train_gpt.py variable in the environment reaches every run. Output: <name>.txt (the log,
# stdout and stderr), <name>.pgolf, bench_env.txt, bench.json. A failed run is recorded and the next
# one starts; the exit status is 1 if any run failed, 2 for bad inputs (before any run).
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=gpu
DRY_RUN=0
for arg in "$@"; do
  case "$arg" in
    --cpu-smoke) MODE=cpu ;;
    --dry-run) DRY_RUN=1 ;;
    -h|--help) sed -n '2,/^set -/{/^set -/!p;}' "$0"; exit 0 ;;
    *) echo "gpu_bench.sh: unknown argument '$arg' (use --cpu-smoke, --dry-run or --help)" >&2; exit 2 ;;
  esac
done

die() { echo "gpu_bench.sh: $*" >&2; exit 2; }
absolute() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/${1#./}" ;; esac; }

# The baseline's shape and settings, each pinned wherever our competition defaults differ: vocabulary
# 1024 with a full-width tied embedding (EMBED_DIM=0), U-Net skips (its skip_weights: the first half's
# outputs added, times per-channel weights init 1, to the second half's inputs; with 9 blocks its pairs
# land one block earlier than ours: 3 feeds 4, ..., 0 feeds 7, where ours feed 5 to 8), plain Muon with
# 5 Newton-Schulz steps (no row norm). Its warm-down, WARMDOWN_ITERS=1200 average steps before the wall-clock
# cap, is 1,200 of its ~13,780 steps in 600 s on 8xH100 (43.54 ms a step): WARMDOWN_FRAC=0.087, the last
# 8.7% of the wall clock (in a shorter or slower run the baseline's 1,200 steps are a larger share; plain
# keeps 8.7%). Its compile warm-up is our COMPILE_WARMUP_STEPS (default 20), and it has no learning-rate warm-up.
PLAIN_VARS=(VOCAB_SIZE=1024 NUM_LAYERS=9 PRELUDE_LAYERS=0 CODA_LAYERS=0 MODEL_DIM=512 MLP_MULT=2 NUM_HEADS=8
  NUM_KV_HEADS=4 EMBED_DIM=0 UNET_SKIPS=1 TRAIN_SEQ_LEN=1024 TRAIN_BATCH_TOKENS=524288 TERNARY_LAYERS=none LOOPS=1 TTT=off EVAL_STRIDE=0
  WARMUP_STEPS=0 WARMDOWN_FRAC=0.087 ROPE_BASE=10000 LOGIT_SOFTCAP=30 QK_GAIN_INIT=1.5 SCALAR_LR=0.04
  TIED_EMBED_LR=0.05 MUON_BACKEND_STEPS=5 MUON_ROW_NORM=0)
# --cpu-smoke: a shape small enough for 2 CPU cores, overriding every run's shape variables.
SMOKE_SHAPE=(MODEL_DIM=64 NUM_HEADS=2 NUM_KV_HEADS=1 NUM_LAYERS=2 PRELUDE_LAYERS=0 CODA_LAYERS=0 MLP_MULT=2 TRAIN_SEQ_LEN=64
  TRAIN_BATCH_TOKENS=2048 EVAL_SEQ_LEN=64 TTT_DOC_CHUNK=32
  VAL_BATCH_SIZE=8192 VAL_LOSS_EVERY=0)

# ---- inputs, all checked before any run ----
if [ "$MODE" = cpu ]; then
  # The CPU profile's vocabulary is 1024: both pairs are the bundled sample.
  DATA_PATH=${DATA_PATH:-data/sample}
  TOKENIZER_PATH=${TOKENIZER_PATH:-data/sample/fineweb_1024_bpe.model}
  DATA_PATH_1024=${DATA_PATH_1024:-data/sample}
  TOKENIZER_PATH_1024=${TOKENIZER_PATH_1024:-data/sample/fineweb_1024_bpe.model}
  BENCH_SECONDS=${BENCH_SECONDS:-10}
  NPROC=${NPROC:-1}
else
  DATA_PATH=${DATA_PATH:-./data/datasets/fineweb10B_sp8192}
  TOKENIZER_PATH=${TOKENIZER_PATH:-./data/tokenizers/fineweb_8192_bpe.model}
  DATA_PATH_1024=${DATA_PATH_1024:-./data/datasets/fineweb10B_sp1024}
  TOKENIZER_PATH_1024=${TOKENIZER_PATH_1024:-./data/tokenizers/fineweb_1024_bpe.model}
  BENCH_SECONDS=${BENCH_SECONDS:-180}
fi
# Absolute, because the peer runs in its own working folder.
DATA_PATH=$(absolute "$DATA_PATH")
TOKENIZER_PATH=$(absolute "$TOKENIZER_PATH")
DATA_PATH_1024=$(absolute "$DATA_PATH_1024")
TOKENIZER_PATH_1024=$(absolute "$TOKENIZER_PATH_1024")
# The kit's own inputs, passed to plain and peer as DATA_PATH and TOKENIZER_PATH: kept out of every run's
# environment (train_gpt.py refuses TOKENIZER_PATH_1024 as a near miss of TOKENIZER_PATH).
export -n DATA_PATH_1024 TOKENIZER_PATH_1024
BENCH_OUT=$(absolute "${BENCH_OUT:-bench_runs/$(date -u +%Y%m%d_%H%M%S)}")
BENCH_TTT=${BENCH_TTT:-doc}
BENCH_ARTIFACT=$(absolute "${BENCH_ARTIFACT:-$BENCH_OUT/stack.pgolf}")
PEER_SCRIPT=${PEER_SCRIPT:-}
[ -z "$PEER_SCRIPT" ] || PEER_SCRIPT=$(absolute "$PEER_SCRIPT")

if [ -z "${NPROC:-}" ]; then
  if command -v nvidia-smi >/dev/null; then
    NPROC=$(nvidia-smi -L | grep -c '^GPU' || true)
  elif [ "$DRY_RUN" = 1 ]; then
    NPROC=1; echo "(dry run) nvidia-smi not found: NPROC=1"
  else
    die "nvidia-smi not found: set NPROC, or use --cpu-smoke on a machine without a GPU"
  fi
fi
[[ "$NPROC" =~ ^[1-9][0-9]*$ ]] || die "NPROC=$NPROC: need a positive number of processes (no GPU seen?)"
[[ "$BENCH_SECONDS" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "BENCH_SECONDS=$BENCH_SECONDS: need a number of seconds"

# BENCH_CONFIGS: "name:VAR=value VAR=value;name2:..." -> CONFIG_NAMES, CONFIG_VARS[name]
RESERVED=" peer plain stack stack_eval "
CONFIG_NAMES=()
declare -A CONFIG_VARS=()
parse_configs() {
  local entry name vars var entries list
  IFS=';' read -ra entries <<< "${BENCH_CONFIGS:-}"
  for entry in "${entries[@]}"; do
    read -r entry <<< "$entry"  # trims the spaces around an entry
    [ -n "$entry" ] || continue
    [[ "$entry" == *:* ]] || die "BENCH_CONFIGS entry '$entry': expected name:VAR=value VAR=value ..."
    name=${entry%%:*}
    vars=${entry#*:}
    [[ "$name" =~ ^[A-Za-z0-9_]+$ ]] || die "BENCH_CONFIGS entry '$entry': name '$name' must be letters, digits and _"
    [[ "$RESERVED" != *" $name "* ]] || die "BENCH_CONFIGS entry '$entry': '$name' is a built-in run's name"
    [ -z "${CONFIG_VARS[$name]+x}" ] || die "BENCH_CONFIGS entry '$entry': name '$name' is used twice"
    read -ra list <<< "$vars"  # split on spaces, never glob
    for var in "${list[@]}"; do
      [[ "$var" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] \
        || die "BENCH_CONFIGS entry '$entry': '$var' is not VAR=value"
    done
    CONFIG_NAMES+=("$name")
    CONFIG_VARS[$name]=$vars
  done
}
parse_configs

# BENCH_RUNS: the subset to run, always in the kit's order (stack before stack_eval).
choose_runs() {
  local all=(plain stack stack_eval "${CONFIG_NAMES[@]}") wanted want name
  [ -z "$PEER_SCRIPT" ] || all=(peer "${all[@]}")
  read -ra wanted <<< "${BENCH_RUNS:-${all[*]}}"
  for want in "${wanted[@]}"; do
    if [[ " ${all[*]} " != *" $want "* ]]; then
      [ "$want" != peer ] || die "BENCH_RUNS names peer but PEER_SCRIPT is not set"
      die "BENCH_RUNS: unknown run '$want' (choose from: ${all[*]})"
    fi
  done
  RUNS=()
  for name in "${all[@]}"; do
    if [[ " ${wanted[*]} " == *" $name "* ]]; then RUNS+=("$name"); fi
  done
}
choose_runs

if [ -d "$BENCH_OUT" ] && [ -n "$(ls -A "$BENCH_OUT")" ]; then
  die "BENCH_OUT=$BENCH_OUT is not empty: choose a new folder (earlier measurements are never overwritten)"
fi
# Which data each chosen run reads: plain and peer the sp1024 pair, every other run DATA_PATH's.
RUNS_1024=() RUNS_MAIN=()
for name in "${RUNS[@]}"; do
  case "$name" in plain|peer) RUNS_1024+=("$name") ;; *) RUNS_MAIN+=("$name") ;; esac
done
check_data() {  # check_data <data variable> <tokenizer variable> <the runs that read them>
  ls "${!1}"/fineweb_val_*.bin >/dev/null 2>&1 || die "no fineweb_val_*.bin in $1=${!1} (read by: $3)"
  [ -f "${!2}" ] || die "no tokenizer at $2=${!2} (read by: $3)"
}
if [ "$DRY_RUN" = 0 ]; then
  [ "${#RUNS_MAIN[@]}" = 0 ] || check_data DATA_PATH TOKENIZER_PATH "${RUNS_MAIN[*]}"
  [ "${#RUNS_1024[@]}" = 0 ] || check_data DATA_PATH_1024 TOKENIZER_PATH_1024 "${RUNS_1024[*]}"
  [ -z "$PEER_SCRIPT" ] || [ -f "$PEER_SCRIPT" ] || die "PEER_SCRIPT=$PEER_SCRIPT is not a file"
fi

if command -v torchrun >/dev/null; then TORCHRUN=(torchrun); else TORCHRUN=(python3 -m torch.distributed.run); fi
COMMON=(TORCH_LOGS=recompiles PYTHONUNBUFFERED=1 MAX_WALLCLOCK_SECONDS="$BENCH_SECONDS")
# Each run's data, as DATA_PATH and TOKENIZER_PATH: plain and peer the sp1024 pair, the others DATA_PATH's
# (a BENCH_CONFIGS entry may set its own: its variables come later in the run's `env`, so they win).
DATA_MAIN=(DATA_PATH="$DATA_PATH" TOKENIZER_PATH="$TOKENIZER_PATH")
DATA_1024=(DATA_PATH="$DATA_PATH_1024" TOKENIZER_PATH="$TOKENIZER_PATH_1024")
SHAPE=()
if [ "$MODE" = cpu ]; then
  # CUDA_VISIBLE_DEVICES= keeps the smoke on CPU even on a GPU machine. One thread: the smoke checks
  # the pipeline, not speed, and oversubscribed shared cores can make a step many times slower.
  COMMON+=(CONFIG_PROFILE=cpu_sample CUDA_VISIBLE_DEVICES= OMP_NUM_THREADS=1)
  SHAPE=("${SMOKE_SHAPE[@]}")
fi

# ---- one run: log kept, exit status recorded in the log, never stops the kit ----
FAILED=()
launch() {  # launch <name> <working folder> <script> [VAR=value ...]
  local name=$1 workdir=$2 script=$3 rc=0 start=$SECONDS
  shift 3
  local log="$BENCH_OUT/$name.txt"
  local cmd=(env "${COMMON[@]}" RUN_ID="bench_$name" ARTIFACT_PATH="$BENCH_OUT/$name.pgolf" "$@" "${SHAPE[@]}"
    "${TORCHRUN[@]}" --standalone --nproc_per_node="$NPROC" "$script")
  echo
  echo "== $name"
  echo "+ cd $workdir && $(printf '%q ' "${cmd[@]}")> $log 2>&1"
  [ "$DRY_RUN" = 0 ] || return 0
  mkdir -p "$workdir"
  (cd "$workdir" && "${cmd[@]}") > "$log" 2>&1 || rc=$?
  echo "bench_run name:$name exit_status:$rc wall_time:$((SECONDS - start))s" >> "$log"
  # train_gpt.py ends with `final val_bpb:`, the baseline with `final_int8_zlib_roundtrip_exact`.
  if [ "$rc" = 0 ] && grep -E '^final val_bpb:|^final_int8_zlib_roundtrip_exact' "$log"; then
    return 0
  fi
  tail -n 5 "$log" >&2
  echo "$name failed (exit status $rc); full log: $log; going on with the next run" >&2
  FAILED+=("$name")
}

skip() {  # skip <name> <why>: recorded as a log so the table shows it
  echo
  echo "== $1 skipped: $2"
  [ "$DRY_RUN" = 1 ] || echo "bench_run name:$1 skipped:${2// /_}" > "$BENCH_OUT/$1.txt"
}

write_env() {
  # Facts for runs whose log lacks them: the baseline prints GPU and torch only into its own log file.
  echo "+ write $BENCH_OUT/bench_env.txt"
  [ "$DRY_RUN" = 0 ] || return 0
  {
    python3 -c "import platform, torch
gpu = torch.cuda.get_device_name(0).replace(' ', '_') if torch.cuda.is_available() else 'none'
print(f'gpu:{gpu} gpus:{torch.cuda.device_count()} nproc:$NPROC torch:{torch.__version__} python:{platform.python_version()}')"
  } > "$BENCH_OUT/bench_env.txt"
  cat "$BENCH_OUT/bench_env.txt"
}

# ---- the runs ----
echo "gpu_bench: mode:$MODE runs:${RUNS[*]} nproc:$NPROC bench_seconds:$BENCH_SECONDS out:$BENCH_OUT"
echo "gpu_bench: data:$DATA_PATH tokenizer:$TOKENIZER_PATH data_1024:$DATA_PATH_1024 tokenizer_1024:$TOKENIZER_PATH_1024"
[ "$DRY_RUN" = 1 ] || mkdir -p "$BENCH_OUT"
write_env
for name in "${RUNS[@]}"; do
  case "$name" in
    peer)
      # The baseline writes final_model.pt and logs/ into its working folder: keep them out of the repo.
      # VOCAB_SIZE=1024 too: the baseline reads it (its default) like any variable in the environment.
      launch peer "$BENCH_OUT/peer_work" "$PEER_SCRIPT" "${DATA_1024[@]}" VOCAB_SIZE=1024 ;;
    plain) launch plain "$PWD" train_gpt.py "${DATA_1024[@]}" "${PLAIN_VARS[@]}" ;;
    stack) launch stack "$PWD" train_gpt.py "${DATA_MAIN[@]}" ;;
    stack_eval)
      if [ "$DRY_RUN" = 0 ] && [ ! -f "$BENCH_ARTIFACT" ]; then
        skip stack_eval "no stack artifact"
      else
        launch stack_eval "$PWD" train_gpt.py "${DATA_MAIN[@]}" EVAL_ARTIFACT="$BENCH_ARTIFACT" EVAL_STRIDE=64 TTT="$BENCH_TTT"
      fi ;;
    *)
      read -ra vars <<< "${CONFIG_VARS[$name]}"
      launch "$name" "$PWD" train_gpt.py "${DATA_MAIN[@]}" "${vars[@]}" ;;
  esac
done

echo
echo "+ python3 tools/project.py $BENCH_OUT"
[ "$DRY_RUN" = 0 ] || exit 0
python3 tools/project.py "$BENCH_OUT"
if [ "${#FAILED[@]}" -gt 0 ]; then
  echo "gpu_bench.sh: failed runs: ${FAILED[*]} (logs in $BENCH_OUT)" >&2
  exit 1
fi
