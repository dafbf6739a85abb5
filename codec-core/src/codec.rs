//! Frame-level encoder and decoder: the API the GStreamer elements use.
//!
//! CONTRACT (agreed between codec-core and gst-plugin; keep signatures stable).
//!
//! GoP structure: the encoder codes an I-frame (with the sequence header) on the
//! first frame, every `keyframe_interval` frames, when forced and after
//! [`Encoder::reset`]; the frames between are P-frames when an inter package is
//! loaded. Both sides predict a P-frame from the previous frame's decoded output
//! samples, so the decoder's output equals the encoder's reconstruction bit for bit.
//!
//! Mode decision: with [`PFrameDecision::Rd`] (the default) a frame the GoP
//! schedule would code as P is coded both as P and as I, and the encoder keeps
//! the one with the lower rate-distortion cost ([`RdCost`], the training loss);
//! an I-frame chosen this way is a normal keyframe (sequence header + I packet)
//! and the GoP restarts from it. [`PFrameDecision::Always`] codes every
//! scheduled P-frame as P (half the encode time).
//!
//! Multispectral frames ([`EncoderConfig::wavelengths`]): each channel is one
//! access unit. Channel 0 is coded like a monochrome frame; a later channel may
//! also be an X-frame, predicted by the P networks from an earlier channel of the
//! same frame (the one whose gain-matched copy is closest), which is how the
//! codec exploits the correlation between wavelengths. A frame is a keyframe
//! (sequence header in front) when none of its channels is a P-frame.
//!
//! Model id: an encoder that can code P- or X-frames writes
//! [`combined_id`]`(intra id, inter id)` into the sequence header, otherwise the
//! intra package's id; a decoder accepts both given the packages (BITSTREAM.md).

use crate::bitstream::{self, FrameType, ModelId, PACKET_HEADER_LEN, PacketHeader, SequenceHeader};
use crate::intensity::{ForwardLut, IntensityTransform};
use crate::inter::{GAIN_ONE, InterCodec, InterNetworks, fit_gain};
use crate::intra::{IntraCodec, Networks};
use crate::model::{InterPackage, ModelPackage, ModelSource, combined_id};
use crate::runtime::{ExecutionProvider, SessionSettings};
use crate::{Error, Result};

/// Samples of one frame, tightly packed (no stride), row-major; a multispectral
/// frame holds its channels' planes one after the other, in wavelength order.
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

impl PixelBuf {
    pub fn as_pixels(&self) -> Pixels<'_> {
        match self {
            PixelBuf::U8(p) => Pixels::U8(p),
            PixelBuf::U16(p) => Pixels::U16(p),
        }
    }

    /// Plane `c` of a frame of planes of `n` samples.
    pub fn plane(&self, c: usize, n: usize) -> Pixels<'_> {
        match self {
            PixelBuf::U8(p) => Pixels::U8(&p[c * n..(c + 1) * n]),
            PixelBuf::U16(p) => Pixels::U16(&p[c * n..(c + 1) * n]),
        }
    }
}

/// How the encoder codes a frame the GoP schedule makes a P-frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PFrameDecision {
    /// Code it as P and as I (X for a later channel of a multispectral frame;
    /// X and I for such a channel in a keyframe), keep the lower rate-distortion
    /// cost ([`RdCost`]): a scene cut or a P model that does badly on the
    /// content gives an I-frame. An alternative is skipped while the candidate
    /// coded before it costs under [`RD_SKIP_MARGIN`] of what the alternative
    /// cost when last coded for that channel, at most [`RD_RECHECK_FRAMES`]
    /// frames in a row: it could hardly have won by that margin, and coding it
    /// costs a whole encode (at 512x512 on 2 CPU cores, 0.74 s instead of
    /// 0.52 s per frame).
    #[default]
    Rd,
    /// Always a P-frame within a GoP, whatever it costs.
    Always,
}

/// [`PFrameDecision::Rd`] skips the alternative to a P-frame costing under this
/// share of the alternative's last cost. Costs are dominated by the distortion
/// term, which both candidates share: on the bundled AIA frames a P-frame
/// costs 0.65-0.9 of an I-frame (codec-core/tests/inter.rs prints them).
pub const RD_SKIP_MARGIN: f64 = 0.85;
/// ...but codes it again after this many skips, in case the content changed.
pub const RD_RECHECK_FRAMES: u32 = 8;

/// Rate-distortion cost of one coded frame, as the models were trained:
/// `cost = lambda * 255^2 * mse + bits / pixels`, with `lambda` the quality's
/// `lambda` in the intra package, `mse` between the input and the decoder's output
/// in the network domain (intensity-transformed values in [0, 1], the unpadded
/// frame) and `bits` everything the unit adds to the stream (8 x `bytes`,
/// packet header and, for an I-frame, the sequence header included).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RdCost {
    pub frame_type: FrameType,
    pub bytes: usize,
    pub mse: f64,
    pub cost: f64,
}

impl RdCost {
    /// The cost of a unit of `bytes` bytes decoding to a frame `mse` away from
    /// the input (network domain), at `lambda`, for `pixels` pixels.
    pub fn new(frame_type: FrameType, bytes: usize, mse: f64, lambda: f64, pixels: usize) -> Self {
        let cost = lambda * 255.0 * 255.0 * mse + 8.0 * bytes as f64 / pixels as f64;
        Self { frame_type, bytes, mse, cost }
    }
}

/// [`EncoderConfig::keyframe_quality_offset`] of helioenc and the tools: one level
/// took 1.4-2.9 % off GoP-30 bits at equal PSNR (BD-rate) on the AIA 171/193/304
/// flare frames and 0.5 % on a synthetic 31-frame sequence; two levels were
/// mixed (README.md, "Keyframe quality").
pub const DEFAULT_KEYFRAME_QUALITY_OFFSET: u8 = 1;

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
    /// Distance between I-frames (1 or 0 = every frame). P-frames in between need
    /// an inter package (see [`ModelSource`]); without one every frame is an I-frame.
    pub keyframe_interval: u32,
    /// Whether a scheduled P-frame may become an I-frame when that costs less.
    pub p_frame_decision: PFrameDecision,
    /// Keyframes that P-frames follow (GoP starts: the first frame, every
    /// `keyframe_interval`, forced, after a reset) are coded this many quality
    /// levels above `quality`, capped at the top level: a better reference for
    /// the GoP, as video codecs give I-frames a finer quantizer. No effect when
    /// no P-frames follow (interval 1, no inter package). Each packet carries its
    /// quality, so decoders need nothing. See [`DEFAULT_KEYFRAME_QUALITY_OFFSET`].
    pub keyframe_quality_offset: u8,
    /// Wavelength of each channel of a multispectral stream (Angstrom, strictly
    /// increasing); empty = one channel. X-frames need an inter package.
    pub wavelengths: Vec<u16>,
}

impl EncoderConfig {
    /// Planes per frame.
    pub fn channels(&self) -> usize {
        self.wavelengths.len().max(1)
    }
}

#[derive(Debug, Clone)]
pub struct DecoderConfig {
    pub model: ModelSource,
    pub execution_provider: ExecutionProvider,
    pub threads: usize,
}

/// How one channel of a frame was coded.
#[derive(Debug, Clone)]
pub struct UnitCoding {
    pub channel: u8,
    pub frame_type: FrameType,
    /// X-frames: the channel predicted from.
    pub ref_channel: Option<u8>,
    /// This unit alone (a keyframe's sequence header counted in channel 0).
    pub rd: RdCost,
    /// Candidates coded and dropped by the mode decision.
    pub rejected: Vec<RdCost>,
}

#[derive(Debug, Clone)]
pub struct EncodedFrame {
    /// Bytes to emit: for keyframes the sequence header, then one packet per channel.
    pub data: Vec<u8>,
    /// I when the frame is a keyframe (no channel needs the previous frame), else P.
    pub frame_type: FrameType,
    /// Number written into the packet (increments per frame, for gap detection).
    pub frame_number: u32,
    /// Input samples above the bit depth's maximum, clamped before coding
    /// (nonzero means the caps' bit depth is wrong for the data).
    pub clamped_samples: u64,
    /// Rate-distortion cost of the coded frame (all channels: mean MSE, all bytes).
    pub rd: RdCost,
    /// Monochrome streams: the candidate coded and dropped by the mode decision
    /// ([`PFrameDecision::Rd`] on a scheduled P-frame: the P-frame when I won, the
    /// I-frame when P won). Per channel in `units`.
    pub rejected: Option<RdCost>,
    /// Per channel, in order.
    pub units: Vec<UnitCoding>,
}

#[derive(Debug, Clone)]
pub struct DecodedFrame {
    pub width: u32,
    pub height: u32,
    pub bit_depth: u8,
    /// I for a keyframe, else P (some channel was predicted from the previous frame).
    pub frame_type: FrameType,
    /// All channels' planes, one after the other (see [`Pixels`]).
    pub pixels: PixelBuf,
    pub channels: u8,
    /// From the sequence header; empty for monochrome streams without one.
    pub wavelengths: Vec<u16>,
    /// From the packet: a jump of more than one means frames were lost.
    pub frame_number: u32,
    /// 1-based quality level the frame was coded at.
    pub quality: u8,
    /// Channels of a multispectral frame that could not be decoded (damaged,
    /// or predicted from a lost band): their planes are zeros. The others are
    /// good. Empty for a complete frame.
    pub lost: Vec<LostChannel>,
}

/// A band missing from a decoded multispectral frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostChannel {
    pub channel: u8,
    /// Its wavelength (Angstrom), when the stream names them.
    pub wavelength: Option<u16>,
    pub reason: String,
}

/// Damage confined to one access unit: a multispectral frame conceals it.
fn is_unit_damage(e: &Error) -> bool {
    matches!(e, Error::Corrupt(_) | Error::Truncated { .. } | Error::NoReference { .. })
}

pub struct Encoder {
    cfg: EncoderConfig,
    header: SequenceHeader,
    intra: IntraCodec,
    /// P-frame codec; `None` = I-frames only (no inter package, or keyframe interval 1).
    inter: Option<InterCodec>,
    lut: ForwardLut,
    frame_number: u32,
    /// Frames coded since the last I-frame; `None` = the next frame must be an I-frame.
    gop_position: Option<u32>,
    /// The last frame's decoded output samples (all channels): what a decoder
    /// outputs, and the reference of the next P-frame.
    last_reconstruction: Option<PixelBuf>,
    /// Per channel, `last_reconstruction` in transform space (P-frame references).
    last_reference: Option<Vec<Vec<f32>>>,
    /// Whether all-intra frames are synthesized (see [`Encoder::set_reconstruction`]).
    reconstruct: bool,
    /// Per channel, the cost of its last I and X candidates and the frames
    /// since ([`PFrameDecision::Rd`] skips a candidate the better one beat clearly).
    last_cost: Vec<LastCost>,
}

/// See [`Encoder::last_cost`]: (cost, frames since it was coded).
#[derive(Debug, Clone, Copy, Default)]
struct LastCost {
    i: Option<(f64, u32)>,
    x: Option<(f64, u32)>,
}

/// Whether a candidate costing `cost` beats by [`RD_SKIP_MARGIN`] what the
/// alternative cost when last coded, recently enough to skip coding it again.
fn clearly_beats(cost: Option<f64>, last: Option<(f64, u32)>) -> bool {
    match (cost, last) {
        (Some(cost), Some((alt, age))) => age < RD_RECHECK_FRAMES && cost < RD_SKIP_MARGIN * alt,
        _ => false,
    }
}

/// `last` after a frame: `coded` when that candidate was coded, else one frame older.
fn age(last: Option<(f64, u32)>, coded: Option<f64>) -> Option<(f64, u32)> {
    match (coded, last) {
        (Some(cost), _) => Some((cost, 0)),
        (None, l) => l.map(|(cost, age)| (cost, age + 1)),
    }
}

/// One way of coding one channel of the current frame.
struct Candidate {
    frame_type: FrameType,
    ref_channel: u8,
    payload: Vec<u8>,
    pixels: PixelBuf,
    /// `pixels` in transform space: the reference of later P- and X-frames.
    reference: Vec<f32>,
    rd: RdCost,
}

/// Loads the intra package and, when `source` has one, the inter package checked against it.
fn load_packages(source: &ModelSource) -> Result<(ModelPackage, Option<InterPackage>)> {
    let intra = ModelPackage::load(source)?;
    let inter = InterPackage::load(source)?;
    if let Some(inter) = &inter {
        inter.check_pairs_with(&intra)?;
    }
    Ok((intra, inter))
}

impl Encoder {
    /// Loads ONNX Runtime and the models; errors name the paths tried.
    pub fn new(cfg: EncoderConfig) -> Result<Self> {
        check_frame_geometry(cfg.width, cfg.height, cfg.bit_depth)?;
        let (model, inter_model) = load_packages(&cfg.model)?;
        model.spec.quality(cfg.quality)?;
        let settings = SessionSettings { execution_provider: cfg.execution_provider, threads: cfg.threads };
        let nets = Networks::for_encoder(&model, settings)?;
        // With a keyframe interval of 1 and one channel no P- or X-frame can
        // occur: skip the inter sessions and keep the intra package's id, so
        // intra-only streams stay decodable without the inter package.
        if cfg.channels() > bitstream::MAX_CHANNELS as usize {
            return Err(Error::Config(format!("{} wavelengths; at most 16 per stream", cfg.channels())));
        }
        let inter = match inter_model.filter(|_| cfg.keyframe_interval > 1 || cfg.channels() > 1) {
            Some(m) => {
                let nets = InterNetworks::for_encoder(&m, nets.execution_provider_in_use(), cfg.threads)?;
                Some(InterCodec::new(m, nets))
            }
            None => None,
        };
        let transform = IntensityTransform::default_for_bit_depth(cfg.bit_depth);
        let header = SequenceHeader {
            width: cfg.width,
            height: cfg.height,
            channels: cfg.channels() as u8,
            bit_depth: cfg.bit_depth,
            transform,
            entropy_model: model.kind,
            quality_levels: model.spec.quality_levels(),
            model_id: inter.as_ref().map_or(model.id, |i| combined_id(model.id, i.model().id)),
            wavelengths: cfg.wavelengths.clone(),
        };
        header.validate().map_err(|e| Error::Config(e.to_string()))?;
        let last_cost = vec![LastCost::default(); cfg.channels()];
        Ok(Self {
            lut: ForwardLut::new(transform, cfg.bit_depth),
            intra: IntraCodec::new(model, nets),
            inter,
            header,
            cfg,
            frame_number: 0,
            gop_position: None,
            last_reconstruction: None,
            last_reference: None,
            reconstruct: true,
            last_cost,
        })
    }

    /// With `false`, an encoder without inter coding ([`Encoder::inter_coding`])
    /// skips the synthesis transform, about a third of an I-frame's encode time:
    /// no later frame references its output and nothing chooses between
    /// candidates. [`Encoder::last_reconstruction`] is then `None` and the
    /// frame's `rd.mse` and `rd.cost` are NaN. The coded bytes are the same.
    /// Encoders with inter coding always reconstruct.
    pub fn set_reconstruction(&mut self, reconstruct: bool) {
        self.reconstruct = reconstruct;
    }

    /// The sequence header bytes (for caps `streamheader`).
    pub fn sequence_header(&self) -> Vec<u8> {
        self.header.to_bytes()
    }

    /// Which execution provider is really in use (for logging).
    pub fn execution_provider_in_use(&self) -> ExecutionProvider {
        self.intra.execution_provider_in_use()
    }

    /// Whether P-frames can be coded (an inter package is loaded and the keyframe
    /// interval is above 1); otherwise every frame is an I-frame.
    pub fn inter_coding(&self) -> bool {
        self.inter.is_some()
    }

    /// The frame type the GoP schedule gives the next [`Encoder::encode`] call when
    /// not forced (with [`PFrameDecision::Rd`] a scheduled P-frame may still become I).
    pub fn next_frame_type(&self) -> FrameType {
        match (&self.inter, self.gop_position, &self.last_reconstruction) {
            (Some(_), Some(pos), Some(_)) if pos + 1 < self.cfg.keyframe_interval => FrameType::P,
            _ => FrameType::I,
        }
    }

    /// Quality level of a frame scheduled as `scheduled`: keyframes that start a
    /// GoP of P-frames get [`EncoderConfig::keyframe_quality_offset`] levels more.
    fn frame_quality(&self, scheduled: FrameType) -> u8 {
        let gop = self.inter.is_some() && self.cfg.keyframe_interval > 1;
        if scheduled == FrameType::I && gop {
            self.cfg.quality.saturating_add(self.cfg.keyframe_quality_offset).min(self.header.quality_levels)
        } else {
            self.cfg.quality
        }
    }

    /// Makes the next frame an I-frame that starts a new GoP (after a flush or seek).
    pub fn reset(&mut self) {
        self.gop_position = None;
    }

    /// Codes one frame (all its channels): a keyframe with its sequence header
    /// on the first frame, every `keyframe_interval` frames, after
    /// [`Encoder::reset`] and when `force_keyframe` is set; otherwise P-frames
    /// if inter coding is available.
    pub fn encode(&mut self, pixels: Pixels<'_>, force_keyframe: bool) -> Result<EncodedFrame> {
        let (w, h, bd) = (self.cfg.width as usize, self.cfg.height as usize, self.cfg.bit_depth);
        let (n, channels) = (w * h, self.cfg.channels());
        let mut planes = vec![0f32; n * channels];
        let clamped_samples = match (pixels, bd) {
            (Pixels::U8(p), 8) if p.len() == n * channels => self.lut.apply_u8(p, &mut planes),
            (Pixels::U16(p), 9..=16) if p.len() == n * channels => self.lut.apply_u16(p, &mut planes),
            (p, _) => {
                let (kind, len) = match p {
                    Pixels::U8(p) => ("8-bit", p.len()),
                    Pixels::U16(p) => ("16-bit", p.len()),
                };
                return Err(Error::Config(format!(
                    "got {len} {kind} samples; expected {} samples of {} for {channels} plane(s) of {w}x{h} at bit depth {bd}",
                    n * channels,
                    if bd == 8 { "8 bits (GRAY8)" } else { "16 bits (GRAY16)" }
                )));
            }
        };
        let scheduled = if force_keyframe { FrameType::I } else { self.next_frame_type() };
        let quality = self.frame_quality(scheduled);
        // Costs weigh rate and distortion as the configured level does, also for a
        // keyframe coded levels above it.
        let lambda = self.intra.model().spec.quality(self.cfg.quality)?.lambda;
        let max_payload = self.header.max_payload_len();
        let rd_decision = self.cfg.p_frame_decision == PFrameDecision::Rd;
        // See set_reconstruction: only an encoder without inter coding may skip it.
        let synthesize = self.inter.is_some() || self.reconstruct;
        let mut chosen: Vec<Candidate> = Vec::with_capacity(channels);
        let mut units = Vec::with_capacity(channels);
        for c in 0..channels {
            let plane = &planes[c * n..(c + 1) * n];
            // Candidates in order of preference on equal cost: P, X, I.
            let mut cands = Vec::new();
            let temporal = self.last_reference.as_ref().map(|r| &r[c]);
            if let (FrameType::P, Some(inter), Some(reference)) = (scheduled, &mut self.inter, temporal) {
                let coded = inter.encode(plane, reference, w, h, quality)?;
                cands.push(self.candidate((FrameType::P, 0), 0, coded.payload, &coded.reconstruction, plane, lambda));
            }
            // Under Rd, a candidate far cheaper than an alternative was last time
            // keeps the alternative from being coded (see PFrameDecision::Rd).
            let best_cost = |cands: &[Candidate]| cands.iter().map(|k| k.rd.cost).reduce(f64::min);
            let last = self.last_cost[c];
            // X: in a keyframe always, in a P-frame as the alternative to P.
            let try_x = c > 0
                && (scheduled == FrameType::I || (rd_decision && !clearly_beats(best_cost(&cands), last.x)));
            if let (true, Some(inter)) = (try_x, &mut self.inter) {
                let r = closest_channel(plane, chosen.iter().map(|k| k.reference.as_slice()));
                let coded = inter.encode(plane, &chosen[r].reference, w, h, quality)?;
                let x = self.candidate((FrameType::X, r as u8), 0, coded.payload, &coded.reconstruction, plane, lambda);
                cands.push(x);
            }
            // I: when nothing else can code the channel, and under the RD decision
            // for channel 0 of a P-frame (scene cut) and every channel of a keyframe.
            let try_i = rd_decision && (c == 0 || scheduled == FrameType::I) && !clearly_beats(best_cost(&cands), last.i);
            if cands.is_empty() || try_i {
                // Counts the sequence header on channel 0, as if the frame became a keyframe.
                let header_bytes = if c == 0 { self.header.encoded_len() } else { 0 };
                if synthesize {
                    let coded = self.intra.encode(plane, w, h, quality)?;
                    cands.push(self.candidate((FrameType::I, 0), header_bytes, coded.payload, &coded.reconstruction, plane, lambda));
                } else {
                    // All-intra: the only candidate, and nothing references it.
                    let payload = self.intra.encode_payload(plane, w, h, quality)?;
                    let bytes = header_bytes + PACKET_HEADER_LEN + payload.len();
                    let rd = RdCost::new(FrameType::I, bytes, f64::NAN, lambda, plane.len());
                    let (pixels, reference) = (PixelBuf::U8(Vec::new()), Vec::new());
                    cands.push(Candidate { frame_type: FrameType::I, ref_channel: 0, payload, pixels, reference, rd });
                }
            }
            // Lowest cost, earliest on a tie; a payload over the bitstream bound
            // loses to one within it.
            let key = |k: &Candidate| (k.payload.len() > max_payload, k.rd.cost);
            let best = (1..cands.len()).fold(0, |b, i| if key(&cands[i]) < key(&cands[b]) { i } else { b });
            let cost_of = |t: FrameType| cands.iter().find(|k| k.frame_type == t).map(|k| k.rd.cost);
            // A keyframe coded levels up says nothing of what I or X would cost at the
            // configured level: the next P-frame codes the alternatives again.
            self.last_cost[c] = if quality == self.cfg.quality {
                LastCost { i: age(last.i, cost_of(FrameType::I)), x: age(last.x, cost_of(FrameType::X)) }
            } else {
                LastCost::default()
            };
            let pick = cands.swap_remove(best);
            if pick.payload.len() > max_payload {
                // Decoders would reject it; only a badly broken model gets here.
                return Err(Error::Model(format!("payload of {} bytes exceeds the bitstream bound", pick.payload.len())));
            }
            units.push(UnitCoding {
                channel: c as u8,
                frame_type: pick.frame_type,
                ref_channel: (pick.frame_type == FrameType::X).then_some(pick.ref_channel),
                rd: pick.rd,
                rejected: cands.iter().map(|k| k.rd).collect(),
            });
            chosen.push(pick);
        }

        let keyframe = chosen.iter().all(|k| k.frame_type != FrameType::P);
        let mut data = Vec::with_capacity(chosen.iter().map(|k| k.rd.bytes).sum());
        if keyframe {
            self.header.write(&mut data);
        }
        for (c, k) in chosen.iter().enumerate() {
            let packet = PacketHeader {
                frame_type: k.frame_type,
                quality,
                channel: c as u8,
                ref_channel: k.ref_channel,
                frame_number: self.frame_number,
                payload_len: 0, // set by write_packet
            };
            bitstream::write_packet(&packet, &k.payload, &mut data);
        }
        let mse = chosen.iter().map(|k| k.rd.mse).sum::<f64>() / channels as f64;
        let frame_type = if keyframe { FrameType::I } else { FrameType::P };
        let rd = RdCost::new(frame_type, data.len(), mse, lambda, n * channels);
        let rejected = if channels == 1 { units[0].rejected.first().copied() } else { None };
        self.last_reconstruction = synthesize.then(|| concat_planes(chosen.iter().map(|k| &k.pixels)));
        self.last_reference = synthesize.then(|| chosen.into_iter().map(|k| k.reference).collect());
        self.gop_position = match frame_type {
            FrameType::P => self.gop_position.map(|p| p + 1),
            _ => Some(0),
        };
        let frame_number = self.frame_number;
        self.frame_number = self.frame_number.wrapping_add(1);
        Ok(EncodedFrame { data, frame_type, frame_number, clamped_samples, rd, rejected, units })
    }

    /// Wraps a coded payload of one channel with the decoder's output samples,
    /// their transform (the next reference) and the RD cost against `plane`.
    /// `header_bytes`: the sequence header this unit would carry (channel 0 of a keyframe).
    fn candidate(
        &self,
        (frame_type, ref_channel): (FrameType, u8),
        header_bytes: usize,
        payload: Vec<u8>,
        reconstruction: &[f32],
        plane: &[f32],
        lambda: f64,
    ) -> Candidate {
        let pixels = to_pixels(reconstruction, self.header.transform, self.cfg.bit_depth);
        let reference = reference_plane(&self.lut, pixels.as_pixels());
        let mse = plane.iter().zip(&reference).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum::<f64>()
            / plane.len() as f64;
        let bytes = header_bytes + PACKET_HEADER_LEN + payload.len();
        let rd = RdCost::new(frame_type, bytes, mse, lambda, plane.len());
        Candidate { frame_type, ref_channel, payload, pixels, reference, rd }
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

    /// The model id written into every sequence header: the intra package's id
    /// for I-frame-only streams, else the combined id (see [`combined_id`]).
    pub fn model_id(&self) -> ModelId {
        self.header.model_id
    }
}

/// The previous decoded frame on one side of the codec.
struct Reference {
    width: u32,
    height: u32,
    channels: u8,
    bit_depth: u8,
    transform: IntensityTransform,
    frame_number: u32,
    /// All channels' output samples.
    pixels: PixelBuf,
    /// Channels whose plane is a concealment, not a reference for P-frames.
    lost: Vec<bool>,
}

pub struct Decoder {
    intra: IntraCodec,
    /// Other intra packages this decoder can switch to when a sequence header
    /// names one of them (the embedded hyperprior behind the embedded default).
    alternates: Vec<ModelPackage>,
    settings: SessionSettings,
    inter: Option<InterCodec>,
    /// Other inter packages a sequence header may ask for (the embedded
    /// plain-hyperprior P model behind the embedded default).
    inter_alternates: Vec<InterPackage>,
    header: Option<SequenceHeader>,
    reference: Option<Reference>,
    /// Forward transform of the current header's depth, for references.
    lut: Option<(IntensityTransform, u8, ForwardLut)>,
}

impl Decoder {
    pub fn new(cfg: DecoderConfig) -> Result<Self> {
        // Every intra package once: the first codes new streams, the others are
        // the alternates a sequence header may ask for.
        let mut alternates = ModelPackage::load_all(&cfg.model)?;
        let model = alternates.remove(0);
        let mut inter_alternates = InterPackage::load_all(&cfg.model)?;
        for p in &inter_alternates {
            p.check_pairs_with(&model)?;
        }
        let inter_model = (!inter_alternates.is_empty()).then(|| inter_alternates.remove(0));
        let settings = SessionSettings { execution_provider: cfg.execution_provider, threads: cfg.threads };
        let nets = Networks::for_decoder(&model, settings)?;
        // Alternates get sessions on the provider the first package settled on.
        let settings = SessionSettings { execution_provider: nets.execution_provider_in_use(), ..settings };
        let inter = match inter_model {
            Some(m) => {
                let nets = InterNetworks::for_decoder(&m, nets.execution_provider_in_use(), cfg.threads)?;
                Some(InterCodec::new(m, nets))
            }
            None => None,
        };
        let intra = IntraCodec::new(model, nets);
        Ok(Self { intra, alternates, settings, inter, inter_alternates, header: None, reference: None, lut: None })
    }

    pub fn execution_provider_in_use(&self) -> ExecutionProvider {
        self.intra.execution_provider_in_use()
    }

    /// Whether an inter package is loaded (streams with P-frames are decodable).
    pub fn inter_coding(&self) -> bool {
        self.inter.is_some()
    }

    /// Decodes one frame: its access units, one per channel (optional sequence
    /// header + one frame packet each). Corrupt data -> Err (the caller skips the
    /// frame). A P-frame without its reference (the previous frame, decoded) ->
    /// Err(Error::NoReference); a packet before any sequence header ->
    /// Err(Error::NeedKeyframe). After any error the reference is gone, so
    /// P-frames fail until the next keyframe.
    pub fn decode(&mut self, data: &[u8]) -> Result<DecodedFrame> {
        let result = self.decode_frame(data);
        if result.is_err() {
            // The frame this unit should have produced is lost: a later P-frame
            // predicted from an older one would decode to drifting garbage.
            self.reference = None;
        }
        result
    }

    fn decode_frame(&mut self, data: &[u8]) -> Result<DecodedFrame> {
        let units = bitstream::split_units(data, self.header.as_ref())?;
        let mut planes: Vec<PixelBuf> = Vec::with_capacity(units.len());
        // Transform-space planes of this frame (X-frame references); None = lost.
        let mut refs: Vec<Option<Vec<f32>>> = Vec::with_capacity(units.len());
        let mut lost: Vec<LostChannel> = Vec::new();
        let mut first: Option<PacketHeader> = None;
        let mut predicted = false;
        let mut last_error = None;
        for bytes in &units {
            match self.decode_unit(bytes, &refs, &mut first) {
                Ok((c, pixels, reference, frame_type)) => {
                    // Channels skipped over never arrived (the parser ends a
                    // frame at a damaged unit, so they are usually the last ones).
                    while planes.len() < c {
                        self.conceal(planes.len(), "missing from the frame".into(), &mut planes, &mut refs, &mut lost);
                    }
                    predicted |= frame_type == FrameType::P;
                    refs.push(Some(reference));
                    planes.push(pixels);
                }
                // One band of a multispectral stream is damaged or lost its
                // reference: conceal it (zeros, reported) and keep the others.
                Err(e) if self.header.as_ref().is_some_and(|h| h.channels > 1) && is_unit_damage(&e) => {
                    self.conceal(planes.len(), e.to_string(), &mut planes, &mut refs, &mut lost);
                    last_error = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        let header = self.header.as_ref().ok_or(Error::NeedKeyframe)?;
        if planes.len() > header.channels as usize {
            return Err(Error::Corrupt(format!(
                "frame of {} access units; the stream has {} channel(s)",
                units.len(),
                header.channels
            )));
        }
        while planes.len() < header.channels as usize {
            self.conceal(planes.len(), "missing from the frame".into(), &mut planes, &mut refs, &mut lost);
        }
        if lost.len() == planes.len() {
            return Err(last_error.unwrap_or_else(|| Error::Corrupt("no channel of the frame decoded".into())));
        }
        let header = self.header.as_ref().ok_or(Error::NeedKeyframe)?;
        let p = first.ok_or_else(|| Error::Corrupt("empty frame (no access unit)".into()))?;
        let pixels = concat_planes(planes.iter());
        self.reference = Some(Reference {
            width: header.width,
            height: header.height,
            channels: header.channels,
            bit_depth: header.bit_depth,
            transform: header.transform,
            frame_number: p.frame_number,
            pixels: pixels.clone(),
            lost: refs.iter().map(Option::is_none).collect(),
        });
        Ok(DecodedFrame {
            width: header.width,
            height: header.height,
            bit_depth: header.bit_depth,
            frame_type: if predicted { FrameType::P } else { FrameType::I },
            pixels,
            channels: header.channels,
            wavelengths: header.wavelengths.clone(),
            frame_number: p.frame_number,
            quality: p.quality,
            lost,
        })
    }

    /// A zero plane for channel `c`, reported in `lost`.
    fn conceal(
        &self,
        c: usize,
        reason: String,
        planes: &mut Vec<PixelBuf>,
        refs: &mut Vec<Option<Vec<f32>>>,
        lost: &mut Vec<LostChannel>,
    ) {
        let h = self.header.as_ref().expect("concealment needs the stream's header");
        let n = h.width as usize * h.height as usize;
        planes.push(if h.bit_depth <= 8 { PixelBuf::U8(vec![0; n]) } else { PixelBuf::U16(vec![0; n]) });
        refs.push(None);
        lost.push(LostChannel { channel: c as u8, wavelength: h.wavelengths.get(c).copied(), reason });
    }

    /// One access unit of a frame whose earlier channels are `refs` (their
    /// transform-space planes, None = lost): its channel, samples,
    /// transform-space plane and type. `first` is the first decoded unit's
    /// packet header (the frame's number and quality).
    fn decode_unit(
        &mut self,
        bytes: &[u8],
        refs: &[Option<Vec<f32>>],
        first: &mut Option<PacketHeader>,
    ) -> Result<(usize, PixelBuf, Vec<f32>, FrameType)> {
        let unit = bitstream::parse_access_unit(bytes, self.header.as_ref())?;
        if let Some(h) = unit.header {
            if !refs.is_empty() {
                return Err(Error::Corrupt(format!("sequence header in front of unit {} of a frame", refs.len())));
            }
            self.accept_header(h)?;
        }
        let p = unit.packet.header;
        let c = p.channel as usize;
        let header = self.header.as_ref().ok_or(Error::NeedKeyframe)?;
        if c < refs.len() || c >= header.channels as usize {
            return Err(Error::Corrupt(format!(
                "unit {} of the frame is for channel {c} (stream of {} channel(s), {} already in this frame)",
                refs.len(),
                header.channels,
                refs.len()
            )));
        }
        if let Some(f) = first
            && (f.frame_number, f.quality) != (p.frame_number, p.quality)
        {
            return Err(Error::Corrupt(format!(
                "channel {c} has frame number {} quality {}, the frame's first channel has {} and {}",
                p.frame_number, p.quality, f.frame_number, f.quality
            )));
        }
        let (w, h, bd, transform) = (header.width, header.height, header.bit_depth, header.transform);
        let n = w as usize * h as usize;
        if p.frame_type != FrameType::I && header.model_id == self.intra.model().id {
            return Err(Error::Corrupt(format!(
                "{:?}-frame {} in a stream whose sequence header (model id {}) announces I-frames only",
                p.frame_type, p.frame_number, header.model_id
            )));
        }
        let lut = match &self.lut {
            Some((t, d, lut)) if (*t, *d) == (transform, bd) => lut,
            _ => &self.lut.insert((transform, bd, ForwardLut::new(transform, bd))).2,
        };
        let no_reference = |reason: String| Error::NoReference { frame_number: p.frame_number, reason };
        let plane = match (p.frame_type, &mut self.inter) {
            (FrameType::I, _) => self.intra.decode(unit.packet.payload, w as usize, h as usize, p.quality)?,
            (FrameType::X, Some(inter)) => {
                let reference = refs
                    .get(p.ref_channel as usize)
                    .and_then(Option::as_ref)
                    .ok_or_else(|| no_reference(format!("its reference channel {} was lost", p.ref_channel)))?;
                inter.decode(unit.packet.payload, reference, w as usize, h as usize, p.quality)?
            }
            (FrameType::P, Some(inter)) => {
                let r = self.reference.as_ref().ok_or_else(|| {
                    no_reference("no reference frame (stream joined mid-GoP, or after a reset)".into())
                })?;
                if (r.width, r.height, r.channels, r.bit_depth, r.transform) != (w, h, header.channels, bd, transform) {
                    return Err(no_reference(format!(
                        "the reference is {}x{}x{} at {} bits, the stream is now {w}x{h}x{} at {bd} bits",
                        r.width, r.height, r.channels, r.bit_depth, header.channels
                    )));
                }
                if p.frame_number != r.frame_number.wrapping_add(1) {
                    return Err(no_reference(format!(
                        "frame number jumps from {} to {}: frames were lost",
                        r.frame_number, p.frame_number
                    )));
                }
                if r.lost[c] {
                    return Err(no_reference(format!("channel {c} was lost in frame {}", r.frame_number)));
                }
                let reference = reference_plane(lut, r.pixels.plane(c, n));
                inter.decode(unit.packet.payload, &reference, w as usize, h as usize, p.quality)?
            }
            (t, None) => {
                return Err(Error::Corrupt(format!("{t:?}-frame but no inter package is loaded")));
            }
        };
        let pixels = to_pixels(&plane, transform, bd);
        let reference = reference_plane(lut, pixels.as_pixels());
        first.get_or_insert(p);
        Ok((c, pixels, reference, p.frame_type))
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

    /// Identity of the loaded intra model package.
    pub fn model_id(&self) -> ModelId {
        self.intra.model().id
    }

    /// The sequence header model ids this decoder accepts: each intra package's
    /// id (the one in use, then the alternates), and with an inter package
    /// loaded each one's combined id.
    pub fn accepted_model_ids(&self) -> Vec<ModelId> {
        std::iter::once(self.intra.model()).chain(&self.alternates).flat_map(|p| self.ids_of(p)).collect()
    }

    /// The inter packages, the one in use first.
    fn inter_packages(&self) -> impl Iterator<Item = &InterPackage> {
        self.inter.as_ref().map(InterCodec::model).into_iter().chain(&self.inter_alternates)
    }

    fn ids_of(&self, package: &ModelPackage) -> Vec<ModelId> {
        std::iter::once(package.id).chain(self.inter_packages().map(|i| combined_id(package.id, i.id))).collect()
    }

    fn accept_header(&mut self, h: SequenceHeader) -> Result<()> {
        if !self.ids_of(self.intra.model()).contains(&h.model_id)
            && let Some(i) = self.alternates.iter().position(|p| self.ids_of(p).contains(&h.model_id))
        {
            // The stream was coded with another of our intra packages: switch.
            let package = self.alternates.remove(i);
            let nets = Networks::for_decoder(&package, self.settings)?;
            let previous = std::mem::replace(&mut self.intra, IntraCodec::new(package, nets));
            self.alternates.push(previous.into_model());
            self.reference = None;
        }
        let intra_id = self.intra.model().id;
        if self.inter.is_some()
            && let Some(j) = self.inter_alternates.iter().position(|p| combined_id(intra_id, p.id) == h.model_id)
        {
            // P-frames coded with another of our inter packages: switch.
            let package = self.inter_alternates.remove(j);
            let ep = self.intra.execution_provider_in_use();
            let nets = InterNetworks::for_decoder(&package, ep, self.settings.threads)?;
            let previous = self.inter.replace(InterCodec::new(package, nets)).expect("checked above");
            self.inter_alternates.push(previous.into_model());
            self.reference = None;
        }
        let model = self.intra.model();
        if !self.accepted_model_ids().contains(&h.model_id) {
            let loaded = match &self.inter {
                Some(inter) => format!(
                    "{} (intra package {}, I-frames only) or {} (with inter package {} {})",
                    model.id,
                    model.origin,
                    combined_id(model.id, inter.model().id),
                    inter.model().origin,
                    inter.model().id
                ),
                None => format!(
                    "{} (intra package {}; no inter package loaded, so streams with P-frames are refused)",
                    model.id, model.origin
                ),
            };
            return Err(Error::ModelMismatch { stream: h.model_id.to_string(), loaded });
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
        self.reference = None;
    }
}

/// Transform-space plane of decoded samples (the reference of P- and X-frames).
fn reference_plane(lut: &ForwardLut, pixels: Pixels<'_>) -> Vec<f32> {
    match pixels {
        Pixels::U8(p) => {
            let mut out = vec![0f32; p.len()];
            lut.apply_u8(p, &mut out);
            out
        }
        Pixels::U16(p) => {
            let mut out = vec![0f32; p.len()];
            lut.apply_u16(p, &mut out);
            out
        }
    }
}

/// The planes of one frame, one after the other (all of one sample type).
fn concat_planes<'a>(planes: impl Iterator<Item = &'a PixelBuf>) -> PixelBuf {
    let mut out: Option<PixelBuf> = None;
    for p in planes {
        match (&mut out, p) {
            (None, p) => out = Some(p.clone()),
            (Some(PixelBuf::U8(o)), PixelBuf::U8(p)) => o.extend_from_slice(p),
            (Some(PixelBuf::U16(o)), PixelBuf::U16(p)) => o.extend_from_slice(p),
            _ => unreachable!("one bit depth per frame"),
        }
    }
    out.unwrap_or(PixelBuf::U8(Vec::new()))
}

/// Index of the reference whose least-squares gain-matched copy is closest to
/// `plane` (what an X-frame predicts from): cheap, and on AIA the best
/// neighbour differs per band (1700 from 1600, 1600 from the EUV bands...).
fn closest_channel<'a>(plane: &[f32], references: impl Iterator<Item = &'a [f32]>) -> usize {
    let sse = |reference: &[f32]| {
        let g = fit_gain(plane, reference) as f32 / GAIN_ONE as f32;
        plane.iter().zip(reference).map(|(&x, &r)| ((x - (g * r).clamp(0.0, 1.0)) as f64).powi(2)).sum::<f64>()
    };
    references
        .map(sse)
        .enumerate()
        .fold((0, f64::INFINITY), |best, (i, e)| if e < best.1 { (i, e) } else { best })
        .0
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
