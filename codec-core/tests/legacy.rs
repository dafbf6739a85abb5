//! Superseded packages (`models/legacy/<name>/`, compiled into the embedded
//! models by build.rs): streams coded with them, I-frames and GoPs, still
//! decode with the embedded models, to the encoder's reconstruction, after the
//! package that replaced them became the default.

mod common;

use std::path::PathBuf;

use common::*;
use helio_core::codec::Pixels;
use helio_core::model::{InterPackage, ModelPackage};
use helio_core::{ModelSource, PFrameDecision};

/// (intra, inter) superseded package folders, in name order.
fn legacy_dirs() -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(workspace().join("models/legacy"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|d| d.join("model.json").is_file())
        .collect();
    dirs.sort();
    dirs.into_iter().partition(|d| !d.join("predict.onnx").is_file() && !d.join("m_g_s.onnx").is_file())
}

/// Each superseded intra package alone, and each superseded inter package with
/// the first superseded intra package (a stream's header names the pair by a
/// hash of both ids, which the decoder matches against every embedded intra and
/// inter package: one pair per inter package tests each): 3 frames (I, P, P)
/// at quality 2, decoded by one embedded decoder that also takes a stream of
/// the current default in between.
#[test]
fn embedded_models_decode_streams_of_superseded_packages() {
    let Some(_) = inter_model_or_skip("embedded_models_decode_streams_of_superseded_packages") else { return };
    let (intra, inter) = legacy_dirs();
    if intra.is_empty() {
        skip("SKIP embedded_models_decode_streams_of_superseded_packages: models/legacy is empty".into());
        return;
    }
    let embedded_ids: Vec<_> = ModelPackage::load_all(&ModelSource::Embedded).unwrap().iter().map(|p| p.id).collect();
    let embedded_inter: Vec<_> = InterPackage::load_all(&ModelSource::Embedded).unwrap().iter().map(|p| p.id).collect();
    let mut sources = Vec::new();
    for i in &intra {
        let id = ModelPackage::load(&ModelSource::Dirs { intra: i.clone(), inter: None }).unwrap().id;
        assert!(embedded_ids.contains(&id), "{} ({id}) is not embedded: rebuild codec-core", i.display());
        sources.push(ModelSource::Dirs { intra: i.clone(), inter: None });
    }
    for p in &inter {
        let pair = ModelSource::Dirs { intra: intra[0].clone(), inter: Some(p.clone()) };
        let pkg = InterPackage::load(&pair).unwrap().unwrap();
        assert!(embedded_inter.contains(&pkg.id), "{} ({}) is not embedded: rebuild codec-core", p.display(), pkg.id);
        sources.push(pair);
    }
    let (w, h, _) = aia_frame();
    let frames: Vec<_> =
        (0..3).map(|i| read_png16(&workspace().join(format!("data/aia171/frame_{i:02}.png"))).2).collect();
    let mut dec = decoder(&ModelSource::Embedded, 1);
    for source in sources.iter().flat_map(|s| [s, &ModelSource::Embedded]) {
        let mut enc = encoder_with(source, w, h, 2, 30, 2, PFrameDecision::Always);
        for (k, f) in frames.iter().enumerate() {
            let data = enc.encode(Pixels::U16(f), k == 0).unwrap().data;
            let got = dec.decode(&data).unwrap_or_else(|e| panic!("{source:?} frame {k}: {e}"));
            assert_eq!(Some(&got.pixels), enc.last_reconstruction(), "{source:?} frame {k}");
        }
    }
}
