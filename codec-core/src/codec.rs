//! Frame-level encoder and decoder: the API the GStreamer elements use.
//!
//! CONTRACT (agreed between codec-core and gst-plugin; keep signatures stable):

use std::path::PathBuf;

use crate::bitstream::FrameType;
use crate::model::ModelSource;
use crate::runtime::ExecutionProvider;
use crate::Result;

/// Samples of one single-channel frame, tightly packed (no stride), row-major.
#[derive(Debug, Clone, Copy)]
pub enum Pixels<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PixelBuf {
    U8(Vec<u8>),
    U16(Vec<u16>),
}

#[derive(Debug, Clone)]
pub struct EncoderConfig {
    pub width: u32,
    pub height: u32,
    /// Significant bits per sample: 8 for GRAY8; 9..=16 for GRAY16 (14 for SDO/AIA).
    pub bit_depth: u8,
    /// 1 = fewest bits ... model.quality_levels() = best quality.
    pub quality: u8,
    pub model: ModelSource,
    pub execution_provider: ExecutionProvider,
    /// ONNX Runtime intra-op threads (0 = one per core).
    pub threads: usize,
    /// Distance between I-frames (every frame is an I-frame until inter coding lands).
    pub keyframe_interval: u32,
}

#[derive(Debug, Clone)]
pub struct DecoderConfig {
    pub model: ModelSource,
    pub execution_provider: ExecutionProvider,
    pub threads: usize,
}

#[derive(Debug, Clone)]
pub struct EncodedFrame {
    /// Bytes to emit: for keyframes the sequence header followed by the frame packet.
    pub data: Vec<u8>,
    pub frame_type: FrameType,
}

#[derive(Debug, Clone)]
pub struct DecodedFrame {
    pub width: u32,
    pub height: u32,
    pub bit_depth: u8,
    pub frame_type: FrameType,
    pub pixels: PixelBuf,
}

pub struct Encoder {/* private */}

impl Encoder {
    /// Loads ONNX Runtime and the models; errors name the paths tried.
    pub fn new(_cfg: EncoderConfig) -> Result<Self> { todo!() }
    /// The sequence header bytes (for caps `streamheader`).
    pub fn sequence_header(&self) -> Vec<u8> { todo!() }
    /// Which execution provider is really in use (for logging).
    pub fn execution_provider_in_use(&self) -> ExecutionProvider { todo!() }
    pub fn encode(&mut self, _pixels: Pixels<'_>, _force_keyframe: bool) -> Result<EncodedFrame> { todo!() }
    /// Decoder-side reconstruction of the last encoded frame (for tests / PSNR overlays).
    pub fn last_reconstruction(&self) -> Option<&PixelBuf> { todo!() }
}

pub struct Decoder {/* private */}

impl Decoder {
    pub fn new(_cfg: DecoderConfig) -> Result<Self> { todo!() }
    pub fn execution_provider_in_use(&self) -> ExecutionProvider { todo!() }
    /// Decodes one access unit (optional sequence header + one frame packet).
    /// Corrupt data -> Err (the caller skips the frame); a P-frame without a
    /// reference -> Err(Error::NeedKeyframe).
    pub fn decode(&mut self, _data: &[u8]) -> Result<DecodedFrame> { todo!() }
    /// Forget the reference and the sequence header (flush / seek).
    pub fn reset(&mut self) { todo!() }
}

#[allow(dead_code)]
fn _unused(_: PathBuf) {}
