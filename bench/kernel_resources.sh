#!/usr/bin/env bash
# Registers, spills, shared memory and barriers of every hand-written kernel as ptxas compiles them
# for a GPU architecture (default sm_90), one line each: a check that needs no GPU. A kernel that
# spills or needs more than 48 KiB of shared memory shows here before it runs anywhere.
# Usage: bash bench/kernel_resources.sh [ARCH] > bench/results/<date>-kernel-resources-sm90.txt
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:-90}
nvcc=${NVCC:-/usr/local/cuda/bin/nvcc}
object=$(mktemp --suffix=.o)
trap 'rm -f "$object"' EXIT
echo "# ptxas resource usage, sm_${arch}, $("$nvcc" --version | tail -1)"
"$nvcc" -O3 -DNDEBUG --generate-code="arch=compute_${arch},code=sm_${arch}" --expt-relaxed-constexpr -std=c++20 \
  -Iinclude -Icuda -Xptxas -v -c cuda/kernels.cu -o "$object" 2>&1 |
  awk '/Compiling entry function/ { match($0, /_ZN7bioprop7kernels[0-9]+/); rest = substr($0, RSTART + RLENGTH);
                                     n = substr($0, RSTART + 19, RLENGTH - 19); name = substr(rest, 1, n); next }
       /spill stores/ { spills = $0; sub(/.*: +/, "", spills); next }
       /Used [0-9]+ registers/ { used = $0; sub(/.*: +/, "", used); printf "%-36s %s; %s\n", name, used, spills }'
