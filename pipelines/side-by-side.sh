#!/usr/bin/env bash
# side-by-side.sh [--zoom X,Y] OUT_DIR
#
# One source, teed into helio, x264 and x265; each branch is coded, decoded, labelled
# with textoverlay, and compositor puts them in a row beside the original:
#     | original | helio | x264 | x265 |
# At matched bitrates: a first pass codes the same frames with helioenc alone and
# measures its bitrate; x264/x265 then get that as their target (BITRATE overrides it).
# Each codec's label is heliostats' text for that frame: frame number and type, bits per
# pixel of that coded frame (helio: heliodec's HelioFrameMeta; x26x: the size of the
# coded buffer with the same timestamp, on heliostats' coded pad), the running bitrate and
# the PSNR against the source frame (8-bit display domain: as is for testsrc's GRAY8,
# helio's sqrt of the 14-bit DN for aia171), measured in this run on these frames.
# Written as PNG snapshots OUT_DIR/sbs_0000.png, sbs_0001.png, ... (RGB, 8 bits), and
# OUT_DIR/stats.log (one line per codec and frame: codec, frame, bytes, bpp, psnr).
# Curves and BD-rates over whole sequences come from helio-eval (make demo).
#
# --zoom X,Y: every branch shows only the ZOOM_SIZE x ZOOM_SIZE region centred on source
# pixel (X, Y) (moved inside the frame if it sticks out), cut out with videocrop after
# decoding (the codecs still code whole frames) and enlarged ZOOM_SCALE times with
# nearest-neighbour videoscale, so coding artefacts show pixel by pixel; the frames are
# coloured with heliocolormap (COLORMAP, 171 unless set). E.g. the flare loops of the
# aia171 frames: SOURCE=aia171 side-by-side.sh --zoom 270,270 out/zoom.
# COLORMAP (any mode): every branch is converted back to grey (GRAY8 for testsrc,
# GRAY16_LE DN for aia171, where x264/x265's 8 bits come back in steps of 256 DN: the
# faint corona shows as bands) and coloured with the AIA colour table of that wavelength,
# the same way for all four; the aia171 row then needs no gamma.
#
# testsrc: every codec sees the same 8-bit frames, heliotestsrc's GRAY8 (its sqrt display
# scaling of the DN), which helioenc takes as display data. x264/x265 need
# `videoconvert ! video/x-raw,format=I420` (no grey input; the chroma planes are flat).
# aia171: the bundled real frames (14-bit DN), cropped to 370x500 (x264/x265 need even
# sizes in I420). helio codes the DN (GRAY16_LE, bit-depth 14) as in `make demo`; x264/x265
# get what an 8-bit pipeline gives them, videoconvert's top 8 of 16 bits (DN/256, so only
# about 6 significant bits): a look at the pictures, not a fair rate comparison. Without
# COLORMAP the row goes through `gamma gamma=3` after compositor so the dark 14-bit data
# can be seen.
#
# Environment (defaults in brackets):
#   SOURCE testsrc|aia171 [testsrc]   NUM_BUFFERS [10; testsrc]
#   WIDTH, HEIGHT [256; testsrc; aia171: 370x500]   QUALITY helioenc quality [default]
#   BITRATE x264/x265 target in kbit/s [helio's measured bitrate]   TIMEOUT seconds [120]
#   COLORMAP wavelength of the AIA colour table (94, 131, 171, 193, 211, 304, 335, 1600,
#            1700, 4500; 0 = grey through heliocolormap's scaling), none = grey as
#            videoconvert gives it [none; 171 with --zoom]
#   SCALING heliocolormap scaling linear|sqrt|log [testsrc: linear, its GRAY8 is already
#           sqrt-scaled; aia171: sqrt of the 14-bit DN]
#   ZOOM_SIZE side of the zoomed region in source pixels [128]   ZOOM_SCALE enlargement [3]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

USAGE="usage: $0 [--zoom X,Y] OUT_DIR"
OUT_DIR= ZOOM=
while [ $# -gt 0 ]; do
    case "$1" in
        --zoom) [ $# -ge 2 ] || die "--zoom needs X,Y; $USAGE"; ZOOM=$2; shift 2 ;;
        --zoom=*) ZOOM=${1#--zoom=}; shift ;;
        -h | --help) echo "$USAGE (settings: see the top of $0)"; exit 0 ;;
        -*) die "unknown option $1; $USAGE" ;;
        *) [ -z "$OUT_DIR" ] || die "$USAGE"; OUT_DIR=$1; shift ;;
    esac
done
[ -n "$OUT_DIR" ] || die "$USAGE"
SOURCE=${SOURCE:-testsrc}
COLORMAP=${COLORMAP:-$([ -n "$ZOOM" ] && echo 171 || echo none)}
need_elements helioenc heliodec heliostats tee queue videoconvert x264enc x265enc h264parse \
    h265parse avdec_h264 avdec_h265 textoverlay compositor gamma videocrop pngenc multifilesink
[ -z "$ZOOM" ] || need_elements videoscale
[ "$COLORMAP" = none ] || need_elements heliocolormap

GAMMA=1
case "$SOURCE" in
    testsrc)
        W=${WIDTH:-256} H=${HEIGHT:-256} FRAMES_N=${NUM_BUFFERS:-10} FPS=5
        SRC=(heliotestsrc num-buffers="$FRAMES_N"
            ! "video/x-raw,format=GRAY8,width=$W,height=$H,framerate=$FPS/1")
        GRAY=GRAY8 SCALING=${SCALING:-linear}
        ;;
    aia171)
        FRAMES=$HELIO_ROOT/data/aia171 W=370 H=500
        N=$(find "$FRAMES" -maxdepth 1 -name 'frame_*.png' | wc -l) FRAMES_N=$N FPS=1
        SRC=(multifilesrc location="$FRAMES/frame_%02d.png" index=0 stop-index=$((N - 1))
            caps="image/png,framerate=$FPS/1" ! pngdec ! videoconvert ! video/x-raw,format=GRAY16_LE
            ! videocrop right=1 bottom=1)
        GRAY=GRAY16_LE SCALING=${SCALING:-sqrt}
        [ "$COLORMAP" = none ] && GAMMA=3
        ;;
    *) die "SOURCE=$SOURCE: testsrc or aia171" ;;
esac

# What every branch does to its decoded frames (the original: to the tee's) before the
# label: back to grey, the zoomed region, the colour table.
VIEW=(videoconvert)
if [ -n "$ZOOM" ] || [ "$COLORMAP" != none ]; then
    VIEW+=(! "video/x-raw,format=$GRAY")
fi
PW=$W PH=$H  # size of one panel of the row
if [ -n "$ZOOM" ]; then
    [[ $ZOOM =~ ^([0-9]+),([0-9]+)$ ]] ||
        die "--zoom $ZOOM: X,Y, the centre of the region in source pixels (e.g. --zoom 270,270)"
    ZX=${BASH_REMATCH[1]} ZY=${BASH_REMATCH[2]} S=${ZOOM_SIZE:-128} K=${ZOOM_SCALE:-3}
    [ "$ZX" -lt "$W" ] && [ "$ZY" -lt "$H" ] || die "--zoom $ZOOM: outside the ${W}x$H frame"
    [ "$S" -ge 1 ] && [ "$S" -le "$W" ] && [ "$S" -le "$H" ] ||
        die "ZOOM_SIZE=$S: must fit in the ${W}x$H frame"
    [ "$K" -ge 1 ] || die "ZOOM_SCALE=$K: 1 or more"
    # Top-left corner of the region, moved inside the frame.
    L=$((ZX - S / 2)) T=$((ZY - S / 2))
    L=$((L < 0 ? 0 : L > W - S ? W - S : L)) T=$((T < 0 ? 0 : T > H - S ? H - S : T))
    PW=$((S * K)) PH=$((S * K))
    VIEW+=(! videocrop left=$L top=$T right=$((W - L - S)) bottom=$((H - T - S))
        ! videoscale method=nearest-neighbour ! "video/x-raw,width=$PW,height=$PH")
    echo "$(basename "$0"): zoom on ${S}x$S at ($L,$T)..($((L + S - 1)),$((T + S - 1))) of ${W}x$H, x$K" >&2
fi
[ "$COLORMAP" = none ] || VIEW+=(! heliocolormap wavelength="$COLORMAP" scaling="$SCALING" bit-depth=14)
[ "${#VIEW[@]}" -gt 1 ] && VIEW+=(! videoconvert)

# First pass: helio's bitrate on these frames (bytes of the whole stream over its duration).
HELIO_FILE=$(mktemp)
trap 'rm -f "$HELIO_FILE"' EXIT
launch "${TIMEOUT:-120}" "${SRC[@]}" ! helioenc ${QUALITY:+quality=$QUALITY} ! filesink location="$HELIO_FILE"
HELIO_KBPS=$(( ($(stat -c %s "$HELIO_FILE") * 8 * FPS + 500 * FRAMES_N) / (1000 * FRAMES_N) ))
[ "$HELIO_KBPS" -ge 1 ] || HELIO_KBPS=1
BITRATE=${BITRATE:-$HELIO_KBPS}
echo "$(basename "$0"): helio codes these $FRAMES_N frames at $HELIO_KBPS kbit/s; x264/x265 target $BITRATE kbit/s" >&2

# Unbounded queues after the tee: the x264/x265 branches hold frames back (even with
# zerolatency, the parsers and decoders add a frame or two) and compositor waits for a
# frame on every pad, so a bounded queue on a faster branch could stall the pipeline.
Q=(queue max-size-buffers=0 max-size-bytes=0 max-size-time=0)
TEXT=(valignment=top halignment=left "font-desc=Sans 9" shaded-background=true)
mkdir -p "$OUT_DIR"
P=("${SRC[@]}" ! tee name=t
    compositor name=mix background=black
        sink_0::xpos=0 sink_1::xpos=$PW sink_2::xpos=$((2 * PW)) sink_3::xpos=$((3 * PW))
    ! videoconvert ! video/x-raw,format=RGB ! gamma gamma=$GAMMA ! pngenc ! multifilesink location="$OUT_DIR/sbs_%04d.png")
P+=(t. ! "${Q[@]}" ! "${VIEW[@]}" ! textoverlay text=original "${TEXT[@]}" ! mix.sink_0)
# stats NAME LABEL: heliostats NAME (decoded frames on sink, the source on ref) writing
# its lines under LABEL on textoverlay oNAME.
stats() {
    P+=(t. ! "${Q[@]}" ! "$1.ref"
        heliostats name="$1" "prefix=$2" multiline=true bit-depth=14 ! "o$1.text_sink")
}
stats helio "helio${QUALITY:+ q$QUALITY} (pass 1: $HELIO_KBPS kbit/s)"
P+=(t. ! "${Q[@]}" ! helioenc ${QUALITY:+quality=$QUALITY} ! heliodec ! tee name=dhelio
    dhelio. ! "${Q[@]}" ! helio.sink
    dhelio. ! "${Q[@]}" ! "${VIEW[@]}" ! textoverlay name=ohelio "${TEXT[@]}" ! mix.sink_1)
for i in 264 265; do
    stats "x$i" "x$i (target $BITRATE kbit/s)"
    # The coded stream goes to heliostats too (its buffer sizes); the decoded frames go
    # back to the source's format for the PSNR.
    P+=(t. ! "${Q[@]}" ! videoconvert ! video/x-raw,format=I420
        ! x${i}enc tune=zerolatency speed-preset=medium bitrate=$BITRATE ! tee name=c$i
        c$i. ! "${Q[@]}" ! "x$i.coded"
        c$i. ! "${Q[@]}" ! h${i}parse ! avdec_h$i ! tee name=d$i
        d$i. ! "${Q[@]}" ! videoconvert ! "video/x-raw,format=$GRAY" ! "x$i.sink"
        d$i. ! "${Q[@]}" ! "${VIEW[@]}" ! textoverlay name=ox$i "${TEXT[@]}" ! mix.sink_$((i - 262)))
done
# stats.log: one line per codec and frame, from=helio|x264|x265 (the heliostats names).
rc=0
launch_with_stats "${TIMEOUT:-120}" "$OUT_DIR" "${P[@]}" || rc=$?
[ "$rc" = 0 ] || die "gst-launch exit status $rc"
echo "$(basename "$0"): $(find "$OUT_DIR" -maxdepth 1 -name 'sbs_*.png' | wc -l) snapshots in $OUT_DIR ($((4 * PW))x$PH${ZOOM:+, zoom on $ZOOM}, colours: $COLORMAP)"
