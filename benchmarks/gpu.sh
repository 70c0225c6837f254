#!/usr/bin/env bash
# The GPU benchmark, for the day a CUDA machine is lent. From the repository root:
#
#     benchmarks/gpu.sh [OUTPUT.md]          # default benchmarks/gpu-results.md (step outputs in gpu-results.d/)
#
# In about 6 minutes (every step has a time limit; together under 8 minutes) on one GPU:
#   1. the cuda-marked tests (pytest -m cuda);
#   2. target 1, the star step, with --device cuda: the default MLP and full-width resnet18_cifar;
#   3. target 2, one pair's barrier curve, with --device cuda: the MLP (Fashion-MNIST sizes) and full-width
#      resnet18_cifar on synthetic CIFAR-10-sized data (50,000 + 10,000 images, 2,000 BN images);
#   4. target 4, a training epoch against its steps alone, with --device cuda: the MLP on Fashion-MNIST and
#      full-width resnet18_cifar on 10,000 synthetic CIFAR images with on-device crop + flip;
#   5. one resnet18_cifar epoch (images/s) with the speed options off and on (bf16, channels_last, compile);
#   6. two short runs with deterministic: true, compared bit for bit.
# It writes one Markdown table (paste it into BENCHMARKS.md) and exits non-zero if any step failed. On a machine
# without CUDA it stops at once and says so; every piece runs on the CPU with --device cpu.
set -uo pipefail
cd "$(dirname "$0")/.."
source benchmarks/steps.sh
OUT=${1:-benchmarks/gpu-results.md}

if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "benchmarks/gpu.sh: no usable CUDA device for $PY (torch.cuda.is_available() is False)." >&2
    echo "Run it on a machine with a CUDA GPU (set PYTHON to choose the interpreter); each benchmark it runs" >&2
    echo "also runs on the CPU with --device cpu." >&2
    exit 2
fi

start_steps "${OUT%.md}.d"
# time limits in seconds, 475 in all
step 1_tests 120 "$PY" -m pytest -m cuda -q -p no:cacheprovider
step 2_star_step 40 "$PY" benchmarks/star_step.py --device cuda --model mlp --model resnet18_cifar --width-multiplier 1
step 3_barrier_mlp 25 "$PY" benchmarks/barrier_pair.py --device cuda --model mlp
step 4_barrier_resnet18 90 "$PY" benchmarks/barrier_pair.py --device cuda --model resnet18_cifar \
    --width-multiplier 1 --train-size 50000 --test-size 10000 --bn-size 2000 --reps 2
step 5_data_path 50 "$PY" benchmarks/data_path.py --device cuda --width-multiplier 1 --images 10000 --reps 3
step 6_epoch 110 "$PY" benchmarks/epoch.py --device cuda
step 7_determinism 40 "$PY" benchmarks/determinism.py --device cuda
finish_steps "$OUT"
exit $status
