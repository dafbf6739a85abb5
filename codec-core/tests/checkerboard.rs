//! The channel-groups/checkerboard intra package (`models/checkerboard`, entropy
//! model kind 2) through codec-core on the bundled real AIA 171 frame: decoded
//! output equals the encoder's reconstruction, independent of the thread count
//! and of the process, and its rate-PSNR points lie below the plain hyperprior
//! package's curve (fewer bits at equal quality).

mod common;

use std::path::PathBuf;

use common::*;
use helio_core::bitstream::{EntropyModelKind, SequenceHeader};
use helio_core::codec::Pixels;
use helio_core::{Encoder, ModelSource};

/// `$HELIO_TEST_CB_MODEL_DIR`, else `<workspace>/models/checkerboard`.
fn cb_dir() -> PathBuf {
    std::env::var_os("HELIO_TEST_CB_MODEL_DIR").map_or_else(|| workspace().join("models/checkerboard"), PathBuf::from)
}

fn cb_or_skip(test: &str) -> Option<ModelSource> {
    model_or_skip(test)?;
    let dir = cb_dir();
    package_or_skip(test, &dir, "make export-checkerboard").then_some(ModelSource::Dirs { intra: dir, inter: None })
}

fn encoder(model: &ModelSource, w: u32, h: u32, quality: u8, threads: usize) -> Encoder {
    encoder_with(model, w, h, quality, 1, threads, Default::default())
}

#[test]
fn checkerboard_round_trips_and_spends_fewer_bits_than_the_hyperprior() {
    let Some(cb) = cb_or_skip("checkerboard_round_trips") else { return };
    let hp = ModelSource::Dirs { intra: model_dir(), inter: None };
    let (w, h, frame) = aia_frame();
    let levels = encoder(&cb, w, h, 1, 1).quality_levels();
    let (mut curve_cb, mut curve_hp) = (Vec::new(), Vec::new());
    for q in 1..=levels {
        let mut enc = encoder(&cb, w, h, q, 2);
        let data = enc.encode(Pixels::U16(&frame), true).unwrap().data;
        let header = SequenceHeader::parse(&data).unwrap();
        assert_eq!(header.entropy_model, EntropyModelKind::ChannelGroupsCheckerboard);
        // Decoders on 1 and 2 threads both reproduce the encoder exactly.
        for threads in [1, 2] {
            let got = decoder(&cb, threads).decode(&data).unwrap();
            assert_eq!(Some(&got.pixels), enc.last_reconstruction(), "q{q}, {threads} decoder threads");
        }
        let got = decoder(&cb, 1).decode(&data).unwrap();
        let psnr_cb = psnr_sqrt_display(&frame, u16s(&got.pixels), 14);

        let mut enc_hp = encoder(&hp, w, h, q, 2);
        let data_hp = enc_hp.encode(Pixels::U16(&frame), true).unwrap().data;
        let psnr_hp = psnr_sqrt_display(&frame, u16s(enc_hp.last_reconstruction().unwrap()), 14);
        let bpp = |n: usize| n as f64 * 8.0 / (w * h) as f64;
        eprintln!(
            "q{q}: checkerboard {:.4} bpp {psnr_cb:.2} dB, hyperprior {:.4} bpp {psnr_hp:.2} dB",
            bpp(data.len()),
            bpp(data_hp.len())
        );
        curve_cb.push((bpp(data.len()), psnr_cb));
        curve_hp.push((bpp(data_hp.len()), psnr_hp));
    }
    // Every checkerboard point inside the hyperprior's PSNR range needs fewer bits
    // than the hyperprior at that PSNR (log-rate interpolated between its points).
    assert_below_curve(&curve_cb, &curve_hp, "checkerboard bpp");
    // The hyperprior package cannot decode a kind-2 stream (other model id).
    let data = encoder(&cb, w, h, 1, 1).encode(Pixels::U16(&frame), true).unwrap().data;
    let err = decoder(&hp, 1).decode(&data).unwrap_err().to_string();
    assert!(err.contains("model"), "{err}");
}

/// Encodes here, decodes in a fresh process of this test binary with another
/// thread count, and compares the decoded samples.
#[test]
fn checkerboard_decodes_identically_in_a_fresh_process() {
    let Some(cb) = cb_or_skip("checkerboard_fresh_process") else { return };
    let (w, h, frame) = aia_frame();
    let mut enc = encoder(&cb, w, h, 4, 1);
    let data = enc.encode(Pixels::U16(&frame), true).unwrap().data;
    let dir = std::env::temp_dir().join(format!("helio-cb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (stream, out) = (dir.join("frame.helio"), dir.join("decoded.raw"));
    std::fs::write(&stream, &data).unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_decodes_a_stream", "--nocapture"])
        .env("HELIO_CB_CHILD_STREAM", &stream)
        .env("HELIO_CB_CHILD_OUT", &out)
        .status()
        .unwrap();
    assert!(status.success(), "child decoder failed");
    let decoded = std::fs::read(&out).unwrap();
    let want: Vec<u8> = u16s(enc.last_reconstruction().unwrap()).iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(decoded, want, "a fresh process on 2 threads decoded other samples");
}

/// The child half of the test above (does nothing unless started by it).
#[test]
fn child_decodes_a_stream() {
    let (Some(stream), Some(out)) = (std::env::var_os("HELIO_CB_CHILD_STREAM"), std::env::var_os("HELIO_CB_CHILD_OUT"))
    else {
        return;
    };
    let cb = ModelSource::Dirs { intra: cb_dir(), inter: None };
    helio_core::runtime::init(None).unwrap();
    let got = decoder(&cb, 2).decode(&std::fs::read(stream).unwrap()).unwrap();
    std::fs::write(out, u16s(&got.pixels).iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
}

/// The embedded models code new streams with the checkerboard package and
/// still decode streams of the plain hyperprior, switching on each sequence
/// header's model id.
#[test]
fn embedded_decoder_takes_both_hyperprior_and_checkerboard_streams() {
    let Some(cb) = cb_or_skip("embedded_decoder_takes_both") else { return };
    let embedded = helio_core::model::ModelPackage::load(&ModelSource::Embedded).unwrap();
    let dir = helio_core::model::ModelPackage::load(&cb).unwrap();
    assert_eq!(embedded.id, dir.id, "embedded default is not {}", cb_dir().display());
    assert_eq!(embedded.kind, EntropyModelKind::ChannelGroupsCheckerboard);

    let hp = ModelSource::Dirs { intra: model_dir(), inter: None };
    let (w, h, frame) = aia_frame();
    let mut encoders = [encoder(&hp, w, h, 3, 1), encoder(&ModelSource::Embedded, w, h, 3, 1)];
    let mut dec = decoder(&ModelSource::Embedded, 1);
    let hp_id = helio_core::model::ModelPackage::load(&hp).unwrap().id;
    let ids = dec.accepted_model_ids();
    assert!(ids.contains(&hp_id) && ids.contains(&dir.id), "{ids:?}");
    for i in [0, 1, 0] {
        let enc = &mut encoders[i];
        let data = enc.encode(Pixels::U16(&frame), true).unwrap().data;
        let got = dec.decode(&data).unwrap();
        assert_eq!(Some(&got.pixels), enc.last_reconstruction());
    }
}
