#!/usr/bin/env bash
# Multispectral RD on a 9-wavelength synthetic set (issue 9's second target):
# helio-synth renders 6 frames x 9 AIA wavelengths at 512x512 (12 s cadence),
# helio-eval-ms codes them jointly (one stream, X-frames across wavelengths),
# each wavelength alone with helio, and each alone with x265 / JPEG 2000.
# Writes docs/multispectral-synth9.md (about 25 min on 2 shared cores).
#   bash pipelines/bench-multispectral-synth.sh [out=docs/multispectral-synth9.md]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-docs/multispectral-synth9.md}
BIN=target/release
[ -x $BIN/helio-synth ] && [ -x $BIN/helio-eval-ms ] || cargo build --release --workspace --locked
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
$BIN/helio-synth frames --out "$DIR" --size 512 --wavelengths all --frames 6 --cadence 12 --seed 5 >/dev/null
BANDS=$(ls -d "$DIR"/*/ | sed 's:/$::' | paste -sd,)
$BIN/helio-eval-ms --quick --frames "$BANDS" --out "$DIR/ms.md" >/dev/null
{
  echo "Generated $(date -u +%Y-%m-%dT%H:%MZ) by \`bash pipelines/bench-multispectral-synth.sh\` at commit $(git rev-parse --short HEAD);"
  echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg). The frames were in a temporary folder (helio-synth"
  echo "frames --size 512 --wavelengths all --frames 6 --cadence 12 --seed 5)."
  echo
  cat "$DIR/ms.md"
} > "$OUT"
echo "wrote $OUT"
