//! Entropy models for latents, composed like CompressAI's `latent_codecs`.
//!
//! - [`EntropyBottleneck`]: factorized prior, one table per channel, values
//!   coded as `round(z - median)` (the hyper-latent z).
//! - [`GaussianConditional`]: one table per quantized scale; each element picks
//!   its table from a predicted scale and is coded as `round(y - mean)`.
//! - [`Hyperprior`]: z with the bottleneck, then y conditioned on `h_s(z_hat)`.
//! - [`ChannelGroupsCheckerboard`]: z as the hyperprior, then y group by group
//!   (uneven channel groups), each in two checkerboard passes whose parameters
//!   come from the hyper-synthesis output, the decoded earlier groups and (for
//!   the second pass) the group's decoded anchors.
//!
//! The networks are reached through [`HyperNets`], so this module knows no ONNX
//! and the composition is unit-tested with stand-in closures. Later context
//! models (channel groups, checkerboard) compose the same two leaf codecs: a
//! leaf codes any subset of elements given their symbols and table indexes.
//!
//! Symbol order inside a section: channel-major, then rows, then columns.

use crate::entropy::{CdfTable, MAX_ABS_SYMBOL, SymbolDecoder, SymbolEncoder};
use crate::{Error, Result};

/// A `[C, H, W]` f32 tensor (batch 1), row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Latent {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub data: Vec<f32>,
}

impl Latent {
    pub fn new(channels: usize, height: usize, width: usize, data: Vec<f32>) -> Result<Self> {
        if data.len() != channels * height * width {
            return Err(Error::Runtime(format!(
                "tensor of {} values does not have shape [{channels}, {height}, {width}]",
                data.len()
            )));
        }
        Ok(Self { channels, height, width, data })
    }

    pub fn shape(&self) -> [usize; 3] {
        [self.channels, self.height, self.width]
    }

    pub fn plane_len(&self) -> usize {
        self.height * self.width
    }

    /// Errors unless the shape is `expected`; `what` names the tensor.
    pub fn expect_shape(&self, expected: [usize; 3], what: &str) -> Result<()> {
        if self.shape() == expected {
            Ok(())
        } else {
            Err(Error::Model(format!("{what} has shape {:?}, expected {expected:?}", self.shape())))
        }
    }
}

/// Rounds half away from zero and clamps into the coder's symbol range (NaN -> 0).
pub fn quantize_symbol(x: f32) -> i32 {
    let m = MAX_ABS_SYMBOL as f32;
    x.round().clamp(-m, m) as i32
}

/// Factorized prior for the hyper-latent: per-channel tables and medians.
#[derive(Debug, Clone)]
pub struct EntropyBottleneck {
    medians: Vec<f32>,
    tables: Vec<CdfTable>,
}

impl EntropyBottleneck {
    pub fn new(medians: Vec<f32>, tables: Vec<CdfTable>) -> Result<Self> {
        if medians.len() != tables.len() || medians.is_empty() {
            return Err(Error::Model(format!(
                "entropy bottleneck has {} medians and {} tables; need one of each per channel",
                medians.len(),
                tables.len()
            )));
        }
        Ok(Self { medians, tables })
    }

    pub fn channels(&self) -> usize {
        self.tables.len()
    }

    /// `round(z - median[c])`.
    pub fn quantize(&self, z: &Latent) -> Vec<i32> {
        assert_eq!(z.channels, self.channels());
        let n = z.plane_len();
        z.data.iter().enumerate().map(|(i, &v)| quantize_symbol(v - self.medians[i / n])).collect()
    }

    /// `symbol + median[c]`.
    pub fn dequantize(&self, symbols: &[i32], height: usize, width: usize) -> Latent {
        let n = height * width;
        let data = symbols.iter().enumerate().map(|(i, &s)| s as f32 + self.medians[i / n]).collect();
        Latent { channels: self.channels(), height, width, data }
    }

    pub fn encode(&self, enc: &mut SymbolEncoder, symbols: &[i32], plane_len: usize) -> Result<()> {
        for (i, &s) in symbols.iter().enumerate() {
            enc.encode(s, &self.tables[i / plane_len])?;
        }
        Ok(())
    }

    pub fn decode(&self, dec: &mut SymbolDecoder, height: usize, width: usize) -> Result<Vec<i32>> {
        let n = height * width;
        (0..self.channels() * n).map(|i| dec.decode(&self.tables[i / n])).collect()
    }
}

/// Gaussian conditional: tables indexed by quantized scale.
#[derive(Debug, Clone)]
pub struct GaussianConditional {
    scale_table: Vec<f32>,
    scale_bound: f32,
    tables: Vec<CdfTable>,
}

impl GaussianConditional {
    pub fn new(scale_table: Vec<f32>, scale_bound: f32, tables: Vec<CdfTable>) -> Result<Self> {
        if scale_table.is_empty() || scale_table.len() != tables.len() || scale_table.len() > u16::MAX as usize {
            return Err(Error::Model(format!(
                "gaussian conditional has {} scales and {} tables; need the same number (1..=65535)",
                scale_table.len(),
                tables.len()
            )));
        }
        if !scale_table.windows(2).all(|w| w[0] < w[1]) || !scale_table.iter().all(|s| s.is_finite() && *s > 0.0) {
            return Err(Error::Model("y.scale_table must be positive, finite and strictly increasing".into()));
        }
        if !(scale_bound.is_finite() && scale_bound > 0.0) {
            return Err(Error::Model(format!("y.scale_bound {scale_bound} must be positive")));
        }
        Ok(Self { scale_table, scale_bound, tables })
    }

    /// CompressAI's `build_indexes`: lower-bound the scale by `scale_bound`, then
    /// take the smallest table scale >= it (the last one if none is), i.e. round
    /// the predicted scale *up* to the next tabulated distribution.
    pub fn build_indexes(&self, scales: &[f32]) -> Vec<u16> {
        let last = self.scale_table.len() - 1;
        scales
            .iter()
            .map(|&s| {
                let s = s.max(self.scale_bound); // NaN -> bound
                self.scale_table.partition_point(|&t| t < s).min(last) as u16
            })
            .collect()
    }

    /// `round(y - mean)`.
    pub fn quantize(&self, y: &[f32], means: &[f32]) -> Vec<i32> {
        y.iter().zip(means).map(|(&v, &m)| quantize_symbol(v - m)).collect()
    }

    /// `symbol + mean`.
    pub fn dequantize(&self, symbols: &[i32], means: &[f32]) -> Vec<f32> {
        symbols.iter().zip(means).map(|(&s, &m)| s as f32 + m).collect()
    }

    pub fn encode(&self, enc: &mut SymbolEncoder, symbols: &[i32], indexes: &[u16]) -> Result<()> {
        for (&s, &i) in symbols.iter().zip(indexes) {
            enc.encode(s, &self.tables[i as usize])?;
        }
        Ok(())
    }

    pub fn decode(&self, dec: &mut SymbolDecoder, indexes: &[u16]) -> Result<Vec<i32>> {
        indexes.iter().map(|&i| dec.decode(&self.tables[i as usize])).collect()
    }
}

/// The networks a hyperprior calls.
pub trait HyperNets {
    /// Hyper-analysis: gained latent `[M, h, w]` -> z `[N, h/4, w/4]`.
    fn h_a(&mut self, y: &Latent) -> Result<Latent>;
    /// Hyper-synthesis: `z_hat` -> (scales, means), each `[M, h, w]`.
    fn h_s(&mut self, z_hat: &Latent) -> Result<(Latent, Latent)>;
}

/// Code words of a hyperprior-coded latent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HyperpriorBits {
    pub z: Vec<u8>,
    pub y: Vec<u8>,
}

/// Mean-scale hyperprior (Minnen 2018): z factorized, y Gaussian given h_s(z_hat).
#[derive(Debug, Clone)]
pub struct Hyperprior {
    pub z: EntropyBottleneck,
    pub y: GaussianConditional,
}

/// Spatial downsampling from y to z.
pub const Z_STRIDE: usize = 4;

impl Hyperprior {
    /// Codes `y` (already multiplied by the quality gain). Returns the code words
    /// and the decoder's view of y, `symbols + means`, computed from the coded
    /// integers exactly as [`Hyperprior::decompress`] computes it.
    pub fn compress(&self, y: &Latent, nets: &mut impl HyperNets) -> Result<(HyperpriorBits, Latent)> {
        let (z_bits, z_hat) = self.code_z(y, nets)?;
        let (scales, means) = self.hyper_synthesis(&z_hat, y.shape(), nets)?;
        let indexes = self.y.build_indexes(&scales.data);
        let y_sym = self.y.quantize(&y.data, &means.data);
        let mut enc = SymbolEncoder::new();
        self.y.encode(&mut enc, &y_sym, &indexes)?;
        let y_bits = enc.finish();

        let y_hat = Latent { data: self.y.dequantize(&y_sym, &means.data), ..means };
        Ok((HyperpriorBits { z: z_bits, y: y_bits }, y_hat))
    }

    /// Decodes a latent of shape `y_shape` (`[M, h, w]`) from its code words.
    pub fn decompress(&self, bits: &HyperpriorBits, y_shape: [usize; 3], nets: &mut impl HyperNets) -> Result<Latent> {
        let z_hat = self.decode_z(&bits.z, y_shape)?;
        let (scales, means) = self.hyper_synthesis(&z_hat, y_shape, nets)?;
        let indexes = self.y.build_indexes(&scales.data);
        let mut dec = SymbolDecoder::new(&bits.y)?;
        let y_sym = self.y.decode(&mut dec, &indexes)?;
        Ok(Latent { data: self.y.dequantize(&y_sym, &means.data), ..means })
    }

    /// `z = h_a(y)` coded with the bottleneck: the z section and `z_hat` as the
    /// decoder will see it (the first half of every latent codec here).
    fn code_z(&self, y: &Latent, nets: &mut impl HyperNets) -> Result<(Vec<u8>, Latent)> {
        let [_, h, w] = y.shape();
        let z = nets.h_a(y)?;
        z.expect_shape([self.z.channels(), h / Z_STRIDE, w / Z_STRIDE], "h_a output z")?;
        let z_sym = self.z.quantize(&z);
        let mut enc = SymbolEncoder::new();
        self.z.encode(&mut enc, &z_sym, z.plane_len())?;
        Ok((enc.finish(), self.z.dequantize(&z_sym, z.height, z.width)))
    }

    /// Decoder side of [`Hyperprior::code_z`] for a y of shape `y_shape`.
    fn decode_z(&self, bits: &[u8], y_shape: [usize; 3]) -> Result<Latent> {
        let [_, h, w] = y_shape;
        let (zh, zw) = (h / Z_STRIDE, w / Z_STRIDE);
        let mut dec = SymbolDecoder::new(bits)?;
        let z_sym = self.z.decode(&mut dec, zh, zw)?;
        Ok(self.z.dequantize(&z_sym, zh, zw))
    }

    fn hyper_synthesis(&self, z_hat: &Latent, y_shape: [usize; 3], nets: &mut impl HyperNets) -> Result<(Latent, Latent)> {
        let (scales, means) = nets.h_s(z_hat)?;
        scales.expect_shape(y_shape, "h_s output scales")?;
        means.expect_shape(y_shape, "h_s output means")?;
        Ok((scales, means))
    }
}

/// The networks of [`ChannelGroupsCheckerboard`], beyond the hyperprior's.
pub trait ContextNets: HyperNets {
    /// (scales, means), each `[G_k, h, w]`, of group `k` from the hyper-synthesis
    /// output, the decoded earlier groups (`None` for group 0) and, for the
    /// non-anchor pass, the group's decoded anchors with every non-anchor 0
    /// (`None` for the anchor pass, or for the single pass without local context).
    fn group_params(
        &mut self,
        k: usize,
        hyper: (&Latent, &Latent),
        y_prev: Option<&Latent>,
        anchors: Option<&Latent>,
    ) -> Result<(Latent, Latent)>;
}

/// Uneven channel groups with a checkerboard context (He et al. 2021, the source
/// paper's section III.C without its global context), on a [`Hyperprior`]'s
/// tables: z exactly as the hyperprior codes it, y with the same Gaussian
/// tables but parameters from the context networks. Every pass is one call of
/// a network over the whole latent, so decoding costs `2 x groups` network
/// runs, not one per symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelGroupsCheckerboard {
    /// Channels per group, in coding order; they add up to M.
    pub groups: Vec<usize>,
    /// Second (non-anchor) pass with the local context; without it each group
    /// is one pass over all positions.
    pub local: bool,
}

/// A checkerboard anchor: coded in the first pass of a group.
pub fn is_anchor(row: usize, col: usize) -> bool {
    (row + col) % 2 == 0
}

impl ChannelGroupsCheckerboard {
    /// Codes `y` (already multiplied by the quality gain); returns the code words
    /// and `y_hat` exactly as [`ChannelGroupsCheckerboard::decompress`] computes it.
    pub fn compress(
        &self,
        hp: &Hyperprior,
        y: &Latent,
        nets: &mut impl ContextNets,
    ) -> Result<(HyperpriorBits, Latent)> {
        let (z_bits, z_hat) = hp.code_z(y, nets)?;
        let mut enc = SymbolEncoder::new();
        let y_hat = self.code_groups(hp, &z_hat, y.shape(), nets, |positions, means, indexes| {
            let values: Vec<f32> = positions.iter().map(|&i| y.data[i]).collect();
            let symbols = hp.y.quantize(&values, means);
            hp.y.encode(&mut enc, &symbols, indexes)?;
            Ok(symbols)
        })?;
        Ok((HyperpriorBits { z: z_bits, y: enc.finish() }, y_hat))
    }

    /// Decodes a latent of shape `y_shape` (`[M, h, w]`) from its code words.
    pub fn decompress(
        &self,
        hp: &Hyperprior,
        bits: &HyperpriorBits,
        y_shape: [usize; 3],
        nets: &mut impl ContextNets,
    ) -> Result<Latent> {
        let z_hat = hp.decode_z(&bits.z, y_shape)?;
        let mut dec = SymbolDecoder::new(&bits.y)?;
        self.code_groups(hp, &z_hat, y_shape, nets, |_, _, indexes| hp.y.decode(&mut dec, indexes))
    }

    /// The pass structure both sides share. `code(positions, means, indexes)`
    /// codes the symbols at `positions` (flat indexes into `[M, h, w]`) and
    /// returns them; `y_hat = symbol + mean` is filled in as the passes go.
    fn code_groups(
        &self,
        hp: &Hyperprior,
        z_hat: &Latent,
        y_shape: [usize; 3],
        nets: &mut impl ContextNets,
        mut code: impl FnMut(&[usize], &[f32], &[u16]) -> Result<Vec<i32>>,
    ) -> Result<Latent> {
        let [m, h, w] = y_shape;
        if self.groups.iter().sum::<usize>() != m {
            return Err(Error::Model(format!("channel groups {:?} do not add up to M={m}", self.groups)));
        }
        let (scales, means) = hp.hyper_synthesis(z_hat, y_shape, nets)?;
        let n = h * w;
        let mut y_hat = vec![0f32; m * n];
        let mut start = 0;
        for (k, &g) in self.groups.iter().enumerate() {
            let prev = (k > 0).then(|| Latent { channels: start, height: h, width: w, data: y_hat[..start * n].to_vec() });
            // Some(true): anchors, Some(false): non-anchors, None: all positions.
            let passes: &[Option<bool>] = if self.local { &[Some(true), Some(false)] } else { &[None] };
            let mut anchors = None;
            for &pass in passes {
                let (s, mu) = nets.group_params(k, (&scales, &means), prev.as_ref(), anchors.as_ref())?;
                s.expect_shape([g, h, w], &format!("group {k} scales"))?;
                mu.expect_shape([g, h, w], &format!("group {k} means"))?;
                // Positions of this pass inside the group, then in the whole latent.
                let local: Vec<usize> =
                    (0..g * n).filter(|&i| pass.is_none_or(|a| is_anchor((i % n) / w, i % w) == a)).collect();
                let positions: Vec<usize> = local.iter().map(|&i| start * n + i).collect();
                let pass_means: Vec<f32> = local.iter().map(|&i| mu.data[i]).collect();
                let pass_scales: Vec<f32> = local.iter().map(|&i| s.data[i]).collect();
                let indexes = hp.y.build_indexes(&pass_scales);
                let symbols = code(&positions, &pass_means, &indexes)?;
                for ((&p, &sym), &mean) in positions.iter().zip(&symbols).zip(&pass_means) {
                    y_hat[p] = sym as f32 + mean;
                }
                if pass == Some(true) {
                    // Non-anchors are still 0 here: exactly the network's input.
                    let data = y_hat[start * n..(start + g) * n].to_vec();
                    anchors = Some(Latent { channels: g, height: h, width: w, data });
                }
            }
            start += g;
        }
        Ok(Latent { channels: m, height: h, width: w, data: y_hat })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::tests::{Rng, test_table};

    fn gaussian() -> GaussianConditional {
        let scales = vec![0.11, 0.5, 1.0, 4.0, 16.0];
        let tables = scales.iter().map(|&s: &f32| {
            let half = (s * 4.0).ceil() as usize + 1;
            test_table(2 * half + 1, -(half as i32), s as f64)
        });
        GaussianConditional::new(scales.clone(), 0.11, tables.collect()).unwrap()
    }

    #[test]
    fn build_indexes_matches_compressai() {
        let g = gaussian();
        // CompressAI: idx = (S-1) - #{t in table[:-1] : max(s, bound) <= t}.
        let reference = |s: f32| {
            let s = s.max(0.11);
            let table = [0.11f32, 0.5, 1.0, 4.0, 16.0];
            4 - table[..4].iter().filter(|&&t| s <= t).count() as u16
        };
        for s in [0.0, 0.05, 0.11, 0.2, 0.5, 0.51, 1.0, 3.9, 4.0, 15.0, 16.0, 100.0, -1.0] {
            assert_eq!(g.build_indexes(&[s])[0], reference(s), "scale {s}");
        }
        assert_eq!(g.build_indexes(&[f32::NAN]), vec![0]);
    }

    struct FakeNets;
    impl HyperNets for FakeNets {
        fn h_a(&mut self, y: &Latent) -> Result<Latent> {
            // 2 channels, 4x4 average pooling of channel sums.
            let (h, w) = (y.height / 4, y.width / 4);
            let mut data = vec![0f32; 2 * h * w];
            for c in 0..y.channels {
                for r in 0..y.height {
                    for x in 0..y.width {
                        let v = y.data[(c * y.height + r) * y.width + x];
                        data[(c % 2) * h * w + (r / 4) * w + x / 4] += v / 16.0;
                    }
                }
            }
            Latent::new(2, h, w, data)
        }
        fn h_s(&mut self, z: &Latent) -> Result<(Latent, Latent)> {
            let (h, w) = (z.height * 4, z.width * 4);
            let mut means = Vec::new();
            let mut scales = Vec::new();
            for c in 0..3 {
                for r in 0..h {
                    for x in 0..w {
                        let zv = z.data[(c % 2) * z.plane_len() + (r / 4) * z.width + x / 4];
                        means.push(zv * 0.3);
                        scales.push(0.2 + zv.abs());
                    }
                }
            }
            Ok((Latent::new(3, h, w, scales)?, Latent::new(3, h, w, means)?))
        }
    }

    #[test]
    fn hyperprior_round_trip_and_reconstruction_agree() {
        let z = EntropyBottleneck::new(vec![0.25, -0.5], vec![test_table(9, -4, 1.5), test_table(9, -4, 1.5)]).unwrap();
        let hp = Hyperprior { z, y: gaussian() };
        let mut rng = Rng(7);
        let (m, h, w) = (3, 8, 12);
        let data = (0..m * h * w).map(|_| (rng.range(-4000, 4000) as f32) / 100.0).collect();
        let y = Latent::new(m, h, w, data).unwrap();
        let (bits, y_hat_enc) = hp.compress(&y, &mut FakeNets).unwrap();
        let y_hat_dec = hp.decompress(&bits, [m, h, w], &mut FakeNets).unwrap();
        assert_eq!(y_hat_enc, y_hat_dec);
        // Quantization error of round(y - mean) + mean is at most 1/2.
        for (a, b) in y.data.iter().zip(&y_hat_dec.data) {
            assert!((a - b).abs() <= 0.5 + 1e-4, "{a} vs {b}");
        }
    }

    /// FakeNets plus a context that depends on everything it is given, so any
    /// encoder/decoder difference in what the passes see changes the tables.
    struct FakeContext {
        calls: Vec<(usize, bool, bool)>,
    }
    impl HyperNets for FakeContext {
        fn h_a(&mut self, y: &Latent) -> Result<Latent> {
            FakeNets.h_a(y)
        }
        fn h_s(&mut self, z: &Latent) -> Result<(Latent, Latent)> {
            FakeNets.h_s(z)
        }
    }
    impl ContextNets for FakeContext {
        fn group_params(
            &mut self,
            k: usize,
            (scales, means): (&Latent, &Latent),
            y_prev: Option<&Latent>,
            anchors: Option<&Latent>,
        ) -> Result<(Latent, Latent)> {
            self.calls.push((k, y_prev.is_some(), anchors.is_some()));
            let (start, g) = [(0, 1), (1, 2)][k];
            let n = scales.plane_len();
            let prev_mean = y_prev.map_or(0.0, |p| p.data.iter().sum::<f32>() / p.data.len() as f32);
            let mut s = Vec::new();
            let mut mu = Vec::new();
            for c in 0..g {
                for i in 0..n {
                    let j = (start + c) * n + i;
                    // Left neighbour: an anchor whenever i is a non-anchor.
                    let left = anchors.map_or(0.0, |a| a.data[c * n + i - usize::from(i % scales.width > 0)]);
                    mu.push(means.data[j] + 0.5 * left + 0.1 * prev_mean);
                    s.push(scales.data[j] * if anchors.is_some() { 0.5 } else { 1.0 });
                }
            }
            Ok((Latent::new(g, scales.height, scales.width, s)?, Latent::new(g, scales.height, scales.width, mu)?))
        }
    }

    fn checkerboard(local: bool) -> (Hyperprior, ChannelGroupsCheckerboard) {
        let z = EntropyBottleneck::new(vec![0.25, -0.5], vec![test_table(9, -4, 1.5), test_table(9, -4, 1.5)]).unwrap();
        (Hyperprior { z, y: gaussian() }, ChannelGroupsCheckerboard { groups: vec![1, 2], local })
    }

    #[test]
    fn checkerboard_round_trip_and_pass_structure() {
        let mut rng = Rng(11);
        let (m, h, w) = (3, 8, 12);
        let data = (0..m * h * w).map(|_| (rng.range(-4000, 4000) as f32) / 100.0).collect();
        let y = Latent::new(m, h, w, data).unwrap();
        for local in [true, false] {
            let (hp, cb) = checkerboard(local);
            let mut enc_nets = FakeContext { calls: vec![] };
            let (bits, y_hat_enc) = cb.compress(&hp, &y, &mut enc_nets).unwrap();
            let mut dec_nets = FakeContext { calls: vec![] };
            let y_hat_dec = cb.decompress(&hp, &bits, [m, h, w], &mut dec_nets).unwrap();
            assert_eq!(y_hat_enc, y_hat_dec, "local {local}");
            assert_eq!(enc_nets.calls, dec_nets.calls);
            let expected: Vec<_> = if local {
                vec![(0, false, false), (0, false, true), (1, true, false), (1, true, true)]
            } else {
                vec![(0, false, false), (1, true, false)]
            };
            assert_eq!(enc_nets.calls, expected);
            for (a, b) in y.data.iter().zip(&y_hat_dec.data) {
                assert!((a - b).abs() <= 0.5 + 1e-4, "{a} vs {b}");
            }
            // Damaged y words decode to something (or an error), never a panic.
            let mut bad = bits.clone();
            for b in bad.y.iter_mut().step_by(3) {
                *b ^= 0x5a;
            }
            let _ = cb.decompress(&hp, &bad, [m, h, w], &mut FakeContext { calls: vec![] });
        }
    }

    #[test]
    fn checkerboard_rejects_groups_that_do_not_cover_m() {
        let (hp, mut cb) = checkerboard(true);
        cb.groups = vec![1, 1];
        let y = Latent::new(3, 8, 8, vec![0.0; 192]).unwrap();
        let err = cb.compress(&hp, &y, &mut FakeContext { calls: vec![] }).unwrap_err().to_string();
        assert!(err.contains("do not add up to M=3"), "{err}");
    }

    #[test]
    fn wrong_network_shapes_are_reported() {
        struct Bad;
        impl HyperNets for Bad {
            fn h_a(&mut self, y: &Latent) -> Result<Latent> {
                Latent::new(2, y.height / 2, y.width / 4, vec![0.0; 2 * (y.height / 2) * (y.width / 4)])
            }
            fn h_s(&mut self, _: &Latent) -> Result<(Latent, Latent)> {
                unreachable!()
            }
        }
        let z = EntropyBottleneck::new(vec![0.0; 2], vec![test_table(3, -1, 1.0), test_table(3, -1, 1.0)]).unwrap();
        let hp = Hyperprior { z, y: gaussian() };
        let y = Latent::new(3, 8, 8, vec![0.0; 192]).unwrap();
        let err = hp.compress(&y, &mut Bad).unwrap_err().to_string();
        assert!(err.contains("h_a output z"), "{err}");
    }

    #[test]
    fn quantize_symbol_rounds_half_away_and_clamps() {
        assert_eq!(quantize_symbol(0.5), 1);
        assert_eq!(quantize_symbol(-0.5), -1);
        assert_eq!(quantize_symbol(1e30), MAX_ABS_SYMBOL);
        assert_eq!(quantize_symbol(f32::NEG_INFINITY), -MAX_ABS_SYMBOL);
        assert_eq!(quantize_symbol(f32::NAN), 0);
    }
}
