//! Shared helpers for the integration tests: the bundled frame, the model
//! package location, and skip-with-reason when the package or ONNX Runtime is absent.

#![allow(dead_code)]

use std::path::PathBuf;

use helio_core::ModelSource;

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// `$HELIO_TEST_MODEL_DIR`, else `<workspace>/models/hyperprior`.
pub fn model_dir() -> PathBuf {
    std::env::var_os("HELIO_TEST_MODEL_DIR").map_or_else(|| workspace().join("models/hyperprior"), PathBuf::from)
}

/// The model to test with, or `None` (after printing why) if the package or
/// the ONNX Runtime library is missing.
pub fn model_or_skip(test: &str) -> Option<ModelSource> {
    let dir = model_dir();
    if !dir.join("model.json").is_file() {
        skip(format!("SKIP {test}: no model package at {} (export one, or set HELIO_TEST_MODEL_DIR)", dir.display()));
        return None;
    }
    if let Err(e) = helio_core::runtime::init(None) {
        skip(format!("SKIP {test}: {e}"));
        return None;
    }
    Some(ModelSource::Dir(dir))
}

/// A 16-bit grayscale PNG as (width, height, samples).
pub fn read_png16(path: &std::path::Path) -> (u32, u32, Vec<u16>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0u8; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    assert_eq!(info.bit_depth, png::BitDepth::Sixteen);
    let samples = buf[..info.buffer_size()].chunks_exact(2).map(|b| u16::from_be_bytes([b[0], b[1]])).collect();
    (info.width, info.height, samples)
}

/// The bundled AIA 171 frame (371x501, 14-bit DN).
pub fn aia_frame() -> (u32, u32, Vec<u16>) {
    read_png16(&workspace().join("data/aia171/frame_00.png"))
}

/// A `w` x `h` window of a row-major plane.
pub fn crop<T: Copy>(src: &[T], src_w: u32, x0: u32, y0: u32, w: u32, h: u32) -> Vec<T> {
    (y0..y0 + h).flat_map(|y| (x0..x0 + w).map(move |x| src[(y * src_w + x) as usize])).collect()
}

/// PSNR in the 8-bit sqrt display domain: `255 * sqrt(v / max)`, rounded.
pub fn psnr_sqrt_display(a: &[u16], b: &[u16], bit_depth: u8) -> f64 {
    let max = ((1u32 << bit_depth) - 1) as f64;
    let disp = |v: u16| (255.0 * (v as f64 / max).sqrt()).round();
    let mse = a.iter().zip(b).map(|(&x, &y)| (disp(x) - disp(y)).powi(2)).sum::<f64>() / a.len() as f64;
    10.0 * (255.0f64 * 255.0 / mse.max(1e-12)).log10()
}

/// Prints why a test is skipped, or fails it when `HELIO_NO_SKIP` is set
/// (`make test` sets it, so CI cannot pass by skipping the real work).
pub fn skip(reason: String) {
    if std::env::var_os("HELIO_NO_SKIP").is_some() {
        panic!("{reason} (HELIO_NO_SKIP is set: every test must run)");
    }
    eprintln!("{reason}");
}

/// Whether the model package folder `dir` exists; if not, skips (`skip`) naming
/// `make`, what makes it.
pub fn package_or_skip(test: &str, dir: &std::path::Path, make: &str) -> bool {
    let there = dir.join("model.json").is_file();
    if !there {
        skip(format!("SKIP {test}: no package at {} ({make})", dir.display()));
    }
    there
}

/// `$HELIO_TEST_INTER_MODEL_DIR`, else `<workspace>/models/ssf`.
pub fn inter_model_dir() -> PathBuf {
    std::env::var_os("HELIO_TEST_INTER_MODEL_DIR").map_or_else(|| workspace().join("models/ssf"), PathBuf::from)
}

/// Intra + inter packages to test P-frames with, or `None` (after printing why).
pub fn inter_model_or_skip(test: &str) -> Option<ModelSource> {
    let ModelSource::Dir(intra) = model_or_skip(test)? else { unreachable!("model_or_skip gives a directory") };
    let inter = inter_model_dir();
    if !inter.join("model.json").is_file() {
        skip(format!(
            "SKIP {test}: no inter package at {} (export one with `make export-ssf`, or set HELIO_TEST_INTER_MODEL_DIR)",
            inter.display()
        ));
        return None;
    }
    Some(ModelSource::Dirs { intra, inter: Some(inter) })
}

/// `n` frames of a `w` x `h` window of the bundled frame moving right by one
/// pixel per frame (and down by one every other frame): a slowly changing solar
/// sequence. It starts on the bright loops (176, 208), the most structured part.
pub fn drifting_sequence(n: u32, w: u32, h: u32) -> Vec<Vec<u16>> {
    let (fw, fh, frame) = aia_frame();
    let (x0, y0) = (176.min(fw - w - n), 208.min(fh - h - n));
    (0..n).map(|t| crop(&frame, fw, x0 + t, y0 + t / 2, w, h)).collect()
}

/// The bundled frame mirror-tiled to `size` x `size` (content stays solar),
/// shifted right by `shift` pixels (a drifting sequence for timing P-frames).
pub fn mirror_tiled(size: u32, shift: u32) -> Vec<u16> {
    let (fw, fh, frame) = aia_frame();
    let fold = |i: u32, n: u32| {
        let p = i % (2 * n);
        if p < n { p } else { 2 * n - 1 - p }
    };
    (0..size)
        .flat_map(|y| (0..size).map(move |x| (x + shift, y)))
        .map(|(x, y)| frame[(fold(y, fh) * fw + fold(x, fw)) as usize])
        .collect()
}

/// A decoder on the CPU with `threads` intra-op threads.
pub fn decoder(model: &helio_core::ModelSource, threads: usize) -> helio_core::Decoder {
    helio_core::Decoder::new(helio_core::DecoderConfig {
        model: model.clone(),
        execution_provider: helio_core::ExecutionProvider::Cpu,
        threads,
    })
    .unwrap()
}

/// The samples of 16-bit decoder output.
pub fn u16s(p: &helio_core::codec::PixelBuf) -> &[u16] {
    match p {
        helio_core::codec::PixelBuf::U16(v) => v,
        helio_core::codec::PixelBuf::U8(_) => panic!("expected 16-bit output"),
    }
}

/// Asserts that every (bytes or bpp, PSNR) point of `test` inside `anchor`'s
/// PSNR range needs less rate than `anchor`'s curve there (log-rate
/// interpolated between its points), and that at least 3 points are inside.
pub fn assert_below_curve(test: &[(f64, f64)], anchor: &[(f64, f64)], what: &str) {
    let mut anchor = anchor.to_vec();
    anchor.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut inside = 0;
    for &(b, p) in test {
        let Some(i) = anchor.windows(2).position(|s| s[0].1 <= p && p <= s[1].1) else { continue };
        let ((b0, p0), (b1, p1)) = (anchor[i], anchor[i + 1]);
        let t = if p1 > p0 { (p - p0) / (p1 - p0) } else { 0.0 };
        let b_anchor = (b0.ln() + t * (b1.ln() - b0.ln())).exp();
        assert!(b < b_anchor, "at {p:.2} dB: {b:.4} with {what}, {b_anchor:.4} without");
        inside += 1;
    }
    assert!(inside >= 3, "only {inside} {what} points inside the anchor's PSNR range: {test:?} vs {anchor:?}");
}

/// A 14-bit one-channel encoder on the CPU.
pub fn encoder_with(
    model: &ModelSource,
    w: u32,
    h: u32,
    quality: u8,
    keyframe_interval: u32,
    threads: usize,
    p_frame_decision: helio_core::PFrameDecision,
) -> helio_core::Encoder {
    helio_core::Encoder::new(helio_core::EncoderConfig {
        width: w,
        height: h,
        bit_depth: 14,
        quality,
        model: model.clone(),
        execution_provider: helio_core::ExecutionProvider::Cpu,
        threads,
        keyframe_interval,
        p_frame_decision,
        keyframe_quality_offset: helio_core::DEFAULT_KEYFRAME_QUALITY_OFFSET,
        wavelengths: vec![],
    })
    .unwrap()
}

/// The bundled AIA 171 frames 0..n (real exposures, 12 s apart).
pub fn aia_sequence(n: usize) -> (u32, u32, Vec<Vec<u16>>) {
    let frames: Vec<_> =
        (0..n).map(|i| read_png16(&workspace().join(format!("data/aia171/frame_{i:02}.png")))).collect();
    let (w, h) = (frames[0].0, frames[0].1);
    (w, h, frames.into_iter().map(|f| f.2).collect())
}
