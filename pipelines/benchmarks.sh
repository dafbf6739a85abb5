#!/usr/bin/env bash
# Writes BENCHMARKS.md: helio-eval's short sweep on the bundled real AIA 171 frames and on a
# synthetic 512x512 AIA 171 sequence (helio-synth), with machine, versions and date, and the
# plots in docs/ (RD curves; PSNR per frame across GoPs: helio-gop30 vs x265 GoP 30 on the
# real frames and on 31 synthetic frames) when the models venv has matplotlib; and
# helio-eval-ms on the bundled AIA 171/193/304 frames (joint vs separate wavelengths).
#   bash pipelines/benchmarks.sh [OUT=BENCHMARKS.md]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-BENCHMARKS.md}
BIN=target/release
# Always: a stale plugin would still embed the models it was built with.
cargo build --release --workspace --locked
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
$BIN/helio-synth frames --out "$TMP/syn" --size 512 --wavelengths 171 --frames 31 --cadence 12 --seed 3 >/dev/null
$BIN/helio-eval --quick --frames data/aia171 --out "$TMP/aia.md" --frames-csv "$TMP/aia-frames.csv" >/dev/null
$BIN/helio-eval --quick --frames "$TMP/syn/171" --max-frames 10 --mode dn16 --out "$TMP/syn.md" >/dev/null
# One full GoP (1 I + 30 P) on the synthetic sequence, for the drift plot.
$BIN/helio-eval --quick --frames "$TMP/syn/171" --mode dn16 --codecs helio-gop30,x265 \
    --helio-qualities 4 --out "$TMP/gop.md" --frames-csv "$TMP/gop-frames.csv" >/dev/null
# Multispectral: the three bands of the flare set coded jointly and one by one.
$BIN/helio-eval-ms --quick --frames data/aia171,data/aia193,data/aia304 --out "$TMP/ms.md" >/dev/null
mkdir -p docs
if .venv/bin/python -c 'import matplotlib' 2>/dev/null; then
  .venv/bin/python pipelines/plot_rd.py --csv "$TMP/aia.csv" --per-frame "$TMP/aia-frames.csv" --out docs/aia171
  .venv/bin/python pipelines/plot_rd.py --csv "$TMP/gop.csv" --per-frame "$TMP/gop-frames.csv" --out docs/synthetic-gop
else
  echo "benchmarks: no matplotlib in .venv (make train-deps): plots not redrawn" >&2
fi
{
  echo "# helio benchmarks"
  echo
  echo "Generated $(date -u +%Y-%m-%dT%H:%MZ) by \`bash pipelines/benchmarks.sh\` at commit $(git rev-parse --short HEAD)."
  echo
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB, load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- $(gst-launch-1.0 --version | sed -n 2p), $(rustc --version), onnxruntime $(ls .venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.1* | sed 's/.*so\.//'), models $(python3 -c 'import json,os;i="models/checkerboard" if os.path.exists("models/checkerboard/model.json") else "models/hyperprior";p="models/ssf-checkerboard" if os.path.exists("models/ssf-checkerboard/model.json") else "models/ssf";print(json.load(open(i+"/model.json"))["name"], "+", json.load(open(p+"/model.json"))["name"])')"
  echo
  echo "## Real frames: SDO/AIA 171, data/aia171 (held out from training)"
  echo
  sed '1d' "$TMP/aia.md"
  echo
  echo "Plots: [RD](docs/aia171-display8-psnr.png), [RD 14-bit](docs/aia171-dn16-psnr.png), [PSNR per frame](docs/aia171-gop-psnr.png)."
  echo
  echo "## Synthetic: helio-synth 512x512 AIA 171, 10 frames, 12 s cadence, seed 3"
  echo
  sed '1d' "$TMP/syn.md"
  echo
  echo "## Synthetic, one full GoP: 31 frames (1 I + 30 P), helio quality 4 vs x265 GoP 30"
  echo
  echo "Drift across the GoP: [PSNR per frame](docs/synthetic-gop-gop-psnr.png)."
  echo
  sed '1d' "$TMP/gop.md"
  echo
  echo "## Multispectral: SDO/AIA 171, 193, 304 of one flare (data/aia171, aia193, aia304), joint vs each band alone"
  echo
  echo "helio-joint codes the three bands into one stream (X-frames predict a band from another band of the same"
  echo "instant); helio-separate, x265 and JPEG 2000 code each band alone. 193 and 304 were in the P model's"
  echo "training clips (171 is held out)."
  echo
  sed '1d' "$TMP/ms.md"
} > "$OUT"
echo "wrote $OUT"
