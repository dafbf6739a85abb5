//! The default intra and P packages are the best trained so far (issues 4
//! and 5): on the bundled AIA 171 frames each needs fewer bytes at equal PSNR
//! than the package it replaced, which stays in models/legacy (models/legacy/README.md says when
//! and why it was replaced). A new default names its predecessor here.

mod common;

use common::*;
use helio_core::ModelSource;
use helio_core::codec::Pixels;

/// The intra package the default `models/checkerboard` replaced.
const PREVIOUS_INTRA: &str = "legacy/checkerboard-5bd669f3a5d73a8e";

#[test]
fn default_intra_package_beats_the_one_it_replaced() {
    let test = "default_intra_beats_previous";
    if model_or_skip(test).is_none() {
        return;
    }
    let dirs = ["checkerboard", PREVIOUS_INTRA].map(|n| workspace().join("models").join(n));
    if !dirs.iter().all(|d| package_or_skip(test, d, "models/README.md")) {
        return;
    }
    let (w, h, frame) = aia_frame();
    let [new, old] = dirs.map(|dir| {
        let model = ModelSource::Dirs { intra: dir.clone(), inter: None };
        (1..=6)
            .map(|q| {
                let mut enc = encoder_with(&model, w, h, q, 1, 2, Default::default());
                let bytes = enc.encode(Pixels::U16(&frame), true).unwrap().data.len();
                let psnr = psnr_sqrt_display(&frame, u16s(enc.last_reconstruction().unwrap()), 14);
                eprintln!("{}: q{q} {bytes} B {psnr:.2} dB", dir.display());
                (bytes as f64, psnr)
            })
            .collect::<Vec<_>>()
    });
    assert_below_curve(&new, &old, "the default intra package");
}

/// The last P package whose networks the default `models/ssf-checkerboard`
/// replaced (the one it replaced directly, b9b90d0b37eec680, has the same
/// networks and names older I-frames: models/ssf-checkerboard/MODEL_CARD.md).
const PREVIOUS_INTER: &str = "legacy/ssf-checkerboard-b20381d95f2d02d2";

/// The same for the default P package: P-frames 1..3 of the bundled AIA 171
/// frames, each from the previous decoded frame (always P), after the same
/// default I-frame, need fewer bytes at equal PSNR than with the package it
/// replaced.
#[test]
fn default_inter_package_beats_the_one_it_replaced() {
    let test = "default_inter_beats_previous";
    if model_or_skip(test).is_none() {
        return;
    }
    let models = workspace().join("models");
    let dirs = ["ssf-checkerboard", PREVIOUS_INTER].map(|n| models.join(n));
    if !dirs.iter().chain([&models.join("checkerboard")]).all(|d| package_or_skip(test, d, "models/README.md")) {
        return;
    }
    let (w, h, frames) = aia_sequence(4);
    let [new, old] = dirs.map(|dir| {
        let model = ModelSource::Dirs { intra: models.join("checkerboard"), inter: Some(dir.clone()) };
        (1..=6)
            .map(|q| {
                let mut enc = encoder_with(&model, w, h, q, 30, 2, helio_core::PFrameDecision::Always);
                let (mut bytes, mut psnr) = (0.0, 0.0);
                for (i, f) in frames.iter().enumerate() {
                    let coded = enc.encode(Pixels::U16(f), false).unwrap();
                    if i > 0 {
                        assert_eq!(coded.frame_type, helio_core::bitstream::FrameType::P);
                        bytes += coded.data.len() as f64 / 3.0;
                        psnr += psnr_sqrt_display(f, u16s(enc.last_reconstruction().unwrap()), 14) / 3.0;
                    }
                }
                eprintln!("{}: q{q} {bytes:.0} B {psnr:.2} dB per P-frame", dir.display());
                (bytes, psnr)
            })
            .collect::<Vec<_>>()
    });
    assert_below_curve(&new, &old, "the default P package");
}

/// The embedded default P package names the embedded default intra package
/// (model.json `intra_model`: it or its hyperprior twin, the pair its card
/// measured; models/PACKAGE.md), so a default helioenc logs no pairing warning.
#[test]
fn default_inter_package_names_the_default_intra_package() {
    use helio_core::model::{InterPackage, ModelPackage};
    let intra = ModelPackage::load(&ModelSource::Embedded).unwrap();
    let inter = InterPackage::load(&ModelSource::Embedded).unwrap().expect("an embedded P package");
    assert_eq!(inter.intra_model_note(&intra), None, "the default P package names another intra package (models/PACKAGE.md, intra_model)");
}
