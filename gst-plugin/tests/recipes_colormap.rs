// SPDX-License-Identifier: MPL-2.0

//! The heliocolormap modes of the `pipelines/*.sh` recipes, run headless as a user would
//! (bash, `gst-launch-1.0`, the release plugin), with few buffers and short timeouts:
//! `side-by-side.sh --zoom` (testsrc and the bundled AIA frames) and `downlink-recv.sh`
//! with `COLORMAP`. Each checks the PNGs: how many, their size, 8-bit RGB, and colours of
//! the requested table. Skips (with the reason) like `recipes.rs` when gst-launch, the
//! release plugin, the model package, ONNX Runtime or x264/x265/libav are missing.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::recipes::*;
use common::*;

/// The [r, g, b] pixels of an 8-bit RGB PNG, row-major.
fn rgb_pixels(path: &Path) -> Vec<[u8; 3]> {
    let (_, _, bytes) = png_pixels(path, "RGB");
    bytes.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect()
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
        assert_eq!(png_header(f), (width, height, 8, 2), "{}", f.display());
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
        let port = free_udp_port().to_string();
        let out = tmp.path().join("snaps");
        // Receiver first; it keeps 3 frames and stops at the 4th.
        let mut env = vec![
            ("PORT", port.as_str()),
            ("FRAMES", "3"),
            ("TIMEOUT", "30"),
            ("COLORMAP", "171"),
        ];
        env.extend_from_slice(window);
        let recv = spawn("downlink-recv.sh", &[out.to_str().unwrap()], &env);
        wait_udp_bound(port.parse().unwrap(), Duration::from_secs(10));
        let send = run(
            "downlink-send.sh",
            &[],
            &[
                ("PORT", port.as_str()),
                ("WIDTH", "256"),
                ("HEIGHT", "256"),
                ("NUM_BUFFERS", "10"),
                ("FPS", "10/1"),
                ("TIMEOUT", "30"),
            ],
        );
        assert!(send.status.success());
        let r = finish("downlink-recv.sh", recv);
        assert!(r.status.success(), "{window:?}");
        let said = String::from_utf8_lossy(&r.stderr);
        assert!(
            said.contains("end of stream") && said.contains("AIA 171 colour table"),
            "{window:?}: {said}"
        );
        let files = pngs(&out, "snap_");
        assert_eq!(files.len(), 3, "{window:?}: {files:?}");
        for f in &files {
            assert_eq!(png_header(f), (256, 256, 8, 2), "{}", f.display());
        }
        // heliocolormap's output goes straight to pngenc: exactly the table, no slack.
        assert_warm_colours(&files[2], 0);
    }
}

#[test]
fn downlink_receiver_overlay_with_psnr_against_the_regenerated_original() {
    let Some(()) = ready("downlink_receiver_overlay_with_psnr_against_the_regenerated_original", &[]) else {
        return;
    };
    let tmp = TempDir::new("recipe-dl-overlay");
    let port = free_udp_port().to_string();
    let out = tmp.path().join("snaps");
    let size = [("WIDTH", "256"), ("HEIGHT", "256")];
    let mut env = vec![
        ("PORT", port.as_str()),
        ("FRAMES", "3"),
        ("TIMEOUT", "30"),
        ("COLORMAP", "171"),
        ("OVERLAY", "1"),
        ("REFERENCE", "testsrc"),
    ];
    env.extend_from_slice(&size);
    let recv = spawn("downlink-recv.sh", &[out.to_str().unwrap()], &env);
    wait_udp_bound(port.parse().unwrap(), Duration::from_secs(10));
    let mut send_env = vec![("PORT", port.as_str()), ("NUM_BUFFERS", "10"), ("FPS", "10/1"), ("TIMEOUT", "30")];
    send_env.extend_from_slice(&size);
    assert!(run("downlink-send.sh", &[], &send_env).status.success());
    let r = finish("downlink-recv.sh", recv);
    assert!(r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("heliostats overlay"));
    let files = pngs(&out, "snap_");
    assert_eq!(files.len(), 3, "{files:?}");

    // One stats line per snapshot, frames in order, each compared with its own original.
    let log = std::fs::read_to_string(out.join("stats.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 3, "{log}");
    for (i, line) in lines.iter().enumerate() {
        assert!(line.starts_with(&format!("from=stats, frame-number=(guint64){i}, frame-type=(string)")), "{line}");
        let psnr: f64 = line.split("psnr=(double)").nth(1).unwrap().trim_end_matches(';').parse().unwrap();
        assert!(psnr > 30.0 && psnr < 60.0, "{line}");
    }
    // The text (white, textoverlay's default ypad puts it in rows 25..40): the 171 table
    // gives the dark corona around the disk almost no blue, the text's pixels a lot.
    let px = rgb_pixels(&files[2]);
    let blue = |rows: std::ops::Range<usize>| px[rows.start * 256..rows.end * 256].iter().filter(|p| p[2] > 100).count();
    assert!(blue(16..48) > 100, "{} text pixels", blue(16..48));
    assert_eq!(blue(208..240), 0, "the same band at the bottom, without text");
}

#[test]
fn downlink_receiver_refuses_overlay_without_colours() {
    let Some(()) = ready("downlink_receiver_refuses_overlay_without_colours", &[]) else {
        return;
    };
    let tmp = TempDir::new("recipe-dl-badoverlay");
    let out = tmp.path().join("snaps");
    for (env, expected) in [
        (vec![("OVERLAY", "1")], "OVERLAY=1 needs COLORMAP"),
        (vec![("REFERENCE", "testsrc"), ("COLORMAP", "171")], "REFERENCE=testsrc needs OVERLAY=1"),
        (vec![("REFERENCE", "png"), ("OVERLAY", "1"), ("COLORMAP", "171")], "testsrc or none"),
    ] {
        let mut env = env;
        env.extend([("PORT", "5999"), ("TIMEOUT", "5")]);
        let r = run("downlink-recv.sh", &[out.to_str().unwrap()], &env);
        assert_eq!(r.status.code(), Some(1));
        let said = String::from_utf8_lossy(&r.stderr);
        assert!(said.contains(expected), "{env:?}: {said}");
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
