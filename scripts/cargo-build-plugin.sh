#!/usr/bin/env bash
# meson helper: cargo build the plugin into meson's build dir and copy the .so to meson's output.
set -euo pipefail
cargo=$1 src=$2 target=$3 out=$4
"$cargo" build --release --locked -p gst-plugin-helio --manifest-path "$src/Cargo.toml" --target-dir "$target"
cp "$target/release/libgsthelio.so" "$out"
