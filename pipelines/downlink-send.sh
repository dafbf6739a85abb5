#!/usr/bin/env bash
# downlink-send.sh: the "spacecraft". Codes heliotestsrc's live synthetic Sun with helioenc
# and sends it to a ground receiver (downlink-recv.sh) on this machine:
#   udp  heliotestsrc is-live ! helioenc ! [rate limit] ! rtpgstpay ! [loss] ! udpsink
#   tcp  heliotestsrc is-live ! helioenc ! [rate limit] ! gdppay ! tcpserversink
# rtpgstpay/gdppay carry any caps, so video/x-helio needs no RTP payload format of its own.
#
# Environment (defaults in brackets):
#   TRANSPORT udp|tcp [udp]   HOST [127.0.0.1; loopback only]   PORT [5600]
#   NUM_BUFFERS frames to send [50]   FPS [5/1]   WIDTH, HEIGHT [512]
#   QUALITY [helioenc's default]   KEYFRAME_INTERVAL [10]
#   RATE  downlink budget in bytes/s of coded stream, 0 = unlimited [0]. identity
#         datarate= re-stamps each buffer at (bytes so far)/RATE and sync=true holds it
#         until then; the leaky queue before it drops the oldest coded frames when the
#         link cannot keep up (GStreamer 1.22 has no bitrate shaper element as such).
#   LOSS  probability of dropping each RTP packet before udpsink, 0..1 [0] (udp only)
#   TIMEOUT seconds before the sender is stopped whatever happens [NUM_BUFFERS/FPS + 60]
#
# Known behaviour:
# - Receiver started first: it waits (udpsrc just listens; the tcp receiver polls the
#   port) until the sender comes or its own TIMEOUT ends.
# - Receiver started after the sender (or restarted): udp joins mid-stream; rtpgstpay
#   repeats the caps every second (config-interval=1) and helio keyframes carry the
#   sequence header, so decoding starts within a second. tcp: tcpserversink sends
#   the streamheaders to each new client, then the live data.
# - tcp with no client connected: tcpserversink discards the data; the sender still runs
#   to NUM_BUFFERS.
# - Sender stopped mid-stream: over udp the receiver cannot tell (no EOS in RTP) and keeps
#   waiting until its TIMEOUT or FRAMES; over tcp the closed connection is an EOS and the
#   receiver ends at once, keeping what it decoded.
# - Lost packets (LOSS): rtpgstdepay drops a frame with a missing packet, helioparse drops
#   damaged units (CRC), heliodec posts a warning and resumes at the next keyframe. A lost
#   I- or P-frame also costs the P-frames after it up to that keyframe (they have no
#   reference), so KEYFRAME_INTERVAL trades bits for how fast a lossy link heals.
# - Wrong port: udpsink sends into the void without an error; the receiver gets nothing
#   and ends at its TIMEOUT saying so.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

TRANSPORT=${TRANSPORT:-udp}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5600}
NUM_BUFFERS=${NUM_BUFFERS:-50}
FPS=${FPS:-5/1}
RATE=${RATE:-0}
LOSS=${LOSS:-0}
is_loopback "$HOST" || die "HOST=$HOST: these recipes only use loopback addresses"
# Default bound: the stream's duration plus a minute for start-up.
TIMEOUT=${TIMEOUT:-$((NUM_BUFFERS * ${FPS#*/} / ${FPS%/*} + 60))}

need_elements heliotestsrc helioenc identity queue
CHAIN=(heliotestsrc is-live=true num-buffers="$NUM_BUFFERS"
    ! "video/x-raw,format=GRAY16_LE,width=${WIDTH:-512},height=${HEIGHT:-512},framerate=$FPS"
    ! helioenc keyframe-interval="${KEYFRAME_INTERVAL:-10}" ${QUALITY:+quality=$QUALITY})
if [ "$RATE" != 0 ]; then
    CHAIN+=(! queue leaky=downstream max-size-buffers=4 max-size-bytes=0 max-size-time=0
        ! identity datarate="$RATE" sync=true)
fi
case "$TRANSPORT" in
    udp)
        need_elements rtpgstpay udpsink
        CHAIN+=(! rtpgstpay config-interval=1)
        [ "$LOSS" != 0 ] && CHAIN+=(! identity drop-probability="$LOSS")
        CHAIN+=(! udpsink host="$HOST" port="$PORT")
        ;;
    tcp)
        need_elements gdppay tcpserversink
        [ "$LOSS" != 0 ] && die "LOSS is for udp (TCP retransmits: it never loses data)"
        CHAIN+=(! gdppay ! tcpserversink host="$HOST" port="$PORT")
        ;;
    *) die "TRANSPORT=$TRANSPORT: udp or tcp" ;;
esac

echo "$(basename "$0"): $NUM_BUFFERS frames over $TRANSPORT to $HOST:$PORT (rate ${RATE} B/s, loss $LOSS)" >&2
launch "$TIMEOUT" "${CHAIN[@]}"
