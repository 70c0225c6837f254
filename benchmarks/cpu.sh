#!/usr/bin/env bash
# This machine's table of the speed targets (BENCHMARKS.md), on the CPU, one thread per job as the pipeline runs:
#
#     benchmarks/cpu.sh [OUTPUT.md]          # default benchmarks/cpu-results.md (step outputs in cpu-results.d/)
#
# Target 1 (star step) and target 2 (barrier curve) for every model; a few minutes each.
set -uo pipefail
cd "$(dirname "$0")/.."
source benchmarks/steps.sh
OUT=${1:-benchmarks/cpu-results.md}

start_steps "${OUT%.md}.d"
step 1_star_step 600 "$PY" benchmarks/star_step.py --device cpu
step 2_barrier_pair 600 "$PY" benchmarks/barrier_pair.py --device cpu
finish_steps "$OUT"
exit $status
