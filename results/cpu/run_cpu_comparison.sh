#!/usr/bin/env bash
# Reproduces its figures with train_gpt.py as of commit 350401b (git show 350401b:train_gpt.py > <copy>); the current
# script removed chunk TTT and the per-loop parameters, and stops with a message on their variables.
# CPU-sample comparisons cited in the issue notes and README. Runs one after another (timings
# must not share the 2 cores), each at the CPU profile's 120 s training cap, and keeps the logs here.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=results/cpu
run() { name=$1; shift; echo "== $name: $*"; env RUN_ID="$name" "$@" python train_gpt.py > /dev/null; cp "logs/$name.txt" "$out/$name.txt"; }
run cpu_default
run cpu_ternary_none TERNARY_LAYERS=none
run cpu_loop_p1s2x2c1 PRELUDE_LAYERS=1 SHARED_BLOCKS=2 LOOPS=2 CODA_LAYERS=1 NUM_LAYERS=
run cpu_loop_p1s2x3c1 PRELUDE_LAYERS=1 SHARED_BLOCKS=2 LOOPS=3 CODA_LAYERS=1 NUM_LAYERS=
run cpu_loop_s4x2 SHARED_BLOCKS=4 LOOPS=2 NUM_LAYERS=
run cpu_default_ttt_chunk EVAL_ARTIFACT=artifacts/cpu_default.pgolf TTT=chunk
run cpu_default_ttt_doc EVAL_ARTIFACT=artifacts/cpu_default.pgolf TTT=doc
# Added after the first pass: a clean repeat of the default (the first one shared the CPU with a
# test run) and a late QAT switch-on.
run cpu_default_repeat
run cpu_qat_late50 QAT_START_FRAC=0.5
