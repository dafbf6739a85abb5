// SPDX-License-Identifier: MPL-2.0

//! The `pipelines/*.sh` recipes, run headless as a user would run them: `gst-launch-1.0`
//! with the release plugin (`target/release/libgsthelio.so`), small frames, few buffers
//! and short timeouts. Each test skips with a printed reason when `gst-launch-1.0`, the
//! release plugin, the model package or ONNX Runtime is missing (and the side-by-side
//! test when x264/x265/libav are). Ports: a free loopback port per test.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::recipes::*;
use common::*;

/// The samples of a 16-bit grey PNG as GStreamer reads them (pngdec, then videoconvert to
/// GRAY16_LE, as encode-file.sh does): (width, height, row-major samples without padding).
fn png_samples(path: &Path) -> (u32, u32, Vec<u16>) {
    let (w, h, bytes) = png_pixels(path, "GRAY16_LE");
    (w, h, bytes.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect())
}

/// The first `n` bundled AIA frames copied to `dir` (frame_00.png ..), for short runs.
fn aia_frames(dir: &Path, n: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    (0..n)
        .map(|i| {
            let name = format!("frame_{i:02}.png");
            let to = dir.join(&name);
            std::fs::copy(workspace().join("data/aia171").join(&name), &to).unwrap();
            to
        })
        .collect()
}

fn small() -> Vec<(&'static str, String)> {
    vec![("WIDTH", "256".to_string()), ("HEIGHT", "256".to_string())]
}

#[test]
fn encode_decode_testsrc_file() {
    let Some(()) = ready("encode_decode_testsrc_file", &[]) else {
        return;
    };
    let tmp = TempDir::new("recipe-file");
    let file = tmp.file("sun.helio");
    let mut env = small();
    env.push(("NUM_BUFFERS", "3".to_string()));
    env.push(("TIMEOUT", "60".to_string()));
    assert!(run("encode-file.sh", &["testsrc", &file, "2"], &env)
        .status
        .success());
    let bytes = std::fs::metadata(&file).unwrap().len();
    // Three 256x256 frames: a few kB, far below 16-bit raw (393 kB).
    assert!(bytes > 100 && bytes < 3 * 256 * 256, "{bytes} bytes");

    let out = tmp.path().join("decoded");
    let out_s = out.to_str().unwrap();
    assert!(run(
        "decode-file.sh",
        &[&file, out_s],
        &[("TIMEOUT", "60".to_string())]
    )
    .status
    .success());
    let files = pngs(&out, "frame_");
    assert_eq!(files.len(), 3, "{files:?}");
    for f in &files {
        // 16-bit greyscale (colour type 0) 256x256.
        assert_eq!(png_header(f), (256, 256, 16, 0), "{}", f.display());
    }
    // Decoded DN stay within the 14-bit range the source produced.
    let (_, _, samples) = png_samples(&files[0]);
    let max = *samples.iter().max().unwrap();
    assert!(max > 0 && max < 1 << 14, "max DN {max}");
}

#[test]
fn encode_decode_aia_frames_and_gdp() {
    let Some(()) = ready("encode_decode_aia_frames_and_gdp", &[]) else {
        return;
    };
    let tmp = TempDir::new("recipe-aia");
    let originals = aia_frames(&tmp.path().join("in"), 2);
    let env = [("TIMEOUT", "60".to_string())];
    for name in ["aia.helio", "aia.gdp"] {
        let file = tmp.file(name);
        let input = tmp.path().join("in");
        assert!(run(
            "encode-file.sh",
            &[input.to_str().unwrap(), &file, "1"],
            &env
        )
        .status
        .success());
        let out = tmp.path().join(format!("dec-{name}"));
        assert!(run("decode-file.sh", &[&file, out.to_str().unwrap()], &env)
            .status
            .success());
        let files = pngs(&out, "frame_");
        assert_eq!(files.len(), originals.len(), "{name}: {files:?}");
        for (dec, orig) in files.iter().zip(&originals) {
            assert_eq!(png_header(dec), png_header(orig), "{}", dec.display());
            // Lossy, but the same picture: PSNR on the 14-bit DN well above noise level.
            let (_, _, a) = png_samples(orig);
            let (_, _, b) = png_samples(dec);
            let p = psnr(&a, &b, 16383.0);
            eprintln!("{name} {}: PSNR {p:.1} dB (DN, max 16383)", dec.display());
            assert!(p > 20.0, "{name}: PSNR {p:.1} dB");
        }
    }
}

#[test]
fn encode_fits_folder_gives_the_same_stream_as_its_pngs() {
    let Some(()) = ready("encode_fits_folder_gives_the_same_stream_as_its_pngs", &[]) else {
        return;
    };
    // data/aia171-fits holds frames 00-02 of data/aia171 as AIA level-1 FITS files
    // (RICE_1 tiles): the same DN in, so the same bytes out.
    let tmp = TempDir::new("recipe-fits");
    let pngs_in = tmp.path().join("png");
    aia_frames(&pngs_in, 3);
    let env = [("TIMEOUT", "60".to_string())];
    let from_fits = tmp.file("fits.helio");
    let from_png = tmp.file("png.helio");
    let fits_dir = workspace().join("data/aia171-fits");
    for (input, out) in [(fits_dir.as_path(), &from_fits), (pngs_in.as_path(), &from_png)] {
        assert!(run("encode-file.sh", &[input.to_str().unwrap(), out, "1"], &env).status.success());
    }
    let (a, b) = (std::fs::read(&from_fits).unwrap(), std::fs::read(&from_png).unwrap());
    assert!(a.len() > 500, "{} bytes", a.len());
    assert!(a == b, "FITS and PNG inputs coded differently ({} vs {} bytes)", a.len(), b.len());
}

#[test]
fn png_roundtrip_without_codec_is_exact() {
    // Needs no model, only GStreamer: no model check here.
    let Some(()) = gst_launch_or_skip("png_roundtrip_without_codec_is_exact") else {
        return;
    };
    let tmp = TempDir::new("recipe-png");
    let originals = aia_frames(&tmp.path().join("in"), 3);
    let out = tmp.path().join("out");
    assert!(run(
        "png-roundtrip.sh",
        &[
            tmp.path().join("in").to_str().unwrap(),
            out.to_str().unwrap()
        ],
        NO_ENV
    )
    .status
    .success());
    let files = pngs(&out, "frame_");
    assert_eq!(files.len(), originals.len());
    for (rt, orig) in files.iter().zip(&originals) {
        assert_eq!(png_header(rt), (371, 501, 16, 0));
        let (w, h, a) = png_samples(orig);
        let (w2, h2, b) = png_samples(rt);
        assert_eq!((w, h), (w2, h2));
        assert!(*a.iter().max().unwrap() > 1000, "real DN expected");
        assert!(a == b, "{}: DN changed by the PNG round trip", rt.display());
    }
}

#[test]
fn downlink_udp_clean() {
    let Some(()) = ready("downlink_udp_clean", &[]) else {
        return;
    };
    let tmp = TempDir::new("recipe-udp");
    let port = free_udp_port().to_string();
    let out = tmp.path().join("snaps");
    // Receiver first: it waits; it keeps 6 frames and stops at the 7th.
    let recv = spawn(
        "downlink-recv.sh",
        &[out.to_str().unwrap()],
        &[
            ("PORT", port.clone()),
            ("FRAMES", "6".to_string()),
            ("TIMEOUT", "20".to_string()),
        ],
    );
    wait_udp_bound(port.parse().unwrap(), Duration::from_secs(10));
    let mut env = small();
    env.extend([
        ("PORT", port),
        ("NUM_BUFFERS", "12".to_string()),
        ("FPS", "10/1".to_string()),
        ("KEYFRAME_INTERVAL", "4".to_string()),
        ("TIMEOUT", "20".to_string()),
    ]);
    assert!(run("downlink-send.sh", &[], &env).status.success());
    let r = finish("downlink-recv.sh", recv);
    assert!(r.status.success());
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("end of stream"),
        "receiver should stop at FRAMES, not at its timeout"
    );
    let files = pngs(&out, "snap_");
    assert_eq!(files.len(), 6, "{files:?}");
    for f in &files {
        assert_eq!(png_header(f), (256, 256, 16, 0));
    }
}

#[test]
fn downlink_udp_lossy_still_decodes() {
    let Some(()) = ready("downlink_udp_lossy_still_decodes", &[]) else {
        return;
    };
    let tmp = TempDir::new("recipe-loss");
    let port = free_udp_port().to_string();
    let out = tmp.path().join("snaps");
    // No EOS over RTP: the receiver ends at its timeout, after the sender is done.
    let recv = spawn(
        "downlink-recv.sh",
        &[out.to_str().unwrap()],
        &[("PORT", port.clone()), ("TIMEOUT", "7".to_string())],
    );
    wait_udp_bound(port.parse().unwrap(), Duration::from_secs(5));
    let sent = 15;
    let mut env = small();
    env.extend([
        ("PORT", port),
        ("NUM_BUFFERS", sent.to_string()),
        ("FPS", "10/1".to_string()),
        ("KEYFRAME_INTERVAL", "1".to_string()),
        // A 256x256 frame is several RTP packets: most frames lose at least one.
        ("LOSS", "0.2".to_string()),
        ("TIMEOUT", "20".to_string()),
    ]);
    assert!(run("downlink-send.sh", &[], &env).status.success());
    let r = finish("downlink-recv.sh", recv);
    assert!(r.status.success(), "some frames must get through");
    let files = pngs(&out, "snap_");
    eprintln!(
        "{} of {sent} frames decoded with 20% packet loss",
        files.len()
    );
    assert!(!files.is_empty() && files.len() < sent, "{files:?}");
    for f in &files {
        assert_eq!(png_header(f), (256, 256, 16, 0));
    }
}

#[test]
fn downlink_tcp_ends_with_sender() {
    let Some(()) = ready("downlink_tcp_ends_with_sender", &[]) else {
        return;
    };
    let tmp = TempDir::new("recipe-tcp");
    let port = free_tcp_port().to_string();
    let out = tmp.path().join("snaps");
    // Receiver first: it polls the port until the sender's tcpserversink listens.
    let recv = spawn(
        "downlink-recv.sh",
        &[out.to_str().unwrap()],
        &[
            ("TRANSPORT", "tcp".to_string()),
            ("PORT", port.clone()),
            ("TIMEOUT", "20".to_string()),
        ],
    );
    // 3 s of live frames: the receiver's gst-launch must start and connect within them,
    // which under a loaded test run (every test binary at once on 2 cores) took over
    // the 0.8 s that 8 frames gave.
    let sent = 30;
    let mut env = small();
    env.extend([
        ("TRANSPORT", "tcp".to_string()),
        ("PORT", port),
        ("NUM_BUFFERS", sent.to_string()),
        ("FPS", "10/1".to_string()),
        ("TIMEOUT", "20".to_string()),
    ]);
    let start = Instant::now();
    assert!(run("downlink-send.sh", &[], &env).status.success());
    let r = finish("downlink-recv.sh", recv);
    assert!(r.status.success());
    // The sender's EOS travels in GDP: the receiver stops with it, long before its timeout.
    assert!(String::from_utf8_lossy(&r.stderr).contains("end of stream"));
    assert!(start.elapsed() < Duration::from_secs(15));
    let files = pngs(&out, "snap_");
    // Frames sent before the client connected are lost (live source), the rest arrive.
    assert!(!files.is_empty() && files.len() <= sent, "{files:?}");
    for f in &files {
        assert_eq!(png_header(f), (256, 256, 16, 0));
    }
}

#[test]
fn downlink_wrong_port_times_out() {
    let Some(()) = ready("downlink_wrong_port_times_out", &[]) else {
        return;
    };
    let tmp = TempDir::new("recipe-noport");
    let out = tmp.path().join("snaps");
    let r = run(
        "downlink-recv.sh",
        &[out.to_str().unwrap()],
        &[
            ("PORT", free_udp_port().to_string()),
            ("TIMEOUT", "2".to_string()),
        ],
    );
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("no frame decoded"));
    assert!(pngs(&out, "snap_").is_empty());
}

#[test]
fn side_by_side_snapshots() {
    let elements = ["x264enc", "x265enc", "avdec_h264", "avdec_h265", "textoverlay"];
    let Some(()) = ready("side_by_side_snapshots", &elements) else {
        return;
    };
    let tmp = TempDir::new("recipe-sbs");
    let out = tmp.path().join("sbs");
    let mut env = small();
    env.extend([("NUM_BUFFERS", "3".to_string()), ("TIMEOUT", "60".to_string())]);
    let r = run("side-by-side.sh", &[out.to_str().unwrap()], &env);
    assert!(r.status.success());
    // Matched bitrates: x264/x265 get the rate the first helio pass measured.
    let log = String::from_utf8_lossy(&r.stderr);
    let rates: Vec<&str> = log
        .lines()
        .find(|l| l.contains("helio codes these"))
        .unwrap_or_else(|| panic!("no bitrate line in {log}"))
        .split_whitespace()
        .filter(|w| w.parse::<u32>().is_ok_and(|v| v > 0))
        .collect();
    assert!(rates.len() >= 3 && rates[1] == rates[2], "{rates:?} in {log}");
    let files = pngs(&out, "sbs_");
    assert_eq!(files.len(), 3, "{files:?}");
    for f in &files {
        // original | helio | x264 | x265, 8-bit RGB (colour type 2).
        assert_eq!(png_header(f), (4 * 256, 256, 8, 2));
    }
    // The labels' figures, one line per codec and frame: every frame of every codec has
    // a coded size and a PSNR against the source.
    let stats = std::fs::read_to_string(out.join("stats.log")).unwrap();
    for codec in ["helio", "x264", "x265"] {
        let lines: Vec<&str> = stats.lines().filter(|l| l.starts_with(&format!("from={codec},"))).collect();
        assert_eq!(lines.len(), 3, "{codec}: {stats}");
        for (i, line) in lines.iter().enumerate() {
            assert!(line.contains(&format!("frame-number=(guint64){i},")), "{line}");
            let field = |name: &str| -> f64 {
                let v = line.split(&format!("{name}=(double)")).nth(1).unwrap_or_else(|| panic!("{name} in {line}"));
                v.split([',', ';']).next().unwrap().parse().unwrap()
            };
            assert!(field("bpp") > 0.0 && field("bpp") < 8.0, "{line}");
            assert!(field("psnr") > 20.0 && field("psnr") < 70.0, "{line}");
        }
    }
}

#[test]
fn multispectral_recipe_joins_codes_and_splits_three_bands() {
    let Some(()) = ready("multispectral_recipe_joins_codes_and_splits_three_bands", &[]) else {
        return;
    };
    let tmp = TempDir::new("recipe-ms");
    let out = tmp.path().join("ms");
    let env = [("TIMEOUT", "120".to_string()), ("FRAMES", "2".to_string())];
    assert!(run("multispectral.sh", &[out.to_str().unwrap(), "2"], &env).status.success());
    for wl in [171, 193, 304] {
        let files = pngs(&out.join(wl.to_string()), "dec_");
        assert_eq!(files.len(), 2, "{wl}: {files:?}");
        for (i, dec) in files.iter().enumerate() {
            // The band's own frame (171 cropped to the common 370x500), not another band.
            let (w, h, b) = png_samples(dec);
            assert_eq!((w, h), (370, 500), "{}", dec.display());
            let orig = workspace().join(format!("data/aia{wl}/frame_{i:02}.png"));
            let (ow, _, a) = png_samples(&orig);
            let a: Vec<u16> = (0..500).flat_map(|y| a[y * ow as usize..y * ow as usize + 370].to_vec()).collect();
            let p = psnr(&a, &b, 16383.0);
            eprintln!("{wl} frame {i}: PSNR {p:.1} dB (DN, max 16383)");
            assert!(p > 20.0, "{wl} frame {i}: PSNR {p:.1} dB");
        }
    }
}
