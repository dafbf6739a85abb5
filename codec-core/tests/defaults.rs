//! The default intra package is the best trained so far (issue 4): on the
//! bundled AIA 171 frame it needs fewer bytes at equal PSNR than the package it
//! replaced, which stays in models/legacy (models/legacy/README.md says when
//! and why it was replaced). A new default names its predecessor here.

mod common;

use common::*;
use helio_core::ModelSource;
use helio_core::codec::Pixels;

/// The intra package the default `models/checkerboard` replaced.
const PREVIOUS_INTRA: &str = "legacy/checkerboard-53148fca16f8bc4a";

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
