#!/usr/bin/env bash
# Entropy-model benchmark (not a test: these machines are shared and noisy).
# Decode time of the entropy model (z and y decoding with h_s and any context
# networks) against the whole I-frame decode, per intra package, on 512x512
# synthetic AIA 171 frames and on the bundled real AIA 171 frames. Target
# (issue 6): the entropy model under 50 % of a 512x512 frame's decode time.
#   bash pipelines/bench-entropy.sh [frames=4] [packages="models/hyperprior models/checkerboard"]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-4}
PACKAGES=${2:-"models/hyperprior models/checkerboard"}
BIN=target/release
[ -x $BIN/helio-synth ] && [ -x $BIN/helio-bench-entropy ] || cargo build --release --workspace --locked
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
$BIN/helio-synth frames --out "$DIR" --size 512 --wavelengths 171 --frames "$N" --cadence 12 --seed 3 >/dev/null
MODELS=()
for p in $PACKAGES; do MODELS+=(--model "$p"); done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "## synthetic 512x512"
$BIN/helio-bench-entropy --frames "$DIR/171" "${MODELS[@]}" --qualities 1,4,6
echo
echo "## real AIA 171 (data/aia171)"
$BIN/helio-bench-entropy --frames data/aia171 --max-frames "$N" "${MODELS[@]}" --qualities 1,4,6
