//! Frame-level encoder and decoder: the API the GStreamer elements use.
//!
//! CONTRACT (agreed between codec-core and gst-plugin; keep signatures stable):

use crate::bitstream::{self, FrameType, ModelId, PACKET_HEADER_LEN, PacketHeader, SEQUENCE_HEADER_LEN, SequenceHeader};
use crate::intensity::{ForwardLut, IntensityTransform};
use crate::intra::{IntraCodec, Networks};
use crate::model::{ModelPackage, ModelSource};
use crate::runtime::{ExecutionProvider, SessionSettings};
use crate::{Error, Result};

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
    /// Number written into the packet (increments per frame, for gap detection).
    pub frame_number: u32,
    /// Input samples above the bit depth's maximum, clamped before coding
    /// (nonzero means the caps' bit depth is wrong for the data).
    pub clamped_samples: u64,
}

#[derive(Debug, Clone)]
pub struct DecodedFrame {
    pub width: u32,
    pub height: u32,
    pub bit_depth: u8,
    pub frame_type: FrameType,
    pub pixels: PixelBuf,
    /// From the packet: a jump of more than one means frames were lost.
    pub frame_number: u32,
    /// 1-based quality level the frame was coded at.
    pub quality: u8,
}

pub struct Encoder {
    cfg: EncoderConfig,
    header: SequenceHeader,
    intra: IntraCodec,
    lut: ForwardLut,
    frame_number: u32,
    last_reconstruction: Option<PixelBuf>,
}

impl Encoder {
    /// Loads ONNX Runtime and the models; errors name the paths tried.
    pub fn new(cfg: EncoderConfig) -> Result<Self> {
        check_frame_geometry(cfg.width, cfg.height, cfg.bit_depth)?;
        let model = ModelPackage::load(&cfg.model)?;
        model.spec.quality(cfg.quality)?;
        let settings = SessionSettings { execution_provider: cfg.execution_provider, threads: cfg.threads };
        let nets = Networks::for_encoder(&model, settings)?;
        let transform = IntensityTransform::default_for_bit_depth(cfg.bit_depth);
        let header = SequenceHeader {
            width: cfg.width,
            height: cfg.height,
            channels: 1,
            bit_depth: cfg.bit_depth,
            transform,
            entropy_model: model.kind,
            quality_levels: model.spec.quality_levels(),
            model_id: model.id,
        };
        header.validate().map_err(|e| Error::Config(e.to_string()))?;
        Ok(Self {
            lut: ForwardLut::new(transform, cfg.bit_depth),
            intra: IntraCodec::new(model, nets),
            header,
            cfg,
            frame_number: 0,
            last_reconstruction: None,
        })
    }

    /// The sequence header bytes (for caps `streamheader`).
    pub fn sequence_header(&self) -> Vec<u8> {
        self.header.to_bytes()
    }

    /// Which execution provider is really in use (for logging).
    pub fn execution_provider_in_use(&self) -> ExecutionProvider {
        self.intra.execution_provider_in_use()
    }

    pub fn encode(&mut self, pixels: Pixels<'_>, _force_keyframe: bool) -> Result<EncodedFrame> {
        // Every frame is an I-frame with its sequence header until inter coding
        // exists, so every frame is a keyframe and `force_keyframe` holds trivially.
        let (w, h, bd) = (self.cfg.width as usize, self.cfg.height as usize, self.cfg.bit_depth);
        let mut plane = vec![0f32; w * h];
        let clamped_samples = match (pixels, bd) {
            (Pixels::U8(p), 8) if p.len() == w * h => self.lut.apply_u8(p, &mut plane),
            (Pixels::U16(p), 9..=16) if p.len() == w * h => self.lut.apply_u16(p, &mut plane),
            (p, _) => {
                let (kind, len) = match p {
                    Pixels::U8(p) => ("8-bit", p.len()),
                    Pixels::U16(p) => ("16-bit", p.len()),
                };
                return Err(Error::Config(format!(
                    "got {len} {kind} samples; expected {} samples of {} for a {w}x{h} frame at bit depth {bd}",
                    w * h,
                    if bd == 8 { "8 bits (GRAY8)" } else { "16 bits (GRAY16)" }
                )));
            }
        };
        let coded = self.intra.encode(&plane, w, h, self.cfg.quality)?;
        let packet = PacketHeader {
            frame_type: FrameType::I,
            quality: self.cfg.quality,
            channel: 0,
            frame_number: self.frame_number,
            payload_len: 0, // set by write_packet
        };
        if coded.payload.len() > self.header.max_payload_len() {
            // Decoders would reject it; only a badly broken model gets here.
            return Err(Error::Model(format!("payload of {} bytes exceeds the bitstream bound", coded.payload.len())));
        }
        let mut data = Vec::with_capacity(SEQUENCE_HEADER_LEN + PACKET_HEADER_LEN + coded.payload.len());
        self.header.write(&mut data);
        bitstream::write_packet(&packet, &coded.payload, &mut data);
        self.last_reconstruction = Some(to_pixels(&coded.reconstruction, self.header.transform, bd));
        let frame_number = self.frame_number;
        self.frame_number = self.frame_number.wrapping_add(1);
        Ok(EncodedFrame { data, frame_type: FrameType::I, frame_number, clamped_samples })
    }

    /// Decoder-side reconstruction of the last encoded frame (for tests / PSNR overlays).
    pub fn last_reconstruction(&self) -> Option<&PixelBuf> {
        self.last_reconstruction.as_ref()
    }

    /// Changes the quality level from the next frame on (1..=quality_levels()).
    pub fn set_quality(&mut self, quality: u8) -> Result<()> {
        self.intra.model().spec.quality(quality)?;
        self.cfg.quality = quality;
        Ok(())
    }

    /// Number of quality levels of the loaded model.
    pub fn quality_levels(&self) -> u8 {
        self.header.quality_levels
    }

    /// Identity of the loaded model package (written into every sequence header).
    pub fn model_id(&self) -> ModelId {
        self.header.model_id
    }
}

pub struct Decoder {
    intra: IntraCodec,
    header: Option<SequenceHeader>,
}

impl Decoder {
    pub fn new(cfg: DecoderConfig) -> Result<Self> {
        let model = ModelPackage::load(&cfg.model)?;
        let settings = SessionSettings { execution_provider: cfg.execution_provider, threads: cfg.threads };
        let nets = Networks::for_decoder(&model, settings)?;
        Ok(Self { intra: IntraCodec::new(model, nets), header: None })
    }

    pub fn execution_provider_in_use(&self) -> ExecutionProvider {
        self.intra.execution_provider_in_use()
    }

    /// Decodes one access unit (optional sequence header + one frame packet).
    /// Corrupt data -> Err (the caller skips the frame); a P-frame without a
    /// reference -> Err(Error::NeedKeyframe).
    pub fn decode(&mut self, data: &[u8]) -> Result<DecodedFrame> {
        let unit = bitstream::parse_access_unit(data, self.header.as_ref())?;
        if let Some(h) = unit.header {
            self.accept_header(h)?;
        }
        let p = unit.packet.header;
        if p.frame_type == FrameType::P {
            return Err(Error::NeedKeyframe);
        }
        let header = self.header.as_ref().ok_or(Error::NeedKeyframe)?;
        if p.channel != 0 || header.channels != 1 {
            return Err(Error::Unsupported("multispectral streams (more than one channel) are not decodable yet".into()));
        }
        let (w, h, bd, transform) = (header.width as usize, header.height as usize, header.bit_depth, header.transform);
        let plane = self.intra.decode(unit.packet.payload, w, h, p.quality)?;
        Ok(DecodedFrame {
            width: w as u32,
            height: h as u32,
            bit_depth: bd,
            frame_type: FrameType::I,
            pixels: to_pixels(&plane, transform, bd),
            frame_number: p.frame_number,
            quality: p.quality,
        })
    }

    /// Takes a sequence header on its own (e.g. from caps `streamheader`).
    pub fn set_sequence_header(&mut self, bytes: &[u8]) -> Result<SequenceHeader> {
        let h = SequenceHeader::parse(bytes)?;
        self.accept_header(h.clone())?;
        Ok(h)
    }

    /// The header in effect, if any.
    pub fn sequence_header(&self) -> Option<&SequenceHeader> {
        self.header.as_ref()
    }

    /// Identity of the loaded model package.
    pub fn model_id(&self) -> ModelId {
        self.intra.model().id
    }

    fn accept_header(&mut self, h: SequenceHeader) -> Result<()> {
        let model = self.intra.model();
        if h.model_id != model.id {
            return Err(Error::ModelMismatch { stream: h.model_id.to_string(), loaded: model.id.to_string() });
        }
        if h.entropy_model != model.kind {
            return Err(Error::Unsupported(format!(
                "stream uses entropy model {:?}, the loaded model is {:?}",
                h.entropy_model, model.kind
            )));
        }
        self.header = Some(h);
        Ok(())
    }

    /// Forget the reference and the sequence header (flush / seek).
    pub fn reset(&mut self) {
        self.header = None;
    }
}

fn check_frame_geometry(width: u32, height: u32, bit_depth: u8) -> Result<()> {
    let dims = bitstream::MIN_DIMENSION..=bitstream::MAX_DIMENSION;
    if !dims.contains(&width) || !dims.contains(&height) {
        return Err(Error::Config(format!("frame size {width}x{height} is outside 64..=4096 in either dimension")));
    }
    if !(bitstream::MIN_BIT_DEPTH..=bitstream::MAX_BIT_DEPTH).contains(&bit_depth) {
        return Err(Error::Config(format!("bit depth {bit_depth} is outside 8..=16")));
    }
    Ok(())
}

/// Transform-space plane -> samples (8-bit depth gives U8, deeper gives U16).
fn to_pixels(plane: &[f32], transform: IntensityTransform, bit_depth: u8) -> PixelBuf {
    if bit_depth == 8 {
        PixelBuf::U8(plane.iter().map(|&t| transform.inverse(t, 8) as u8).collect())
    } else {
        PixelBuf::U16(plane.iter().map(|&t| transform.inverse(t, bit_depth)).collect())
    }
}

/// The GStreamer elements keep these behind a Mutex and use them from streaming
/// threads: losing `Send` (e.g. through a new field) must fail to compile here.
#[allow(dead_code)]
fn _encoder_and_decoder_are_send() {
    fn is_send<T: Send>() {}
    is_send::<Encoder>();
    is_send::<Decoder>();
}
