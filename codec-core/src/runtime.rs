//! ONNX Runtime: finding and loading the shared library once per process, and
//! creating sessions with pinned, reproducible settings.
//!
//! Library search order (first that loads wins):
//! 1. the path given to [`init`] (if given, it is the only one tried: a
//!    configured path that fails must not silently load another library);
//! 2. `$HELIO_ORT_LIB`;
//! 3. `$ORT_DYLIB_PATH` (ort's own variable);
//! 4. the project venv found at build time
//!    (`.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.1*`);
//! 5. `libonnxruntime.so` on the system library path.
//!
//! `ort::init()` and `ort::Error::new` panic while no library is loaded, so
//! this module never calls them before `ort::init_from` succeeded, and wraps the
//! loading in `catch_unwind` for good measure.
//!
//! Determinism: graph optimization is pinned to Level1 (basic), the level the
//! models engineer verifies with, except for the graphs a package lists in
//! `full_optimization` (both sides then run them at All; see `model`): fusions reorder float math, and the encoder
//! and decoder must compute identical hyperprior outputs, so the level must
//! never vary between them. Intra-op thread count is NOT always harmless:
//! Conv results differ in the last bits between 1 and 2 threads at some small
//! sizes, so the entropy-critical h_s runs single-threaded (see `intra`); the
//! P-frame graphs whose output reaches the decoded frame (predict, r_g_s) were
//! measured bit-identical across thread counts (see `inter`).
//!
//! The encoder's analysis graphs (g_a, h_a and their P-frame twins) are the
//! exception: their outputs are quantized and sent, never recomputed by a
//! decoder, so they take every optimization ONNX Runtime has (`All`: fusions and
//! the NCHWc layout), 35-40 % faster at 512x512 on these CPUs
//! ([`create_analysis_session`]; `pipelines/bench_graphs.py` measures every graph).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;
use ort::ep::ExecutionProvider as _;
use ort::session::Session;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::value::TensorRef;

use crate::{Error, Result};

/// Which hardware runs the networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExecutionProvider {
    /// CUDA if this ONNX Runtime build has it and it initializes, else CPU.
    #[default]
    Auto,
    Cpu,
    /// CUDA or an error (never a silent CPU fallback).
    Cuda,
}

impl fmt::Display for ExecutionProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
        })
    }
}

impl FromStr for ExecutionProvider {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda),
            other => Err(Error::Config(format!("unknown execution provider {other:?} (use auto, cpu or cuda)"))),
        }
    }
}

/// The loaded library and the process-wide ONNX Runtime environment.
pub struct Runtime {
    library: PathBuf,
    found_via: &'static str,
    environment: Environment,
}

impl Runtime {
    /// The library file that was loaded.
    pub fn library(&self) -> &Path {
        &self.library
    }

    /// Which search step found it (e.g. "HELIO_ORT_LIB").
    pub fn found_via(&self) -> &'static str {
        self.found_via
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime").field("library", &self.library).field("found_via", &self.found_via).finish()
    }
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static INIT: Mutex<()> = Mutex::new(());

/// The library the build found in the project venv (empty if none).
const VENV_LIBRARY: &str = env!("HELIO_VENV_ORT_LIB");

/// Where the library is looked for, in order, with the name of each step.
pub fn library_candidates(explicit: Option<&Path>) -> Vec<(&'static str, PathBuf)> {
    if let Some(p) = explicit {
        return vec![("explicit path", p.to_path_buf())];
    }
    let mut c = Vec::new();
    for var in ["HELIO_ORT_LIB", "ORT_DYLIB_PATH"] {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            c.push((var, PathBuf::from(v)));
        }
    }
    if !VENV_LIBRARY.is_empty() {
        c.push(("project venv (found at build time)", PathBuf::from(VENV_LIBRARY)));
    }
    c.push(("system library path", PathBuf::from("libonnxruntime.so")));
    c
}

/// Loads ONNX Runtime (once per process) and returns it. `explicit` replaces
/// the search; asking for a different library after one is loaded is an error
/// (a process can hold only one). Call it before the first encoder or decoder
/// to choose the library; they call `init(None)`.
pub fn init(explicit: Option<&Path>) -> Result<&'static Runtime> {
    let _guard = INIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(rt) = RUNTIME.get() {
        if let Some(p) = explicit {
            if !same_file(p, &rt.library) {
                return Err(Error::Runtime(format!(
                    "ONNX Runtime is already loaded from {} in this process; cannot also load {} \
                     (set the library before creating the first encoder or decoder)",
                    rt.library.display(),
                    p.display()
                )));
            }
        }
        return Ok(rt);
    }
    let mut tried = Vec::new();
    for (found_via, path) in library_candidates(explicit) {
        if path.is_absolute() && !path.is_file() {
            tried.push(format!("{found_via}: {} (no such file)", path.display()));
            continue;
        }
        match load(&path) {
            Ok(environment) => {
                let rt = Runtime { library: path, found_via, environment };
                return Ok(RUNTIME.get_or_init(|| rt));
            }
            Err(why) => tried.push(format!("{found_via}: {} ({why})", path.display())),
        }
    }
    Err(Error::Runtime(format!(
        "could not load the ONNX Runtime shared library. Tried, in order:\n  - {}\n\
         Fix: run `make setup` (installs the onnxruntime wheel into .venv, then rebuild), \
         or set HELIO_ORT_LIB=/path/to/libonnxruntime.so.1.x",
        tried.join("\n  - ")
    )))
}

/// The runtime if it has been loaded.
pub fn loaded() -> Option<&'static Runtime> {
    RUNTIME.get()
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn load(path: &Path) -> std::result::Result<Environment, String> {
    let attempt = std::panic::catch_unwind(|| {
        let builder = ort::init_from(path).map_err(|e| e.to_string())?;
        builder.with_name("helio").with_telemetry(false).build().map_err(|e| e.to_string())
    });
    match attempt {
        Ok(r) => r,
        Err(panic) => Err(format!(
            "panicked while loading: {}",
            panic.downcast_ref::<String>().map(String::as_str).or(panic.downcast_ref::<&str>().copied()).unwrap_or("?")
        )),
    }
}

/// Intra-op threads for a requested count: 0 = one per core, capped at 16
/// (the networks stop scaling well before that on a single frame).
pub fn intra_threads(requested: usize) -> usize {
    if requested > 0 {
        return requested;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(16)
}

/// Session settings shared by every network of a codec instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSettings {
    pub execution_provider: ExecutionProvider,
    /// 0 = one per core (see [`intra_threads`]).
    pub threads: usize,
}

fn builder(rt: &Runtime, threads: usize, level: GraphOptimizationLevel) -> Result<SessionBuilder> {
    let err = |e: ort::Error<SessionBuilder>| Error::Runtime(format!("session options: {e}"));
    Session::builder(&rt.environment)
        .map_err(|e| Error::Runtime(format!("session builder: {e}")))?
        .with_optimization_level(level)
        .map_err(err)?
        .with_intra_threads(intra_threads(threads))
        .map_err(err)?
        .with_inter_threads(1)
        .map_err(err)?
        .with_intra_op_spinning(false)
        .map_err(err)?
        .with_inter_op_spinning(false)
        .map_err(err)
}

/// Whether this ONNX Runtime build includes the CUDA provider (it may still fail to start).
pub fn cuda_compiled_in() -> bool {
    RUNTIME.get().is_some() && ort::ep::CUDA::is_available().unwrap_or(false)
}

/// ONNX Runtime's graph optimization level for a network that both sides run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Optimization {
    /// Level1 (basic): the pinned default.
    #[default]
    Basic,
    /// Every optimization (fusions, NCHWc layout), for the graphs a package
    /// lists in `full_optimization` (model.rs says why that is safe).
    All,
}

impl Optimization {
    fn level(self) -> GraphOptimizationLevel {
        match self {
            Self::Basic => GraphOptimizationLevel::Level1,
            Self::All => GraphOptimizationLevel::All,
        }
    }
}

/// Creates a session for one graph at the level its package asks for. `ep` must
/// be resolved (Cpu or Cuda, not Auto): see [`resolve_and_create`].
pub fn create_session(
    bytes: &[u8],
    graph: &str,
    ep: ExecutionProvider,
    threads: usize,
    optimization: Optimization,
) -> Result<Session> {
    create_session_at(bytes, graph, ep, threads, optimization.level())
}

/// Like [`create_session`], for a graph only the encoder runs and whose output is
/// quantized and sent (analysis transforms): every optimization, not the pinned level.
pub fn create_analysis_session(bytes: &[u8], graph: &str, ep: ExecutionProvider, threads: usize) -> Result<Session> {
    create_session_at(bytes, graph, ep, threads, GraphOptimizationLevel::All)
}

fn create_session_at(
    bytes: &[u8],
    graph: &str,
    ep: ExecutionProvider,
    threads: usize,
    level: GraphOptimizationLevel,
) -> Result<Session> {
    let rt = init(None)?;
    let mut b = builder(rt, threads, level)?;
    if ep == ExecutionProvider::Cuda {
        b = b.with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()]).map_err(|e| {
            Error::Runtime(format!(
                "CUDA execution provider requested for {graph} but it failed to start: {}. \
                 Install a CUDA-enabled onnxruntime (onnxruntime-gpu) or use execution provider auto or cpu",
                e.to_string().trim_end_matches('.')
            ))
        })?;
    }
    b.commit_from_memory(bytes)
        .map_err(|e| Error::Runtime(format!("cannot create the {graph} session ({ep}): {e}")))
}

/// Creates the first session, resolving `Auto` (CUDA, else CPU); returns the
/// session and the provider really used, which the caller reuses for the rest.
pub fn resolve_and_create(
    bytes: &[u8],
    graph: &str,
    settings: SessionSettings,
    optimization: Optimization,
) -> Result<(Session, ExecutionProvider)> {
    init(None)?;
    let create = |ep| create_session(bytes, graph, ep, settings.threads, optimization);
    match settings.execution_provider {
        ExecutionProvider::Auto => {
            if cuda_compiled_in() {
                if let Ok(s) = create(ExecutionProvider::Cuda) {
                    return Ok((s, ExecutionProvider::Cuda));
                }
            }
            Ok((create(ExecutionProvider::Cpu)?, ExecutionProvider::Cpu))
        }
        ep => Ok((create(ep)?, ep)),
    }
}

/// One network: a session with its input names.
pub struct Network {
    name: &'static str,
    session: Session,
    inputs: Vec<String>,
}

/// A `[1, C, H, W]` f32 tensor returned by a network.
pub type NchwOutput = (Vec<usize>, Vec<f32>);

impl Network {
    /// A network with exactly one input, whatever its name (the intra graphs).
    pub fn new(name: &'static str, session: Session) -> Result<Self> {
        let inputs = match session.inputs() {
            [one] => vec![one.name().to_string()],
            other => {
                return Err(Error::Model(format!("{name}.onnx has {} inputs, expected exactly 1", other.len())));
            }
        };
        Ok(Self { name, session, inputs })
    }

    /// A network whose inputs are exactly `expected` (any order in the graph);
    /// [`Network::run_inputs`] takes them in the order given here.
    pub fn with_inputs(name: &'static str, session: Session, expected: &[&str]) -> Result<Self> {
        let mut have: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        let mut want = expected.to_vec();
        have.sort_unstable();
        want.sort_unstable();
        if have != want {
            return Err(Error::Model(format!("{name}.onnx has inputs {have:?}, expected {want:?} (see models/PACKAGE.md)")));
        }
        Ok(Self { name, session, inputs: expected.iter().map(|s| s.to_string()).collect() })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Runs the network on one `[1, c, h, w]` input and returns the requested
    /// outputs, in order, by name (or all outputs in graph order if `outputs` is empty).
    pub fn run(&mut self, data: &[f32], shape: [usize; 4], outputs: &[&str]) -> Result<Vec<NchwOutput>> {
        self.run_inputs(&[(data, shape)], outputs)
    }

    /// [`Network::run`] with one `(data, shape)` per input, in the order of the names
    /// the network was created with.
    pub fn run_inputs(&mut self, inputs: &[(&[f32], [usize; 4])], outputs: &[&str]) -> Result<Vec<NchwOutput>> {
        let name = self.name;
        assert_eq!(inputs.len(), self.inputs.len(), "{name}: one tensor per input");
        let ort_err = |what: &str, e: ort::Error| Error::Runtime(format!("{name}: {what}: {e}"));
        let mut feed = Vec::with_capacity(inputs.len());
        for (input_name, &(data, shape)) in self.inputs.iter().zip(inputs) {
            let tensor = TensorRef::from_array_view((shape, data)).map_err(|e| ort_err(input_name, e))?;
            feed.push((input_name.as_str(), tensor));
        }
        let names: Vec<String> = if outputs.is_empty() {
            self.session.outputs().iter().map(|o| o.name().to_string()).collect()
        } else {
            outputs.iter().map(|s| s.to_string()).collect()
        };
        let result = self.session.run(feed).map_err(|e| ort_err("run", e))?;
        names
            .iter()
            .map(|n| {
                let value = result
                    .get(n)
                    .ok_or_else(|| Error::Model(format!("{name}.onnx has no output named {n:?}")))?;
                let (shape, data) = value.try_extract_tensor::<f32>().map_err(|e| ort_err(n, e))?;
                let dims: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
                Ok((dims, data.to_vec()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_provider_parses_and_prints() {
        for ep in [ExecutionProvider::Auto, ExecutionProvider::Cpu, ExecutionProvider::Cuda] {
            assert_eq!(ep.to_string().parse::<ExecutionProvider>().unwrap(), ep);
        }
        assert_eq!(" CUDA ".parse::<ExecutionProvider>().unwrap(), ExecutionProvider::Cuda);
        assert!("tpu".parse::<ExecutionProvider>().unwrap_err().to_string().contains("tpu"));
    }

    #[test]
    fn explicit_path_replaces_the_search_which_ends_with_the_system() {
        let c = library_candidates(Some(Path::new("/opt/x/libonnxruntime.so")));
        assert_eq!(c, [("explicit path", PathBuf::from("/opt/x/libonnxruntime.so"))]);
        let c = library_candidates(None);
        assert_eq!(c.last().unwrap().1, Path::new("libonnxruntime.so"));
    }

    #[test]
    fn zero_threads_means_one_per_core() {
        assert!(intra_threads(0) >= 1 && intra_threads(0) <= 16);
        assert_eq!(intra_threads(3), 3);
    }
}
