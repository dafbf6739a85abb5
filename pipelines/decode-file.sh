#!/usr/bin/env bash
# decode-file.sh IN OUT_DIR
#
# Decodes a helio file (the elementary stream written by helioenc ! filesink, or a .gdp
# file from encode-file.sh) to 16-bit grey PNGs OUT_DIR/frame_00.png, frame_01.png, ...
# holding the decoded DN (the same naming as data/aia171, so helio-eval compare --frames
# data/aia171 --decoded OUT_DIR works). heliodec outputs GRAY16_LE; videoconvert swaps it
# to GRAY16_BE, the byte order of 16-bit PNG, without touching the values. (Streams coded
# from GRAY8 decode to GRAY8 and give 8-bit PNGs.)
#
# Environment: PATTERN (default frame_%02d.png), TIMEOUT (seconds, default 600).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || die "usage: $0 IN.helio OUT_DIR"
IN=$1 OUT_DIR=$2
PATTERN=${PATTERN:-frame_%02d.png}
[ -f "$IN" ] || die "$IN: no such file"
need_elements filesrc helioparse heliodec videoconvert pngenc multifilesink

case "$IN" in
    # GDP carries the caps, so the access units arrive parsed already.
    *.gdp) DEMUX=(gdpdepay) ;;
    # helioparse splits the byte stream into access units (and drops damaged ones).
    *) DEMUX=(helioparse) ;;
esac
mkdir -p "$OUT_DIR"
launch "${TIMEOUT:-600}" filesrc location="$IN" ! "${DEMUX[@]}" ! heliodec \
    ! videoconvert ! "video/x-raw,format={GRAY16_BE,GRAY8}" \
    ! pngenc compression-level=6 ! multifilesink location="$OUT_DIR/$PATTERN"
echo "$(basename "$0"): $(find "$OUT_DIR" -maxdepth 1 -name '*.png' | wc -l) PNGs in $OUT_DIR"
