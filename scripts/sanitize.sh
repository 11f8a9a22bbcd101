#!/usr/bin/env bash
# The sanitizers that stand in for compute-sanitizer (DESIGN.md section 6.4; docs/testing.md):
#  - memcheck: the kernel emulation and emulated-device tests under AddressSanitizer + UBSan, with the
#    caching allocator bypassed (BIOPROP_NO_ALLOCATOR_CACHE=1) so an overrun of any tensor is seen;
#  - racecheck: the kernel tests under ThreadSanitizer, whose fibers order a block's threads only at
#    its barriers, so a shared-memory race inside a block is reported.
# Each flavour has its own build folder (build-asan, build-tsan) and links the engine (CPU reference,
# layers, rules) that the main build in build/ compiled. Run by scripts/test.sh, after that build.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

kernel_tests=(emulation_test kernels_test small_kernels_test)
device_tests=(runtime_test cublas_test cudnn_test cuda_backend_on_emulated_device_test cuda_backend_test_emulated
              device_query_test_emulated)

build() {
  local dir=$1 flavour=$2
  shift 2
  # -O1: instrumented code compiles faster and reports better; the engine comes from build/ as is.
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" \
    -DBIOPROP_SANITIZE="$flavour" -DBIOPROP_PREBUILT_CORE_DIR="$PWD/build" -DBIOPROP_BENCH=OFF >/dev/null
  cmake --build "$dir" -j "$jobs" --target "$@"
}

# The sweep of every rule over every reference net (minutes on 2 cores, several times that instrumented)
# runs in the plain emulated build; here the same paths run through the bp and BrainProp steps.
run_all() {
  local dir=$1
  shift
  for test in "$@"; do
    echo "== $dir: $test"
    "$dir/tests/$test" --gtest_brief=1 --gtest_filter='-*EveryRuleTakesTheSameStepOnEveryReferenceNet'
  done
}

# Proofs first: a sanitizer that cannot see the planted bug would make every green run meaningless.
build build-asan address "${kernel_tests[@]}" "${device_tests[@]}" device_overrun
(cd build-asan && ctest -R '^memcheck\.' --output-on-failure)
BIOPROP_NO_ALLOCATOR_CACHE=1 ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  OMP_WAIT_POLICY=passive run_all build-asan "${kernel_tests[@]}" "${device_tests[@]}"

build build-tsan thread "${kernel_tests[@]}" shared_memory_race
(cd build-tsan && ctest -R '^racecheck\.' --output-on-failure)
# One OpenMP thread: libgomp is not built for TSan, and the races sought are inside emulated blocks.
TSAN_OPTIONS=halt_on_error=1 OMP_NUM_THREADS=1 run_all build-tsan "${kernel_tests[@]}"
echo "sanitizers: all clean, and the planted overrun and race were reported"
