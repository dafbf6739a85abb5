#!/usr/bin/env bash
# png-roundtrip.sh IN_DIR OUT_DIR
#
# The input and output ends of encode-file.sh / decode-file.sh joined with no codec in
# between: 16-bit PNG -> pngdec (GRAY16_BE) -> videoconvert -> GRAY16_LE (what helioenc
# takes) -> videoconvert -> GRAY16_BE -> pngenc. The DN must come back exactly; if they
# do, any difference after decode-file.sh is the codec's. (The PNG files themselves are
# not byte-identical: pngenc compresses differently and drops ancillary chunks.)
#
# Environment: PATTERN (default frame_%02d.png), TIMEOUT (seconds, default 120).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || die "usage: $0 IN_DIR OUT_DIR"
IN=$1 OUT_DIR=$2
PATTERN=${PATTERN:-frame_%02d.png}
need_elements multifilesrc pngdec videoconvert pngenc multifilesink
N=0
while [ -f "$IN/$(printf "$PATTERN" "$N")" ]; do N=$((N + 1)); done
[ "$N" -gt 0 ] || die "no $(printf "$PATTERN" 0) in $IN"
mkdir -p "$OUT_DIR"
launch "${TIMEOUT:-120}" multifilesrc location="$IN/$PATTERN" index=0 stop-index=$((N - 1)) \
    caps="image/png,framerate=1/1" ! pngdec ! videoconvert ! video/x-raw,format=GRAY16_LE \
    ! videoconvert ! video/x-raw,format=GRAY16_BE ! pngenc ! multifilesink location="$OUT_DIR/$PATTERN"
echo "$(basename "$0"): $N frames -> $OUT_DIR"
