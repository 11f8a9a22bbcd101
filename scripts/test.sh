#!/usr/bin/env bash
# Sets up, builds and runs every test (ctest): the CPU tests, the kernel emulation's, the emulated
# device's, and every CUDA test twice (against the CUDA libraries, where they skip without a GPU, and on
# the emulated device, where none may skip); then the same emulation and emulated-device tests under
# AddressSanitizer + UBSan and ThreadSanitizer (scripts/sanitize.sh); then every file reader's libFuzzer
# harness for 30 s on its seeds and the committed regression corpus (scripts/fuzz.sh, clang + ASan +
# UBSan). docs/testing.md says what each layer checks. On a GPU machine: BIOPROP_REQUIRE_GPU=1 bash scripts/test.sh (no CUDA test may skip).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
(cd build && ctest --output-on-failure -j "$(nproc)")
bash scripts/sanitize.sh
bash scripts/fuzz.sh "${BIOPROP_FUZZ_SECONDS:-30}"
