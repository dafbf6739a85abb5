#!/usr/bin/env bash
# Rate-distortion and speed of two model packages through the real codec (helioenc/heliodec),
# same frames, same sweep: BD-rate of the second against the first (helio-eval bd). For a
# package that replaces another (models/legacy/): the figure its model card quotes.
#   bash pipelines/compare-packages.sh intra|inter|both ANCHOR_DIR TEST_DIR [frames=data/aia171] [mode=display8]
# intra: all-intra coding with model-dir=DIR; inter: GoP 30 with model-dir=models/checkerboard and
# inter-model-dir=DIR; both: GoP 30 with DIR = INTRA_DIR:INTER_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
KIND=$1; A=$2; B=$3; FRAMES=${4:-data/aia171}; MODE=${5:-display8}
BIN=target/release
# Always, as benchmarks.sh does: an older helio-eval has no `bd`.
cargo build --release --workspace --locked
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for side in a b; do
  dir=$A; [ $side = b ] && dir=$B
  case $KIND in
    intra) codec=helio; props="model-dir=$dir" ;;
    inter) codec=helio-gop30; props="model-dir=models/checkerboard inter-model-dir=$dir" ;;
    both) codec=helio-gop30; props="model-dir=${dir%%:*} inter-model-dir=${dir#*:}" ;;
    *) echo "first argument: intra, inter or both" >&2; exit 2 ;;
  esac
  $BIN/helio-eval --frames "$FRAMES" --mode "$MODE" --codecs $codec --helio-props "$props" --out "$TMP/$side.md" \
    >/dev/null 2>"$TMP/$side.log" || { cat "$TMP/$side.log" >&2; exit 1; }
  echo "## $dir"
  sed '1,/^|/{/^|/!d}' "$TMP/$side.md" | grep '^|' | head -12
  echo
done
$BIN/helio-eval bd --anchor "$TMP/a.csv" --test "$TMP/b.csv" | sed "s#$TMP/a.csv#$A#; s#$TMP/b.csv#$B#"
