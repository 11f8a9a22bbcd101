#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/: clang, ASan + UBSan, the host engine without CUDA) and runs
# each for SECONDS (default 30) on its seed corpus (written by the build) and the committed regression
# corpus fuzz/regressions/<reader>/ (every input that ever failed). New findings are written to
# build-fuzz/findings/<reader>/ and fail the run. A long campaign: docs/testing.md.
# Usage: scripts/fuzz.sh [SECONDS] [READER...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
readers=("$@")
((${#readers[@]})) || readers=(idx cifar checkpoint net_toml experiment_toml jpeg_folder)

missing=()
for p in clang-14 libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S fuzz -B build-fuzz -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j "$(nproc)"
rm -rf build-fuzz/seeds && build-fuzz/make_fuzz_seeds build-fuzz/seeds "$PWD"

status=0
for reader in "${readers[@]}"; do
  corpus=build-fuzz/corpus/$reader findings=build-fuzz/findings/$reader
  mkdir -p "$corpus" "$findings" "fuzz/regressions/$reader"
  echo "== fuzz_$reader: $seconds s"
  # -rss_limit_mb: a reader that tries to hold more than bioprop's own budget (256 MiB, set by the
  # harness) plus ASan's overhead is a finding too.
  if ! build-fuzz/fuzz_"$reader" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=30 \
      -print_final_stats=1 -artifact_prefix="$findings/" "$corpus" "build-fuzz/seeds/$reader" \
      "fuzz/regressions/$reader" 2>build-fuzz/fuzz_"$reader".log; then
    echo "fuzz_$reader found a failure (input in $findings/; log build-fuzz/fuzz_$reader.log):"
    grep -E "ERROR|SUMMARY|terminate|what\(\)|exiting" build-fuzz/fuzz_"$reader".log | head -5 || true
    status=1
  fi
  grep -E "stat::number_of_executed_units|cov: " build-fuzz/fuzz_"$reader".log | tail -2 || true
done
exit $status
