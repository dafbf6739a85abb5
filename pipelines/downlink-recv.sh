#!/usr/bin/env bash
# downlink-recv.sh OUT_DIR: the ground station. Receives downlink-send.sh's stream,
# decodes it and writes every decoded frame as a PNG snapshot OUT_DIR/snap_0000.png,
# snap_0001.png, ...: 16-bit grey holding the DN, or with COLORMAP an 8-bit RGB picture
# in the AIA colour table of that wavelength (heliocolormap), optionally also on screen.
#   udp  udpsrc ! rtpjitterbuffer ! rtpgstdepay ! helioparse ! heliodec ! ... ! multifilesink
#   tcp  tcpclientsrc ! gdpdepay ! helioparse ! heliodec ! ... ! multifilesink
# helioparse is not needed for a clean stream (both depayloaders give whole access units
# with their caps) but checks each unit's CRC, so damaged units are dropped before heliodec.
#
# Environment (defaults in brackets):
#   TRANSPORT udp|tcp [udp]   HOST [127.0.0.1; loopback only]   PORT [5600]
#   FRAMES  keep this many decoded frames and stop when the next one arrives (identity
#           eos-after acts on the buffer after the last one kept), 0 = until EOS/TIMEOUT [0]
#   TIMEOUT seconds to wait in all [60]   LATENCY rtpjitterbuffer latency in ms [200]
#   COLORMAP AIA colour table for the snapshots, by wavelength: 94, 131, 171, 193, 211,
#           304, 335, 1600, 1700, 4500, or 0 for grey; none = 16-bit DN snapshots [none].
#           heliocolormap refuses other values, naming the valid ones
#   SCALING linear|sqrt|log, how DN fill the colour table (heliocolormap scaling) [sqrt;
#           use linear for an 8-bit stream, already sqrt-scaled display data]
#   BIT_DEPTH DN range 0..2^BIT_DEPTH-1 mapped onto the table [14]
#   WINDOW  1 = also show the coloured frames in a window (needs COLORMAP, and DISPLAY or
#           WAYLAND_DISPLAY for autovideosink) [0]   VIDEOSINK its sink [autovideosink]
#   OVERLAY 1 = write on every coloured frame (needs COLORMAP; 0 is grey) its number and
#           type, stream time, bits per pixel, the running bitrate over STATS_WINDOW
#           seconds [10] and, with REFERENCE, its PSNR (heliostats ! textoverlay); the
#           same figures go to OUT_DIR/stats.log, one line per decoded frame [0]
#   REFERENCE testsrc = the sender's frames are regenerated here (heliotestsrc is
#           deterministic: give the sender's WIDTH, HEIGHT) and matched by frame number
#           for the PSNR; none = no PSNR (a real ground station has no original) [none]
# Exit status 0 when at least one frame was decoded, 1 otherwise (wrong port, no sender).
# Known behaviour: see downlink-send.sh (receiver first, sender stopped, loss, wrong port).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 1 ] || die "usage: $0 OUT_DIR"
OUT_DIR=$1
TRANSPORT=${TRANSPORT:-udp}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5600}
FRAMES=${FRAMES:-0}
TIMEOUT=${TIMEOUT:-60}
is_loopback "$HOST" || die "HOST=$HOST: these recipes only use loopback addresses"
COLORMAP=${COLORMAP:-none}
WINDOW=${WINDOW:-0}
OVERLAY=${OVERLAY:-0}
REFERENCE=${REFERENCE:-none}
case "$REFERENCE" in
    none) ;;
    testsrc) [ "$OVERLAY" = 1 ] || die "REFERENCE=testsrc needs OVERLAY=1 (the PSNR is shown there)" ;;
    *) die "REFERENCE=$REFERENCE: testsrc or none" ;;
esac
if [ "$OVERLAY" = 1 ]; then
    [ "$COLORMAP" != none ] || die "OVERLAY=1 needs COLORMAP (0 = grey): textoverlay draws on RGB"
    need_elements heliostats textoverlay tee queue
fi
need_elements helioparse heliodec videoconvert pngenc multifilesink identity
# One frame at a time: tcpclientsrc is not a live source to GStreamer, so heliodec's
# automatic frame threads would otherwise hold one frame back (12 s at SDO cadence).
DEC=(frame-threads=1)
[ "$COLORMAP" != none ] && need_elements heliocolormap
VIDEOSINK=${VIDEOSINK:-autovideosink}
if [ "$WINDOW" = 1 ]; then
    [ "$COLORMAP" != none ] || die "WINDOW=1 needs COLORMAP"
    # autovideosink on a machine without a display fails late and badly (a crash in the
    # Wayland sink was seen): refuse early.
    [ "$VIDEOSINK" != autovideosink ] || [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] ||
        die "WINDOW=1: no display (DISPLAY and WAYLAND_DISPLAY unset)"
    need_elements tee queue "${VIDEOSINK%% *}"
fi
mkdir -p "$OUT_DIR"
DEADLINE=$((SECONDS + TIMEOUT))

case "$TRANSPORT" in
    udp)
        need_elements udpsrc rtpjitterbuffer rtpgstdepay
        # The caps say what the packets are; the payload's own caps (video/x-helio, ...)
        # come in-band from rtpgstpay.
        SRC=(udpsrc address="$HOST" port="$PORT"
            caps="application/x-rtp,media=application,clock-rate=90000,encoding-name=X-GST"
            ! rtpjitterbuffer latency="${LATENCY:-200}" ! rtpgstdepay)
        ;;
    tcp)
        need_elements tcpclientsrc gdpdepay
        # tcpclientsrc fails at once when nobody listens: wait for the sender's server.
        until (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; do
            [ "$SECONDS" -lt "$DEADLINE" ] || die "nothing listening on $HOST:$PORT after ${TIMEOUT}s"
            sleep 0.2
        done
        SRC=(tcpclientsrc host="$HOST" port="$PORT" ! gdpdepay)
        ;;
    *) die "TRANSPORT=$TRANSPORT: udp or tcp" ;;
esac
# identity eos-after=N ends the stream after N-1 buffers.
STOP=()
[ "$FRAMES" -gt 0 ] && STOP=(identity eos-after=$((FRAMES + 1)) !)

STATS=()
SNAP=(pngenc compression-level=1 ! multifilesink location="$OUT_DIR/snap_%04d.png")
if [ "$COLORMAP" = none ]; then
    # pngenc writes 16-bit grey big-endian: videoconvert only swaps the bytes.
    SINK=(videoconvert ! "video/x-raw,format={GRAY16_BE,GRAY8}" ! "${SNAP[@]}")
else
    # heliodec's GRAY16_LE (or GRAY8) goes straight into heliocolormap; its RGB into pngenc.
    SINK=(heliocolormap wavelength="$COLORMAP" scaling="${SCALING:-sqrt}"
        bit-depth="${BIT_DEPTH:-14}")
    if [ "$OVERLAY" = 1 ]; then
        # The decoded frames go to heliostats (with their HelioFrameMeta from heliodec)
        # and to the colour table; heliostats' text lines go to textoverlay's text_sink.
        SINK=(tee name=dec dec. ! queue ! stats.sink dec. ! queue ! "${SINK[@]}"
            ! textoverlay name=ov valignment=top halignment=left "font-desc=Sans 10"
            shaded-background=true)
        STATS=(heliostats name=stats window="${STATS_WINDOW:-10}" bit-depth="${BIT_DEPTH:-14}"
            ! ov.text_sink)
        if [ "$REFERENCE" = testsrc ]; then
            # heliotestsrc numbers its frames (buffer offsets) as helioenc numbers the coded
            # ones: heliostats pairs them, skipping frames that were lost on the link.
            STATS+=(heliotestsrc bit-depth="${BIT_DEPTH:-14}"
                ! "video/x-raw,format=GRAY16_LE,width=${WIDTH:-512},height=${HEIGHT:-512}"
                ! queue ! stats.ref)
        fi
    fi
    if [ "$WINDOW" = 1 ]; then
        # sync=false: show frames as they arrive, never hold the snapshots back.
        SINK+=(! tee name=v ! queue ! "${SNAP[@]}" v. ! queue ! videoconvert
            ! $VIDEOSINK sync=false)
    else
        SINK+=(! "${SNAP[@]}")
    fi
fi

echo "$(basename "$0"): listening on $TRANSPORT $HOST:$PORT for ${TIMEOUT}s" >&2
rc=0
LEFT=$((DEADLINE - SECONDS > 1 ? DEADLINE - SECONDS : 1))
if [ "$OVERLAY" = 1 ]; then
    launch_with_stats "$LEFT" "$OUT_DIR" "${SRC[@]}" ! helioparse ! heliodec "${DEC[@]}" ! "${STOP[@]}" \
        "${SINK[@]}" "${STATS[@]}" || rc=$?
else
    launch "$LEFT" "${SRC[@]}" ! helioparse ! heliodec "${DEC[@]}" ! "${STOP[@]}" "${SINK[@]}" || rc=$?
fi
N=$(find "$OUT_DIR" -maxdepth 1 -name 'snap_*.png' | wc -l)
case $rc in
    0) why="end of stream" ;;
    124) why="timeout ${TIMEOUT}s" ;;
    *) why="gst-launch exit status $rc" ;;
esac
KIND="16-bit DN"
[ "$COLORMAP" = none ] || KIND="RGB, AIA $COLORMAP colour table"
[ "$OVERLAY" = 1 ] && KIND="$KIND, with the heliostats overlay; stats.log"
echo "$(basename "$0"): $N snapshots ($KIND) in $OUT_DIR ($why)" >&2
[ "$N" -gt 0 ] || die "no frame decoded (sender not running, wrong port or transport?)"
