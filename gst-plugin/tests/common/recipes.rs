// SPDX-License-Identifier: MPL-2.0

//! Running the `pipelines/*.sh` recipes from tests (`recipes.rs`,
//! `recipes_colormap.rs`): skip checks, the bash command against the release
//! plugin, what a recipe printed, the PNGs it wrote, loopback ports.

use std::ffi::OsStr;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use gst::prelude::*;

use super::{init, model_or_skip, run_to_eos, skip, workspace};

/// No environment variables for a recipe.
pub const NO_ENV: &[(&str, &str)] = &[];

/// `$CARGO_TARGET_DIR`, else `<workspace>/target`: the scripts load
/// `<it>/release/libgsthelio.so` (GST_PLUGIN_PATH).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace().join("target"), PathBuf::from)
}

/// `Some(())` when `gst-launch-1.0` runs; otherwise prints why (or fails under
/// HELIO_NO_SKIP) and gives `None`.
pub fn gst_launch_or_skip(test: &str) -> Option<()> {
    let launch = Command::new("gst-launch-1.0").arg("--version").output();
    if !launch.is_ok_and(|o| o.status.success()) {
        skip(format!("SKIP {test}: gst-launch-1.0 not found (Debian package gstreamer1.0-tools)"));
        return None;
    }
    Some(())
}

/// `Some(())` when the recipes can run: gst-launch-1.0, the release plugin, the
/// model package with ONNX Runtime, and the elements in `elements`; otherwise
/// prints why (or fails under HELIO_NO_SKIP) and gives `None`.
pub fn ready(test: &str, elements: &[&str]) -> Option<()> {
    gst_launch_or_skip(test)?;
    let plugin = target_dir().join("release/libgsthelio.so");
    if !plugin.is_file() {
        skip(format!(
            "SKIP {test}: no release plugin at {} (cargo build --release --workspace)",
            plugin.display()
        ));
        return None;
    }
    model_or_skip(test)?;
    init();
    let missing: Vec<&str> = elements
        .iter()
        .copied()
        .filter(|e| gst::ElementFactory::find(e).is_none())
        .collect();
    if !missing.is_empty() {
        skip(format!("SKIP {test}: missing elements {missing:?}"));
        return None;
    }
    Some(())
}

/// `bash pipelines/NAME ARGS` with `env`, against the release plugin, its output piped.
pub fn recipe<V: AsRef<OsStr>>(name: &str, args: &[&str], env: &[(&str, V)]) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(workspace().join("pipelines").join(name))
        .args(args)
        .current_dir(workspace())
        .env("CARGO_TARGET_DIR", target_dir())
        .env("PROFILE", "release")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs a recipe to its end (every recipe bounds itself with `timeout`).
pub fn run<V: AsRef<OsStr>>(name: &str, args: &[&str], env: &[(&str, V)]) -> Output {
    report(&format!("{name} {args:?}"), recipe(name, args, env).output().expect("bash runs"))
}

/// Starts a recipe in the background (see [`finish`]).
pub fn spawn<V: AsRef<OsStr>>(name: &str, args: &[&str], env: &[(&str, V)]) -> Child {
    recipe(name, args, env).spawn().expect("bash runs")
}

/// Waits for a recipe started with [`spawn`] and prints what it said.
pub fn finish(name: &str, child: Child) -> Output {
    report(name, child.wait_with_output().unwrap())
}

/// Prints what a finished recipe said.
pub fn report(name: &str, out: Output) -> Output {
    eprintln!(
        "{name}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until someone (udpsrc) has bound `port`: our own bind, without SO_REUSEADDR,
/// then fails. Gives up after `limit` (the sender then just starts).
pub fn wait_udp_bound(port: u16, limit: Duration) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if UdpSocket::bind(("127.0.0.1", port)).is_err() {
            // Bound; give the pipeline a moment to reach PLAYING.
            std::thread::sleep(Duration::from_millis(300));
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sorted `PREFIX*.png` files in `dir` (none when `dir` does not exist).
pub fn pngs(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(prefix) && name.ends_with(".png")
        })
        .collect();
    files.sort();
    files
}

/// (width, height, bits per channel, PNG colour type: 0 = grey, 2 = RGB) from the IHDR chunk.
pub fn png_header(path: &Path) -> (u32, u32, u8, u8) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[1..4], b"PNG", "{} is not a PNG", path.display());
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (be(16), be(20), bytes[24], bytes[25])
}

/// A PNG as GStreamer reads it (`pngdec ! videoconvert ! video/x-raw,format=FORMAT`):
/// (width, height, the single frame's rows without stride padding).
pub fn png_pixels(path: &Path, format: &str) -> (u32, u32, Vec<u8>) {
    init();
    let pipeline = gst::parse::launch(&format!(
        "filesrc location=\"{}\" ! pngdec ! videoconvert ! video/x-raw,format={format} ! fakesink name=sink",
        path.display()
    ))
    .unwrap();
    let sink = pipeline.downcast_ref::<gst::Bin>().unwrap().by_name("sink").unwrap();
    // Each buffer with the caps it came with (the pad's caps are gone after NULL).
    let frames = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let f = frames.clone();
    sink.static_pad("sink").unwrap().add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        if let (Some(buffer), Some(caps)) = (info.buffer(), pad.current_caps()) {
            f.lock().unwrap().push((buffer.clone(), caps));
        }
        gst::PadProbeReturn::Ok
    });
    let res = run_to_eos(&pipeline, Duration::from_secs(20));
    assert!(res.eos && res.errors.is_empty(), "{}: {res:?}", path.display());
    let frames = frames.lock().unwrap();
    assert_eq!(frames.len(), 1, "{}", path.display());
    let (buffer, caps) = &frames[0];
    let info = gst_video::VideoInfo::from_caps(caps).unwrap();
    let (w, h, stride) = (info.width(), info.height(), info.stride()[0] as usize);
    let row_bytes = info.comp_pstride(0) as usize * w as usize;
    let map = buffer.map_readable().unwrap();
    let pixels = map.chunks(stride).take(h as usize).flat_map(|row| &row[..row_bytes]).copied().collect();
    (w, h, pixels)
}
