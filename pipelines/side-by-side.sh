#!/usr/bin/env bash
# side-by-side.sh OUT_DIR
#
# One source, teed into helio, x264 and x265; each branch is coded, decoded, labelled
# with textoverlay, and compositor puts them in a row beside the original:
#     | original | helio | x264 | x265 |
# written as PNG snapshots OUT_DIR/sbs_0000.png, sbs_0001.png, ... (RGB, 8 bits).
# A visual check only: numbers (bits per pixel, PSNR, BD-rate) come from helio-eval
# (make demo).
#
# testsrc: every codec sees the same 8-bit frames, heliotestsrc's GRAY8 (its sqrt display
# scaling of the DN), which helioenc takes as display data. x264/x265 need
# `videoconvert ! video/x-raw,format=I420` (no grey input; the chroma planes are flat).
# aia171: the bundled real frames (14-bit DN), cropped to 370x500 (x264/x265 need even
# sizes in I420). helio codes the DN (GRAY16_LE, bit-depth 14) as in `make demo`; x264/x265
# get what an 8-bit pipeline gives them, videoconvert's top 8 of 16 bits (DN/256, so only
# about 6 significant bits): a look at the pictures, not a fair rate comparison. The row
# goes through `gamma gamma=3` after compositor so the dark 14-bit data can be seen.
#
# Environment (defaults in brackets):
#   SOURCE testsrc|aia171 [testsrc]   NUM_BUFFERS [10; testsrc]
#   WIDTH, HEIGHT [256; testsrc; aia171: 370x500]   QUALITY helioenc quality [default]
#   BITRATE x264/x265 target in kbit/s [200]   TIMEOUT seconds [120]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 1 ] || die "usage: $0 OUT_DIR"
OUT_DIR=$1
SOURCE=${SOURCE:-testsrc}
BITRATE=${BITRATE:-200}
need_elements helioenc heliodec tee queue videoconvert x264enc x265enc h264parse h265parse \
    avdec_h264 avdec_h265 textoverlay compositor gamma videocrop pngenc multifilesink

GAMMA=1
case "$SOURCE" in
    testsrc)
        W=${WIDTH:-256} H=${HEIGHT:-256}
        SRC=(heliotestsrc num-buffers="${NUM_BUFFERS:-10}"
            ! "video/x-raw,format=GRAY8,width=$W,height=$H,framerate=5/1")
        ;;
    aia171)
        FRAMES=$HELIO_ROOT/data/aia171 W=370 H=500
        N=$(find "$FRAMES" -maxdepth 1 -name 'frame_*.png' | wc -l)
        SRC=(multifilesrc location="$FRAMES/frame_%02d.png" index=0 stop-index=$((N - 1))
            caps="image/png,framerate=1/1" ! pngdec ! videoconvert ! video/x-raw,format=GRAY16_LE
            ! videocrop right=1 bottom=1)
        GAMMA=3
        ;;
    *) die "SOURCE=$SOURCE: testsrc or aia171" ;;
esac

# Unbounded queues after the tee: the x264/x265 branches hold frames back (even with
# zerolatency, the parsers and decoders add a frame or two) and compositor waits for a
# frame on every pad, so a bounded queue on a faster branch could stall the pipeline.
Q=(queue max-size-buffers=0 max-size-bytes=0 max-size-time=0)
# label TEXT: a textoverlay element (gst-launch quotes each argument, spaces are fine).
label() { LABEL=(textoverlay "text=$1" valignment=top halignment=left "font-desc=Sans 12"); }
mkdir -p "$OUT_DIR"
P=("${SRC[@]}" ! tee name=t
    compositor name=mix background=black
        sink_0::xpos=0 sink_1::xpos=$W sink_2::xpos=$((2 * W)) sink_3::xpos=$((3 * W))
    ! videoconvert ! video/x-raw,format=RGB ! gamma gamma=$GAMMA ! pngenc ! multifilesink location="$OUT_DIR/sbs_%04d.png")
label original
P+=(t. ! "${Q[@]}" ! videoconvert ! "${LABEL[@]}" ! mix.sink_0)
label "helio${QUALITY:+ q$QUALITY}"
P+=(t. ! "${Q[@]}" ! helioenc ${QUALITY:+quality=$QUALITY} ! heliodec ! videoconvert
    ! "${LABEL[@]}" ! mix.sink_1)
for i in 264 265; do
    label "x$i $BITRATE kbit/s"
    P+=(t. ! "${Q[@]}" ! videoconvert ! video/x-raw,format=I420
        ! x${i}enc tune=zerolatency speed-preset=medium bitrate=$BITRATE ! h${i}parse ! avdec_h$i
        ! videoconvert ! "${LABEL[@]}" ! mix.sink_$((i - 262)))
done
launch "${TIMEOUT:-120}" "${P[@]}"
echo "$(basename "$0"): $(find "$OUT_DIR" -maxdepth 1 -name 'sbs_*.png' | wc -l) snapshots in $OUT_DIR ($((4 * W))x$H)"
