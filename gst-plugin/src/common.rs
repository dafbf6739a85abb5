// SPDX-License-Identifier: MPL-2.0

//! Things shared by the helio elements: the execution-provider enum, model
//! source selection and the caps vocabulary of `video/x-helio`.

use std::path::{Path, PathBuf};

use gst::glib;
use gst::prelude::*;

/// Media type of the helio elementary stream.
pub const HELIO_CAPS_NAME: &str = "video/x-helio";

/// Custom meta heliodec puts on every decoded frame (a GstCustomMeta, GStreamer 1.20+):
/// its structure `HelioFrameMeta` has `frame-number` (u32, from the packet: the encoder's
/// count from the start of the stream), `frame-type` ("I", "P" or "X"), `quality` (u32)
/// and `bytes` (u64: the coded access unit, headers included). heliostats reads it;
/// applications can too (`gst_buffer_get_custom_meta (buf, "HelioFrameMeta")`).
pub const FRAME_META: &str = "HelioFrameMeta";

/// What heliodec knows of a decoded frame's coding (see [`FRAME_META`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameStats {
    pub frame_number: u32,
    pub frame_type: char,
    pub quality: u32,
    pub bytes: u64,
}

impl FrameStats {
    pub fn attach(&self, buffer: &mut gst::BufferRef) {
        if let Ok(mut meta) = gst::meta::CustomMeta::add(buffer, FRAME_META) {
            let s = meta.mut_structure();
            s.set("frame-number", self.frame_number);
            s.set("frame-type", self.frame_type.to_string());
            s.set("quality", self.quality);
            s.set("bytes", self.bytes);
        }
    }

    pub fn from_buffer(buffer: &gst::BufferRef) -> Option<FrameStats> {
        let meta = gst::meta::CustomMeta::from_buffer(buffer, FRAME_META).ok()?;
        let s = meta.structure();
        Some(FrameStats {
            frame_number: s.get("frame-number").ok()?,
            frame_type: s.get::<&str>("frame-type").ok()?.chars().next()?,
            quality: s.get("quality").ok()?,
            bytes: s.get("bytes").ok()?,
        })
    }
}

/// Writes `samples` (rows of `width`, packed) into a GRAY16_LE plane whose rows are
/// `stride` bytes apart.
pub fn write_gray16_le(plane: &mut [u8], stride: usize, width: usize, samples: &[u16]) {
    for (dst, src) in plane.chunks_mut(stride).zip(samples.chunks_exact(width)) {
        for (d, s) in dst[..2 * width].chunks_exact_mut(2).zip(src) {
            d.copy_from_slice(&s.to_le_bytes());
        }
    }
}

/// Frame sizes the codec accepts (the networks downsample by 64).
pub const MIN_DIMENSION: i32 = 64;
pub const MAX_DIMENSION: i32 = 4096;

/// Human readable summary of the raw formats helio codes, for error messages.
pub const SUPPORTED_RAW: &str = "video/x-raw, format=(string){ GRAY8, GRAY16_LE }, \
     width=[ 64, 4096 ], height=[ 64, 4096 ]; or video/x-multispectral (same formats and \
     sizes, channels=[ 1, 16 ], wavelengths=<...>, see docs/MULTISPECTRAL.md)";

/// ONNX Runtime execution provider selection (`execution-provider` property).
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstHelioExecutionProvider")]
pub enum ExecutionProvider {
    #[enum_value(
        name = "Auto: CUDA when ONNX Runtime has it and a GPU is present, else CPU",
        nick = "auto"
    )]
    Auto = 0,
    #[enum_value(name = "CPU", nick = "cpu")]
    Cpu = 1,
    #[enum_value(name = "CUDA (fails at start if unavailable)", nick = "cuda")]
    Cuda = 2,
}

impl From<ExecutionProvider> for helio_core::ExecutionProvider {
    fn from(ep: ExecutionProvider) -> Self {
        match ep {
            ExecutionProvider::Auto => helio_core::ExecutionProvider::Auto,
            ExecutionProvider::Cpu => helio_core::ExecutionProvider::Cpu,
            ExecutionProvider::Cuda => helio_core::ExecutionProvider::Cuda,
        }
    }
}

/// helioenc's `p-frame-decision` property: how a frame the GoP schedule makes a
/// P-frame is coded.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstHelioPFrameDecision")]
pub enum PFrameDecision {
    #[enum_value(
        name = "Rate-distortion: code the frame as P and as I, keep the lower cost (adds an I-frame encode, about 1.4x the time)",
        nick = "rd"
    )]
    Rd = 0,
    #[enum_value(
        name = "Always a P-frame within a GoP, whatever it costs",
        nick = "always"
    )]
    Always = 1,
}

impl From<PFrameDecision> for helio_core::PFrameDecision {
    fn from(d: PFrameDecision) -> Self {
        match d {
            PFrameDecision::Rd => helio_core::PFrameDecision::Rd,
            PFrameDecision::Always => helio_core::PFrameDecision::Always,
        }
    }
}

/// Blurb of the `inter-model-dir` property (the same on helioenc and heliodec).
pub const INTER_MODEL_DIR_BLURB: &str = "Folder of a helio inter (P-frame) package (model.json + \
     m_g_a/m_h_a/m_h_s/predict/r_g_a/r_h_a/r_h_s/r_g_s.onnx, + r_side/r_cg*.onnx for a residual \
     with context). Empty = the default: with model-dir empty the inter packages embedded in the \
     plugin (if it was built with them: models/ssf-checkerboard codes, models/ssf is still \
     decoded), else '<model-dir>/ssf' when it exists. Without an inter package every frame is \
     an I-frame (encoder) and streams with P-frames are refused (decoder)";

/// The `inter-model-dir` property of helioenc and heliodec.
pub fn inter_model_dir_pspec() -> glib::ParamSpec {
    glib::ParamSpecString::builder("inter-model-dir")
        .nick("Inter model directory")
        .blurb(INTER_MODEL_DIR_BLURB)
        .default_value(Some(""))
        .mutable_ready()
        .build()
}

/// Maps the `model-dir` and `inter-model-dir` properties to a model source:
/// both empty select the packages compiled into the library; `model-dir` alone
/// looks for the inter package in its `ssf/` subdirectory.
pub fn model_source(model_dir: &str, inter_model_dir: &str) -> Result<helio_core::ModelSource, String> {
    match (model_dir.is_empty(), inter_model_dir.is_empty()) {
        (true, true) => Ok(helio_core::ModelSource::Embedded),
        (true, false) => Err(format!(
            "inter-model-dir '{inter_model_dir}' needs model-dir too (the intra package the inter package pairs with)"
        )),
        (false, true) => Ok(helio_core::ModelSource::Dir(PathBuf::from(model_dir))),
        (false, false) => Ok(helio_core::ModelSource::Dirs {
            intra: PathBuf::from(model_dir),
            inter: Some(PathBuf::from(inter_model_dir)),
        }),
    }
}

/// [`check_model_dir`] for both properties, then [`model_source`]: the
/// start-time check of helioenc and heliodec (`element` = "encoder" / "decoder"),
/// so that a wrong path fails READY->PAUSED naming it.
pub fn checked_model_source(
    model_dir: &str,
    inter_model_dir: &str,
    element: &str,
) -> Result<helio_core::ModelSource, gst::ErrorMessage> {
    check_model_dir(model_dir)
        .and_then(|()| check_model_dir(inter_model_dir).map_err(|e| format!("inter-{e}")))
        .and_then(|()| model_source(model_dir, inter_model_dir))
        .map_err(|msg| {
            gst::error_msg!(
                gst::ResourceError::NotFound,
                ("Cannot start helio {}: {}", element, msg)
            )
        })
}

/// Cheap early check of `model-dir`, so that a wrong path fails the state
/// change (READY -> PAUSED) with a message naming the path, before any caps
/// are known. The full validation happens when codec-core loads the package.
pub fn check_model_dir(model_dir: &str) -> Result<(), String> {
    if model_dir.is_empty() {
        return Ok(());
    }
    let dir = Path::new(model_dir);
    if !dir.is_dir() {
        return Err(format!(
            "model-dir '{}' does not exist or is not a directory",
            dir.display()
        ));
    }
    let json = dir.join("model.json");
    if !json.is_file() {
        return Err(format!(
            "model-dir '{}' is not a helio model package: '{}' is missing",
            dir.display(),
            json.display()
        ));
    }
    Ok(())
}

/// Builds the `streamheader` field value: an array holding one buffer with
/// the sequence header, flagged HEADER (as vorbis/theora do).
pub fn streamheader_value(header: &[u8]) -> gst::Array {
    let mut buffer = gst::Buffer::from_mut_slice(header.to_vec());
    buffer
        .get_mut()
        .expect("new buffer is writable")
        .set_flags(gst::BufferFlags::HEADER);
    gst::Array::new([buffer])
}

/// Adds the sequence header's `wavelengths` (multispectral streams) to helio caps.
pub fn with_wavelengths(
    builder: gst::caps::Builder<gst::caps::NoFeature>,
    wavelengths: &[u16],
) -> gst::caps::Builder<gst::caps::NoFeature> {
    if wavelengths.is_empty() {
        return builder;
    }
    builder.field("wavelengths", gst::Array::new(wavelengths.iter().map(|&w| w as i32)))
}

/// Reads the first buffer of a `streamheader` caps field, if any.
pub fn streamheader_from_caps(s: &gst::StructureRef) -> Option<Vec<u8>> {
    let array = s.get::<gst::ArrayRef>("streamheader").ok()?;
    let mut out = Vec::new();
    for value in array.iter() {
        if let Ok(buffer) = value.get::<gst::Buffer>() {
            let map = buffer.map_readable().ok()?;
            out.extend_from_slice(map.as_slice());
        }
    }
    if out.is_empty() { None } else { Some(out) }
}
