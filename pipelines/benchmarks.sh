#!/usr/bin/env bash
# Writes BENCHMARKS.md: helio-eval's short sweep on the bundled real AIA 171 frames and on a
# synthetic 512x512 AIA 171 sequence (helio-synth), with machine, versions and date.
#   bash pipelines/benchmarks.sh [OUT=BENCHMARKS.md]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-BENCHMARKS.md}
BIN=target/release
[ -x $BIN/helio-eval ] && [ -x $BIN/helio-synth ] || cargo build --release --workspace --locked
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
$BIN/helio-synth frames --out "$TMP/syn" --size 512 --wavelengths 171 --frames 10 --cadence 12 --seed 3 >/dev/null
$BIN/helio-eval --quick --frames data/aia171 --out "$TMP/aia.md" >/dev/null
$BIN/helio-eval --quick --frames "$TMP/syn/171" --mode dn16 --out "$TMP/syn.md" >/dev/null
{
  echo "# helio benchmarks"
  echo
  echo "Generated $(date -u +%Y-%m-%dT%H:%MZ) by \`bash pipelines/benchmarks.sh\` at commit $(git rev-parse --short HEAD)."
  echo
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB, load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- $(gst-launch-1.0 --version | sed -n 2p), $(rustc --version), onnxruntime $(ls .venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.1* | sed 's/.*so\.//'), model $(python3 -c 'import json;print(json.load(open("models/hyperprior/model.json"))["name"])')"
  echo
  echo "## Real frames: SDO/AIA 171, data/aia171 (held out from training)"
  echo
  sed '1d' "$TMP/aia.md"
  echo
  echo "## Synthetic: helio-synth 512x512 AIA 171, 10 frames, 12 s cadence, seed 3"
  echo
  sed '1d' "$TMP/syn.md"
} > "$OUT"
echo "wrote $OUT"
