//! Arbitrary bytes as range-coded symbols (and as CDF tables), and as a P-frame
//! payload through the P decoder's entropy stages (two hyperprior latents with
//! stand-in hyper-synthesis networks), and as an I payload through the
//! channel-groups/checkerboard decoder (stand-in context networks): decoding
//! must return values or errors in bounded time, never panic.
#![no_main]

use helio_core::Result;
use helio_core::entropy::{CdfTable, MAX_ABS_SYMBOL, PRECISION, SymbolDecoder};
use helio_core::latent_codecs::{
    ChannelGroupsCheckerboard, ContextNets, EntropyBottleneck, GaussianConditional, HyperNets, Hyperprior, Latent,
};
use libfuzzer_sys::fuzz_target;

/// A table over `bins` values plus escape, probability mass peaked at the centre.
fn table(bins: u32, offset: i32) -> CdfTable {
    let total = 1u32 << PRECISION;
    let mut widths: Vec<u32> = (0..=bins).map(|i| 1 + 64 / (1 + i.abs_diff(bins / 2))).collect();
    let used: u32 = widths.iter().sum();
    widths[(bins / 2) as usize] += total - used;
    let mut cdf = vec![0];
    for w in widths {
        cdf.push(cdf.last().unwrap() + w);
    }
    CdfTable::from_cdf(&cdf, offset, "fuzz").unwrap()
}

/// h_s stand-in: scales and means of `M` channels from z (4x upsampled), like a
/// real network they depend on the decoded z.
struct FakeHyperSynthesis(usize);

impl HyperNets for FakeHyperSynthesis {
    fn h_a(&mut self, _: &Latent) -> Result<Latent> {
        unreachable!("decoding never runs h_a")
    }
    fn h_s(&mut self, z: &Latent) -> Result<(Latent, Latent)> {
        let (h, w) = (z.height * 4, z.width * 4);
        let (mut scales, mut means) = (Vec::new(), Vec::new());
        for c in 0..self.0 {
            for r in 0..h {
                for x in 0..w {
                    let v = z.data[(c % z.channels) * z.plane_len() + (r / 4) * z.width + x / 4];
                    scales.push(0.2 + v.abs() * 3.0);
                    means.push(v * 0.3);
                }
            }
        }
        Ok((Latent::new(self.0, h, w, scales)?, Latent::new(self.0, h, w, means)?))
    }
}

/// The tables both stand-in latent codecs use.
fn hyperprior(tables: &[CdfTable; 4]) -> Hyperprior {
    Hyperprior {
        z: EntropyBottleneck::new(vec![0.25, -0.5], vec![tables[1].clone(), tables[2].clone()]).unwrap(),
        y: GaussianConditional::new(vec![0.11, 1.0, 8.0, 64.0], 0.11, tables.to_vec()).unwrap(),
    }
}

/// Group parameters that depend on everything decoded so far, as real context
/// networks do: a wrong symbol changes later tables.
impl ContextNets for FakeHyperSynthesis {
    fn group_params(
        &mut self,
        k: usize,
        (scales, means): (&Latent, &Latent),
        y_prev: Option<&Latent>,
        anchors: Option<&Latent>,
    ) -> Result<(Latent, Latent)> {
        let g = [1, 2][k.min(1)];
        let n = scales.plane_len();
        let prev = y_prev.map_or(0.0, |p| p.data.iter().sum::<f32>().clamp(-1e6, 1e6) * 1e-3);
        let (mut s, mut m) = (Vec::new(), Vec::new());
        for c in 0..g {
            for i in 0..n {
                let a = anchors.map_or(0.0, |a| a.data[c * n + i.saturating_sub(1)]);
                s.push(scales.data[i] + a.abs() * 0.1);
                m.push(means.data[i] + prev + 0.5 * a);
            }
        }
        Ok((Latent::new(g, scales.height, scales.width, s)?, Latent::new(g, scales.height, scales.width, m)?))
    }
}

/// The I decoder's entropy stage for a channel-groups/checkerboard package.
fn decode_checkerboard_payload(payload: &[u8], tables: &[CdfTable; 4], local: bool) {
    let Ok(bits) = helio_core::intra::read_payload(payload) else { return };
    let codec = ChannelGroupsCheckerboard { groups: vec![1, 2], local };
    let shape = [3, 8, 8];
    if let Ok(y_hat) = codec.decompress(&hyperprior(tables), &bits, shape, &mut FakeHyperSynthesis(3)) {
        assert_eq!(y_hat.shape(), shape);
        assert!(y_hat.data.iter().all(|v| v.is_finite()));
    }
}

/// The P decoder's entropy stages on `payload`: four sections, motion then residual.
fn decode_p_payload(payload: &[u8], tables: &[CdfTable; 4]) {
    let Ok(bits) = helio_core::inter::read_payload(payload) else { return };
    let hyperprior = hyperprior(tables);
    for (latent, shape) in [(&bits.motion, [3, 8, 8]), (&bits.residual, [2, 4, 8])] {
        if let Ok(y_hat) = hyperprior.decompress(latent, shape, &mut FakeHyperSynthesis(shape[0])) {
            assert_eq!(y_hat.shape(), shape);
            assert!(y_hat.data.iter().all(|v| v.is_finite()));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let tables = [table(1, 0), table(4, -2), table(63, -31), table(500, -250)];
    if selector & 2 == 2 {
        decode_p_payload(rest, &tables);
        return;
    }
    if selector & 4 == 4 {
        decode_checkerboard_payload(rest, &tables, selector & 8 == 8);
        return;
    }

    // Tables from the input itself: construction validates, never panics.
    if selector & 1 == 1 {
        let cdf: Vec<u32> = rest.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]) as u32).collect();
        let _ = CdfTable::from_cdf(&cdf, -(selector as i32), "fuzz");
    }

    let usable = rest.len() - rest.len() % 4;
    let Ok(mut dec) = SymbolDecoder::new(&rest[..usable]) else { return };
    // Far more symbols than bytes: reading past the end must stay bounded.
    for i in 0..4 * usable + 64 {
        match dec.decode(&tables[(i + selector as usize) % tables.len()]) {
            Ok(v) => assert!(v.unsigned_abs() <= MAX_ABS_SYMBOL as u32),
            Err(_) => break,
        }
    }
});
