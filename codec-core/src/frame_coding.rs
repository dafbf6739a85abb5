//! Plumbing shared by the I-frame ([`crate::intra`]) and P-frame ([`crate::inter`])
//! codecs: padding, the gained hyperprior coding of one latent with ONNX
//! hyper-networks (steps 1-6 of the procedure in `models/PACKAGE.md`), and
//! length-prefixed payload sections.

use crate::intra::HYPER_SYNTHESIS_THREADS;
use crate::latent_codecs::{ChannelGroupsCheckerboard, ContextNets, HyperNets, Hyperprior, HyperpriorBits, Latent};
use crate::model::{ContextSpec, MAX_CONTEXT_GROUPS, QualitySpec};
use crate::runtime::{self, ExecutionProvider, NchwOutput, Network, Optimization};
use crate::{Error, Result};

macro_rules! context_graph_names {
    ($p:literal) => {
        [
            [concat!($p, "cg0_a"), concat!($p, "cg0_n")],
            [concat!($p, "cg1_a"), concat!($p, "cg1_n")],
            [concat!($p, "cg2_a"), concat!($p, "cg2_n")],
            [concat!($p, "cg3_a"), concat!($p, "cg3_n")],
            [concat!($p, "cg4_a"), concat!($p, "cg4_n")],
            [concat!($p, "cg5_a"), concat!($p, "cg5_n")],
            [concat!($p, "cg6_a"), concat!($p, "cg6_n")],
            [concat!($p, "cg7_a"), concat!($p, "cg7_n")],
        ]
    };
}

/// Names of the context networks (`{prefix}cg{k}_a`, `{prefix}cg{k}_n`) and
/// of the side-feature network (`{prefix}side`) as `Network` wants them,
/// static, per prefix: "" (intra package), "m_" and "r_" (the inter package's
/// motion and residual latents).
type ContextNames = (&'static str, &'static str, [[&'static str; 2]; MAX_CONTEXT_GROUPS]);
const CONTEXT_GRAPH_NAMES: [ContextNames; 3] = [
    ("", "side", context_graph_names!("")),
    ("m_", "m_side", context_graph_names!("m_")),
    ("r_", "r_side", context_graph_names!("r_")),
];

/// The context networks of one latent (empty for a plain hyperprior latent).
#[derive(Default)]
pub struct ContextNetworks {
    /// Per channel group: (anchor pass, non-anchor pass if `context.local`).
    pub groups: Vec<(Network, Option<Network>)>,
    /// Side image -> side features, with `context.side`.
    pub side: Option<Network>,
}

/// Sessions of one latent's context networks; `graph` returns a graph's bytes by name.
pub fn context_networks<'a>(
    context: &ContextSpec,
    prefix: &str,
    graph: impl Fn(&str) -> &'a [u8],
    optimization: impl Fn(&str) -> Optimization,
    ep: ExecutionProvider,
) -> Result<ContextNetworks> {
    let (_, side_name, names) = CONTEXT_GRAPH_NAMES.iter().find(|(p, _, _)| *p == prefix).expect("a known prefix");
    // All of them pick symbols' tables like h_s: one thread, for the same reason
    // (so the level a package asks for cannot meet another thread count either).
    let session = |name: &str| {
        runtime::create_session(graph(name), name, ep, HYPER_SYNTHESIS_THREADS, optimization(name))
    };
    let side = context.side.as_deref();
    let net = |k: usize, non_anchor: bool| -> Result<Network> {
        let name = names[k][usize::from(non_anchor)];
        let mut inputs = vec!["hyper_scales", "hyper_means"];
        if k > 0 {
            inputs.push("y_prev");
        }
        if non_anchor {
            inputs.push("anchors");
        }
        if side.is_some() {
            inputs.push("side");
        }
        Network::with_inputs(name, session(name)?, &inputs)
    };
    let groups = (0..context.groups.len())
        .map(|k| Ok((net(k, false)?, if context.local { Some(net(k, true)?) } else { None })))
        .collect::<Result<_>>()?;
    let side = side.map(|s| Network::with_inputs(side_name, session(side_name)?, &[s])).transpose()?;
    Ok(ContextNetworks { groups, side })
}

/// Side features of `image` (`[1, 1, H, W]`) when the latent's context has a side network.
fn side_features(nets: &mut ContextNetworks, image: Option<(&[f32], [usize; 4])>) -> Result<Option<Latent>> {
    let Some(net) = nets.side.as_mut() else { return Ok(None) };
    let (data, shape) = image.ok_or_else(|| Error::Model(format!("{} needs a side image", net.name())))?;
    let what = format!("{} output side", net.name());
    let out = net.run(data, shape, &["side"])?;
    to_latent(&what, out.into_iter().next().expect("one output")).map(Some)
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

/// A network output as a `[C, H, W]` latent.
pub fn to_latent(what: &str, (shape, data): NchwOutput) -> Result<Latent> {
    match shape[..] {
        [1, c, h, w] => Latent::new(c, h, w, data),
        _ => Err(Error::Model(format!("{what} has shape {shape:?}, expected [1, C, H, W]"))),
    }
}

/// The single output of a full-resolution network, checked to be `[1, 1, ph, pw]`.
pub fn image_output(what: &str, mut out: Vec<NchwOutput>, pw: usize, ph: usize) -> Result<Vec<f32>> {
    let (shape, data) = out.pop().expect("one output requested");
    if shape != [1, 1, ph, pw] {
        return Err(Error::Model(format!("{what} has shape {shape:?}, expected [1, 1, {ph}, {pw}]")));
    }
    Ok(data)
}

/// h_a / h_s sessions seen through [`HyperNets`] (the decoder has no h_a).
pub struct OnnxHyper<'a> {
    pub h_a: Option<&'a mut Network>,
    pub h_s: &'a mut Network,
}

impl HyperNets for OnnxHyper<'_> {
    fn h_a(&mut self, y: &Latent) -> Result<Latent> {
        let net = self.h_a.as_deref_mut().expect("h_a is only called by the encoder");
        let what = format!("{} output z", net.name());
        let out = net.run(&y.data, [1, y.channels, y.height, y.width], &["z"])?;
        to_latent(&what, out.into_iter().next().expect("one output"))
    }

    fn h_s(&mut self, z: &Latent) -> Result<(Latent, Latent)> {
        let name = self.h_s.name();
        let mut out = self.h_s.run(&z.data, [1, z.channels, z.height, z.width], &["scales", "means"])?.into_iter();
        let scales = to_latent(&format!("{name} output scales"), out.next().expect("two outputs"))?;
        let means = to_latent(&format!("{name} output means"), out.next().expect("two outputs"))?;
        Ok((scales, means))
    }
}

/// [`OnnxHyper`] plus the context networks of a channel-groups/checkerboard
/// package: `groups[k]` is (anchor pass `cg{k}_a`, non-anchor pass `cg{k}_n` if any).
pub struct OnnxContext<'a> {
    pub hyper: OnnxHyper<'a>,
    pub groups: &'a mut [(Network, Option<Network>)],
    /// Side features every pass also takes (`context.side`).
    pub side: Option<&'a Latent>,
}

impl HyperNets for OnnxContext<'_> {
    fn h_a(&mut self, y: &Latent) -> Result<Latent> {
        self.hyper.h_a(y)
    }

    fn h_s(&mut self, z: &Latent) -> Result<(Latent, Latent)> {
        self.hyper.h_s(z)
    }
}

impl ContextNets for OnnxContext<'_> {
    fn group_params(
        &mut self,
        k: usize,
        (scales, means): (&Latent, &Latent),
        y_prev: Option<&Latent>,
        anchors: Option<&Latent>,
    ) -> Result<(Latent, Latent)> {
        let (a, n) = self.groups.get_mut(k).ok_or_else(|| Error::Model(format!("no context network for group {k}")))?;
        let net = match anchors {
            None => a,
            Some(_) => n.as_mut().ok_or_else(|| Error::Model(format!("no non-anchor network for group {k}")))?,
        };
        let shape = |l: &Latent| [1, l.channels, l.height, l.width];
        let mut inputs = vec![(scales.data.as_slice(), shape(scales)), (means.data.as_slice(), shape(means))];
        inputs.extend([y_prev, anchors, self.side].into_iter().flatten().map(|l| (l.data.as_slice(), shape(l))));
        let name = net.name();
        let mut out = net.run_inputs(&inputs, &["scales", "means"])?.into_iter();
        let s = to_latent(&format!("{name} output scales"), out.next().expect("two outputs"))?;
        let m = to_latent(&format!("{name} output means"), out.next().expect("two outputs"))?;
        Ok((s, m))
    }
}

/// Multiplies channel `c` by `gain[c]` (f32, as both sides do).
pub fn apply_gain(y: &mut Latent, gain: &[f32]) {
    let n = y.plane_len();
    for (c, plane) in y.data.chunks_exact_mut(n).enumerate() {
        plane.iter_mut().for_each(|v| *v *= gain[c]);
    }
}

/// Encoder side of one gained hyperprior latent: `y` (the analysis output, of
/// shape `expected`) times the quality's gain, coded; returns the code words and
/// `y_hat` after `inv_gain`, exactly what [`decode_latent`] reconstructs.
pub fn encode_latent(
    hyperprior: &Hyperprior,
    quality: &QualitySpec,
    y: Latent,
    expected: [usize; 3],
    what: &str,
    nets: &mut OnnxHyper<'_>,
) -> Result<(HyperpriorBits, Latent)> {
    encode_gained(quality, y, expected, what, |y| hyperprior.compress(y, nets))
}

/// [`encode_latent`] with the entropy coding given as `compress` (for example
/// a [`crate::latent_codecs::ChannelGroupsCheckerboard`] over the hyperprior's tables).
pub fn encode_gained(
    quality: &QualitySpec,
    mut y: Latent,
    expected: [usize; 3],
    what: &str,
    compress: impl FnOnce(&Latent) -> Result<(HyperpriorBits, Latent)>,
) -> Result<(HyperpriorBits, Latent)> {
    y.expect_shape(expected, what)?;
    apply_gain(&mut y, &quality.gain);
    let (bits, mut y_hat) = compress(&y)?;
    apply_gain(&mut y_hat, &quality.inv_gain);
    Ok((bits, y_hat))
}

/// Decoder side of [`encode_latent`]: `y_hat` of shape `shape`, after `inv_gain`.
pub fn decode_latent(
    hyperprior: &Hyperprior,
    quality: &QualitySpec,
    bits: &HyperpriorBits,
    shape: [usize; 3],
    h_s: &mut Network,
) -> Result<Latent> {
    let mut nets = OnnxHyper { h_a: None, h_s };
    decode_gained(quality, || hyperprior.decompress(bits, shape, &mut nets))
}

/// Decoder side of [`encode_gained`]: `decompress`'s y_hat after `inv_gain`.
pub fn decode_gained(quality: &QualitySpec, decompress: impl FnOnce() -> Result<Latent>) -> Result<Latent> {
    let mut y_hat = decompress()?;
    apply_gain(&mut y_hat, &quality.inv_gain);
    Ok(y_hat)
}

/// One latent's entropy model: the plain hyperprior (`context` None) or
/// channel groups + checkerboard over the hyperprior's tables, with its
/// networks and, for a context with side features, the side image.
pub struct LatentCoder<'a> {
    pub hyperprior: &'a Hyperprior,
    pub context: Option<&'a ChannelGroupsCheckerboard>,
    pub nets: &'a mut ContextNetworks,
    pub side_image: Option<(&'a [f32], [usize; 4])>,
}

impl LatentCoder<'_> {
    /// Encoder side: `y` (analysis output of shape `expected`) times the
    /// quality's gain, coded; returns the code words and `y_hat` after inv_gain.
    pub fn encode(
        self,
        quality: &QualitySpec,
        y: Latent,
        expected: [usize; 3],
        what: &str,
        mut hyper: OnnxHyper<'_>,
    ) -> Result<(HyperpriorBits, Latent)> {
        let Some(cb) = self.context else {
            return encode_latent(self.hyperprior, quality, y, expected, what, &mut hyper);
        };
        let side = side_features(self.nets, self.side_image)?;
        let mut nets = OnnxContext { hyper, groups: &mut self.nets.groups, side: side.as_ref() };
        encode_gained(quality, y, expected, what, |y| cb.compress(self.hyperprior, y, &mut nets))
    }

    /// Decoder side of [`LatentCoder::encode`].
    pub fn decode(
        self,
        quality: &QualitySpec,
        bits: &HyperpriorBits,
        shape: [usize; 3],
        h_s: &mut Network,
    ) -> Result<Latent> {
        let Some(cb) = self.context else { return decode_latent(self.hyperprior, quality, bits, shape, h_s) };
        let side = side_features(self.nets, self.side_image)?;
        let mut nets =
            OnnxContext { hyper: OnnxHyper { h_a: None, h_s }, groups: &mut self.nets.groups, side: side.as_ref() };
        decode_gained(quality, || cb.decompress(self.hyperprior, bits, shape, &mut nets))
    }
}

/// `u32 BE len | bytes` per section, concatenated.
pub fn write_sections(sections: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(sections.iter().map(|s| 4 + s.len()).sum());
    for section in sections {
        out.extend_from_slice(&(section.len() as u32).to_be_bytes());
        out.extend_from_slice(section);
    }
    out
}

/// Splits a payload written by [`write_sections`] into exactly `names.len()`
/// sections; `kind` ("I", "P") and the names label errors.
pub fn read_sections<const N: usize>(payload: &[u8], kind: &str, names: [&str; N]) -> Result<[Vec<u8>; N]> {
    let mut rest = payload;
    let mut out: [Vec<u8>; N] = std::array::from_fn(|_| Vec::new());
    for (slot, name) in out.iter_mut().zip(names) {
        let corrupt = |m: String| Error::Corrupt(format!("{kind} payload {name} section: {m}"));
        let len_bytes: [u8; 4] = rest.get(..4).ok_or_else(|| corrupt("missing length".into()))?.try_into().unwrap();
        let len = u32::from_be_bytes(len_bytes) as usize;
        let body = rest.get(4..).and_then(|r| r.get(..len)).ok_or_else(|| corrupt(format!("length {len} exceeds the payload")))?;
        *slot = body.to_vec();
        rest = &rest[4 + len..];
    }
    if !rest.is_empty() {
        let last = names.last().copied().unwrap_or("last");
        return Err(Error::Corrupt(format!("{kind} payload has {} bytes after the {last} section", rest.len())));
    }
    Ok(out)
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
    fn sections_round_trip_and_reject_bad_lengths() {
        let sections: [&[u8]; 3] = [&[1, 2, 3, 4], &[], &[9; 8]];
        let p = write_sections(&sections);
        assert_eq!(p.len(), 12 + 4 + 8);
        assert_eq!(read_sections(&p, "P", ["a", "b", "c"]).unwrap(), sections.map(<[u8]>::to_vec));
        for n in 0..p.len() {
            assert!(read_sections(&p[..n], "P", ["a", "b", "c"]).is_err(), "prefix {n} accepted");
        }
        let mut long = p.clone();
        long.push(0);
        let err = read_sections(&long, "P", ["a", "b", "c"]).unwrap_err().to_string();
        assert!(err.contains("after the c section"), "{err}");
        let mut huge = p.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_be_bytes());
        let err = read_sections(&huge, "P", ["a", "b", "c"]).unwrap_err().to_string();
        assert!(err.contains("P payload a section"), "{err}");
    }
}
