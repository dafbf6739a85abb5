// SPDX-License-Identifier: MPL-2.0

//! The heliocolormap modes of the `pipelines/*.sh` recipes, run headless as a user would
//! (bash, `gst-launch-1.0`, the release plugin), with few buffers and short timeouts:
//! `side-by-side.sh --zoom` (testsrc and the bundled AIA frames) and `downlink-recv.sh`
//! with `COLORMAP`. Each checks the PNGs: how many, their size, 8-bit RGB, and colours of
//! the requested table. Skips (with the reason) like `recipes.rs` when gst-launch, the
//! release plugin, the model package, ONNX Runtime or x264/x265/libav are missing.

mod common;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use gst::prelude::*;

/// `$CARGO_TARGET_DIR`, else `<workspace>/target`: the scripts load `<it>/release`.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace().join("target"), PathBuf::from)
}

/// `Some(())` when the recipes can run with the elements in `elements`; otherwise prints
/// why (or fails under HELIO_NO_SKIP) and gives `None`.
fn ready(test: &str, elements: &[&str]) -> Option<()> {
    let launch = Command::new("gst-launch-1.0").arg("--version").output();
    if !launch.is_ok_and(|o| o.status.success()) {
        skip(format!(
            "SKIP {test}: gst-launch-1.0 not found (Debian package gstreamer1.0-tools)"
        ));
        return None;
    }
    let plugin = target_dir().join("release/libgsthelio.so");
    if !plugin.is_file() {
        skip(format!(
            "SKIP {test}: no release plugin at {} (cargo build --release)",
            plugin.display()
        ));
        return None;
    }
    model_or_skip(test)?;
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

/// `bash pipelines/NAME ARGS` with `env`, against the release plugin.
fn recipe(name: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(workspace().join("pipelines").join(name))
        .args(args)
        .current_dir(workspace())
        .env("CARGO_TARGET_DIR", target_dir())
        .env("PROFILE", "release")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs a recipe to its end (each bounds itself with `timeout`).
fn run(name: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    report(name, recipe(name, args, env).output().expect("bash runs"))
}

/// Prints what a finished recipe said.
fn report(name: &str, out: Output) -> Output {
    eprintln!(
        "{name}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Sorted PNGs in `dir` named `PREFIX*.png`.
fn pngs(dir: &Path, prefix: &str) -> Vec<PathBuf> {
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

/// (width, height, bits per channel, PNG colour type: 2 = RGB) from the IHDR chunk.
fn ihdr(path: &Path) -> (u32, u32, u8, u8) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[1..4], b"PNG", "{}", path.display());
    let be = |i: usize| u32::from_be_bytes(b[i..i + 4].try_into().unwrap());
    (be(16), be(20), b[24], b[25])
}

/// The [r, g, b] pixels of an 8-bit RGB PNG, row-major.
fn rgb_pixels(path: &Path) -> Vec<[u8; 3]> {
    let (w, h, _, _) = ihdr(path);
    let pipeline = gst::parse::launch(&format!(
        "filesrc location=\"{}\" ! pngdec ! videoconvert ! video/x-raw,format=RGB \
         ! fakesink name=sink",
        path.display()
    ))
    .unwrap();
    let sink = pipeline
        .downcast_ref::<gst::Bin>()
        .unwrap()
        .by_name("sink")
        .unwrap();
    let buffers = collect_buffers(&sink);
    let res = run_to_eos(&pipeline, Duration::from_secs(20));
    assert!(
        res.eos && res.errors.is_empty(),
        "{}: {res:?}",
        path.display()
    );
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, w, h)
        .build()
        .unwrap();
    let stride = info.stride()[0] as usize;
    let buffers = buffers.lock().unwrap();
    let map = buffers[0].map_readable().unwrap();
    map.chunks(stride)
        .take(h as usize)
        .flat_map(|row| {
            row[..3 * w as usize]
                .chunks_exact(3)
                .map(|p| [p[0], p[1], p[2]])
        })
        .collect()
}

/// Checks the colours of a picture in a table whose red >= green >= blue (171, 304; grey
/// labels and black background too), allowing `slack` for compositing and conversions,
/// and that it is coloured (not grey) and not black.
fn assert_warm_colours(path: &Path, slack: u8) {
    let px = rgb_pixels(path);
    let bad = px
        .iter()
        .filter(|p| p[1] > p[0].saturating_add(slack) || p[2] > p[1].saturating_add(slack))
        .count();
    let coloured = px.iter().filter(|p| p[0] as i32 - p[2] as i32 > 20).count();
    eprintln!(
        "{}: {} pixels, {coloured} coloured, {bad} not red >= green >= blue",
        path.display(),
        px.len()
    );
    assert!(
        bad * 1000 < px.len(),
        "{}: {bad} pixels off the table",
        path.display()
    );
    assert!(
        coloured * 4 > px.len(),
        "{}: mostly grey or black",
        path.display()
    );
}

const SIDE_BY_SIDE_ELEMENTS: [&str; 6] = [
    "x264enc",
    "x265enc",
    "avdec_h264",
    "avdec_h265",
    "textoverlay",
    "videoscale",
];

/// Runs side-by-side.sh with `args` (OUT_DIR = `out`) and `env`; checks it succeeds and
/// writes `frames` 8-bit RGB (PNG colour type 2) pictures of `width` x `height`. Gives
/// what it printed on stderr and the pictures.
fn side_by_side(
    out: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    frames: usize,
    (width, height): (u32, u32),
) -> (String, Vec<PathBuf>) {
    let mut args = args.to_vec();
    args.push(out.to_str().unwrap());
    let r = run("side-by-side.sh", &args, env);
    assert!(r.status.success(), "{args:?}");
    let files = pngs(out, "sbs_");
    assert_eq!(files.len(), frames, "{files:?}");
    for f in &files {
        assert_eq!(ihdr(f), (width, height, 8, 2), "{}", f.display());
    }
    (String::from_utf8_lossy(&r.stderr).into_owned(), files)
}

#[test]
fn side_by_side_zoom_on_testsrc() {
    let Some(()) = ready("side_by_side_zoom_on_testsrc", &SIDE_BY_SIDE_ELEMENTS) else {
        return;
    };
    let tmp = TempDir::new("recipe-zoom");
    let env = [
        ("WIDTH", "256"),
        ("HEIGHT", "256"),
        ("NUM_BUFFERS", "2"),
        ("TIMEOUT", "60"),
    ];
    // Four 128x128 regions enlarged 3 times.
    let (said, files) = side_by_side(
        &tmp.path().join("zoom"),
        &["--zoom", "205,78"],
        &env,
        2,
        (4 * 384, 384),
    );
    // The region is moved inside the frame: 128x128 from (128, 14).
    assert!(said.contains("at (128,14)..(255,141)"), "{said}");
    // Zoom colours with the 171 table (gold) by default.
    assert_warm_colours(&files[1], 3);
}

#[test]
fn side_by_side_zoom_on_aia_frames_with_another_table_and_scale() {
    let Some(()) = ready("side_by_side_zoom_on_aia_frames", &SIDE_BY_SIDE_ELEMENTS) else {
        return;
    };
    let tmp = TempDir::new("recipe-zoom-aia");
    let env = [
        ("SOURCE", "aia171"),
        ("COLORMAP", "304"),
        ("ZOOM_SCALE", "2"),
        ("TIMEOUT", "120"),
    ];
    // All 13 bundled frames, regions enlarged twice.
    let (_, files) = side_by_side(
        &tmp.path().join("zoom"),
        &["--zoom=270,270"],
        &env,
        13,
        (4 * 256, 256),
    );
    // 304 is IDL's red temperature table: red >= green >= blue as well.
    assert_warm_colours(&files[6], 3);
}

#[test]
fn side_by_side_refuses_bad_zoom_and_colormap() {
    let Some(()) = ready(
        "side_by_side_refuses_bad_zoom_and_colormap",
        &SIDE_BY_SIDE_ELEMENTS,
    ) else {
        return;
    };
    let tmp = TempDir::new("recipe-zoom-bad");
    let out = tmp.path().join("x");
    let out = out.to_str().unwrap();
    let env = [("NUM_BUFFERS", "1"), ("TIMEOUT", "30")];
    for (args, extra, expected) in [
        (vec!["--zoom", "1,2,3", out], None, "X,Y, the centre"),
        (
            vec!["--zoom", "300,10", out],
            None,
            "outside the 256x256 frame",
        ),
        (vec!["--zoom"], None, "--zoom needs X,Y"),
        (vec!["--frobnicate", out], None, "unknown option"),
        (
            vec![out],
            Some(("COLORMAP", "172")),
            "valid ones are 94, 131, 171",
        ),
    ] {
        let mut env = env.to_vec();
        env.extend(extra);
        let r = run("side-by-side.sh", &args, &env);
        assert!(!r.status.success(), "{args:?}");
        let said =
            String::from_utf8_lossy(&r.stderr).to_string() + &String::from_utf8_lossy(&r.stdout);
        assert!(
            said.contains(expected),
            "{args:?}: expected {expected:?} in {said}"
        );
    }
    assert!(pngs(Path::new(out), "sbs_").is_empty());
}

#[test]
fn downlink_receiver_colours_snapshots() {
    let Some(()) = ready("downlink_receiver_colours_snapshots", &[]) else {
        return;
    };
    // Snapshots only, then also teed to a "window" (fakesink: no display here).
    for window in [&[][..], &[("WINDOW", "1"), ("VIDEOSINK", "fakesink")][..]] {
        let tmp = TempDir::new("recipe-dl-colour");
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
            .to_string();
        let out = tmp.path().join("snaps");
        // Receiver first; it keeps 3 frames and stops at the 4th.
        let mut env = vec![
            ("PORT", port.as_str()),
            ("FRAMES", "3"),
            ("TIMEOUT", "30"),
            ("COLORMAP", "171"),
        ];
        env.extend_from_slice(window);
        let recv = recipe("downlink-recv.sh", &[out.to_str().unwrap()], &env)
            .spawn()
            .unwrap();
        // Until udpsrc holds the port (our own bind then fails), at most 10 s.
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10)
            && UdpSocket::bind(("127.0.0.1", port.parse::<u16>().unwrap())).is_ok()
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(300));
        let send = run(
            "downlink-send.sh",
            &[],
            &[
                ("PORT", &port),
                ("WIDTH", "256"),
                ("HEIGHT", "256"),
                ("NUM_BUFFERS", "10"),
                ("FPS", "10/1"),
                ("TIMEOUT", "30"),
            ],
        );
        assert!(send.status.success());
        let r = report("downlink-recv.sh", recv.wait_with_output().unwrap());
        assert!(r.status.success(), "{window:?}");
        let said = String::from_utf8_lossy(&r.stderr);
        assert!(
            said.contains("end of stream") && said.contains("AIA 171 colour table"),
            "{window:?}: {said}"
        );
        let files = pngs(&out, "snap_");
        assert_eq!(files.len(), 3, "{window:?}: {files:?}");
        for f in &files {
            assert_eq!(ihdr(f), (256, 256, 8, 2), "{}", f.display());
        }
        // heliocolormap's output goes straight to pngenc: exactly the table, no slack.
        assert_warm_colours(&files[2], 0);
    }
}

#[test]
fn downlink_receiver_refuses_unknown_colormap() {
    let Some(()) = ready("downlink_receiver_refuses_unknown_colormap", &[]) else {
        return;
    };
    let tmp = TempDir::new("recipe-dl-badcolour");
    let out = tmp.path().join("snaps");
    let r = run(
        "downlink-recv.sh",
        &[out.to_str().unwrap()],
        &[("PORT", "5999"), ("TIMEOUT", "10"), ("COLORMAP", "170")],
    );
    assert_eq!(r.status.code(), Some(1));
    let said = String::from_utf8_lossy(&r.stderr);
    assert!(
        said.contains("wavelength 170 has no colour table"),
        "{said}"
    );
    // Refused at start, not after waiting for the timeout.
    assert!(!said.contains("timeout"), "{said}");
}
