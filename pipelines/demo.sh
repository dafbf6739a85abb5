#!/usr/bin/env bash
# helio demo: what `make demo` runs after `cargo build --release --workspace`.
#
#  1. Encodes the bundled real SDO/AIA 171 frames (data/aia171/frame_*.png, 16-bit PNG
#     holding 14-bit DN) into one helio elementary stream, out/aia171.helio, with a plain
#     gst-launch-1.0 pipeline.
#  2. Decodes that file back to 16-bit PNGs in out/decoded/ (helioparse splits the file
#     into access units, heliodec decodes them).
#  3. Prints the file's bits per pixel and compression ratios, and the decoded frames'
#     errors against the originals (helio-eval compare).
#  4. Runs helio-eval's short sweep (a few quality points per codec: helio, x264, x265,
#     JPEG 2000, PNG), prints the rate-distortion / speed table and BD-rates, and writes
#     out/results.md, out/results.csv and out/side_by_side.png.
#
# Environment: QUALITY (helioenc quality for steps 1-2, default: the element's default),
# PROFILE (cargo profile folder under target/, default release), SKIP_EVAL=1 skips step 4.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PROFILE=${PROFILE:-release}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE
OUT=$ROOT/out
FRAMES=$ROOT/data/aia171

# The helio plugin (libgsthelio.so) is loaded straight from the build folder.
export GST_PLUGIN_PATH="$TARGET_DIR${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"

for tool in gst-launch-1.0 gst-inspect-1.0; do
    command -v "$tool" >/dev/null || { echo "demo: $tool not found (Debian package gstreamer1.0-tools)" >&2; exit 1; }
done
if ! gst-inspect-1.0 helioenc >/dev/null 2>&1; then
    echo "demo: helioenc not found in $TARGET_DIR (build first: cargo build --release -p gst-plugin-helio)" >&2
    exit 1
fi
EVAL=$TARGET_DIR/helio-eval
[ -x "$EVAL" ] || { echo "demo: $EVAL not built (cargo build --release -p helio-eval)" >&2; exit 1; }

mkdir -p "$OUT"
rm -rf "$OUT/decoded"
mkdir -p "$OUT/decoded"

# Frames are frame_00.png .. frame_NN.png.
N=$(find "$FRAMES" -maxdepth 1 -name 'frame_*.png' | wc -l)
[ "$N" -gt 0 ] || { echo "demo: no frames in $FRAMES" >&2; exit 1; }
# Width and height from the first PNG's IHDR (big-endian u32 at bytes 16 and 20).
read -r W H < <(od -An -tu1 -j16 -N8 "$FRAMES/frame_00.png" |
    awk '{print $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8}')

ENC_PROPS="bit-depth=14"
[ -n "${QUALITY:-}" ] && ENC_PROPS="$ENC_PROPS quality=$QUALITY"

echo "== 1. encode $N frames ${W}x${H} (14-bit DN) -> out/aia171.helio"
# pngdec outputs GRAY16_BE for 16-bit PNGs; videoconvert swaps to GRAY16_LE, which is
# what helioenc takes (values unchanged: helio-eval's tests check this on these frames).
# The framerate on the PNG caps gives the raw stream timestamps (1 frame/s, arbitrary).
time gst-launch-1.0 -q \
    multifilesrc location="$FRAMES/frame_%02d.png" index=0 stop-index=$((N - 1)) caps="image/png,framerate=1/1" \
    ! pngdec ! videoconvert ! video/x-raw,format=GRAY16_LE \
    ! helioenc $ENC_PROPS \
    ! filesink location="$OUT/aia171.helio"

echo "== 2. decode out/aia171.helio -> out/decoded/frame_NN.png"
time gst-launch-1.0 -q \
    filesrc location="$OUT/aia171.helio" \
    ! helioparse ! heliodec ! videoconvert ! video/x-raw,format=GRAY16_BE \
    ! pngenc compression-level=9 ! multifilesink location="$OUT/decoded/frame_%02d.png"

echo "== 3. size and errors"
BYTES=$(stat -c %s "$OUT/aia171.helio")
PNG_BYTES=$(find "$FRAMES" -maxdepth 1 -name 'frame_*.png' -exec stat -c %s {} + | awk '{s+=$1} END {print s}')
DECODED=$(find "$OUT/decoded" -name 'frame_*.png' | wc -l)
awk -v b="$BYTES" -v p="$PNG_BYTES" -v n="$N" -v w="$W" -v h="$H" 'BEGIN {
    px = n * w * h
    printf "out/aia171.helio: %d bytes for %d frames = %.4f bits/pixel\n", b, n, 8 * b / px
    printf "compression ratio: %.1f vs 16-bit raw, %.1f vs 14 bits/pixel, %.1f vs the lossless PNGs (%d bytes)\n",
        16 * px / (8 * b), 14 * px / (8 * b), p / b, p
}'
[ "$DECODED" -eq "$N" ] || { echo "demo: decoded $DECODED frames, expected $N" >&2; exit 1; }
"$EVAL" compare --frames "$FRAMES" --decoded "$OUT/decoded"

echo "== 3b. the same flare in three bands (data/aia171, aia193, aia304) coded into one stream"
FRAMES=$N bash "$(dirname "$0")/multispectral.sh" "$OUT/ms"
MS_BYTES=$(stat -c %s "$OUT/ms/aia3.helio")
awk -v b="$MS_BYTES" -v n="$N" 'BEGIN { printf "out/ms/aia3.helio: %.4f bits per pixel and band (3 bands of 370x500, %d frames)\n", 8 * b / (3 * n * 370 * 500), n }'

if [ "${SKIP_EVAL:-0}" = 1 ]; then exit 0; fi
echo "== 4. helio-eval, short sweep (writes out/results.md, out/results.csv, out/side_by_side.png)"
"$EVAL" --quick --frames "$FRAMES" --plugin-path "$TARGET_DIR" \
    --out "$OUT/results.md" --side-by-side "$OUT/side_by_side.png"
