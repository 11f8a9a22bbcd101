#!/usr/bin/env bash
# Packs what a GPU machine needs to run bioprop's CUDA tests and benchmarks into gpu-bundle.tar.xz
# (the GPU machines have no Debian packages and take at most 64 MiB of carried files): the stripped
# binaries, and the shared libraries they load that the machine lacks (toml++, fmt, spdlog, OpenMP,
# the C++ runtime), and the Fashion-MNIST files. cuBLAS and cuDNN come from the machine's Python nvidia-* wheels at run time
# (bench/run_gpu.sh sets LD_LIBRARY_PATH). Build first: bash scripts/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf gpu-bundle && mkdir -p gpu-bundle/bin gpu-bundle/lib
binaries=(build/bioprop build/tests/cuda_backend_test
          build/tests/device_query_test build/bench/lc_kernels_bench build/bench/rule_step_bench
          build/bench/dendrites_bench)
for b in "${binaries[@]}"; do strip -o "gpu-bundle/bin/$(basename "$b")" "$b"; done
# Every library the binaries load, except the C library family and the CUDA libraries.
ldd "${binaries[@]}" | awk '/=> \// {print $3}' | sort -u |
  grep -vE '/(libc|libm|libdl|librt|libpthread|ld-linux[^/]*)\.so|libcu(blas|blasLt|dnn|dnn_[a-z_]+)\.so' |
  while read -r lib; do cp -L "$lib" gpu-bundle/lib/; done
# Fashion-MNIST for the GPU runs of the default training (the GPU machines have no Debian packages).
cp -r /usr/share/datasets/fashion-mnist gpu-bundle/fashion-mnist
tar -cJf gpu-bundle.tar.xz gpu-bundle
rm -rf gpu-bundle
echo "gpu-bundle.tar.xz: $(du -h gpu-bundle.tar.xz | cut -f1) (carry it; bench/run_gpu.sh unpacks it)"
