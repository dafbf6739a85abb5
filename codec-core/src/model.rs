//! The trained model package (`models/PACKAGE.md`): model.json plus four ONNX
//! graphs, loaded from a directory or from the copy compiled into the library.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::bitstream::{EntropyModelKind, ModelId};
use crate::entropy::{CdfTable, PRECISION};
use crate::latent_codecs::{EntropyBottleneck, GaussianConditional, Hyperprior};
use crate::{Error, Result};

/// Where the model package comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ModelSource {
    /// The package compiled into the library (feature `embedded-models`).
    #[default]
    Embedded,
    /// A package directory holding model.json and g_a/h_a/h_s/g_s.onnx.
    Dir(PathBuf),
}

/// The graph files, in the order they enter the model id.
pub const GRAPHS: [&str; 4] = ["g_a", "h_a", "h_s", "g_s"];
const FILES_HINT: &str =
    "a model directory must contain model.json, g_a.onnx, h_a.onnx, h_s.onnx and g_s.onnx (see models/PACKAGE.md)";

/// `model.json`, as far as the codec needs it (unknown fields are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct ModelSpec {
    pub format: u32,
    pub name: String,
    pub entropy_model: String,
    #[serde(rename = "M")]
    pub m: usize,
    #[serde(rename = "N")]
    pub n: usize,
    pub pad_multiple: usize,
    pub precision: u32,
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

impl ModelSpec {
    fn validate(&self, origin: &str) -> Result<()> {
        let bad = |msg: String| Err(Error::Model(format!("{origin}/model.json: {msg}")));
        if self.format != 1 {
            return bad(format!("format {} is not supported (this build reads format 1)", self.format));
        }
        if EntropyModelKind::from_model_json(&self.entropy_model).is_none() {
            return bad(format!("entropy_model {:?} is not supported (this build has \"hyperprior\")", self.entropy_model));
        }
        if self.m == 0 || self.n == 0 || self.m > 4096 || self.n > 4096 {
            return bad(format!("M={} and N={} must be in 1..=4096", self.m, self.n));
        }
        if self.pad_multiple == 0 || self.pad_multiple % HYPER_STRIDE != 0 || self.pad_multiple > 1024 {
            return bad(format!("pad_multiple {} must be a multiple of {HYPER_STRIDE} (at most 1024)", self.pad_multiple));
        }
        if self.precision != PRECISION as u32 {
            return bad(format!("precision {} is not supported (tables must be {PRECISION}-bit)", self.precision));
        }
        if self.qualities.is_empty() || self.qualities.len() > 255 {
            return bad(format!("{} quality levels; need 1..=255", self.qualities.len()));
        }
        for (i, q) in self.qualities.iter().enumerate() {
            for (what, v) in [("gain", &q.gain), ("inv_gain", &q.inv_gain)] {
                if v.len() != self.m {
                    return bad(format!("qualities[{i}].{what} has {} values, expected M={}", v.len(), self.m));
                }
                if let Some(j) = v.iter().position(|g| !(g.is_finite() && *g > 0.0)) {
                    return bad(format!("qualities[{i}].{what}[{j}] = {} must be positive and finite", v[j]));
                }
            }
        }
        let z = &self.z;
        if z.medians.len() != self.n || z.offsets.len() != self.n || z.cdfs.len() != self.n {
            return bad(format!(
                "z has {} medians, {} offsets and {} cdfs; expected N={} of each",
                z.medians.len(),
                z.offsets.len(),
                z.cdfs.len(),
                self.n
            ));
        }
        if let Some(i) = z.medians.iter().position(|m| !m.is_finite()) {
            return bad(format!("z.medians[{i}] is not finite"));
        }
        let y = &self.y;
        if y.scale_table.is_empty() || y.offsets.len() != y.scale_table.len() || y.cdfs.len() != y.scale_table.len() {
            return bad(format!(
                "y has {} scales, {} offsets and {} cdfs; expected the same nonzero number of each",
                y.scale_table.len(),
                y.offsets.len(),
                y.cdfs.len()
            ));
        }
        Ok(())
    }

    /// Builds the entropy tables (validating every CDF).
    pub fn hyperprior(&self, origin: &str) -> Result<Hyperprior> {
        let ctx = |e: Error| match e {
            Error::Model(m) => Error::Model(format!("{origin}/model.json: {m}")),
            e => e,
        };
        let z_tables = self
            .z
            .cdfs
            .iter()
            .zip(&self.z.offsets)
            .enumerate()
            .map(|(i, (cdf, &off))| CdfTable::from_cdf(cdf, off, &format!("z.cdfs[{i}]")))
            .collect::<Result<Vec<_>>>()
            .map_err(ctx)?;
        let y_tables = self
            .y
            .cdfs
            .iter()
            .zip(&self.y.offsets)
            .enumerate()
            .map(|(i, (cdf, &off))| CdfTable::from_cdf(cdf, off, &format!("y.cdfs[{i}]")))
            .collect::<Result<Vec<_>>>()
            .map_err(ctx)?;
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

/// A loaded, validated package: spec, tables, graph bytes and id.
#[derive(Debug, Clone)]
pub struct ModelPackage {
    pub spec: ModelSpec,
    pub hyperprior: Hyperprior,
    pub kind: EntropyModelKind,
    /// g_a, h_a, h_s, g_s (see [`GRAPHS`]).
    pub graphs: [Cow<'static, [u8]>; 4],
    pub id: ModelId,
    /// Where it came from, for messages ("embedded" or the directory).
    pub origin: String,
}

impl ModelPackage {
    pub fn load(source: &ModelSource) -> Result<Self> {
        let (origin, json, graphs) = match source {
            ModelSource::Embedded => embedded()?,
            ModelSource::Dir(dir) => read_dir(dir)?,
        };
        Self::from_parts(origin, &json, graphs)
    }

    fn from_parts(origin: String, json: &[u8], graphs: [Cow<'static, [u8]>; 4]) -> Result<Self> {
        let spec: ModelSpec = serde_json::from_slice(json)
            .map_err(|e| Error::Model(format!("{origin}/model.json is not a valid model description: {e}")))?;
        spec.validate(&origin)?;
        let hyperprior = spec.hyperprior(&origin)?;
        let kind = EntropyModelKind::from_model_json(&spec.entropy_model).expect("validated");
        let id = model_id(json, &graphs);
        Ok(Self { spec, hyperprior, kind, graphs, id, origin })
    }

    pub fn graph(&self, name: &str) -> &[u8] {
        let i = GRAPHS.iter().position(|g| *g == name).expect("known graph name");
        &self.graphs[i]
    }
}

/// First 8 bytes of SHA-256 over model.json then g_a, h_a, h_s, g_s.
pub fn model_id(json: &[u8], graphs: &[Cow<'static, [u8]>; 4]) -> ModelId {
    let mut h = Sha256::new();
    h.update(json);
    for g in graphs {
        h.update(g);
    }
    let digest = h.finalize();
    ModelId(digest[..8].try_into().expect("32-byte digest"))
}

type Parts = (String, Vec<u8>, [Cow<'static, [u8]>; 4]);

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Model(format!("cannot read {}: {e}; {FILES_HINT}", path.display())))
}

fn read_dir(dir: &Path) -> Result<Parts> {
    let json = read_file(&dir.join("model.json"))?;
    let mut graphs: [Cow<'static, [u8]>; 4] = Default::default();
    for (slot, name) in graphs.iter_mut().zip(GRAPHS) {
        *slot = Cow::Owned(read_file(&dir.join(format!("{name}.onnx")))?);
    }
    Ok((dir.display().to_string(), json, graphs))
}

#[cfg(helio_embedded)]
fn embedded() -> Result<Parts> {
    macro_rules! file {
        ($f:literal) => {
            include_bytes!(concat!(env!("HELIO_EMBEDDED_DIR"), "/", $f)).as_slice()
        };
    }
    let graphs = [file!("g_a.onnx"), file!("h_a.onnx"), file!("h_s.onnx"), file!("g_s.onnx")].map(Cow::Borrowed);
    Ok(("embedded".to_string(), file!("model.json").to_vec(), graphs))
}

#[cfg(not(helio_embedded))]
fn embedded() -> Result<Parts> {
    Err(Error::Model(format!(
        "this build has no embedded model: {}/../models/hyperprior was incomplete when codec-core was built \
         (or the embedded-models feature is off). Use a model directory instead, or rebuild once the package exists",
        env!("CARGO_MANIFEST_DIR")
    )))
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
        ModelPackage::from_parts("test".into(), &serde_json::to_vec(json).unwrap(), graphs)
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

    #[test]
    fn missing_directory_names_the_path_and_the_fix() {
        let dir = PathBuf::from("/nonexistent/helio-model-dir");
        let err = ModelPackage::load(&ModelSource::Dir(dir)).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/helio-model-dir/model.json"), "{err}");
        assert!(err.contains("g_a.onnx"), "{err}");
    }
}
