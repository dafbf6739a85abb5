# Shared by the pipelines/*.sh recipes (sourced, not run): finds the helio plugin in the
# build folder, checks the tools, and offers a bounded gst-launch wrapper.
#
# Environment: PROFILE (cargo profile folder under target/, default release),
# CARGO_TARGET_DIR (default <repo>/target), GST_LAUNCH (default gst-launch-1.0).

HELIO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HELIO_PLUGIN_DIR=${CARGO_TARGET_DIR:-$HELIO_ROOT/target}/${PROFILE:-release}
# The helio plugin (libgsthelio.so) is loaded straight from the build folder.
export GST_PLUGIN_PATH="$HELIO_PLUGIN_DIR${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
GST_LAUNCH=${GST_LAUNCH:-gst-launch-1.0}

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# need_elements E1 E2 ...: fail early, naming the missing element, rather than with
# gst-launch's "no element" deep in a pipeline.
need_elements() {
    command -v "$GST_LAUNCH" >/dev/null || die "$GST_LAUNCH not found (Debian package gstreamer1.0-tools)"
    command -v gst-inspect-1.0 >/dev/null || die "gst-inspect-1.0 not found (Debian package gstreamer1.0-tools)"
    local e  # (not --exists: it also wants the plugin version >= the core version, 0.1 < 1.22)
    for e in "$@"; do
        gst-inspect-1.0 "$e" >/dev/null 2>&1 ||
            die "element $e not found (helio elements: build first, cargo build --release --workspace; plugin path $HELIO_PLUGIN_DIR)"
    done
}

# launch SECONDS PIPELINE...: gst-launch-1.0 bounded in time. At the deadline it gets
# SIGINT, which with -e turns into an EOS so muxers and sinks finish their files; if it
# is still there 5 s later it is killed. Returns gst-launch's status (124 = timed out).
launch() {
    local secs=$1
    shift
    timeout -s INT -k 5 "$secs" "$GST_LAUNCH" -e -q "$@"
}

# launch_with_stats SECONDS DIR PIPELINE...: launch, with gst-launch printing bus messages
# (-m, which -q would silence): heliostats' helio-stats messages go to DIR/stats.log, one
# line per frame, `from=<element name>, frame-number=(guint64)0, ...`; errors and warnings
# go on to stderr. Returns gst-launch's exit status (124: timed out).
launch_with_stats() {
    local secs=$1 dir=$2 rc=0
    shift 2
    timeout -s INT -k 5 "$secs" "$GST_LAUNCH" -e -m "$@" > "$dir/gst-launch.log" 2>&1 || rc=$?
    sed -n 's/^Got message #[0-9]* from element "\([^"]*\)" (element): helio-stats, /from=\1, /p' \
        "$dir/gst-launch.log" > "$dir/stats.log"
    grep -E "^(ERROR|WARNING)" -A2 "$dir/gst-launch.log" >&2 || true
    rm -f "$dir/gst-launch.log"
    return $rc
}

# is_loopback HOST: these recipes only ever talk to this machine.
is_loopback() {
    case "$1" in
        127.* | ::1 | localhost) return 0 ;;
        *) return 1 ;;
    esac
}
