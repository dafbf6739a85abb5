#!/usr/bin/env bash
# encode-file.sh IN_DIR|testsrc OUT [quality]
#
# Codes frames into a helio file:
#   IN_DIR   a folder of 16-bit grey PNGs named frame_00.png, frame_01.png, ... (PATTERN),
#            numbered from 0 without gaps (e.g. data/aia171: 14-bit DN in 16-bit PNGs),
#            or of FITS files (PATTERN ending in .fits/.fts/.fit, or frame_00.fits found
#            when there is no frame_00.png; e.g. data/aia171-fits: AIA level-1 files,
#            RICE_1 tile-compressed), read by heliofitsdec with their DN unchanged;
#   testsrc  heliotestsrc's synthetic Sun (NUM_BUFFERS frames of WIDTH x HEIGHT).
# OUT ending in .gdp is written as GDP (gdppay: caps and events travel with the data);
# any other name gets the plain helio elementary stream (what `make demo` writes, and what
# helioparse / the helio typefinder read back). Matroska, MP4, AVI, MPEG-TS, Ogg and FLV
# muxers refuse video/x-helio (see pipelines/README.md).
#
# Environment: PATTERN (default frame_%02d.png, else frame_%02d.fits), FPS (framerate stamped on the frames,
# default 1/1 for PNGs, 5/1 for testsrc), BIT_DEPTH (helioenc bit-depth, default 14 as
# SDO/AIA), NUM_BUFFERS / WIDTH / HEIGHT / WAVELENGTH / SEED (testsrc; defaults 30, 512,
# 512, 171, 1), TIMEOUT (seconds, default 600).
#
# Example: pipelines/encode-file.sh data/aia171 out/aia171.helio 3
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 2 ] && [ $# -le 3 ] || die "usage: $0 IN_DIR|testsrc OUT.helio [quality]"
IN=$1 OUT=$2 QUALITY=${3:-}
if [ -z "${PATTERN:-}" ]; then
    PATTERN=frame_%02d.png
    [ ! -f "$IN/frame_00.png" ] && [ -f "$IN/frame_00.fits" ] && PATTERN=frame_%02d.fits
fi
BIT_DEPTH=${BIT_DEPTH:-14}
TIMEOUT=${TIMEOUT:-600}

ENC="helioenc bit-depth=$BIT_DEPTH${QUALITY:+ quality=$QUALITY}"
case "$OUT" in
    *.gdp) MUX=(gdppay !) ;;
    *) MUX=() ;;
esac
mkdir -p "$(dirname "$OUT")"

if [ "$IN" = testsrc ]; then
    need_elements heliotestsrc helioenc
    # heliotestsrc's GRAY16_LE samples are DN in [0, 2^bit-depth - 1], like AIA level 1.
    SRC=(heliotestsrc num-buffers="${NUM_BUFFERS:-30}" wavelength="${WAVELENGTH:-171}"
        seed="${SEED:-1}" bit-depth="$BIT_DEPTH"
        ! "video/x-raw,format=GRAY16_LE,width=${WIDTH:-512},height=${HEIGHT:-512},framerate=${FPS:-5/1}")
else
    [ -d "$IN" ] || die "$IN: not a folder (or say testsrc)"
    # Count the frames from index 0 up to the first gap.
    N=0
    while [ -f "$IN/$(printf "$PATTERN" "$N")" ]; do N=$((N + 1)); done
    [ "$N" -gt 0 ] || die "no $(printf "$PATTERN" 0) in $IN"
    case "$PATTERN" in
        *.fits | *.fts | *.fit)
            need_elements multifilesrc heliofitsdec helioenc
            # heliofitsdec: one frame per file, GRAY16_LE DN as stored (BZERO/BSCALE
            # applied), top row first; its scale/offset properties remap other ranges.
            SRC=(multifilesrc location="$IN/$PATTERN" index=0 stop-index=$((N - 1))
                caps="image/fits,framerate=${FPS:-1/1}" ! heliofitsdec)
            ;;
        *)
            need_elements multifilesrc pngdec videoconvert helioenc
            # pngdec gives GRAY16_BE for 16-bit grey PNGs; videoconvert only swaps the
            # bytes to GRAY16_LE, the DN are unchanged (pipelines/png-roundtrip.sh and the
            # recipes tests check this). The framerate on the caps gives the timestamps.
            SRC=(multifilesrc location="$IN/$PATTERN" index=0 stop-index=$((N - 1))
                caps="image/png,framerate=${FPS:-1/1}"
                ! pngdec ! videoconvert ! video/x-raw,format=GRAY16_LE)
            ;;
    esac
fi

launch "$TIMEOUT" "${SRC[@]}" ! $ENC ! "${MUX[@]}" filesink location="$OUT"
echo "$(basename "$0"): wrote $OUT ($(stat -c %s "$OUT") bytes)"
