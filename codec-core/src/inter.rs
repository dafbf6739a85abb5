//! The P-frame codec: scale-space flow (the "Inter package" procedure of
//! `models/PACKAGE.md`), on one plane in transform space, predicted from a
//! reference plane.
//!
//! The reference is the intensity transform of the previous frame's *decoded
//! output samples* (integers), which encoder and decoder both hold, so every
//! P-frame starts from identical data on both sides. Both latents (motion and
//! residual) are coded with the gained hyperprior of [`crate::frame_coding`],
//! exactly like the I-frame latent.
//!
//! P packet payload: a global reference gain, then four length-prefixed
//! range-coded sections,
//! `u16 gain | u32 len | motion z | u32 len | motion y | u32 len | residual z | u32 len | residual y`
//! (big-endian), filling the payload exactly.
//!
//! Global gain: AIA's exposure control changes the exposure up to 10x between
//! frames, about 3x after the sqrt transform, and no warp predicts that. The
//! encoder fits `x ~ g * ref` by least squares, sends `round(g * 4096)`, and
//! both sides hand the networks `min(g * ref, 1)` as the reference (saturating
//! like the detector). Both the fit and its use are plain f32/f64 arithmetic
//! on data both sides hold, so they cannot desynchronise.
//!
//! Threads: m_h_s and r_h_s pick symbol CDFs and run on one thread like the
//! intra h_s. predict and r_g_s produce the decoded frame; their outputs were
//! measured bit-identical between 1, 2 and 4 intra-op threads (ORT 1.31 CPU,
//! padded sizes 64x64 .. 1024x1024, see `tests/inter.rs`), so they use the
//! configured thread count. A package with `"warp": "codec-core"` runs only
//! the motion synthesis `m_g_s` in ONNX Runtime and warps with
//! [`crate::warp`], whose output is the same on any thread count and CPU.

use crate::frame_coding::{
    ContextNetworks, LatentCoder, OnnxHyper, context_networks, crop, image_output, pad_replicate, padded, read_sections,
    to_latent, write_sections,
};
use crate::intra::HYPER_SYNTHESIS_THREADS;
use crate::latent_codecs::{HyperpriorBits, Latent};
use crate::model::{InterLatentSpec, InterPackage, InterSpec, LATENT_STRIDE, QualitySpec};
use crate::runtime::{self, ExecutionProvider, Network};
use crate::warp::ScaleSpaceWarp;
use crate::{Error, Result};

/// Sessions of the inter package (a decoder skips the analysis graphs).
pub struct InterNetworks {
    m_g_a: Option<Network>,
    m_h_a: Option<Network>,
    m_h_s: Network,
    /// `predict` (ref, y_hat -> pred), or `m_g_s` (y_hat -> flow) when codec-core warps.
    predict: Network,
    /// The warp after `m_g_s`, and its threads.
    warp: Option<(ScaleSpaceWarp, usize)>,
    r_g_a: Option<Network>,
    r_h_a: Option<Network>,
    r_h_s: Network,
    r_g_s: Network,
    /// Context networks of a latent coded with channel groups + checkerboard (else empty).
    m_context: ContextNetworks,
    r_context: ContextNetworks,
}

impl InterNetworks {
    /// `ep` must be resolved (the intra networks' provider in use), `threads` as configured.
    pub fn for_encoder(model: &InterPackage, ep: ExecutionProvider, threads: usize) -> Result<Self> {
        Self::create(model, ep, threads, true)
    }

    pub fn for_decoder(model: &InterPackage, ep: ExecutionProvider, threads: usize) -> Result<Self> {
        Self::create(model, ep, threads, false)
    }

    fn create(model: &InterPackage, ep: ExecutionProvider, threads: usize, encoder: bool) -> Result<Self> {
        let make = |name: &'static str, threads: usize, inputs: &[&str]| {
            runtime::create_session(model.graph(name), name, ep, threads, model.spec.optimization(name))
                .and_then(|s| Network::with_inputs(name, s, inputs))
        };
        // Encoder-only, output quantized and sent: every optimization (see `runtime`).
        let analysis = |name: &'static str, inputs: &[&str]| {
            encoder
                .then(|| {
                    runtime::create_analysis_session(model.graph(name), name, ep, threads)
                        .and_then(|s| Network::with_inputs(name, s, inputs))
                })
                .transpose()
        };
        let context = |latent: &InterLatentSpec, prefix: &str| match &latent.context {
            None => Ok(ContextNetworks::default()),
            Some(c) => context_networks(c, prefix, |n| model.context_graph(n), |n| model.spec.optimization(n), ep),
        };
        let warp = model.spec.scale_space_warp().map(|w| (w, runtime::intra_threads(threads)));
        let predict_inputs: &[&str] = if warp.is_some() { &["y_hat"] } else { &["ref", "y_hat"] };
        Ok(Self {
            warp,
            m_context: context(&model.spec.motion, "m_")?,
            r_context: context(&model.spec.residual, "r_")?,
            m_g_a: analysis("m_g_a", &["x", "ref"])?,
            m_h_a: analysis("m_h_a", &["y"])?,
            m_h_s: make("m_h_s", HYPER_SYNTHESIS_THREADS, &["z_hat"])?,
            predict: make(model.spec.graph_names()[3], threads, predict_inputs)?,
            r_g_a: analysis("r_g_a", &["x", "pred"])?,
            r_h_a: analysis("r_h_a", &["y"])?,
            r_h_s: make("r_h_s", HYPER_SYNTHESIS_THREADS, &["z_hat"])?,
            r_g_s: make("r_g_s", threads, &["pred", "y_hat"])?,
        })
    }
}

/// Code words of one P-frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PBits {
    /// Global reference gain in units of 1/[`GAIN_ONE`] (never 0).
    pub gain: u16,
    pub motion: HyperpriorBits,
    pub residual: HyperpriorBits,
}

/// `gain` value meaning 1.0.
pub const GAIN_ONE: u16 = 4096;

pub fn write_payload(bits: &PBits) -> Vec<u8> {
    let mut out = bits.gain.to_be_bytes().to_vec();
    out.extend(write_sections(&[&bits.motion.z, &bits.motion.y, &bits.residual.z, &bits.residual.y]));
    out
}

pub fn read_payload(payload: &[u8]) -> Result<PBits> {
    let (gain, sections) = match payload {
        [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]), rest),
        _ => return Err(Error::Corrupt("P payload too short for its gain field".into())),
    };
    if gain == 0 {
        return Err(Error::Corrupt("P payload gain is 0".into()));
    }
    let [mz, my, rz, ry] = read_sections(sections, "P", ["motion z", "motion y", "residual z", "residual y"])?;
    Ok(PBits { gain, motion: HyperpriorBits { z: mz, y: my }, residual: HyperpriorBits { z: rz, y: ry } })
}

/// Least-squares gain of `plane ~ g * reference`, quantized (1 when the reference is black).
pub fn fit_gain(plane: &[f32], reference: &[f32]) -> u16 {
    let (num, den) = plane
        .iter()
        .zip(reference)
        .fold((0f64, 0f64), |(n, d), (&x, &r)| (n + x as f64 * r as f64, d + r as f64 * r as f64));
    if den <= 0.0 || !num.is_finite() {
        return GAIN_ONE;
    }
    (num / den * GAIN_ONE as f64).round().clamp(1.0, u16::MAX as f64) as u16
}

/// The reference the networks see: `min(g * ref, 1)`.
pub fn apply_gain(reference: &[f32], gain: u16) -> Vec<f32> {
    let g = gain as f32 / GAIN_ONE as f32;
    reference.iter().map(|&r| (r * g).clamp(0.0, 1.0)).collect()
}

/// What the encoder produced for one P plane.
pub struct InterEncoded {
    pub payload: Vec<u8>,
    /// The decoder's output for this payload (transform space, cropped, not clamped).
    pub reconstruction: Vec<f32>,
}

/// P-frame encoder/decoder for one inter package.
pub struct InterCodec {
    model: InterPackage,
    nets: InterNetworks,
}

/// Padded geometry of one frame.
#[derive(Clone, Copy)]
struct Dims {
    w: usize,
    h: usize,
    pw: usize,
    ph: usize,
}

impl Dims {
    fn image(&self) -> [usize; 4] {
        [1, 1, self.ph, self.pw]
    }

    fn latent(&self, channels: usize) -> [usize; 3] {
        [channels, self.ph / LATENT_STRIDE, self.pw / LATENT_STRIDE]
    }
}

/// The motion and residual quality entries of a 1-based level.
fn qualities(spec: &InterSpec, quality: u8) -> Result<(&QualitySpec, &QualitySpec)> {
    Ok((spec.motion.quality(quality)?, spec.residual.quality(quality)?))
}

fn nchw([c, h, w]: [usize; 3]) -> [usize; 4] {
    [1, c, h, w]
}

impl InterCodec {
    pub fn new(model: InterPackage, nets: InterNetworks) -> Self {
        Self { model, nets }
    }

    pub fn model(&self) -> &InterPackage {
        &self.model
    }

    pub fn into_model(self) -> InterPackage {
        self.model
    }

    fn dims(&self, width: usize, height: usize) -> Dims {
        let m = self.model.spec.pad_multiple;
        Dims { w: width, h: height, pw: padded(width, m), ph: padded(height, m) }
    }

    /// Codes a `width` x `height` plane (values in [0, 1]) predicted from `reference`
    /// (same size, transform space of the previous decoded output).
    pub fn encode(
        &mut self,
        plane: &[f32],
        reference: &[f32],
        width: usize,
        height: usize,
        quality: u8,
    ) -> Result<InterEncoded> {
        assert_eq!(plane.len(), width * height);
        assert_eq!(reference.len(), width * height);
        let (qm, qr) = qualities(&self.model.spec, quality)?;
        let d = self.dims(width, height);
        let x = pad_replicate(plane, d.w, d.h, d.pw, d.ph);
        let gain = fit_gain(plane, reference);
        let refp = pad_replicate(&apply_gain(reference, gain), d.w, d.h, d.pw, d.ph);
        let nets = &mut self.nets;
        let spec = &self.model.spec;

        let m_g_a = nets.m_g_a.as_mut().expect("encoder networks");
        let out = m_g_a.run_inputs(&[(&x, d.image()), (&refp, d.image())], &["y"])?;
        let y = to_latent("m_g_a output y", out.into_iter().next().expect("one output"))?;
        let hyper = OnnxHyper { h_a: nets.m_h_a.as_mut(), h_s: &mut nets.m_h_s };
        let motion_shape = d.latent(spec.motion.latent.m);
        let coder = LatentCoder {
            hyperprior: &self.model.motion,
            context: self.model.motion_context.as_ref(),
            nets: &mut nets.m_context,
            side_image: None,
        };
        let (motion, y_hat) = coder.encode(qm, y, motion_shape, "m_g_a output y", hyper)?;
        let pred = predict(&mut nets.predict, nets.warp.as_ref(), &refp, &y_hat, d)?;

        let r_g_a = nets.r_g_a.as_mut().expect("encoder networks");
        let out = r_g_a.run_inputs(&[(&x, d.image()), (&pred, d.image())], &["y"])?;
        let y = to_latent("r_g_a output y", out.into_iter().next().expect("one output"))?;
        let hyper = OnnxHyper { h_a: nets.r_h_a.as_mut(), h_s: &mut nets.r_h_s };
        let residual_shape = d.latent(spec.residual.latent.m);
        let coder = LatentCoder {
            hyperprior: &self.model.residual,
            context: self.model.residual_context.as_ref(),
            nets: &mut nets.r_context,
            side_image: Some((&pred, d.image())),
        };
        let (residual, y_hat) = coder.encode(qr, y, residual_shape, "r_g_a output y", hyper)?;
        let reconstruction = synthesize(&mut nets.r_g_s, &pred, &y_hat, d)?;
        Ok(InterEncoded { payload: write_payload(&PBits { gain, motion, residual }), reconstruction })
    }

    /// Decodes a P payload into a `width` x `height` plane in transform space.
    pub fn decode(
        &mut self,
        payload: &[u8],
        reference: &[f32],
        width: usize,
        height: usize,
        quality: u8,
    ) -> Result<Vec<f32>> {
        assert_eq!(reference.len(), width * height);
        let (qm, qr) = qualities(&self.model.spec, quality).map_err(|_| {
            Error::Corrupt(format!("quality {quality} is out of range 1..={}", self.model.quality_levels()))
        })?;
        let bits = read_payload(payload)?;
        let d = self.dims(width, height);
        let refp = pad_replicate(&apply_gain(reference, bits.gain), d.w, d.h, d.pw, d.ph);
        let nets = &mut self.nets;
        let spec = &self.model.spec;
        let m = &self.model;
        let coder =
            LatentCoder { hyperprior: &m.motion, context: m.motion_context.as_ref(), nets: &mut nets.m_context, side_image: None };
        let y_hat = coder.decode(qm, &bits.motion, d.latent(spec.motion.latent.m), &mut nets.m_h_s)?;
        let pred = predict(&mut nets.predict, nets.warp.as_ref(), &refp, &y_hat, d)?;
        let coder = LatentCoder {
            hyperprior: &m.residual,
            context: m.residual_context.as_ref(),
            nets: &mut nets.r_context,
            side_image: Some((&pred, d.image())),
        };
        let y_hat = coder.decode(qr, &bits.residual, d.latent(spec.residual.latent.m), &mut nets.r_h_s)?;
        synthesize(&mut nets.r_g_s, &pred, &y_hat, d)
    }
}

/// Motion synthesis + scale-space warp of the padded reference: both in
/// `predict`, or `m_g_s` then `warp`.
fn predict(
    net: &mut Network,
    warp: Option<&(ScaleSpaceWarp, usize)>,
    refp: &[f32],
    y_hat: &Latent,
    d: Dims,
) -> Result<Vec<f32>> {
    let Some((warp, threads)) = warp else {
        let out = net.run_inputs(&[(refp, d.image()), (&y_hat.data, nchw(y_hat.shape()))], &["pred"])?;
        return image_output("predict output pred", out, d.pw, d.ph);
    };
    let (shape, flow) = net.run_inputs(&[(&y_hat.data, nchw(y_hat.shape()))], &["flow"])?.pop().expect("one output");
    let expected = [1, 4, d.ph / warp.stride(), d.pw / warp.stride()];
    if shape != expected {
        return Err(Error::Model(format!("m_g_s output flow has shape {shape:?}, expected {expected:?}")));
    }
    Ok(warp.predict(refp, &flow, d.pw, d.ph, *threads))
}

/// `pred` + decoded residual, cropped to the frame.
fn synthesize(net: &mut Network, pred: &[f32], y_hat: &Latent, d: Dims) -> Result<Vec<f32>> {
    let out = net.run_inputs(&[(pred, d.image()), (&y_hat.data, nchw(y_hat.shape()))], &["x_hat"])?;
    Ok(crop(&image_output("r_g_s output x_hat", out, d.pw, d.ph)?, d.pw, d.w, d.h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_payload_has_four_sections_in_order() {
        let bits = PBits {
            gain: 0x1234,
            motion: HyperpriorBits { z: vec![1; 4], y: vec![2; 8] },
            residual: HyperpriorBits { z: vec![3; 4], y: vec![4; 12] },
        };
        let p = write_payload(&bits);
        assert_eq!(p.len(), 2 + 4 * 4 + 4 + 8 + 4 + 12);
        assert_eq!(&p[..10], &[0x12, 0x34, 0, 0, 0, 4, 1, 1, 1, 1]);
        assert_eq!(read_payload(&p).unwrap(), bits);
        // An I payload (two sections) is not a P payload.
        let i = crate::intra::write_payload(&bits.motion);
        assert!(read_payload(&i).is_err());
        assert!(read_payload(&[0x10]).unwrap_err().to_string().contains("gain"));
        let mut zero = p.clone();
        zero[..2].copy_from_slice(&[0, 0]);
        assert!(read_payload(&zero).unwrap_err().to_string().contains("gain is 0"));
    }

    #[test]
    fn gain_fit_recovers_an_exposure_change_and_saturates() {
        let r: Vec<f32> = (0..1000).map(|i| i as f32 / 2000.0).collect();
        let x: Vec<f32> = r.iter().map(|v| v * 1.5).collect();
        let g = fit_gain(&x, &r);
        assert_eq!(g, 6144, "1.5 * 4096");
        assert_eq!(fit_gain(&x, &vec![0.0; 1000]), GAIN_ONE);
        let seen = apply_gain(&[0.2, 0.9], 8192);
        assert_eq!(seen, vec![0.4, 1.0]);
    }
}
