#!/usr/bin/env bash
# multispectral.sh OUT_DIR [quality]
#
# The three bundled AIA bands of one flare (data/aia171, aia193, aia304: the same instants)
# joined into one multispectral stream, coded jointly into OUT_DIR/aia3.helio, then decoded
# and split back into one folder of 16-bit PNGs per band (OUT_DIR/171/, 193/, 304/).
# heliomsjoin matches the frames by timestamp; 171 is one pixel larger (371x501) than the
# other two, so it is cropped to 370x500 first (the join refuses bands of different sizes).
#
# Environment: FRAMES (default 13), TIMEOUT (seconds, default 600).
# Example: pipelines/multispectral.sh out/ms 3
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: $0 OUT_DIR [quality]"
OUT=$1 QUALITY=${2:-}
FRAMES=${FRAMES:-13}
TIMEOUT=${TIMEOUT:-600}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
need_elements multifilesrc pngdec videoconvert videocrop heliomsjoin helioenc helioparse heliodec heliomssplit pngenc
mkdir -p "$OUT"/171 "$OUT"/193 "$OUT"/304

band() { # wavelength [crop]
    echo multifilesrc location="$ROOT/data/aia$1/frame_%02d.png" index=0 stop-index=$((FRAMES - 1)) \
        caps=image/png,framerate=1/36 ! pngdec ! videoconvert ${2:+! $2} ! video/x-raw,format=GRAY16_LE ! j.sink_$1
}
# shellcheck disable=SC2046  # the band() words are pipeline tokens
launch "$TIMEOUT" heliomsjoin name=j ! helioenc ${QUALITY:+quality=$QUALITY} ! filesink location="$OUT/aia3.helio" \
    $(band 171 "videocrop right=1 bottom=1") $(band 193) $(band 304)
echo "$(basename "$0"): wrote $OUT/aia3.helio ($(stat -c %s "$OUT/aia3.helio") bytes for $FRAMES frames x 3 bands of 370x500)"

split_to() { # wavelength
    echo s.src_$1 ! queue ! videoconvert ! video/x-raw,format=GRAY16_BE ! pngenc ! multifilesink location="$OUT/$1/dec_%02d.png"
}
# shellcheck disable=SC2046
launch "$TIMEOUT" filesrc location="$OUT/aia3.helio" ! helioparse ! heliodec ! heliomssplit name=s \
    $(split_to 171) $(split_to 193) $(split_to 304)
echo "$(basename "$0"): decoded $(ls "$OUT"/171 | wc -l) frames per band into $OUT/{171,193,304}/"
