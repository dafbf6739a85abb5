//! The trained model package (`models/PACKAGE.md`): model.json plus four ONNX
//! graphs, loaded from a directory or from the copy compiled into the library.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::bitstream::{EntropyModelKind, ModelId};
use crate::entropy::{CdfTable, PRECISION};
use crate::latent_codecs::{ChannelGroupsCheckerboard, EntropyBottleneck, GaussianConditional, Hyperprior};
use crate::runtime::Optimization;
use crate::{Error, Result};

/// Where the model packages come from: the intra package (I-frames) always,
/// the inter package (P-frames) when there is one. Without an inter package
/// the codec codes and decodes I-frames only.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ModelSource {
    /// The packages compiled into the library (feature `embedded-models`):
    /// models/hyperprior, and models/ssf if it was complete at build time.
    #[default]
    Embedded,
    /// An intra package directory holding model.json and g_a/h_a/h_s/g_s.onnx;
    /// its subdirectory `ssf/` is the inter package when it has a model.json.
    Dir(PathBuf),
    /// Both directories given separately (`inter: None` = intra only).
    Dirs { intra: PathBuf, inter: Option<PathBuf> },
}

/// The graph files, in the order they enter the model id.
pub const GRAPHS: [&str; 4] = ["g_a", "h_a", "h_s", "g_s"];
const CONTEXT_FILES_HINT: &str = "a \"channel-groups-checkerboard\" package also needs cg<k>_a.onnx (and cg<k>_n.onnx \
     with context.local) for every channel group k (see models/PACKAGE.md)";
const FILES_HINT: &str =
    "a model directory must contain model.json, g_a.onnx, h_a.onnx, h_s.onnx and g_s.onnx (see models/PACKAGE.md)";

/// `model.json`, as far as the codec needs it (unknown fields are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct ModelSpec {
    pub format: u32,
    pub name: String,
    pub entropy_model: String,
    pub pad_multiple: usize,
    pub precision: u32,
    /// `M`, `N`, `qualities`, `z`, `y` at the top level of an intra model.json.
    #[serde(flatten)]
    pub latent: LatentSpec,
    /// Channel groups and checkerboard of `entropy_model`
    /// "channel-groups-checkerboard" (absent for "hyperprior").
    #[serde(default)]
    pub context: Option<ContextSpec>,
    /// Graphs run at ONNX Runtime's full optimization level (see [`check_full_optimization`]).
    #[serde(default)]
    pub full_optimization: Vec<String>,
}

/// Most channel groups a package may have.
pub const MAX_CONTEXT_GROUPS: usize = 8;

/// `context` of model.json: how y is split and whether the local pass exists.
#[derive(Debug, Clone, Deserialize)]
pub struct ContextSpec {
    pub groups: Vec<usize>,
    pub local: bool,
    /// An image both sides hold before y is decoded, whose features (graph
    /// `{prefix}side`) every pass also sees: only "pred", for the inter
    /// package's residual (conditional entropy coding).
    #[serde(default)]
    pub side: Option<String>,
}

/// The one side image a context may use (`context.side`).
pub const SIDE_PRED: &str = "pred";

impl ContextSpec {
    /// Graph files of the context networks, in the order they enter the model
    /// id, behind `prefix` ("" in an intra package, `m_`, `r_` in the inter
    /// package): `side` with `context.side`, then per group `cg{k}_a` (anchors)
    /// and, with `local`, `cg{k}_n`.
    pub fn graph_names_with(&self, prefix: &str) -> Vec<String> {
        let passes: &[&str] = if self.local { &["a", "n"] } else { &["a"] };
        let side = self.side.is_some().then(|| format!("{prefix}side"));
        side.into_iter()
            .chain((0..self.groups.len()).flat_map(|k| passes.iter().map(move |p| format!("{prefix}cg{k}_{p}"))))
            .collect()
    }

    pub fn codec(&self) -> ChannelGroupsCheckerboard {
        ChannelGroupsCheckerboard { groups: self.groups.clone(), local: self.local }
    }
}

/// The fields describing one hyperprior-coded latent: the whole intra package,
/// and each of the inter package's `motion` and `residual`.
#[derive(Debug, Clone, Deserialize)]
pub struct LatentSpec {
    #[serde(rename = "M")]
    pub m: usize,
    #[serde(rename = "N")]
    pub n: usize,
    pub qualities: Vec<QualitySpec>,
    pub z: BottleneckSpec,
    pub y: GaussianSpec,
}

#[derive(Debug, Clone, Deserialize)]
pub struct QualitySpec {
    pub lambda: f64,
    pub gain: Vec<f32>,
    pub inv_gain: Vec<f32>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BottleneckSpec {
    pub medians: Vec<f32>,
    pub offsets: Vec<i32>,
    pub cdfs: Vec<Vec<u32>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GaussianSpec {
    pub scale_table: Vec<f32>,
    pub scale_bound: f32,
    pub offsets: Vec<i32>,
    pub cdfs: Vec<Vec<u32>>,
}

/// Total spatial downsampling of the hyperprior (g_a: 16, h_a: 4).
pub const LATENT_STRIDE: usize = 16;
const HYPER_STRIDE: usize = 64;

/// Checks the fields every package's model.json shares.
fn validate_common(format: u32, pad_multiple: usize, precision: u32) -> std::result::Result<(), String> {
    if format != 1 {
        return Err(format!("format {format} is not supported (this build reads format 1)"));
    }
    if pad_multiple == 0 || pad_multiple % HYPER_STRIDE != 0 || pad_multiple > 1024 {
        return Err(format!("pad_multiple {pad_multiple} must be a multiple of {HYPER_STRIDE} (at most 1024)"));
    }
    if precision != PRECISION as u32 {
        return Err(format!("precision {precision} is not supported (tables must be {PRECISION}-bit)"));
    }
    Ok(())
}

impl InterLatentSpec {
    /// `side`: the side image this latent may condition on (residual: "pred").
    fn validate(&self, prefix: &str, side: Option<&str>) -> std::result::Result<(), String> {
        entropy_kind(&self.entropy_model, self.context.as_ref(), self.latent.m, prefix)?;
        check_side(self.context.as_ref(), side, prefix)?;
        self.latent.validate(prefix)
    }

    /// The quality entry for a 1-based level, or an error naming the valid range.
    pub fn quality(&self, level: u8) -> Result<&QualitySpec> {
        self.latent.quality(level)
    }
}

impl LatentSpec {
    /// `prefix` names the latent in messages ("" for the intra package, "motion." ...).
    fn validate(&self, prefix: &str) -> std::result::Result<(), String> {
        if self.m == 0 || self.n == 0 || self.m > 4096 || self.n > 4096 {
            return Err(format!("{prefix}M={} and {prefix}N={} must be in 1..=4096", self.m, self.n));
        }
        if self.qualities.is_empty() || self.qualities.len() > 255 {
            return Err(format!("{} {prefix}quality levels; need 1..=255", self.qualities.len()));
        }
        for (i, q) in self.qualities.iter().enumerate() {
            for (what, v) in [("gain", &q.gain), ("inv_gain", &q.inv_gain)] {
                if v.len() != self.m {
                    return Err(format!("{prefix}qualities[{i}].{what} has {} values, expected M={}", v.len(), self.m));
                }
                if let Some(j) = v.iter().position(|g| !(g.is_finite() && *g > 0.0)) {
                    return Err(format!("{prefix}qualities[{i}].{what}[{j}] = {} must be positive and finite", v[j]));
                }
            }
        }
        let z = &self.z;
        if z.medians.len() != self.n || z.offsets.len() != self.n || z.cdfs.len() != self.n {
            return Err(format!(
                "{prefix}z has {} medians, {} offsets and {} cdfs; expected N={} of each",
                z.medians.len(),
                z.offsets.len(),
                z.cdfs.len(),
                self.n
            ));
        }
        if let Some(i) = z.medians.iter().position(|m| !m.is_finite()) {
            return Err(format!("{prefix}z.medians[{i}] is not finite"));
        }
        let y = &self.y;
        if y.scale_table.is_empty() || y.offsets.len() != y.scale_table.len() || y.cdfs.len() != y.scale_table.len() {
            return Err(format!(
                "{prefix}y has {} scales, {} offsets and {} cdfs; expected the same nonzero number of each",
                y.scale_table.len(),
                y.offsets.len(),
                y.cdfs.len()
            ));
        }
        Ok(())
    }

    /// Builds the entropy tables (validating every CDF); `origin` and `prefix` name them in errors.
    pub fn hyperprior(&self, origin: &str, prefix: &str) -> Result<Hyperprior> {
        let ctx = |e: Error| match e {
            Error::Model(m) => Error::Model(format!("{origin}/model.json: {m}")),
            e => e,
        };
        let tables = |what: &str, cdfs: &[Vec<u32>], offsets: &[i32]| {
            cdfs.iter()
                .zip(offsets)
                .enumerate()
                .map(|(i, (cdf, &off))| CdfTable::from_cdf(cdf, off, &format!("{prefix}{what}.cdfs[{i}]")))
                .collect::<Result<Vec<_>>>()
                .map_err(ctx)
        };
        let z_tables = tables("z", &self.z.cdfs, &self.z.offsets)?;
        let y_tables = tables("y", &self.y.cdfs, &self.y.offsets)?;
        Ok(Hyperprior {
            z: EntropyBottleneck::new(self.z.medians.clone(), z_tables).map_err(ctx)?,
            y: GaussianConditional::new(self.y.scale_table.clone(), self.y.scale_bound, y_tables).map_err(ctx)?,
        })
    }

    pub fn quality_levels(&self) -> u8 {
        self.qualities.len() as u8
    }

    /// The quality entry for a 1-based level, or an error naming the valid range.
    pub fn quality(&self, level: u8) -> Result<&QualitySpec> {
        level
            .checked_sub(1)
            .and_then(|i| self.qualities.get(i as usize))
            .ok_or_else(|| Error::Config(format!("quality {level} is out of range 1..={}", self.qualities.len())))
    }
}

/// The entropy model of one latent from its `entropy_model` and `context`
/// fields (`prefix` names the latent in messages), checked against its M.
fn entropy_kind(
    entropy_model: &str,
    context: Option<&ContextSpec>,
    m: usize,
    prefix: &str,
) -> std::result::Result<EntropyModelKind, String> {
    let Some(kind) = EntropyModelKind::from_model_json(entropy_model) else {
        return Err(format!(
            "{prefix}entropy_model {entropy_model:?} is not supported (this build has \"hyperprior\" and \"channel-groups-checkerboard\")"
        ));
    };
    match (kind, context) {
        (EntropyModelKind::Hyperprior, Some(_)) => Err(format!("a \"hyperprior\" {prefix}entropy_model has no context section")),
        (EntropyModelKind::ChannelGroupsCheckerboard, None) => Err(format!(
            "{prefix}entropy_model \"channel-groups-checkerboard\" needs a {prefix}context section (groups, local)"
        )),
        (_, Some(c)) if c.groups.is_empty() || c.groups.len() > MAX_CONTEXT_GROUPS || c.groups.contains(&0) => Err(
            format!("{prefix}context.groups {:?} must be 1..={MAX_CONTEXT_GROUPS} nonzero channel counts", c.groups),
        ),
        (_, Some(c)) if c.groups.iter().sum::<usize>() != m => {
            Err(format!("{prefix}context.groups {:?} do not add up to M={m}", c.groups))
        }
        _ => Ok(kind),
    }
}

/// `context.side` must be absent or the one side image the latent has (`allowed`).
fn check_side(context: Option<&ContextSpec>, allowed: Option<&str>, prefix: &str) -> std::result::Result<(), String> {
    match (context.and_then(|c| c.side.as_deref()), allowed) {
        (None, _) => Ok(()),
        (Some(s), Some(a)) if s == a => Ok(()),
        (Some(s), Some(a)) => Err(format!("{prefix}context.side {s:?} is not supported (this latent can use {a:?})")),
        (Some(s), None) => Err(format!("{prefix}context.side {s:?}: this latent has no side image")),
    }
}

/// `full_optimization` of model.json: graphs (of the package's fixed ones) that
/// encoder and decoder both run at ONNX Runtime's full optimization level
/// instead of the pinned basic level. Its fusions and NCHWc kernels give other
/// last bits than basic, so the level is part of the package (and of its id,
/// model.json being hashed): the exporter verified these graphs at that level,
/// bit-identical across thread counts (models/subpixel.py).
fn check_full_optimization(
    names: &[String],
    fixed: &[&str],
    contexts: &[(Option<&ContextSpec>, &str)],
) -> std::result::Result<(), String> {
    let mut graphs: Vec<String> = fixed.iter().map(|g| g.to_string()).collect();
    for (context, prefix) in contexts {
        graphs.extend(context.map_or_else(Vec::new, |c| c.graph_names_with(prefix)));
    }
    match names.iter().find(|n| !graphs.contains(n)) {
        Some(n) => Err(format!("full_optimization names {n:?}, not one of the package's graphs {graphs:?}")),
        None => Ok(()),
    }
}

fn optimization_of(names: &[String], graph: &str) -> Optimization {
    if names.iter().any(|n| n == graph) { Optimization::All } else { Optimization::Basic }
}

impl ModelSpec {
    fn validate(&self, origin: &str) -> Result<()> {
        entropy_kind(&self.entropy_model, self.context.as_ref(), self.latent.m, "")
            .and_then(|_| check_side(self.context.as_ref(), None, ""))
            .and_then(|()| validate_common(self.format, self.pad_multiple, self.precision))
            .and_then(|()| self.latent.validate(""))
            .and_then(|()| check_full_optimization(&self.full_optimization, &GRAPHS, &[(self.context.as_ref(), "")]))
            .map_err(|msg| Error::Model(format!("{origin}/model.json: {msg}")))
    }

    /// The optimization level `graph` runs at, on both sides.
    pub fn optimization(&self, graph: &str) -> Optimization {
        optimization_of(&self.full_optimization, graph)
    }

    /// Builds the entropy tables (validating every CDF).
    pub fn hyperprior(&self, origin: &str) -> Result<Hyperprior> {
        self.latent.hyperprior(origin, "")
    }

    pub fn quality_levels(&self) -> u8 {
        self.latent.quality_levels()
    }

    /// The quality entry for a 1-based level, or an error naming the valid range.
    pub fn quality(&self, level: u8) -> Result<&QualitySpec> {
        self.latent.quality(level)
    }
}

/// A loaded, validated package: spec, tables, graph bytes and id.
#[derive(Debug, Clone)]
pub struct ModelPackage {
    pub spec: ModelSpec,
    pub hyperprior: Hyperprior,
    /// The package's context (over `hyperprior`'s tables), for "channel-groups-checkerboard".
    pub checkerboard: Option<ChannelGroupsCheckerboard>,
    pub kind: EntropyModelKind,
    /// g_a, h_a, h_s, g_s (see [`GRAPHS`]).
    pub graphs: [Cow<'static, [u8]>; 4],
    /// The context networks, named as [`ContextSpec::graph_names_with`] "" (empty for a hyperprior).
    pub context_graphs: Vec<(String, Cow<'static, [u8]>)>,
    pub id: ModelId,
    /// Where it came from, for messages ("embedded" or the directory).
    pub origin: String,
}

impl ModelPackage {
    /// Loads the intra package new streams are coded with (see
    /// [`InterPackage::load`] for the P-frame one): for the embedded models the
    /// channel-groups/checkerboard package when it was compiled in, else the
    /// hyperprior; for a directory, its package.
    pub fn load(source: &ModelSource) -> Result<Self> {
        if *source == ModelSource::Embedded
            && let Some(p) = Self::embedded_checkerboard()?
        {
            return Ok(p);
        }
        Self::load_base(source)
    }

    /// Every intra package `source` offers, [`ModelPackage::load`]'s first: the
    /// embedded models add the hyperprior after the checkerboard package, so
    /// streams coded before the switch stay decodable.
    pub fn load_all(source: &ModelSource) -> Result<Vec<Self>> {
        let first = Self::load(source)?;
        let legacy = *source == ModelSource::Embedded && first.kind != EntropyModelKind::Hyperprior;
        let mut all = vec![first];
        if legacy {
            all.push(Self::load_base(source)?);
        }
        if *source == ModelSource::Embedded {
            all.extend(embedded_legacy(|_| GRAPHS, false, |origin, json, graphs, files| {
                Self::from_parts(origin, json, graphs, |n| embedded_graph(files, n))
            })?);
        }
        Ok(all)
    }

    fn embedded_checkerboard() -> Result<Option<Self>> {
        let Some((json, graphs, context)) = embedded_checkerboard_files() else { return Ok(None) };
        let origin = "embedded checkerboard".to_string();
        Self::from_parts(origin, json, graphs.map(Cow::Borrowed), |name| embedded_graph(context, name)).map(Some)
    }

    /// The package of a directory, or the embedded hyperprior.
    fn load_base(source: &ModelSource) -> Result<Self> {
        let (origin, json, graphs) = match source {
            ModelSource::Embedded => embedded()?,
            ModelSource::Dir(dir) | ModelSource::Dirs { intra: dir, .. } => read_dir(dir, |_| GRAPHS, FILES_HINT)?,
        };
        let dir = match source {
            ModelSource::Embedded => None,
            ModelSource::Dir(dir) | ModelSource::Dirs { intra: dir, .. } => Some(dir.as_path()),
        };
        Self::from_parts(origin, &json, graphs, context_reader(dir, CONTEXT_FILES_HINT))
    }

    /// `context_graph` reads one context network by name (only called for a
    /// package whose model.json has a context section).
    fn from_parts(
        origin: String,
        json: &[u8],
        graphs: [Cow<'static, [u8]>; 4],
        mut context_graph: impl FnMut(&str) -> Result<Cow<'static, [u8]>>,
    ) -> Result<Self> {
        let spec: ModelSpec = serde_json::from_slice(json)
            .map_err(|e| Error::Model(format!("{origin}/model.json is not a valid model description: {e}")))?;
        spec.validate(&origin)?;
        let hyperprior = spec.hyperprior(&origin)?;
        let kind = EntropyModelKind::from_model_json(&spec.entropy_model).expect("validated");
        let context_graphs = read_context_graphs(spec.context.as_ref(), "", &mut context_graph)?;
        let checkerboard = spec.context.as_ref().map(ContextSpec::codec);
        let id = model_id_with(json, &graphs, context_graphs.iter().map(|(_, g)| g.as_ref()));
        Ok(Self { spec, hyperprior, checkerboard, kind, graphs, context_graphs, id, origin })
    }

    /// A context network by name (see [`ContextSpec::graph_names_with`] "").
    pub fn context_graph(&self, name: &str) -> &[u8] {
        context_graph(&self.context_graphs, name)
    }

    pub fn graph(&self, name: &str) -> &[u8] {
        graph(&GRAPHS, &self.graphs, name)
    }
}

fn graph<'a, const N: usize>(names: &[&str; N], graphs: &'a [Cow<'static, [u8]>; N], name: &str) -> &'a [u8] {
    let i = names.iter().position(|g| *g == name).expect("known graph name");
    &graphs[i]
}

/// Both package kinds load every context graph their spec names, so asking for another
/// is a programming error, not bad input: it panics as [`graph`] does.
fn context_graph<'a>(graphs: &'a [(String, Cow<'static, [u8]>)], name: &str) -> &'a [u8] {
    &graphs.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no context graph {name} in the package")).1
}

/// The inter package's graph files, in the order they enter its id (models/PACKAGE.md).
pub const INTER_GRAPHS: [&str; 8] = ["m_g_a", "m_h_a", "m_h_s", "predict", "r_g_a", "r_h_a", "r_h_s", "r_g_s"];
/// The same for a package with `"warp": "codec-core"`: the motion synthesis
/// `m_g_s` takes `predict`'s place, and [`crate::warp`] does the rest.
pub const INTER_GRAPHS_CODEC_WARP: [&str; 8] = ["m_g_a", "m_h_a", "m_h_s", "m_g_s", "r_g_a", "r_h_a", "r_h_s", "r_g_s"];
/// `warp` of an inter model.json whose scale-space warp codec-core does.
pub const WARP_IN_CODEC: &str = "codec-core";
/// Folder of the inter package inside a model directory ([`ModelSource::Dir`]).
pub const INTER_SUBDIR: &str = "ssf";
const INTER_FILES_HINT: &str = "an inter package directory must contain model.json and m_g_a, m_h_a, m_h_s, predict \
     (m_g_s with \"warp\": \"codec-core\"), r_g_a, r_h_a, r_h_s, r_g_s (.onnx) (see models/PACKAGE.md, \"Inter package\")";
const INTER_CONTEXT_HINT: &str = "a latent with entropy_model \"channel-groups-checkerboard\" also needs \
     m_cg<k>_a.onnx (motion) or r_cg<k>_a.onnx (residual), and the _n passes with context.local, for every \
     channel group k, and r_side.onnx with context.side (see models/PACKAGE.md)";

/// The inter (P-frame) package's `model.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct InterSpec {
    pub format: u32,
    pub kind: String,
    pub name: String,
    pub pad_multiple: usize,
    pub precision: u32,
    /// Hex id of the intra package the P model runs with: the one it was trained
    /// against, or one it was measured with since (models/PACKAGE.md).
    #[serde(default)]
    pub intra_model: Option<String>,
    pub motion: InterLatentSpec,
    pub residual: InterLatentSpec,
    /// As in an intra package (see [`check_full_optimization`]).
    #[serde(default)]
    pub full_optimization: Vec<String>,
    /// Who warps: absent, `predict.onnx` (motion synthesis + warp); [`WARP_IN_CODEC`],
    /// `m_g_s.onnx` gives the flow and [`crate::warp`] warps per `scale_space`.
    #[serde(default)]
    pub warp: Option<String>,
    /// The warp's scale-space volume (informational unless codec-core warps).
    #[serde(default)]
    pub scale_space: Option<ScaleSpaceSpec>,
}

/// `scale_space` of an inter model.json.
#[derive(Debug, Clone, Deserialize)]
pub struct ScaleSpaceSpec {
    pub levels: usize,
    pub sigma0: f32,
}

/// Just `warp`, read before the graphs to know their file names.
#[derive(Deserialize)]
struct WarpField {
    #[serde(default)]
    warp: Option<String>,
}

/// The fixed graph names of the inter package whose model.json is `json`
/// (those of a plain package when it does not parse: `from_parts` says why).
fn inter_graph_names(json: &[u8]) -> [&'static str; 8] {
    graph_names_for(serde_json::from_slice::<WarpField>(json).ok().and_then(|f| f.warp).as_deref())
}

/// The fixed graph names for model.json's `warp`.
fn graph_names_for(warp: Option<&str>) -> [&'static str; 8] {
    if warp == Some(WARP_IN_CODEC) { INTER_GRAPHS_CODEC_WARP } else { INTER_GRAPHS }
}

impl InterSpec {
    /// Whether codec-core does the scale-space warp (graph `m_g_s`, not `predict`).
    pub fn codec_warp(&self) -> bool {
        self.warp.as_deref() == Some(WARP_IN_CODEC)
    }

    /// The fixed graphs, in the order they enter the id.
    pub fn graph_names(&self) -> [&'static str; 8] {
        graph_names_for(self.warp.as_deref())
    }

    /// The warp codec-core runs, for a package that leaves it to codec-core (validated).
    pub fn scale_space_warp(&self) -> Option<crate::warp::ScaleSpaceWarp> {
        let s = self.scale_space.as_ref().filter(|_| self.codec_warp())?;
        Some(crate::warp::ScaleSpaceWarp::new(s.levels, s.sigma0, self.motion.flow_stride.unwrap_or(1)))
    }

    fn validate_warp(&self) -> std::result::Result<(), String> {
        match self.warp.as_deref() {
            None => return Ok(()),
            Some(WARP_IN_CODEC) => {}
            Some(w) => return Err(format!("warp {w:?} is not supported (this build has {WARP_IN_CODEC:?})")),
        }
        let Some(s) = &self.scale_space else {
            return Err(format!("warp {WARP_IN_CODEC:?} needs scale_space {{levels, sigma0}}"));
        };
        // Blur radius ceil(3 sigma0 2^(levels-2)) at most 3 * 2^9: kernels stay small.
        if !((1..=8).contains(&s.levels) && s.sigma0 > 0.0 && s.sigma0 <= 4.0) {
            return Err(format!(
                "scale_space levels {} sigma0 {} out of range (levels 1..=8, sigma0 in (0, 4])",
                s.levels, s.sigma0
            ));
        }
        let stride = self.motion.flow_stride.unwrap_or(1);
        if !stride.is_power_of_two() || stride > 16 {
            return Err(format!("motion.flow_stride {stride} must be a power of two up to 16"));
        }
        Ok(())
    }

    /// The optimization level `graph` runs at, on both sides.
    pub fn optimization(&self, graph: &str) -> Optimization {
        optimization_of(&self.full_optimization, graph)
    }
}

/// One latent of the inter package: the fields of an intra latent, coded with
/// the plain hyperprior or, like an intra package, with channel groups and
/// checkerboard context (`entropy_model`, `context`).
#[derive(Debug, Clone, Deserialize)]
pub struct InterLatentSpec {
    #[serde(flatten)]
    pub latent: LatentSpec,
    /// Absent in packages made before the context models: "hyperprior".
    #[serde(default = "hyperprior_name")]
    pub entropy_model: String,
    #[serde(default)]
    pub context: Option<ContextSpec>,
    /// Motion only: the flow's resolution is 1/`flow_stride` of the frame (1 when absent).
    #[serde(default)]
    pub flow_stride: Option<usize>,
}

fn hyperprior_name() -> String {
    "hyperprior".into()
}

/// A loaded, validated inter package: scale-space-flow P-frame model.
#[derive(Debug, Clone)]
pub struct InterPackage {
    pub spec: InterSpec,
    pub motion: Hyperprior,
    pub residual: Hyperprior,
    /// Channel groups + checkerboard of a latent that has them (over its hyperprior's tables).
    pub motion_context: Option<ChannelGroupsCheckerboard>,
    pub residual_context: Option<ChannelGroupsCheckerboard>,
    /// See [`InterSpec::graph_names`].
    pub graphs: [Cow<'static, [u8]>; 8],
    /// The context networks, motion's (`m_cg{k}_{a,n}`) then residual's (`r_cg...`).
    pub context_graphs: Vec<(String, Cow<'static, [u8]>)>,
    /// First 8 bytes of SHA-256 over model.json, the graphs in [`InterSpec::graph_names`]
    /// order, then the context graphs in order.
    pub id: ModelId,
    pub origin: String,
}

impl InterPackage {
    /// The inter package belonging to `source`, if it has one:
    /// - `Embedded`: the one compiled in (models/ssf at build time), if any;
    /// - `Dir(d)`: `d/ssf` when `d/ssf/model.json` exists;
    /// - `Dirs { inter, .. }`: that directory, which must be complete.
    pub fn load(source: &ModelSource) -> Result<Option<Self>> {
        if *source == ModelSource::Embedded
            && let Some(p) = Self::embedded_checkerboard()?
        {
            return Ok(Some(p));
        }
        Self::load_base(source)
    }

    /// Every inter package `source` offers, [`InterPackage::load`]'s first: the
    /// embedded models add the plain-hyperprior package after the checkerboard
    /// one, so streams coded before the switch stay decodable.
    pub fn load_all(source: &ModelSource) -> Result<Vec<Self>> {
        let mut all: Vec<Self> = Self::load(source)?.into_iter().collect();
        if *source == ModelSource::Embedded
            && all.first().is_some_and(|p| p.has_context())
            && let Some(base) = Self::load_base(source)?
        {
            all.push(base);
        }
        if *source == ModelSource::Embedded {
            all.extend(embedded_legacy(inter_graph_names, true, |origin, json, graphs, files| {
                Self::from_parts(origin, json, graphs, |n| embedded_graph(files, n))
            })?);
        }
        Ok(all)
    }

    fn embedded_checkerboard() -> Result<Option<Self>> {
        let Some((json, graphs, context)) = embedded_inter_checkerboard_files() else { return Ok(None) };
        let origin = "embedded ssf-checkerboard".to_string();
        Self::from_parts(origin, json, graphs.map(Cow::Borrowed), |name| embedded_graph(context, name)).map(Some)
    }

    /// The package of a directory, or the embedded plain-hyperprior one.
    fn load_base(source: &ModelSource) -> Result<Option<Self>> {
        let dir = match source {
            ModelSource::Embedded => None,
            ModelSource::Dir(dir) => {
                let sub = dir.join(INTER_SUBDIR);
                if !sub.join("model.json").is_file() {
                    return Ok(None);
                }
                Some(sub)
            }
            ModelSource::Dirs { inter: Some(dir), .. } => Some(dir.clone()),
            ModelSource::Dirs { inter: None, .. } => return Ok(None),
        };
        let parts = match &dir {
            None => embedded_inter(),
            Some(d) => Some(read_dir(d, inter_graph_names, INTER_FILES_HINT)?),
        };
        parts
            .map(|(origin, json, graphs)| {
                Self::from_parts(origin, &json, graphs, context_reader(dir.as_deref(), INTER_CONTEXT_HINT))
            })
            .transpose()
    }

    /// `context_graph` reads one context network by name (only called for a
    /// latent whose entropy model has a context section).
    fn from_parts(
        origin: String,
        json: &[u8],
        graphs: [Cow<'static, [u8]>; 8],
        mut context_graph: impl FnMut(&str) -> Result<Cow<'static, [u8]>>,
    ) -> Result<Self> {
        let spec: InterSpec = serde_json::from_slice(json)
            .map_err(|e| Error::Model(format!("{origin}/model.json is not a valid inter package description: {e}")))?;
        let bad = |msg: String| Error::Model(format!("{origin}/model.json: {msg}"));
        if spec.kind != "ssf" {
            return Err(bad(format!("kind {:?} is not supported (this build has \"ssf\")", spec.kind)));
        }
        validate_common(spec.format, spec.pad_multiple, spec.precision)
            .and_then(|()| spec.motion.validate("motion.", None))
            .and_then(|()| spec.residual.validate("residual.", Some(SIDE_PRED)))
            .and_then(|()| spec.validate_warp())
            .and_then(|()| {
                let contexts = [(spec.motion.context.as_ref(), "m_"), (spec.residual.context.as_ref(), "r_")];
                check_full_optimization(&spec.full_optimization, &spec.graph_names(), &contexts)
            })
            .map_err(bad)?;
        if spec.motion.latent.qualities.len() != spec.residual.latent.qualities.len() {
            return Err(bad(format!(
                "motion has {} quality levels and residual {}; they must match",
                spec.motion.latent.qualities.len(),
                spec.residual.latent.qualities.len()
            )));
        }
        let motion = spec.motion.latent.hyperprior(&origin, "motion.")?;
        let residual = spec.residual.latent.hyperprior(&origin, "residual.")?;
        let mut context_graphs = read_context_graphs(spec.motion.context.as_ref(), "m_", &mut context_graph)?;
        context_graphs.extend(read_context_graphs(spec.residual.context.as_ref(), "r_", &mut context_graph)?);
        let id = model_id_with(json, &graphs, context_graphs.iter().map(|(_, g)| g.as_ref()));
        let motion_context = spec.motion.context.as_ref().map(ContextSpec::codec);
        let residual_context = spec.residual.context.as_ref().map(ContextSpec::codec);
        Ok(Self { spec, motion, residual, motion_context, residual_context, graphs, context_graphs, id, origin })
    }

    /// Whether either latent is coded with channel groups + checkerboard.
    pub fn has_context(&self) -> bool {
        self.motion_context.is_some() || self.residual_context.is_some()
    }

    /// A context network by name (`m_cg0_a`, ...; see [`ContextSpec::graph_names_with`]).
    pub fn context_graph(&self, name: &str) -> &[u8] {
        context_graph(&self.context_graphs, name)
    }

    pub fn graph(&self, name: &str) -> &[u8] {
        graph(&self.spec.graph_names(), &self.graphs, name)
    }

    pub fn quality_levels(&self) -> u8 {
        self.spec.motion.latent.quality_levels()
    }

    /// A note when model.json's `intra_model` names another intra package than
    /// `intra`: P-frames still decode exactly, but predict from I-frames the P
    /// model was neither trained nor measured with (usually costing bits). No note when the named
    /// package is embedded and has `intra`'s analysis graphs (see
    /// [`Self::intra_model_note_among`]).
    pub fn intra_model_note(&self, intra: &ModelPackage) -> Option<String> {
        // Loaded only when needed, the embedded hyperprior first: P runs train
        // against it, so it is usually the one named (about 10 ms a package).
        let embedded = std::iter::once_with(|| ModelPackage::load_base(&ModelSource::Embedded).map(|p| vec![p]))
            .chain(std::iter::once_with(|| ModelPackage::load_all(&ModelSource::Embedded)))
            .flat_map(|r| r.unwrap_or_default());
        self.intra_model_note_among(intra, embedded)
    }

    /// [`Self::intra_model_note`] with the packages `known` to look the named
    /// one up in (taken only as far as needed). P training codes its I-frames
    /// with the plain hyperprior package (`models/hyperprior`); the codec pairs
    /// the P package with the context-model package on the same transforms
    /// (`models/checkerboard`), which differs only in its entropy model. g_a
    /// and h_a byte for byte the named package's mark such a twin.
    pub fn intra_model_note_among(
        &self,
        intra: &ModelPackage,
        mut known: impl Iterator<Item = ModelPackage>,
    ) -> Option<String> {
        let trained = self.spec.intra_model.as_deref()?;
        if trained == intra.id.to_string() {
            return None;
        }
        let twin = known.find(|p| p.id.to_string() == trained).is_some_and(|p| p.graphs[..2] == intra.graphs[..2]);
        (!twin).then(|| {
            format!(
                "inter package {} names intra package {trained} (the one it was trained or measured with), but intra package {} ({}) is loaded",
                self.origin, intra.id, intra.origin
            )
        })
    }

    /// Errors unless this package can code P-frames for `intra` (same number of quality levels).
    pub fn check_pairs_with(&self, intra: &ModelPackage) -> Result<()> {
        if self.quality_levels() != intra.spec.quality_levels() {
            return Err(Error::Model(format!(
                "inter package {} has {} quality levels but intra package {} has {}; \
                 use the inter package trained for this intra package",
                self.origin,
                self.quality_levels(),
                intra.origin,
                intra.spec.quality_levels()
            )));
        }
        Ok(())
    }
}

/// Id written into the sequence header of a stream that may contain P-frames:
/// the first 8 bytes of SHA-256(intra id || inter id) (see BITSTREAM.md).
pub fn combined_id(intra: ModelId, inter: ModelId) -> ModelId {
    let mut h = Sha256::new();
    h.update(intra.0);
    h.update(inter.0);
    ModelId(h.finalize()[..8].try_into().expect("32-byte digest"))
}

/// First 8 bytes of SHA-256 over model.json then the graphs, in order.
pub fn model_id<const N: usize>(json: &[u8], graphs: &[Cow<'static, [u8]>; N]) -> ModelId {
    model_id_with(json, graphs, std::iter::empty())
}

/// [`model_id`] with more graphs after the fixed ones (a package's context networks).
pub fn model_id_with<'a, const N: usize>(
    json: &[u8],
    graphs: &[Cow<'static, [u8]>; N],
    more: impl Iterator<Item = &'a [u8]>,
) -> ModelId {
    let mut h = Sha256::new();
    h.update(json);
    for g in graphs {
        h.update(g);
    }
    for g in more {
        h.update(g);
    }
    let digest = h.finalize();
    ModelId(digest[..8].try_into().expect("32-byte digest"))
}

type Parts<const N: usize> = (String, Vec<u8>, [Cow<'static, [u8]>; N]);

/// model.json, g_a/h_a/h_s/g_s and the named context graphs of a package
/// compiled in by build.rs.
type EmbeddedFiles = (&'static [u8], [&'static [u8]; 4], &'static [(&'static str, &'static [u8])]);
/// The same for an inter package (its 8 graphs, then the m_/r_ context graphs).
type EmbeddedInterFiles = (&'static [u8], [&'static [u8]; 8], &'static [(&'static str, &'static [u8])]);

/// A superseded package compiled in by build.rs: folder name under
/// models/legacy, model.json, its graphs by file stem.
type EmbeddedPackageFiles = (&'static str, &'static [u8], &'static [(&'static str, &'static [u8])]);

include!(concat!(env!("OUT_DIR"), "/embedded_checkerboard.rs"));

/// The superseded packages compiled in, intra (`inter` false) or inter, each
/// built by `from_parts` from its json, fixed graphs `names` and context graphs.
fn embedded_legacy<T, const N: usize>(
    names: impl Fn(&[u8]) -> [&'static str; N],
    inter: bool,
    from_parts: impl Fn(String, &[u8], [Cow<'static, [u8]>; N], &'static [(&'static str, &'static [u8])]) -> Result<T>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for (name, json, files) in embedded_legacy_files() {
        if files.iter().any(|(n, _)| *n == "predict" || *n == "m_g_s") != inter {
            continue;
        }
        let graphs = named_graphs(&names(json), |g| embedded_graph(files, g))?;
        out.push(from_parts(format!("embedded legacy/{name}"), json, graphs, files)?);
    }
    Ok(out)
}

/// Reads a directory package's context graphs by name (`dir` None: an embedded
/// package without them); `hint` says which files such a package needs.
fn context_reader<'a>(
    dir: Option<&'a Path>,
    hint: &'static str,
) -> impl FnMut(&str) -> Result<Cow<'static, [u8]>> + 'a {
    move |name| match dir {
        Some(d) => read_file(&d.join(format!("{name}.onnx")), hint).map(Cow::Owned),
        None => Err(Error::Model(format!("the embedded package has no {name}.onnx"))),
    }
}

/// The graphs of `context` (none without one), named as
/// [`ContextSpec::graph_names_with`] `prefix`, each read by `read`.
fn read_context_graphs(
    context: Option<&ContextSpec>,
    prefix: &str,
    read: &mut impl FnMut(&str) -> Result<Cow<'static, [u8]>>,
) -> Result<Vec<(String, Cow<'static, [u8]>)>> {
    let names = context.map_or_else(Vec::new, |c| c.graph_names_with(prefix));
    names
        .into_iter()
        .map(|n| {
            let graph = read(&n)?;
            Ok((n, graph))
        })
        .collect()
}

/// A context graph of an embedded package by name.
fn embedded_graph(context: &'static [(&'static str, &'static [u8])], name: &str) -> Result<Cow<'static, [u8]>> {
    context
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, bytes)| Cow::Borrowed(*bytes))
        .ok_or_else(|| Error::Model(format!("the embedded package has no {name}.onnx")))
}

fn read_file(path: &Path, hint: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Model(format!("cannot read {}: {e}; {hint}", path.display())))
}

/// A directory package: model.json, then the fixed graphs it names (`names(json)`).
fn read_dir<const N: usize>(dir: &Path, names: impl Fn(&[u8]) -> [&'static str; N], hint: &str) -> Result<Parts<N>> {
    let json = read_file(&dir.join("model.json"), hint)?;
    let graphs = named_graphs(&names(&json), |name| Ok(Cow::Owned(read_file(&dir.join(format!("{name}.onnx")), hint)?)))?;
    Ok((dir.display().to_string(), json, graphs))
}

/// A package's fixed graphs, in `names` order, each read by `read`.
fn named_graphs<const N: usize>(
    names: &[&str; N],
    mut read: impl FnMut(&str) -> Result<Cow<'static, [u8]>>,
) -> Result<[Cow<'static, [u8]>; N]> {
    let mut graphs: [Cow<'static, [u8]>; N] = std::array::from_fn(|_| Cow::Borrowed(&[][..]));
    for (slot, name) in graphs.iter_mut().zip(names) {
        *slot = read(name)?;
    }
    Ok(graphs)
}

#[cfg(any(helio_embedded, helio_embedded_inter))]
macro_rules! embedded_file {
    ($dir:literal, $f:literal) => {
        include_bytes!(concat!(env!($dir), "/", $f)).as_slice()
    };
}

#[cfg(helio_embedded)]
fn embedded() -> Result<Parts<4>> {
    macro_rules! file {
        ($f:literal) => {
            embedded_file!("HELIO_EMBEDDED_DIR", $f)
        };
    }
    let graphs = [file!("g_a.onnx"), file!("h_a.onnx"), file!("h_s.onnx"), file!("g_s.onnx")].map(Cow::Borrowed);
    Ok(("embedded".to_string(), file!("model.json").to_vec(), graphs))
}

#[cfg(not(helio_embedded))]
fn embedded() -> Result<Parts<4>> {
    Err(Error::Model(format!(
        "this build has no embedded model: {}/../models/hyperprior was incomplete when codec-core was built \
         (or the embedded-models feature is off). Use a model directory instead, or rebuild once the package exists",
        env!("CARGO_MANIFEST_DIR")
    )))
}

/// The inter package compiled in (models/ssf when codec-core was built), if any.
#[cfg(helio_embedded_inter)]
fn embedded_inter() -> Option<Parts<8>> {
    macro_rules! file {
        ($f:literal) => {
            embedded_file!("HELIO_EMBEDDED_INTER_DIR", $f)
        };
    }
    let graphs = [
        file!("m_g_a.onnx"),
        file!("m_h_a.onnx"),
        file!("m_h_s.onnx"),
        file!("predict.onnx"),
        file!("r_g_a.onnx"),
        file!("r_h_a.onnx"),
        file!("r_h_s.onnx"),
        file!("r_g_s.onnx"),
    ]
    .map(Cow::Borrowed);
    Some(("embedded ssf".to_string(), file!("model.json").to_vec(), graphs))
}

#[cfg(not(helio_embedded_inter))]
fn embedded_inter() -> Option<Parts<8>> {
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tiny consistent model.json (M=2, N=1, 2 qualities) for validation tests.
    pub(crate) fn spec_json() -> serde_json::Value {
        let t = 1u32 << 16;
        serde_json::json!({
            "format": 1, "name": "t", "entropy_model": "hyperprior", "M": 2, "N": 1,
            "pad_multiple": 64, "precision": 16,
            "qualities": [
                {"lambda": 0.001, "gain": [1.0, 1.0], "inv_gain": [1.0, 1.0]},
                {"lambda": 0.01, "gain": [2.0, 2.0], "inv_gain": [0.5, 0.5]}
            ],
            "z": {"medians": [0.0], "offsets": [-1], "cdfs": [[0, 100, t - 100, t]]},
            "y": {"scale_table": [0.11, 1.0], "scale_bound": 0.11, "offsets": [-1, -2],
                  "cdfs": [[0, 10, t - 10, t], [0, 100, 1000, t - 1000, t - 100, t]]}
        })
    }

    fn parts(json: &serde_json::Value) -> Result<ModelPackage> {
        let graphs = [b"a".as_slice(), b"b", b"c", b"d"].map(Cow::Borrowed);
        ModelPackage::from_parts("test".into(), &serde_json::to_vec(json).unwrap(), graphs, |n| {
            Ok(Cow::Owned(n.as_bytes().to_vec()))
        })
    }

    fn checkerboard_json() -> serde_json::Value {
        let mut j = spec_json();
        j["entropy_model"] = "channel-groups-checkerboard".into();
        j["context"] = serde_json::json!({"groups": [1, 1], "local": true});
        j
    }

    #[test]
    fn checkerboard_package_loads_its_context_graphs_into_the_id() {
        let p = parts(&checkerboard_json()).unwrap();
        assert_eq!(p.kind, EntropyModelKind::ChannelGroupsCheckerboard);
        let names: Vec<&str> = p.context_graphs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["cg0_a", "cg0_n", "cg1_a", "cg1_n"]);
        assert_eq!(p.context_graph("cg1_a"), b"cg1_a");
        let cb = p.checkerboard.as_ref().unwrap();
        assert_eq!((cb.groups.as_slice(), cb.local), (&[1usize, 1][..], true));
        // The context graphs are part of the id: the same json and base graphs
        // without them (or with other bytes) give another id.
        let json = serde_json::to_vec(&checkerboard_json()).unwrap();
        let base = [b"a".as_slice(), b"b", b"c", b"d"].map(Cow::Borrowed);
        assert_ne!(model_id(&json, &base), p.id);
        let other = ModelPackage::from_parts("test".into(), &json, base.clone(), |_| Ok(Cow::Borrowed(b"x"))).unwrap();
        assert_ne!(other.id, p.id);
        // Without local context: one graph per group.
        let mut j = checkerboard_json();
        j["context"]["local"] = false.into();
        let names: Vec<String> = parts(&j).unwrap().context_graphs.into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["cg0_a", "cg1_a"]);
        // A missing graph file names itself.
        let err = ModelPackage::from_parts("test".into(), &json, base, |n| {
            Err(Error::Model(format!("cannot read {n}.onnx")))
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("cg0_a.onnx"), "{err}");
    }

    #[test]
    fn invalid_context_sections_are_named() {
        let cases: [(serde_json::Value, &str); 4] = [
            (serde_json::json!({"groups": [1, 2], "local": true}), "do not add up to M=2"),
            (serde_json::json!({"groups": [2, 0], "local": true}), "nonzero"),
            (serde_json::json!({"groups": [], "local": true}), "nonzero"),
            (serde_json::Value::Null, "needs a context section"),
        ];
        for (context, expect) in cases {
            let mut j = checkerboard_json();
            j["context"] = context;
            let err = parts(&j).unwrap_err().to_string();
            assert!(err.contains(expect), "{err}");
        }
        let mut j = spec_json();
        j["context"] = serde_json::json!({"groups": [2], "local": true});
        let err = parts(&j).unwrap_err().to_string();
        assert!(err.contains("has no context section"), "{err}");
        let mut j = checkerboard_json();
        j["context"]["side"] = "pred".into();
        let err = parts(&j).unwrap_err().to_string();
        assert!(err.contains("context.side \"pred\": this latent has no side image"), "{err}");
    }

    #[test]
    fn valid_spec_loads_and_id_covers_every_file() {
        let p = parts(&spec_json()).unwrap();
        assert_eq!(p.spec.quality_levels(), 2);
        assert!(p.spec.quality(0).is_err() && p.spec.quality(3).is_err() && p.spec.quality(2).is_ok());
        let json = serde_json::to_vec(&spec_json()).unwrap();
        let base = [b"a".as_slice(), b"b", b"c", b"d"].map(Cow::Borrowed);
        assert_eq!(model_id(&json, &base), p.id);
        for i in 0..4 {
            let mut g = base.clone();
            g[i] = Cow::Borrowed(b"x");
            assert_ne!(model_id(&json, &g), p.id, "graph {i} not covered by the id");
        }
    }

    #[test]
    fn invalid_specs_name_the_problem() {
        let cases: [(&str, serde_json::Value, &str); 6] = [
            ("/M", 3.into(), "gain has 2 values, expected M=3"),
            ("/pad_multiple", 48.into(), "pad_multiple 48"),
            ("/precision", 15.into(), "precision 15"),
            ("/z/medians", serde_json::json!([0.0, 1.0]), "expected N=1"),
            ("/y/cdfs/1", serde_json::json!([0, 100, 100, 65536]), "y.cdfs[1]"),
            ("/entropy_model", "checkerboard".into(), "checkerboard"),
        ];
        for (ptr, value, expect) in cases {
            let mut j = spec_json();
            *j.pointer_mut(ptr).unwrap() = value;
            let err = parts(&j).unwrap_err().to_string();
            assert!(err.contains(expect) && err.contains("test/model.json"), "{ptr}: {err}");
        }
    }

    /// An inter model.json whose latents are both the tiny intra latent.
    fn inter_json() -> serde_json::Value {
        let intra = spec_json();
        let latent: serde_json::Map<String, serde_json::Value> = ["M", "N", "qualities", "z", "y"]
            .iter()
            .map(|k| (k.to_string(), intra[*k].clone()))
            .collect();
        serde_json::json!({
            "format": 1, "kind": "ssf", "name": "t-ssf", "pad_multiple": 64, "precision": 16,
            "intra_model": "0011223344556677", "motion": latent, "residual": latent
        })
    }

    fn inter_parts(json: &serde_json::Value) -> Result<InterPackage> {
        let graphs: [Cow<'static, [u8]>; 8] = std::array::from_fn(|i| Cow::Owned(vec![i as u8]));
        InterPackage::from_parts("inter".into(), &serde_json::to_vec(json).unwrap(), graphs, |n| {
            Ok(Cow::Owned(n.as_bytes().to_vec()))
        })
    }

    #[test]
    fn full_optimization_names_graphs_of_the_package_and_changes_the_id() {
        use crate::runtime::Optimization::{All, Basic};
        let mut j = checkerboard_json();
        j["full_optimization"] = serde_json::json!(["g_s", "cg1_n"]);
        let p = parts(&j).unwrap();
        assert_eq!([p.spec.optimization("g_s"), p.spec.optimization("cg1_n"), p.spec.optimization("h_s")], [All, All, Basic]);
        assert_ne!(p.id, parts(&checkerboard_json()).unwrap().id);
        // Only the package's own graphs: a context graph of a package without context is not one.
        for (json, bad) in [(checkerboard_json(), "cg2_a"), (spec_json(), "cg0_a"), (spec_json(), "G_S")] {
            let mut j = json;
            j["full_optimization"] = serde_json::json!([bad]);
            let err = parts(&j).unwrap_err().to_string();
            assert!(err.contains(&format!("full_optimization names \"{bad}\"")), "{err}");
        }
        let mut j = inter_json();
        j["residual"]["entropy_model"] = "channel-groups-checkerboard".into();
        j["residual"]["context"] = serde_json::json!({"groups": [1, 1], "local": false, "side": "pred"});
        j["full_optimization"] = serde_json::json!(["r_g_s", "r_side", "r_cg1_a"]);
        let p = inter_parts(&j).unwrap();
        assert_eq!([p.spec.optimization("r_side"), p.spec.optimization("predict")], [All, Basic]);
        j["full_optimization"] = serde_json::json!(["m_cg0_a"]);
        let err = inter_parts(&j).unwrap_err().to_string();
        assert!(err.contains("full_optimization names \"m_cg0_a\""), "{err}");
    }

    #[test]
    fn codec_warp_packages_name_m_g_s_and_need_a_scale_space() {
        let mut j = inter_json();
        j["warp"] = "codec-core".into();
        j["scale_space"] = serde_json::json!({"levels": 5, "sigma0": 1.5});
        j["motion"]["flow_stride"] = 4.into();
        j["full_optimization"] = serde_json::json!(["m_g_s"]);
        let p = inter_parts(&j).unwrap();
        assert!(p.spec.codec_warp());
        assert_eq!(p.spec.graph_names()[3], "m_g_s");
        assert_eq!(p.graph("m_g_s"), &[3u8]);
        let warp = p.spec.scale_space_warp().unwrap();
        assert_eq!((warp.levels(), warp.stride()), (5, 4));
        assert_eq!(inter_graph_names(&serde_json::to_vec(&j).unwrap())[3], "m_g_s");
        // A plain package has predict, and no warp of its own.
        let plain = inter_parts(&inter_json()).unwrap();
        assert!(plain.spec.scale_space_warp().is_none() && plain.spec.graph_names()[3] == "predict");
        // predict is not a graph of a codec-warp package.
        j["full_optimization"] = serde_json::json!(["predict"]);
        assert!(inter_parts(&j).unwrap_err().to_string().contains("full_optimization names \"predict\""));
        j["full_optimization"] = serde_json::json!([]);
        for (field, value, msg) in [
            ("warp", serde_json::json!("gpu"), "warp \"gpu\" is not supported"),
            ("scale_space", serde_json::json!({"levels": 9, "sigma0": 1.5}), "levels 9"),
            ("scale_space", serde_json::json!({"levels": 5, "sigma0": 0.0}), "sigma0 0"),
            ("scale_space", serde_json::Value::Null, "needs scale_space"),
        ] {
            let mut bad = j.clone();
            bad[field] = value;
            let err = inter_parts(&bad).unwrap_err().to_string();
            assert!(err.contains(msg), "{field}: {err}");
        }
        let mut bad = j.clone();
        bad["motion"]["flow_stride"] = 3.into();
        assert!(inter_parts(&bad).unwrap_err().to_string().contains("flow_stride 3"));
    }

    #[test]
    fn inter_latents_may_use_channel_groups_and_checkerboard() {
        let plain = inter_parts(&inter_json()).unwrap();
        assert!(!plain.has_context() && plain.context_graphs.is_empty());
        let mut j = inter_json();
        j["residual"]["entropy_model"] = "channel-groups-checkerboard".into();
        j["residual"]["context"] = serde_json::json!({"groups": [1, 1], "local": true});
        let p = inter_parts(&j).unwrap();
        assert!(p.has_context() && p.motion_context.is_none());
        let cb = p.residual_context.as_ref().unwrap();
        assert_eq!((cb.groups.as_slice(), cb.local), (&[1usize, 1][..], true));
        let names: Vec<&str> = p.context_graphs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["r_cg0_a", "r_cg0_n", "r_cg1_a", "r_cg1_n"]);
        assert_eq!(p.context_graph("r_cg1_n"), b"r_cg1_n");
        // No motion context: asking for one is a bug, caught loudly.
        assert!(std::panic::catch_unwind(|| p.context_graph("m_cg0_a").len()).is_err());
        // The context graphs enter the id.
        let json = serde_json::to_vec(&j).unwrap();
        let graphs: [Cow<'static, [u8]>; 8] = std::array::from_fn(|i| Cow::Owned(vec![i as u8]));
        let other = InterPackage::from_parts("inter".into(), &json, graphs.clone(), |_| Ok(Cow::Borrowed(b"x"))).unwrap();
        assert_ne!(other.id, p.id);
        // Both latents: motion's graphs first.
        j["motion"]["entropy_model"] = "channel-groups-checkerboard".into();
        j["motion"]["context"] = serde_json::json!({"groups": [2], "local": false});
        let names: Vec<String> = inter_parts(&j).unwrap().context_graphs.into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["m_cg0_a", "r_cg0_a", "r_cg0_n", "r_cg1_a", "r_cg1_n"]);
        // A missing context graph names itself; bad context sections name their latent.
        let err = InterPackage::from_parts("inter".into(), &json, graphs, |n| {
            Err(Error::Model(format!("cannot read {n}.onnx")))
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("r_cg0_a.onnx"), "{err}");
        // Side features of the prediction: the residual's graph r_side comes first.
        let mut k = j.clone();
        k["residual"]["context"]["side"] = "pred".into();
        let names: Vec<String> = inter_parts(&k).unwrap().context_graphs.into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["m_cg0_a", "r_side", "r_cg0_a", "r_cg0_n", "r_cg1_a", "r_cg1_n"]);
        // (null is absent, so the pointers below exist)
        j["motion"]["context"]["side"] = serde_json::Value::Null;
        j["residual"]["context"]["side"] = serde_json::Value::Null;
        inter_parts(&j).unwrap();
        let cases: [(&str, serde_json::Value, &str); 5] = [
            ("/motion/context/side", "pred".into(), "motion.context.side \"pred\": this latent has no side image"),
            ("/residual/context/side", "ref".into(), "residual.context.side \"ref\" is not supported"),
            ("/residual/context", serde_json::json!({"groups": [1], "local": true}), "residual.context.groups [1] do not add up to M=2"),
            ("/residual/context", serde_json::Value::Null, "residual.entropy_model \"channel-groups-checkerboard\" needs"),
            ("/residual/entropy_model", "hyperprior".into(), "\"hyperprior\" residual.entropy_model has no context"),
        ];
        for (ptr, value, expect) in cases {
            let mut k = j.clone();
            *k.pointer_mut(ptr).unwrap() = value;
            let err = inter_parts(&k).unwrap_err().to_string();
            assert!(err.contains(expect) && err.contains("inter/model.json"), "{ptr}: {err}");
        }
    }

    #[test]
    fn inter_package_loads_pairs_and_has_its_own_id() {
        let p = inter_parts(&inter_json()).unwrap();
        assert_eq!(p.quality_levels(), 2);
        assert_eq!(p.spec.motion.quality(2).unwrap().gain, [2.0, 2.0]);
        let intra = parts(&spec_json()).unwrap();
        p.check_pairs_with(&intra).unwrap();
        let combined = combined_id(intra.id, p.id);
        assert!(combined != intra.id && combined != p.id);
        assert_ne!(combined_id(p.id, intra.id), combined, "order matters");
        // A package with another number of quality levels does not pair.
        let mut j = inter_json();
        for latent in ["motion", "residual"] {
            j[latent]["qualities"].as_array_mut().unwrap().pop();
        }
        let err = inter_parts(&j).unwrap().check_pairs_with(&intra).unwrap_err().to_string();
        assert!(err.contains("1 quality levels") && err.contains("has 2"), "{err}");
        // intra_model is informational: a note when it names another package.
        let note = p.intra_model_note(&intra).unwrap();
        assert!(note.contains("0011223344556677") && note.contains(&intra.id.to_string()), "{note}");
        let mut j = inter_json();
        j["intra_model"] = intra.id.to_string().into();
        let named = inter_parts(&j).unwrap();
        assert_eq!(named.intra_model_note(&intra), None);
        // The context-model twin of the named package (same g_a and h_a) gets
        // no note; a package with another g_a does.
        let twin = parts(&checkerboard_json()).unwrap();
        assert_ne!(twin.id, intra.id);
        let known = || std::iter::once(parts(&spec_json()).unwrap());
        assert_eq!(named.intra_model_note_among(&twin, known()), None);
        let mut other = parts(&checkerboard_json()).unwrap();
        other.graphs[0] = Cow::Borrowed(b"another g_a");
        assert!(named.intra_model_note_among(&other, known()).is_some());
        assert!(named.intra_model_note_among(&twin, std::iter::empty()).is_some(), "unknown named package");
    }

    #[test]
    fn invalid_inter_specs_name_the_latent() {
        let cases: [(&str, serde_json::Value, &str); 5] = [
            ("/kind", "dvc".into(), "kind \"dvc\""),
            ("/motion/M", 3.into(), "motion.qualities[0].gain has 2 values"),
            ("/residual/z/medians", serde_json::json!([0.0, 1.0]), "residual.z has 2 medians"),
            ("/residual/y/cdfs/0", serde_json::json!([0, 5, 5, 65536]), "residual.y.cdfs[0]"),
            ("/motion/qualities", serde_json::json!([]), "0 motion.quality levels"),
        ];
        for (ptr, value, expect) in cases {
            let mut j = inter_json();
            *j.pointer_mut(ptr).unwrap() = value;
            let err = inter_parts(&j).unwrap_err().to_string();
            assert!(err.contains(expect) && err.contains("inter/model.json"), "{ptr}: {err}");
        }
    }

    #[test]
    fn inter_package_is_optional_in_a_model_directory() {
        let dir = std::env::temp_dir().join(format!("helio-inter-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // No ssf/ subdirectory: intra only.
        assert!(InterPackage::load(&ModelSource::Dir(dir.clone())).unwrap().is_none());
        let none = ModelSource::Dirs { intra: dir.clone(), inter: None };
        assert!(InterPackage::load(&none).unwrap().is_none());
        // ssf/ with a model.json but no graphs: an error naming the missing file.
        std::fs::create_dir_all(dir.join(INTER_SUBDIR)).unwrap();
        std::fs::write(dir.join(INTER_SUBDIR).join("model.json"), b"{}").unwrap();
        let err = InterPackage::load(&ModelSource::Dir(dir.clone())).unwrap_err().to_string();
        assert!(err.contains("m_g_a.onnx"), "{err}");
        let explicit = ModelSource::Dirs { intra: dir.clone(), inter: Some(dir.join("nowhere")) };
        let err = InterPackage::load(&explicit).unwrap_err().to_string();
        assert!(err.contains("nowhere/model.json"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_directory_names_the_path_and_the_fix() {
        let dir = PathBuf::from("/nonexistent/helio-model-dir");
        let err = ModelPackage::load(&ModelSource::Dir(dir)).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/helio-model-dir/model.json"), "{err}");
        assert!(err.contains("g_a.onnx"), "{err}");
    }
}
