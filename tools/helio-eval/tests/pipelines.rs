//! GStreamer-level checks of the measurement plumbing (skipped when an element is missing).

use std::path::Path;

use gst::prelude::*;
use helio_eval::codecs::{self, Input, Mode, SweepOptions};
use helio_eval::frames::{self, Samples};
use helio_eval::gstrun;
use helio_eval::intensity::DisplayLut;

fn frame0() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/aia171/frame_00.png")
}

fn have(elements: &[&str]) -> bool {
    gst::init().unwrap();
    let m = gstrun::missing(elements);
    if !m.is_empty() {
        eprintln!("skipped: missing {}", m.join(", "));
    }
    m.is_empty()
}

/// pngdec gives GRAY16_BE for 16-bit PNGs; videoconvert to GRAY16_LE must keep every DN
/// (pipelines/demo.sh relies on it).
#[test]
fn pngdec_videoconvert_keeps_dn_exactly() {
    if !have(&["pngdec", "videoconvert"]) {
        return;
    }
    let path = frame0();
    let reference = frames::read_png(&path).unwrap();
    let Samples::U16(expected) = &reference.samples else { panic!("frame_00.png should be 16-bit") };
    let desc = format!(
        "filesrc location=\"{}\" ! pngdec ! videoconvert ! video/x-raw,format=GRAY16_LE ! appsink name=sink sync=false",
        path.display()
    );
    let pipeline = gst::parse::launch(&desc).unwrap().downcast::<gst::Pipeline>().unwrap();
    let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let sample = sink.pull_sample().expect("a decoded frame");
    pipeline.set_state(gst::State::Null).unwrap();
    let gstrun::Plane::U16(got) = gstrun::plane0(&sample, reference.width, reference.height).unwrap() else {
        panic!("expected 16-bit samples")
    };
    assert_eq!(got.len(), expected.len());
    assert!(got == *expected, "DN values changed through pngdec ! videoconvert");
    assert!(expected.iter().any(|&v| v > 255), "frame should use more than 8 bits");
}

fn synthetic(n: usize, w: usize, h: usize) -> Input {
    let lut = DisplayLut::new(14);
    let dn: Vec<Vec<u16>> = (0..n)
        .map(|k| {
            (0..w * h)
                .map(|i| {
                    let (x, y) = ((i % w) as f64, (i / w) as f64);
                    let r = ((x - 100.0).powi(2) + (y - 90.0).powi(2)).sqrt();
                    (12000.0 * (-r / 40.0).exp() + 30.0 + 20.0 * ((x + k as f64) / 7.0).sin().abs()) as u16
                })
                .collect()
        })
        .collect();
    Input { width: w, height: h, bit_depth: 14, display: dn.iter().map(|f| lut.map(f)).collect(), dn: Some(dn) }
}

fn opts() -> SweepOptions {
    SweepOptions { quick: true, helio_qualities: None, helio_max_quality: None, helio_props: String::new(), heliodec_props: String::new(), bit_depth: 14 }
}

/// Lossless anchors must come back bit-exact in both modes (checks the raw feeding,
/// the stride handling and the byte counting end to end).
#[test]
fn lossless_anchors_are_exact() {
    if !have(&["pngenc", "pngdec", "videoconvert"]) {
        return;
    }
    let input = synthetic(2, 199, 181);
    let lut = DisplayLut::new(14);
    let ffv1 = have(&["avenc_ffv1", "avdec_ffv1"]);
    for mode in [Mode::Display8, Mode::Dn16] {
        let mut specs = codecs::sweep("png", mode, &opts());
        if ffv1 {
            specs.extend(codecs::sweep("ffv1", mode, &opts()));
        }
        for spec in specs {
            let p = codecs::evaluate(&spec, &input, mode, &lut).unwrap();
            assert!(p.psnr.is_infinite(), "{} {}: {} dB", mode.name(), spec.codec, p.psnr);
            assert!(p.bytes > 0 && p.bpp < mode.container_bits());
            if mode == Mode::Dn16 {
                assert_eq!(p.max_err_dn, Some(0));
            }
        }
    }
}

/// The 12-bit x265 path (odd size padded, DN >> 2 and back) at a fine quantiser keeps
/// the DN error near the 2-DN rounding of the 14 -> 12 bit reduction.
#[test]
fn x265_12bit_path_is_sane() {
    if !have(&["x265enc", "h265parse", "avdec_h265"]) {
        return;
    }
    let input = synthetic(2, 199, 181);
    let lut = DisplayLut::new(14);
    let mut spec = codecs::sweep("x265-intra", Mode::Dn16, &opts()).remove(0);
    spec.enc = spec.enc.replace("bframes=0:crf=", "bframes=0:lossless=1:crf=");
    let p = codecs::evaluate(&spec, &input, Mode::Dn16, &lut).unwrap();
    assert!(p.max_err_dn.unwrap() <= 2, "max err {:?}", p.max_err_dn);
    assert_eq!(p.frames, 2);
}

/// The 10-bit x264 path (High 10, DN >> 4 and back) at quantizer 0 (lossless for
/// x264): the DN error is the 8-DN rounding of the 14 -> 10 bit reduction, no more.
#[test]
fn x264_10bit_path_is_sane() {
    if !have(&["x264enc", "h264parse", "avdec_h264"]) {
        return;
    }
    let input = synthetic(2, 199, 181);
    let lut = DisplayLut::new(14);
    let mut spec = codecs::sweep("x264-intra", Mode::Dn16, &opts()).remove(0);
    assert!(spec.dec_caps.contains("I420_10LE"), "{}", spec.dec_caps);
    spec.enc = "x264enc pass=quant quantizer=0 key-int-max=1 bframes=0 speed-preset=medium".into();
    let p = codecs::evaluate(&spec, &input, Mode::Dn16, &lut).unwrap();
    assert!(p.max_err_dn.unwrap() <= 8, "max err {:?}", p.max_err_dn);
    assert!(p.max_err_dn.unwrap() >= 1, "14 bits through 10 cannot be exact");
    assert_eq!(p.frames, 2);
}

/// AV1 in dn16 goes through ffmpeg (libaom 10-bit, DN >> 4, dav1d): every frame comes
/// back, a fine quantizer stays near the 14 -> 10 bit rounding, a coarse one costs fewer
/// bits and more error.
#[test]
fn av1_10bit_through_ffmpeg_is_sane() {
    let specs = codecs::sweep("av1", Mode::Dn16, &opts());
    if !specs[0].missing().is_empty() {
        eprintln!("SKIP av1_10bit_through_ffmpeg_is_sane: {:?}", specs[0].missing());
        return;
    }
    let input = synthetic(3, 199, 181);
    let lut = DisplayLut::new(14);
    let mut fine = specs[0].clone();
    fine.enc = fine.enc.replace("-crf 24 -qmin 24 -qmax 24", "-crf 1 -qmin 1 -qmax 1");
    assert_ne!(fine.enc, specs[0].enc, "the quick sweep starts at q=24");
    let fine = codecs::evaluate(&fine, &input, Mode::Dn16, &lut).unwrap();
    let coarse = codecs::evaluate(specs.last().unwrap(), &input, Mode::Dn16, &lut).unwrap();
    assert_eq!((fine.frames, coarse.frames), (3, 3));
    assert!(fine.rmse_dn.unwrap() < 8.0, "rmse {:?}", fine.rmse_dn);
    assert!(coarse.bytes < fine.bytes && coarse.rmse_dn > fine.rmse_dn);
}

/// AV1 anchor in display8 (GStreamer's av1enc, 8-bit 4:2:0; dn16 goes through ffmpeg),
/// GoP 30, one decoded frame per input frame, quality falling with the quantizer.
#[test]
fn av1_anchor_codes_every_frame_and_follows_its_quantizer() {
    assert!(codecs::sweep("av1", Mode::Dn16, &opts()).iter().all(|s| s.tool == codecs::Tool::Ffmpeg));
    assert_eq!(codecs::keyframe_interval("av1"), codecs::GOP);
    if !have(&["av1enc", "av1parse", "av1dec"]) {
        return;
    }
    let input = synthetic(3, 199, 181);
    let lut = DisplayLut::new(14);
    let specs = codecs::sweep("av1", Mode::Display8, &opts());
    let (fine, coarse) = (specs.first().unwrap(), specs.last().unwrap());
    let pf = codecs::evaluate(fine, &input, Mode::Display8, &lut).unwrap();
    let pc = codecs::evaluate(coarse, &input, Mode::Display8, &lut).unwrap();
    assert_eq!((pf.frames, pc.frames), (3, 3));
    assert!(pf.bytes > pc.bytes && pf.psnr > pc.psnr, "{} B {:.2} dB vs {} B {:.2} dB", pf.bytes, pf.psnr, pc.bytes, pc.psnr);
}

/// helio (intra) and helio-gop30 differ only in the keyframe interval, and the
/// decoder gets the encoder's model packages.
#[test]
fn helio_sweeps_set_the_keyframe_interval() {
    let o = SweepOptions {
        helio_max_quality: Some(2),
        helio_props: "model-dir=/m inter-model-dir=/m/ssf threads=2".into(),
        heliodec_props: "frame-threads=2".into(),
        ..opts()
    };
    for (codec, k) in [("helio", 1), ("helio-gop30", codecs::GOP)] {
        let specs = codecs::sweep(codec, Mode::Dn16, &o);
        assert_eq!(specs.len(), 2, "{codec}");
        for s in specs {
            assert!(s.enc.contains(&format!("keyframe-interval={k} ")), "{codec}: {}", s.enc);
            assert_eq!(s.dec, "heliodec model-dir=/m inter-model-dir=/m/ssf frame-threads=2");
        }
    }
}

/// helio-gop30 through the helio plugin in target/: P-frames between the
/// keyframes, per-frame sizes, PSNR and RD-chosen I-frames in the frames CSV.
#[test]
fn helio_gop30_codes_p_frames_and_reports_them_per_frame() {
    gst::init().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let (intra, inter) = (root.join("models/hyperprior"), root.join("models/ssf"));
    let plugin = root.join(if cfg!(debug_assertions) { "target/debug" } else { "target/release" });
    gst::Registry::get().scan_path(&plugin);
    let missing = gstrun::missing(&["helioenc", "heliodec"]);
    if !missing.is_empty() || !inter.join("model.json").is_file() {
        let why = format!("skipped: helio plugin in {} or inter package {} missing", plugin.display(), inter.display());
        assert!(std::env::var_os("HELIO_NO_SKIP").is_none(), "{why} (HELIO_NO_SKIP is set)");
        eprintln!("{why}");
        return;
    }
    let input = synthetic(4, 128, 96);
    let lut = DisplayLut::new(14);
    let o = |extra: &str| SweepOptions {
        helio_max_quality: Some(2),
        helio_qualities: Some(vec![2]),
        helio_props: format!("model-dir={} inter-model-dir={}{extra}", intra.display(), inter.display()),
        ..opts()
    };
    // p-frame-decision=always: P-frames at the scheduled places, whatever they cost.
    let spec = codecs::sweep("helio-gop30", Mode::Dn16, &o(" p-frame-decision=always")).remove(0);
    let p = codecs::evaluate(&spec, &input, Mode::Dn16, &lut).unwrap();
    let frames = p.per_frame.as_ref().expect("one buffer per frame");
    assert_eq!(frames.iter().map(|f| f.keyframe).collect::<Vec<_>>(), [true, false, false, false]);
    assert_eq!(frames.iter().map(|f| f.bytes as u64).sum::<u64>(), p.bytes);
    assert!(frames.iter().all(|f| f.psnr > 20.0 && f.psnr.is_finite()), "{frames:?}");
    let csv = helio_eval::report::frames_csv(&[p]);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 5, "{csv}");
    assert!(rows[0].ends_with(",psnr_db,extra_i"), "{csv}");
    assert!(rows[1].starts_with("dn16,helio-gop30,\"quality=2\",0,I,") && rows[1].ends_with(",0"), "{csv}");
    assert!(rows[2].contains(",1,P,") && rows[2].ends_with(",0"), "{csv}");

    // The default (rd) may code any scheduled P-frame as I; the CSV marks those.
    let spec = codecs::sweep("helio-gop30", Mode::Dn16, &o("")).remove(0);
    assert!(!spec.enc.contains("p-frame-decision"), "helio-gop30 runs helioenc's default: {}", spec.enc);
    let p = codecs::evaluate(&spec, &input, Mode::Dn16, &lut).unwrap();
    let keys: Vec<bool> = p.per_frame.as_ref().unwrap().iter().map(|f| f.keyframe).collect();
    assert!(keys[0]);
    let csv = helio_eval::report::frames_csv(&[p]);
    for (row, &key) in csv.lines().skip(1).zip(&keys[..]).skip(1) {
        // Within the first GoP every keyframe after frame 0 is the RD decision's.
        assert_eq!(row.contains(",I,"), key, "{csv}");
        assert_eq!(row.ends_with(",1"), key, "{csv}");
    }
}
