//! The I-frame codec: analysis, gained hyperprior coding, synthesis
//! (the procedure of `models/PACKAGE.md`), on one plane in transform space.
//!
//! Frames of any size are padded by edge replication to a multiple of the
//! model's `pad_multiple` and cropped after synthesis; the decoder derives the
//! padded size from the sequence header, so nothing about padding is coded.
//!
//! I packet payload: two length-prefixed range-coded sections,
//! `u32 BE z_len | z words | u32 BE y_len | y words`, filling the payload exactly.

use crate::frame_coding::{
    self, ContextNetworks, LatentCoder, OnnxHyper, context_networks, image_output, read_sections, to_latent,
    write_sections,
};
pub use crate::frame_coding::{crop, pad_replicate, padded};
use crate::latent_codecs::{HyperpriorBits, Latent};
use crate::model::{LATENT_STRIDE, ModelPackage};
use crate::runtime::{self, ExecutionProvider, Network, SessionSettings};
use crate::{Error, Result};

/// Sessions for the graphs a codec side needs (a decoder skips g_a and h_a).
pub struct Networks {
    g_a: Option<Network>,
    h_a: Option<Network>,
    h_s: Network,
    g_s: Network,
    /// Per channel group: (anchor pass, non-anchor pass); empty for a hyperprior package.
    context: ContextNetworks,
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
        let (g_s, in_use) =
            runtime::resolve_and_create(model.graph("g_s"), "g_s", settings, model.spec.optimization("g_s"))?;
        let make = |name: &'static str, threads: usize| {
            runtime::create_session(model.graph(name), name, in_use, threads, model.spec.optimization(name))
                .and_then(|s| Network::new(name, s))
        };
        let analysis = |name: &'static str| {
            runtime::create_analysis_session(model.graph(name), name, in_use, settings.threads)
                .and_then(|s| Network::new(name, s))
        };
        let context = match &model.spec.context {
            None => ContextNetworks::default(),
            Some(c) => context_networks(c, "", |n| model.context_graph(n), |n| model.spec.optimization(n), in_use)?,
        };
        Ok(Self {
            g_s: Network::new("g_s", g_s)?,
            // h_s picks every symbol's CDF, so encoder and decoder must agree bit
            // for bit; ORT's Conv/ConvTranspose results change with the intra-op
            // thread count at some latent sizes (measured: up to 1.7e-6 at 2x3),
            // so h_s always runs on one thread. It works at 1/64 of the pixels,
            // so this costs almost nothing.
            h_s: make("h_s", HYPER_SYNTHESIS_THREADS)?,
            g_a: if encoder { Some(analysis("g_a")?) } else { None },
            h_a: if encoder { Some(analysis("h_a")?) } else { None },
            context,
            in_use,
        })
    }

    pub fn execution_provider_in_use(&self) -> ExecutionProvider {
        self.in_use
    }
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

    pub fn into_model(self) -> ModelPackage {
        self.model
    }

    pub fn execution_provider_in_use(&self) -> ExecutionProvider {
        self.nets.in_use
    }

    fn padded_dims(&self, width: usize, height: usize) -> (usize, usize) {
        let m = self.model.spec.pad_multiple;
        (padded(width, m), padded(height, m))
    }

    fn latent_shape(&self, width: usize, height: usize) -> [usize; 3] {
        let (pw, ph) = self.padded_dims(width, height);
        [self.model.spec.latent.m, ph / LATENT_STRIDE, pw / LATENT_STRIDE]
    }

    /// Codes a `width` x `height` plane of values in [0, 1] at a 1-based quality.
    pub fn encode(&mut self, plane: &[f32], width: usize, height: usize, quality: u8) -> Result<IntraEncoded> {
        let (bits, y_hat) = self.encode_bits(plane, width, height, quality)?;
        let reconstruction = self.synthesize(&y_hat, width, height)?;
        Ok(IntraEncoded { payload: write_payload(&bits), reconstruction })
    }

    fn encode_bits(&mut self, plane: &[f32], width: usize, height: usize, quality: u8) -> Result<(HyperpriorBits, Latent)> {
        assert_eq!(plane.len(), width * height);
        let q = self.model.spec.quality(quality)?;
        let (pw, ph) = self.padded_dims(width, height);
        let x = pad_replicate(plane, width, height, pw, ph);
        let g_a = self.nets.g_a.as_mut().expect("encoder networks");
        let y = to_latent("g_a output y", g_a.run(&x, [1, 1, ph, pw], &["y"])?.into_iter().next().expect("one output"))?;
        let shape = self.latent_shape(width, height);
        let hyper = OnnxHyper { h_a: self.nets.h_a.as_mut(), h_s: &mut self.nets.h_s };
        let coder = LatentCoder {
            hyperprior: &self.model.hyperprior,
            context: self.model.checkerboard.as_ref(),
            nets: &mut self.nets.context,
            side_image: None,
        };
        coder.encode(q, y, shape, "g_a output y", hyper)
    }

    /// [`IntraCodec::encode`] without the synthesis transform: the payload only,
    /// for an encoder whose output nothing references (all-intra).
    pub fn encode_payload(&mut self, plane: &[f32], width: usize, height: usize, quality: u8) -> Result<Vec<u8>> {
        let (bits, _) = self.encode_bits(plane, width, height, quality)?;
        Ok(write_payload(&bits))
    }

    /// Decodes a payload into a `width` x `height` plane in transform space.
    pub fn decode(&mut self, payload: &[u8], width: usize, height: usize, quality: u8) -> Result<Vec<f32>> {
        let y_hat = self.decode_latent(payload, width, height, quality)?;
        self.synthesize(&y_hat, width, height)
    }

    /// The entropy-decoding half of [`IntraCodec::decode`]: `y_hat` (after
    /// inv_gain), ready for [`IntraCodec::synthesize`]. Public so benchmarks can
    /// time the entropy model apart from the synthesis network.
    pub fn decode_latent(&mut self, payload: &[u8], width: usize, height: usize, quality: u8) -> Result<Latent> {
        let q = self.model.spec.quality(quality).map_err(|_| {
            Error::Corrupt(format!("quality {quality} is out of range 1..={}", self.model.spec.quality_levels()))
        })?;
        let bits = read_payload(payload)?;
        let shape = self.latent_shape(width, height);
        let coder = LatentCoder {
            hyperprior: &self.model.hyperprior,
            context: self.model.checkerboard.as_ref(),
            nets: &mut self.nets.context,
            side_image: None,
        };
        coder.decode(q, &bits, shape, &mut self.nets.h_s)
    }

    /// Synthesis of a decoded latent into a `width` x `height` plane (transform space).
    pub     fn synthesize(&mut self, y_hat: &Latent, width: usize, height: usize) -> Result<Vec<f32>> {
        let (pw, ph) = self.padded_dims(width, height);
        let out = self.nets.g_s.run(&y_hat.data, [1, y_hat.channels, y_hat.height, y_hat.width], &["x_hat"])?;
        Ok(frame_coding::crop(&image_output("g_s output x_hat", out, pw, ph)?, pw, width, height))
    }
}

pub fn write_payload(bits: &HyperpriorBits) -> Vec<u8> {
    write_sections(&[&bits.z, &bits.y])
}

pub fn read_payload(payload: &[u8]) -> Result<HyperpriorBits> {
    let [z, y] = read_sections(payload, "I", ["z", "y"])?;
    Ok(HyperpriorBits { z, y })
}

#[cfg(test)]
mod tests {
    use super::*;

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
