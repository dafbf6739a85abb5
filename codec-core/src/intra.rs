//! The I-frame codec: analysis, gained hyperprior coding, synthesis
//! (the procedure of `models/PACKAGE.md`), on one plane in transform space.
//!
//! Frames of any size are padded by edge replication to a multiple of the
//! model's `pad_multiple` and cropped after synthesis; the decoder derives the
//! padded size from the sequence header, so nothing about padding is coded.
//!
//! I packet payload: two length-prefixed range-coded sections,
//! `u32 BE z_len | z words | u32 BE y_len | y words`, filling the payload exactly.

use crate::latent_codecs::{HyperNets, HyperpriorBits, Latent};
use crate::model::{LATENT_STRIDE, ModelPackage};
use crate::runtime::{self, ExecutionProvider, Network, SessionSettings};
use crate::{Error, Result};

/// Sessions for the graphs a codec side needs (a decoder skips g_a and h_a).
pub struct Networks {
    g_a: Option<Network>,
    h_a: Option<Network>,
    h_s: Network,
    g_s: Network,
    in_use: ExecutionProvider,
}

/// Fixed intra-op thread count of the hyper-synthesis network (see [`Networks::create`]).
pub const HYPER_SYNTHESIS_THREADS: usize = 1;

impl Networks {
    pub fn for_encoder(model: &ModelPackage, settings: SessionSettings) -> Result<Self> {
        Self::create(model, settings, true)
    }

    pub fn for_decoder(model: &ModelPackage, settings: SessionSettings) -> Result<Self> {
        Self::create(model, settings, false)
    }

    fn create(model: &ModelPackage, settings: SessionSettings, encoder: bool) -> Result<Self> {
        // The first session resolves Auto; the rest use what it settled on.
        let (g_s, in_use) = runtime::resolve_and_create(model.graph("g_s"), "g_s", settings)?;
        let make = |name: &'static str, threads: usize| {
            runtime::create_session(model.graph(name), name, in_use, threads).and_then(|s| Network::new(name, s))
        };
        Ok(Self {
            g_s: Network::new("g_s", g_s)?,
            // h_s picks every symbol's CDF, so encoder and decoder must agree bit
            // for bit; ORT's Conv/ConvTranspose results change with the intra-op
            // thread count at some latent sizes (measured: up to 1.7e-6 at 2x3),
            // so h_s always runs on one thread. It works at 1/64 of the pixels,
            // so this costs almost nothing.
            h_s: make("h_s", HYPER_SYNTHESIS_THREADS)?,
            g_a: if encoder { Some(make("g_a", settings.threads)?) } else { None },
            h_a: if encoder { Some(make("h_a", settings.threads)?) } else { None },
            in_use,
        })
    }

    pub fn execution_provider_in_use(&self) -> ExecutionProvider {
        self.in_use
    }
}

fn to_latent(what: &str, (shape, data): (Vec<usize>, Vec<f32>)) -> Result<Latent> {
    match shape[..] {
        [1, c, h, w] => Latent::new(c, h, w, data),
        _ => Err(Error::Model(format!("{what} has shape {shape:?}, expected [1, C, H, W]"))),
    }
}

struct Hyper<'a> {
    h_a: Option<&'a mut Network>,
    h_s: &'a mut Network,
}

impl HyperNets for Hyper<'_> {
    fn h_a(&mut self, y: &Latent) -> Result<Latent> {
        let net = self.h_a.as_deref_mut().expect("h_a is only called by the encoder");
        let out = net.run(&y.data, [1, y.channels, y.height, y.width], &["z"])?;
        to_latent("h_a output z", out.into_iter().next().expect("one output"))
    }

    fn h_s(&mut self, z: &Latent) -> Result<(Latent, Latent)> {
        let mut out = self.h_s.run(&z.data, [1, z.channels, z.height, z.width], &["scales", "means"])?.into_iter();
        let scales = to_latent("h_s output scales", out.next().expect("two outputs"))?;
        let means = to_latent("h_s output means", out.next().expect("two outputs"))?;
        Ok((scales, means))
    }
}

/// Size after padding `n` up to a multiple of `m`.
pub fn padded(n: usize, m: usize) -> usize {
    n.div_ceil(m) * m
}

/// Edge-replicates a `w` x `h` plane into `pw` x `ph`.
pub fn pad_replicate(src: &[f32], w: usize, h: usize, pw: usize, ph: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(pw * ph);
    for r in 0..ph {
        let row = &src[r.min(h - 1) * w..][..w];
        out.extend_from_slice(row);
        out.extend(std::iter::repeat_n(row[w - 1], pw - w));
    }
    out
}

/// The top-left `w` x `h` of a `pw`-wide plane.
pub fn crop(src: &[f32], pw: usize, w: usize, h: usize) -> Vec<f32> {
    (0..h).flat_map(|r| src[r * pw..r * pw + w].iter().copied()).collect()
}

/// I-frame encoder/decoder for one model package.
pub struct IntraCodec {
    model: ModelPackage,
    nets: Networks,
}

/// What the encoder produced for one plane.
pub struct IntraEncoded {
    pub payload: Vec<u8>,
    /// The decoder's output for this payload (transform space, cropped).
    pub reconstruction: Vec<f32>,
}

impl IntraCodec {
    pub fn new(model: ModelPackage, nets: Networks) -> Self {
        Self { model, nets }
    }

    pub fn model(&self) -> &ModelPackage {
        &self.model
    }

    pub fn execution_provider_in_use(&self) -> ExecutionProvider {
        self.nets.in_use
    }

    fn padded_dims(&self, width: usize, height: usize) -> (usize, usize) {
        let m = self.model.spec.pad_multiple;
        (padded(width, m), padded(height, m))
    }

    /// Codes a `width` x `height` plane of values in [0, 1] at a 1-based quality.
    pub fn encode(&mut self, plane: &[f32], width: usize, height: usize, quality: u8) -> Result<IntraEncoded> {
        assert_eq!(plane.len(), width * height);
        let q = self.model.spec.quality(quality)?;
        let (pw, ph) = self.padded_dims(width, height);
        let x = pad_replicate(plane, width, height, pw, ph);
        let g_a = self.nets.g_a.as_mut().expect("encoder networks");
        let out = g_a.run(&x, [1, 1, ph, pw], &["y"])?.into_iter().next().expect("one output");
        let mut y = to_latent("g_a output y", out)?;
        y.expect_shape([self.model.spec.m, ph / LATENT_STRIDE, pw / LATENT_STRIDE], "g_a output y")?;
        apply_gain(&mut y, &q.gain);

        let mut nets = Hyper { h_a: self.nets.h_a.as_mut(), h_s: &mut self.nets.h_s };
        let (bits, mut y_hat) = self.model.hyperprior.compress(&y, &mut nets)?;
        apply_gain(&mut y_hat, &q.inv_gain);
        let reconstruction = self.synthesize(&y_hat, width, height)?;
        Ok(IntraEncoded { payload: write_payload(&bits), reconstruction })
    }

    /// Decodes a payload into a `width` x `height` plane in transform space.
    pub fn decode(&mut self, payload: &[u8], width: usize, height: usize, quality: u8) -> Result<Vec<f32>> {
        let q = self.model.spec.quality(quality).map_err(|_| {
            Error::Corrupt(format!("quality {quality} is out of range 1..={}", self.model.spec.quality_levels()))
        })?;
        let bits = read_payload(payload)?;
        let (pw, ph) = self.padded_dims(width, height);
        let shape = [self.model.spec.m, ph / LATENT_STRIDE, pw / LATENT_STRIDE];
        let mut nets = Hyper { h_a: None, h_s: &mut self.nets.h_s };
        let mut y_hat = self.model.hyperprior.decompress(&bits, shape, &mut nets)?;
        apply_gain(&mut y_hat, &q.inv_gain);
        self.synthesize(&y_hat, width, height)
    }

    fn synthesize(&mut self, y_hat: &Latent, width: usize, height: usize) -> Result<Vec<f32>> {
        let (pw, ph) = self.padded_dims(width, height);
        let out = self.nets.g_s.run(&y_hat.data, [1, y_hat.channels, y_hat.height, y_hat.width], &["x_hat"])?;
        let (shape, x_hat) = out.into_iter().next().expect("one output");
        if shape != [1, 1, ph, pw] {
            return Err(Error::Model(format!("g_s output x_hat has shape {shape:?}, expected [1, 1, {ph}, {pw}]")));
        }
        Ok(crop(&x_hat, pw, width, height))
    }
}

/// Multiplies channel `c` by `gain[c]` (f32, as both sides do).
fn apply_gain(y: &mut Latent, gain: &[f32]) {
    let n = y.plane_len();
    for (c, plane) in y.data.chunks_exact_mut(n).enumerate() {
        plane.iter_mut().for_each(|v| *v *= gain[c]);
    }
}

pub fn write_payload(bits: &HyperpriorBits) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + bits.z.len() + bits.y.len());
    for section in [&bits.z, &bits.y] {
        out.extend_from_slice(&(section.len() as u32).to_be_bytes());
        out.extend_from_slice(section);
    }
    out
}

pub fn read_payload(payload: &[u8]) -> Result<HyperpriorBits> {
    let mut rest = payload;
    let mut section = |name: &str| -> Result<Vec<u8>> {
        let corrupt = |m: String| Error::Corrupt(format!("I payload {name} section: {m}"));
        let len_bytes: [u8; 4] = rest.get(..4).ok_or_else(|| corrupt("missing length".into()))?.try_into().unwrap();
        let len = u32::from_be_bytes(len_bytes) as usize;
        let body = rest.get(4..4 + len).ok_or_else(|| corrupt(format!("length {len} exceeds the payload")))?;
        rest = &rest[4 + len..];
        Ok(body.to_vec())
    };
    let z = section("z")?;
    let y = section("y")?;
    if !rest.is_empty() {
        return Err(Error::Corrupt(format!("I payload has {} bytes after the y section", rest.len())));
    }
    Ok(HyperpriorBits { z, y })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_replicates_edges_and_crop_inverts_it() {
        let (w, h) = (3, 2);
        let src = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let p = pad_replicate(&src, w, h, 5, 4);
        assert_eq!(p, [
            1.0, 2.0, 3.0, 3.0, 3.0, //
            4.0, 5.0, 6.0, 6.0, 6.0, //
            4.0, 5.0, 6.0, 6.0, 6.0, //
            4.0, 5.0, 6.0, 6.0, 6.0,
        ]);
        assert_eq!(crop(&p, 5, w, h), src);
        assert_eq!(padded(101, 64), 128);
        assert_eq!(padded(128, 64), 128);
        assert_eq!(padded(4096, 64), 4096);
    }

    #[test]
    fn payload_sections_round_trip_and_reject_bad_lengths() {
        let bits = HyperpriorBits { z: vec![1, 2, 3, 4], y: vec![9; 8] };
        let p = write_payload(&bits);
        assert_eq!(p.len(), 4 + 4 + 4 + 8);
        assert_eq!(read_payload(&p).unwrap(), bits);
        for n in 0..p.len() {
            assert!(read_payload(&p[..n]).is_err(), "prefix {n} accepted");
        }
        let mut long = p.clone();
        long.push(0);
        assert!(read_payload(&long).is_err());
        let mut huge = p.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(read_payload(&huge).is_err());
    }
}
