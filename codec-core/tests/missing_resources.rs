//! Missing model files and a missing ONNX Runtime library give errors that name
//! the paths tried. Its own test binary: ONNX Runtime must not be loaded yet.

use std::path::{Path, PathBuf};

use helio_core::{Decoder, DecoderConfig, Encoder, EncoderConfig, Error, ExecutionProvider, ModelSource};

#[test]
fn missing_runtime_library_names_the_path() {
    let path = Path::new("/nonexistent/helio-test/libonnxruntime.so.1");
    let err = helio_core::runtime::init(Some(path)).unwrap_err();
    assert!(matches!(err, Error::Runtime(_)), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("/nonexistent/helio-test/libonnxruntime.so.1"), "{msg}");
    assert!(msg.contains("HELIO_ORT_LIB") && msg.contains("make setup"), "no fix in: {msg}");
}

#[test]
fn missing_model_files_name_the_full_path() {
    let dir = std::env::temp_dir().join(format!("helio-missing-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("model.json"), b"{}").unwrap();
    let cfg = EncoderConfig {
        width: 64,
        height: 64,
        bit_depth: 14,
        quality: 1,
        model: ModelSource::Dir(dir.clone()),
        execution_provider: ExecutionProvider::Cpu,
        threads: 1,
        keyframe_interval: 1,
        p_frame_decision: Default::default(),
        keyframe_quality_offset: helio_core::DEFAULT_KEYFRAME_QUALITY_OFFSET,
        wavelengths: vec![],
    };
    let msg = Encoder::new(cfg).err().expect("no graphs, no encoder").to_string();
    assert!(msg.contains(&dir.join("g_a.onnx").display().to_string()), "{msg}");
    assert!(msg.contains("h_s.onnx"), "no hint listing the files: {msg}");

    let nowhere = PathBuf::from("/nonexistent/helio-models");
    let cfg = DecoderConfig { model: ModelSource::Dir(nowhere), execution_provider: ExecutionProvider::Cpu, threads: 1 };
    let msg = Decoder::new(cfg).err().expect("no model, no decoder").to_string();
    assert!(msg.contains("/nonexistent/helio-models/model.json"), "{msg}");
    std::fs::remove_dir_all(&dir).ok();
}
