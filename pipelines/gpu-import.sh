#!/usr/bin/env bash
# Home side of a GPU training lease (models/README.md, "Training on a GPU"): the
# weights pipelines/gpu-train.sh returned become checkpoints here (a CPU run of the
# same config resumes from them), then a candidate intra package in out/, compared
# through the real codec with the default.
#   bash pipelines/gpu-import.sh FILES_DIR      (the device tool's files_at)
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${1:?usage: gpu-import.sh FILES_DIR}
PY=${PY:-.venv/bin/python}
CG="h_s cg0_a cg0_n cg1_a cg1_n cg2_a cg2_n cg3_a cg3_n"

for name in hyperprior-gpu checkerboard-gpu; do
  [ -f "$SRC/$name.pt" ] || continue
  mkdir -p "models/checkpoints/$name" "models/runs/$name"
  ck=models/checkpoints/$name/last.pt
  # Keep a CPU continuation's checkpoint if it went further than the file brought home.
  if [ -f "$ck" ] && ! $PY -c "
import sys, torch
a, b = (torch.load(p, map_location='cpu', weights_only=False)['iter'] for p in sys.argv[1:])
sys.exit(a <= b)" "$SRC/$name.pt" "$ck"; then
    echo "$ck is at or past $SRC/$name.pt: kept"
  else
    cp "$SRC/$name.pt" "$ck"
    [ -f "$SRC/$name.csv" ] && cp "$SRC/$name.csv" "models/runs/$name/log.csv"
    echo "$SRC/$name.pt -> $ck"
  fi
done

test -f models/checkpoints/hyperprior-gpu/last.pt || { echo "no hyperprior-gpu weights in $SRC" >&2; exit 1; }
$PY -m models.export --ckpt models/checkpoints/hyperprior-gpu/last.pt --out out/hyperprior-gpu --interim
if [ -f models/checkpoints/checkerboard-gpu/last.pt ]; then
  $PY -m models.export_checkerboard --ckpt models/checkpoints/checkerboard-gpu/last.pt \
    --package out/hyperprior-gpu --variant checkerboard+global --out out/checkerboard-gpu
  $PY -m models.subpixel --package out/checkerboard-gpu --rewrite g_s --all $CG
  bash pipelines/compare-packages.sh intra models/checkerboard out/checkerboard-gpu
else
  # Transforms only: against the package they continued, both with the hyperprior entropy model.
  bash pipelines/compare-packages.sh intra models/hyperprior out/hyperprior-gpu
fi
