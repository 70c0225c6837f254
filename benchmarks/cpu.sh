#!/usr/bin/env bash
# This machine's table of the speed targets (BENCHMARKS.md), on the CPU, one thread per job as the pipeline runs:
#
#     benchmarks/cpu.sh [OUTPUT.md]          # default benchmarks/cpu-results.md (step outputs in cpu-results.d/)
#
# Targets 1 (star step), 2 (barrier curve), 4 (data path), 5 (alignment) and the BN-subset difference, each script
# a few minutes at most (they time process CPU seconds, which a busy machine inflates little), and target 3 (the
# compute share of a pipeline run) from runs already made, which take longer than a benchmark should:
#     snakemake --cores 2                                              # -> results/fashion_mlp
#     snakemake --configfile benchmarks/barrier_stage.yaml --cores 2   # -> results/barrier_stage
# (DEFAULT_RUN and STAGE_RUN name other results folders.)
set -uo pipefail
cd "$(dirname "$0")/.."
source benchmarks/steps.sh
OUT=${1:-benchmarks/cpu-results.md}
DEFAULT_RUN=${DEFAULT_RUN:-results/fashion_mlp}
STAGE_RUN=${STAGE_RUN:-results/barrier_stage}

start_steps "${OUT%.md}.d"
step 1_star_step 900 "$PY" benchmarks/star_step.py --device cpu
step 2_barrier_pair 900 "$PY" benchmarks/barrier_pair.py --device cpu
step 4_data_path 900 "$PY" benchmarks/data_path.py --device cpu
step 5_align 900 "$PY" benchmarks/align.py
step 6_bn_subset 900 "$PY" benchmarks/bn_subset.py --device cpu
step 3_pipeline 120 "$PY" benchmarks/pipeline_share.py --run "default=$DEFAULT_RUN" \
    --run "barrier_stage=$STAGE_RUN/logs/barrier/anchor-*.log"
finish_steps "$OUT"
exit $status
