#!/usr/bin/env bash
# The pretraining step on a GPU, and nothing else: sized for a short lease of a GPU machine that
# has PyTorch but cannot install packages (docs/benchmarks.md, "GPU step times").
#
#   bash benchmarks/gpu_step.sh [extra bench_pretrain.py arguments]
#
# Wheels in .whl/ (pydantic and what it needs, for that machine's Python) are installed to
# /tmp/site first. The log and the updated docs/benchmarks.md land in $OUT (default /tmp/gpu_step).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/gpu_step}"
mkdir -p "$out"
site="$PWD"
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    site="/tmp/site:$site"
fi
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi -L || true
python3 benchmarks/bench_pretrain.py --devices cuda --no-augment --repeats 5 --write "$@" 2>&1 | tee "$out/bench_gpu.log"
cp docs/benchmarks.md "$out/benchmarks.md"
