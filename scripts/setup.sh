#!/usr/bin/env bash
# Installs what make demo / make test need and is missing; safe to run again.
#  - Debian packages: GStreamer 1.22 dev + plugins (x264/x265/openjpeg anchors), ffmpeg, meson.
#  - .venv with the onnxruntime wheel (codec-core loads its libonnxruntime.so.1.x.y).
# Training dependencies (torch, compressai) are separate: make train-deps.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools
      gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
      gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x ffmpeg
      meson ninja-build pkg-config)
# A system Python without venv/ensurepip (plain Debian) needs python3-venv.
PY=${PYTHON:-python3}
"$PY" -c 'import venv, ensurepip' 2>/dev/null || PKGS+=(python3-venv)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found; install Rust (rustup) first" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
if ! ls .venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.1* >/dev/null 2>&1 \
   || ! .venv/bin/python -c "import numpy" 2>/dev/null; then
  echo "setup: installing onnxruntime into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
fi
echo "setup: ok (ONNX Runtime: $(ls .venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.1* | head -1))"
