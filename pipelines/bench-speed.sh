#!/usr/bin/env bash
# Speed benchmark (not a test: these machines are shared and noisy).
# 512x512 14-bit synthetic AIA 171 frames from helio-synth, coded by helio and by
# x265 / x265-intra in the same helio-eval run, which prints encode and decode
# frames/s beside each other. Targets: helio intra encode >= 5 fps, decode >= 10 fps (issue 3);
# helio-gop30 (P-frames) decode >= 5 fps (issue 5). helio is run twice: heliodec as set up by
# default, which for this non-live source (appsrc) means two frame threads (two decoders, each
# with `threads` intra-op threads: keyframes overlap, a P-frame still waits for the frame before
# it but keeps every core; one frame more latency, one more decoder's memory), then with
# frame-threads=1, what the default picks for a live source (one frame at a time). Last, GoP 30
# with the plain-hyperprior P package models/ssf-lowres (no context passes and a narrower residual
# decoder: faster, about 8 % more P-frame bits). Last, heliodec's peak memory with one and two
# frame threads.
#   bash pipelines/bench-speed.sh [frames=10] [helio threads=0]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10}
THREADS=${2:-0}
BIN=target/release
[ -x $BIN/helio-synth ] && [ -x $BIN/helio-eval ] || cargo build --release --workspace --locked
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
$BIN/helio-synth frames --out "$DIR" --size 512 --wavelengths 171 --frames "$N" --cadence 12 --seed 3 >/dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load: $(cut -d' ' -f1-3 /proc/loadavg)"
$BIN/helio-eval --frames "$DIR/171" --mode dn16 --codecs helio,helio-gop30,x265,x265-intra --quick \
    --helio-qualities 1,4,6 --helio-props "threads=$THREADS" --out "$DIR/speed.md"
echo
echo "## heliodec frame-threads=1 (the default's choice for a live source)"
$BIN/helio-eval --frames "$DIR/171" --mode dn16 --codecs helio,helio-gop30 --quick \
    --helio-qualities 1,4,6 --helio-props "threads=$THREADS" --heliodec-props "frame-threads=1 threads=$THREADS" --out "$DIR/speed-ft1.md"
echo
echo "## helio-gop30 with inter-model-dir=models/ssf-lowres"
$BIN/helio-eval --frames "$DIR/171" --mode dn16 --codecs helio-gop30 --quick --helio-qualities 1,4,6 \
    --helio-props "threads=$THREADS model-dir=models/checkerboard inter-model-dir=models/ssf-lowres" --out "$DIR/speed-lowres.md"
echo
echo "## heliodec peak memory (maxrss), quality 4, GoP 30 file, frame-threads=1 vs 2"
if [ -x /usr/bin/time ]; then
  PATTERN=frame_%04d.png bash pipelines/encode-file.sh "$DIR/171" "$DIR/q4.helio" 4 >/dev/null 2>&1
  for ft in 1 2; do
    GST_PLUGIN_PATH="$PWD/$BIN" /usr/bin/time -f "frame-threads=$ft: %M KB" gst-launch-1.0 -q filesrc location="$DIR/q4.helio" \
      ! helioparse ! heliodec frame-threads=$ft threads=$THREADS ! fakesink 2>&1 | tail -1
  done
else
  echo "skipped: no /usr/bin/time (Debian package time)"
fi
