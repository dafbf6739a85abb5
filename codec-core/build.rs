//! Bakes two workspace paths into the library:
//! - the project venv's ONNX Runtime (`HELIO_VENV_ORT_LIB`), one of the places
//!   `runtime` looks for the library at run time;
//! - the model package to embed (`cfg(helio_embedded)` + `HELIO_EMBEDDED_DIR`)
//!   when the `embedded-models` feature is on and `models/hyperprior` is complete.
//!   A build without a package still succeeds (with a warning); asking for the
//!   embedded model then fails at run time with a message saying why.
//! - the inter (P-frame) package to embed (`cfg(helio_embedded_inter)` +
//!   `HELIO_EMBEDDED_INTER_DIR`) when `models/ssf` is complete too. Without it
//!   the embedded models code I-frames only.
//! - the channel-groups/checkerboard intra package (`models/checkerboard`),
//!   when complete, as generated `include_bytes!` in
//!   `$OUT_DIR/embedded_checkerboard.rs`: its context graphs are whatever
//!   `cg*.onnx` the folder holds. It becomes the embedded package new streams
//!   are coded with; the hyperprior stays embedded to decode older streams.
//! - likewise the inter package with context models (`models/ssf-checkerboard`,
//!   context graphs `m_cg*.onnx` / `r_cg*.onnx`, side features `r_side.onnx`) in the same generated file: the
//!   P-frame package of new streams, `models/ssf` staying embedded for older ones.
//!   Its `m_g_s.onnx`, when present, takes `predict.onnx`'s place (codec-core warps).
//! - every superseded package under `models/legacy/` (`embedded_legacy_files`),
//!   so streams coded with it stay decodable; each graph by file name.
//!
//! The generated file holds each distinct file content once: a superseded
//! package shares most graphs with its successor, byte for byte.

use std::path::{Path, PathBuf};

const PACKAGE_FILES: [&str; 5] = ["model.json", "g_a.onnx", "h_a.onnx", "h_s.onnx", "g_s.onnx"];
const INTER_PACKAGE_FILES: [&str; 9] = [
    "model.json",
    "m_g_a.onnx",
    "m_h_a.onnx",
    "m_h_s.onnx",
    "predict.onnx",
    "r_g_a.onnx",
    "r_h_a.onnx",
    "r_h_s.onnx",
    "r_g_s.onnx",
];

fn main() {
    println!("cargo::rustc-check-cfg=cfg(helio_embedded)");
    println!("cargo::rustc-check-cfg=cfg(helio_embedded_inter)");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest.parent().expect("codec-core lives in the workspace");

    let ort = venv_ort_library(workspace);
    println!("cargo::rustc-env=HELIO_VENV_ORT_LIB={}", ort.as_deref().map(Path::display).map(|d| d.to_string()).unwrap_or_default());

    let embedded = std::env::var_os("CARGO_FEATURE_EMBEDDED_MODELS").is_some();
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("embedded_checkerboard.rs");
    let intra = Embedding {
        function: "embedded_checkerboard_files",
        files_type: "EmbeddedFiles",
        statics: "CHECKERBOARD",
        base: &PACKAGE_FILES,
        context_prefixes: &["cg"],
        fallback: "models/hyperprior",
    };
    let inter = Embedding {
        function: "embedded_inter_checkerboard_files",
        files_type: "EmbeddedInterFiles",
        statics: "INTER_CHECKERBOARD",
        base: &INTER_PACKAGE_FILES,
        context_prefixes: &["m_cg", "r_cg", "m_side", "r_side"],
        fallback: "models/ssf",
    };
    let mut blobs = Blobs::default();
    let mut generated = [(intra, "models/checkerboard"), (inter, "models/ssf-checkerboard")]
        .map(|(e, dir)| embedded.then(|| e.source(&workspace.join(dir), &mut blobs)).flatten().unwrap_or_else(|| e.none()))
        .concat();
    let legacy = if embedded { legacy_packages(&workspace.join("models/legacy"), &mut blobs) } else { String::new() };
    generated += &format!(
        "/// Superseded packages: (folder name, model.json, graphs by file stem).\n\
         static LEGACY: &[EmbeddedPackageFiles] = &[{legacy}];\n\
         fn embedded_legacy_files() -> &'static [EmbeddedPackageFiles] {{\n    LEGACY\n}}\n"
    );
    generated.insert_str(0, &blobs.declarations);
    std::fs::write(&out, generated).expect("write OUT_DIR/embedded_checkerboard.rs");

    if embedded {
        let dir = workspace.join("models/hyperprior");
        let missing = watch_package(&dir, &PACKAGE_FILES);
        if missing.is_empty() {
            println!("cargo::rustc-cfg=helio_embedded");
            println!("cargo::rustc-env=HELIO_EMBEDDED_DIR={}", dir.display());
            let inter = workspace.join("models/ssf");
            // Watch the folder too: the package may appear after this build.
            println!("cargo::rerun-if-changed={}", inter.display());
            let missing = watch_package(&inter, &INTER_PACKAGE_FILES);
            if missing.is_empty() {
                println!("cargo::rustc-cfg=helio_embedded_inter");
                println!("cargo::rustc-env=HELIO_EMBEDDED_INTER_DIR={}", inter.display());
            } else if inter.is_dir() {
                println!(
                    "cargo::warning=embedded-models: {} lacks {}; the embedded models code I-frames only",
                    inter.display(),
                    missing.join(", ")
                );
            }
        } else {
            println!(
                "cargo::warning=embedded-models: {} lacks {}; ModelSource::Embedded will fail at run time (use a model directory)",
                dir.display(),
                missing.join(", ")
            );
        }
    }
}

/// A package with context graphs compiled in through generated `include_bytes!`.
struct Embedding {
    function: &'static str,
    files_type: &'static str,
    statics: &'static str,
    base: &'static [&'static str],
    /// File name prefixes of the context graphs (`cg`, or `m_cg` and `r_cg`).
    context_prefixes: &'static [&'static str],
    /// What new streams use when this package is missing (for the warning).
    fallback: &'static str,
}

impl Embedding {
    fn none(&self) -> String {
        format!("fn {}() -> Option<{}> {{\n    None\n}}\n", self.function, self.files_type)
    }

    /// The function returning the package's bytes, or `None` (with a warning
    /// if the folder exists) when it is incomplete.
    fn source(&self, dir: &Path, blobs: &mut Blobs) -> Option<String> {
        println!("cargo::rerun-if-changed={}", dir.display());
        // An inter package whose warp codec-core does has m_g_s in predict's slot.
        let base: Vec<&str> = self
            .base
            .iter()
            .map(|&n| if n == "predict.onnx" && dir.join("m_g_s.onnx").is_file() { "m_g_s.onnx" } else { n })
            .collect();
        let missing = watch_package(dir, &base);
        let mut context: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|f| f.file_name().to_string_lossy().into_owned())
            .filter(|n| self.context_prefixes.iter().any(|p| n.starts_with(p)) && n.ends_with(".onnx"))
            .collect();
        context.sort();
        if !missing.is_empty() || context.is_empty() {
            if dir.is_dir() {
                println!(
                    "cargo::warning=embedded-models: {} is incomplete (missing {}); new streams use {}",
                    dir.display(),
                    if missing.is_empty() { "context graphs".to_string() } else { missing.join(", ") },
                    self.fallback
                );
            }
            return None;
        }
        let mut file = |n: &str| blobs.add(&dir.join(n));
        let graphs: Vec<String> = base[1..].iter().map(|n| file(n)).collect();
        let ctx: Vec<String> =
            context.iter().map(|n| format!("({:?}, {})", n.trim_end_matches(".onnx"), file(n))).collect();
        let s = self.statics;
        Some(format!(
            "// Generated by build.rs from {dir}.\n\
             static {s}_JSON: &[u8] = {json};\n\
             static {s}_GRAPHS: [&[u8]; {n}] = [{graphs}];\n\
             static {s}_CONTEXT: &[(&str, &[u8])] = &[{ctx}];\n\
             fn {f}() -> Option<{t}> {{\n    \
             Some(({s}_JSON, {s}_GRAPHS, {s}_CONTEXT))\n}}\n",
            dir = dir.display(),
            json = file("model.json"),
            n = graphs.len(),
            graphs = graphs.join(", "),
            ctx = ctx.join(", "),
            f = self.function,
            t = self.files_type,
        ))
    }
}

/// Every file the generated code embeds, each distinct content once.
#[derive(Default)]
struct Blobs {
    by_content: std::collections::HashMap<Vec<u8>, String>,
    declarations: String,
}

impl Blobs {
    /// An expression for the bytes of `path` (a `&'static [u8; N]`).
    fn add(&mut self, path: &Path) -> String {
        println!("cargo::rerun-if-changed={}", path.display());
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let n = self.by_content.len();
        let (len, decl) = (bytes.len(), &mut self.declarations);
        let name = self.by_content.entry(bytes).or_insert_with(|| {
            decl.push_str(&format!("static BLOB_{n}: [u8; {len}] = *include_bytes!({:?});\n", path.display().to_string()));
            format!("BLOB_{n}")
        });
        format!("&{name}")
    }
}

/// The entries of `embedded_legacy_files` for each `<legacy>/<name>/` holding a
/// model.json, in name order.
fn legacy_packages(legacy: &Path, blobs: &mut Blobs) -> String {
    println!("cargo::rerun-if-changed={}", legacy.display());
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(legacy)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|d| d.join("model.json").is_file())
        .collect();
    dirs.sort();
    let mut out = Vec::new();
    for dir in dirs {
        println!("cargo::rerun-if-changed={}", dir.display());
        let mut graphs: Vec<String> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|f| f.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".onnx"))
            .collect();
        graphs.sort();
        let graphs: Vec<String> = graphs
            .iter()
            .map(|g| format!("({:?}, {})", g.trim_end_matches(".onnx"), blobs.add(&dir.join(g))))
            .collect();
        let name = dir.file_name().expect("a folder").to_string_lossy().into_owned();
        out.push(format!("({name:?}, {}, &[{}])", blobs.add(&dir.join("model.json")), graphs.join(", ")));
    }
    out.join(", ")
}

/// Asks cargo to rerun when a package file changes; returns the files missing.
fn watch_package<'a>(dir: &Path, files: &[&'a str]) -> Vec<&'a str> {
    for f in files {
        println!("cargo::rerun-if-changed={}", dir.join(f).display());
    }
    files.iter().copied().filter(|f| !dir.join(f).is_file()).collect()
}

/// `<workspace>/.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.1*`, newest name last.
fn venv_ort_library(workspace: &Path) -> Option<PathBuf> {
    let lib = workspace.join(".venv/lib");
    let mut found = Vec::new();
    for py in std::fs::read_dir(&lib).ok()?.flatten() {
        if !py.file_name().to_string_lossy().starts_with("python3") {
            continue;
        }
        let capi = py.path().join("site-packages/onnxruntime/capi");
        println!("cargo::rerun-if-changed={}", capi.display());
        for f in std::fs::read_dir(&capi).into_iter().flatten().flatten() {
            if f.file_name().to_string_lossy().starts_with("libonnxruntime.so.1") {
                found.push(f.path());
            }
        }
    }
    if found.is_empty() {
        // Watch the venv so a later `make setup` is picked up.
        println!("cargo::rerun-if-changed={}", lib.display());
    }
    found.sort();
    found.pop()
}
