//! The inter package with context models (`models/ssf-checkerboard`: residual
//! latent in channel groups + checkerboard) through codec-core on the bundled
//! real AIA 171 sequence: P-frames decode to the encoder's reconstruction on 1
//! and 2 threads, spend fewer bits than the plain-hyperprior inter package at
//! the same quality, and the embedded decoder takes P-streams of both packages.

mod common;

use std::path::PathBuf;

use common::*;
use helio_core::bitstream::{FrameType, PacketHeader, SEQUENCE_HEADER_LEN};
use helio_core::codec::Pixels;
use helio_core::model::InterPackage;
use helio_core::{Encoder, ModelSource, PFrameDecision};

/// `$HELIO_TEST_INTER_CB_MODEL_DIR`, else `<workspace>/models/ssf-checkerboard`.
fn inter_cb_dir() -> PathBuf {
    std::env::var_os("HELIO_TEST_INTER_CB_MODEL_DIR")
        .map_or_else(|| workspace().join("models/ssf-checkerboard"), PathBuf::from)
}

fn intra_cb_dir() -> PathBuf {
    workspace().join("models/checkerboard")
}

/// (checkerboard inter, plain inter), both behind the checkerboard intra package.
fn packages_or_skip(test: &str) -> Option<(ModelSource, ModelSource)> {
    inter_model_or_skip(test)?;
    for dir in [inter_cb_dir(), intra_cb_dir()] {
        if !package_or_skip(test, &dir, "make export-checkerboard-ssf") {
            return None;
        }
    }
    let with = |inter: PathBuf| ModelSource::Dirs { intra: intra_cb_dir(), inter: Some(inter) };
    Some((with(inter_cb_dir()), with(inter_model_dir())))
}

fn encoder(model: &ModelSource, w: u32, h: u32, quality: u8) -> Encoder {
    encoder_with(model, w, h, quality, 30, 2, PFrameDecision::Always)
}

fn frame_type(unit: &[u8]) -> FrameType {
    let packet = if unit.starts_with(&helio_core::bitstream::HEADER_MAGIC) { &unit[SEQUENCE_HEADER_LEN..] } else { unit };
    PacketHeader::parse(packet, usize::MAX).unwrap().0.frame_type
}

/// Codes the sequence; returns (units, reconstructions, P-frame bytes, mean P-frame PSNR).
fn code(model: &ModelSource, w: u32, h: u32, frames: &[Vec<u16>], q: u8) -> (Vec<Vec<u8>>, Vec<Vec<u16>>, usize, f64) {
    let mut enc = encoder(model, w, h, q);
    let (mut units, mut recs, mut p_bytes, mut psnr) = (Vec::new(), Vec::new(), 0, 0.0);
    for f in frames {
        let data = enc.encode(Pixels::U16(f), false).unwrap().data;
        let rec = u16s(enc.last_reconstruction().unwrap()).to_vec();
        if frame_type(&data) == FrameType::P {
            p_bytes += data.len();
            psnr += psnr_sqrt_display(f, &rec, 14);
        }
        units.push(data);
        recs.push(rec);
    }
    (units, recs, p_bytes, psnr / (frames.len() - 1) as f64)
}

#[test]
fn context_p_frames_decode_exactly_and_cost_fewer_bits() {
    let Some((cb, plain)) = packages_or_skip("context_p_frames") else { return };
    let package = InterPackage::load(&cb).unwrap().unwrap();
    assert!(package.residual_context.is_some(), "{} codes its residual without context", inter_cb_dir().display());
    let (w, h, frames) = aia_sequence(4);
    let levels = package.quality_levels();
    let (mut curve_cb, mut curve_plain) = (Vec::new(), Vec::new());
    for q in 1..=levels {
        let (units, recs, bytes_cb, psnr_cb) = code(&cb, w, h, &frames, q);
        // Decoders on 1 and 2 threads both reproduce the encoder exactly.
        for threads in [1, 2].into_iter().filter(|&t| t == 1 || q == 1) {
            let mut dec = decoder(&cb, threads);
            for (i, (unit, rec)) in units.iter().zip(&recs).enumerate() {
                let got = dec.decode(unit).unwrap();
                assert_eq!(u16s(&got.pixels), rec.as_slice(), "q{q} frame {i}, {threads} decoder threads");
            }
        }
        // The plain package cannot decode the context stream (other model id).
        assert!(decoder(&plain, 1).decode(&units[0]).is_err());
        let (_, _, bytes_plain, psnr_plain) = code(&plain, w, h, &frames, q);
        eprintln!("q{q}: P-frames with context {bytes_cb} B {psnr_cb:.2} dB, plain {bytes_plain} B {psnr_plain:.2} dB");
        curve_cb.push((bytes_cb as f64, psnr_cb));
        curve_plain.push((bytes_plain as f64, psnr_plain));
    }
    // Rate at equal quality: fewer P-frame bytes than the plain package's curve.
    assert_below_curve(&curve_cb, &curve_plain, "context P-frame bytes");
}

/// The embedded models code P-frames with the context package and still decode
/// P-streams of the plain one, switching on each sequence header's model id.
#[test]
fn embedded_decoder_takes_p_streams_of_both_inter_packages() {
    let Some((cb, plain)) = packages_or_skip("embedded_decoder_takes_both_inter") else { return };
    let embedded = InterPackage::load(&ModelSource::Embedded).unwrap().expect("an embedded inter package");
    assert_eq!(embedded.id, InterPackage::load(&cb).unwrap().unwrap().id, "embedded default is not {}", inter_cb_dir().display());
    let all = InterPackage::load_all(&ModelSource::Embedded).unwrap();
    let plain_id = InterPackage::load(&plain).unwrap().unwrap().id;
    assert_eq!(all[1].id, plain_id, "the plain inter package is not embedded behind it");

    let (w, h, frames) = aia_sequence(3);
    let mut dec = decoder(&ModelSource::Embedded, 1);
    for model in [&plain, &ModelSource::Embedded, &plain] {
        let (units, recs, _, _) = code(model, w, h, &frames, 3);
        for (unit, rec) in units.iter().zip(&recs) {
            assert_eq!(u16s(&dec.decode(unit).unwrap().pixels), rec.as_slice());
        }
    }
}

/// `models/legacy/ssf-checkerboard-2ac60fc0e76e2ad9` leaves its warp to
/// codec-core (`"warp": "codec-core"`, `models/split_predict.py`); it was cut
/// from `models/legacy/ssf-checkerboard-bce820e20404fb70`, whose `predict.onnx`
/// warps in ONNX Runtime. Same weights, so on the real sequence both code the
/// same P-frames to within float rounding: bytes and PSNR agree closely.
#[test]
fn codec_warp_codes_as_the_predict_graph_it_replaced() {
    let Some(_) = packages_or_skip("codec_warp_codes_as_the_predict_graph") else { return };
    let legacy = workspace().join("models/legacy");
    let (warp_dir, graph_dir) =
        (legacy.join("ssf-checkerboard-2ac60fc0e76e2ad9"), legacy.join("ssf-checkerboard-bce820e20404fb70"));
    let cb = ModelSource::Dirs { intra: intra_cb_dir(), inter: Some(warp_dir) };
    let package = InterPackage::load(&cb).unwrap().unwrap();
    assert!(package.spec.codec_warp() && graph_dir.join("predict.onnx").is_file());
    let graph = ModelSource::Dirs { intra: intra_cb_dir(), inter: Some(graph_dir) };
    let (w, h, frames) = aia_sequence(3);
    for q in [1, package.quality_levels()] {
        let (_, _, bytes_codec, psnr_codec) = code(&cb, w, h, &frames, q);
        let (_, _, bytes_graph, psnr_graph) = code(&graph, w, h, &frames, q);
        eprintln!("q{q}: codec warp {bytes_codec} B {psnr_codec:.3} dB, predict.onnx {bytes_graph} B {psnr_graph:.3} dB");
        assert!((psnr_codec - psnr_graph).abs() < 0.01, "q{q}: {psnr_codec:.3} vs {psnr_graph:.3} dB");
        assert!(bytes_codec.abs_diff(bytes_graph) * 200 <= bytes_graph, "q{q}: {bytes_codec} vs {bytes_graph} B");
    }
}
