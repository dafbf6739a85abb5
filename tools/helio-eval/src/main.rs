//! helio-eval: see `--help`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gst::glib;
use gst::prelude::*;
use helio_eval::codecs::{self, Input, Mode, Point, SweepOptions};
use helio_eval::frames::{self, Samples};
use helio_eval::intensity::DisplayLut;
use helio_eval::report;

const USAGE: &str = "\
helio-eval: rate-distortion and speed of helio vs x264, x265, AV1, JPEG 2000 and PNG (GStreamer, in-process)

USAGE: helio-eval [OPTIONS]

  --frames DIR          folder of 8- or 16-bit grayscale PNG frames (default: <workspace>/data/aia171)
  --mode M              display8 | dn16 | both (default: both for 16-bit input, display8 for 8-bit)
  --codecs LIST         comma list from: png,j2k-lossless,ffv1,helio,helio-gop30,x264,x264-intra,x265,x265-intra,av1,j2k
                        (default: all). helio = every frame an I-frame; helio-gop30, x264, x265 and av1 = GoP 30
                        (I + P-frames; helio-gop30 needs helio's inter package, else it codes I-frames only;
                        helioenc's p-frame-decision=rd codes a scheduled P-frame as I where that costs less,
                        the notes and --frames-csv (extra_i) list those frames; --helio-props
                        p-frame-decision=always keeps the fixed GoP)
  --quick               a few quality points per codec (what `make demo` runs)
  --max-frames N        use at most N frames
  --bit-depth N         significant bits of 16-bit input (default 14, SDO/AIA)
  --helio-qualities L   comma list of helioenc quality values (default: 1..max, read from the element)
  --helio-props S       extra helioenc properties, e.g. \"threads=2\" (model-dir= and inter-model-dir= are
                        given to heliodec too)
  --heliodec-props S    extra heliodec properties, e.g. \"frame-threads=2\"
  --out FILE.md         write the markdown results there and a CSV beside it (FILE.csv)
  --frames-csv FILE     per-frame CSV: bytes, frame type, PSNR and extra_i (1 = a keyframe the GoP schedule
                        did not ask for) of every frame of every point (GoP drift plots: helio-gop30 vs x265)
  --side-by-side FILE   PNG: original | helio | x265 | JPEG 2000 decodes of frame 0 at similar bpp
  --plugin-path DIR     folder holding libgsthelio.so (default: this executable's folder if it has it,
                        else <workspace>/target/release, else <workspace>/target/debug)
  -h, --help            this text

helio-eval compare --frames ORIGINAL_DIR --decoded DECODED_DIR [--bit-depth 14]
  per-frame PSNR (display domain), MS-SSIM and DN errors of decoded PNGs against the originals

helio-eval bd --anchor A.csv --test B.csv
  BD-rate of one run against another (the CSVs beside two --out files), per mode and codec in both,
  e.g. the same sweep with two model packages (pipelines/compare-packages.sh)
";

struct Args {
    frames: PathBuf,
    mode: Option<String>,
    codecs: Vec<String>,
    quick: bool,
    max_frames: Option<usize>,
    bit_depth: u8,
    helio_qualities: Option<Vec<u32>>,
    helio_props: String,
    heliodec_props: String,
    out: Option<PathBuf>,
    frames_csv: Option<PathBuf>,
    side_by_side: Option<PathBuf>,
    plugin_path: Option<PathBuf>,
}

fn workspace_root() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."); p.canonicalize().unwrap_or(p)
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        frames: workspace_root().join("data/aia171"),
        mode: None,
        codecs: codecs::ALL_CODECS.iter().map(|s| s.to_string()).collect(),
        quick: false,
        max_frames: None,
        bit_depth: 14,
        helio_qualities: None,
        helio_props: String::new(),
        heliodec_props: String::new(),
        out: None,
        frames_csv: None,
        side_by_side: None,
        plugin_path: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut val = || inline.clone().or_else(|| it.next()).ok_or(format!("{key} needs a value"));
        match key.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            "--frames" => a.frames = val()?.into(),
            "--mode" => {
                let m = val()?;
                if !["display8", "dn16", "both"].contains(&m.as_str()) {
                    return Err(format!("--mode {m}: expected display8, dn16 or both"));
                }
                a.mode = Some(m);
            }
            "--codecs" => {
                let list: Vec<String> = val()?.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
                for c in &list {
                    if !codecs::ALL_CODECS.contains(&c.as_str()) {
                        return Err(format!("unknown codec {c}; known: {}", codecs::ALL_CODECS.join(",")));
                    }
                }
                a.codecs = list;
            }
            "--quick" => a.quick = true,
            "--max-frames" => a.max_frames = Some(val()?.parse().map_err(|e| format!("--max-frames: {e}"))?),
            "--bit-depth" => {
                let b: u8 = val()?.parse().map_err(|e| format!("--bit-depth: {e}"))?;
                if !(9..=16).contains(&b) {
                    return Err("--bit-depth must be 9..=16".into());
                }
                a.bit_depth = b;
            }
            "--helio-qualities" => {
                let v: Result<Vec<u32>, _> = val()?.split(',').map(|s| s.trim().parse::<u32>()).collect();
                a.helio_qualities = Some(v.map_err(|e| format!("--helio-qualities: {e}"))?);
            }
            "--helio-props" => a.helio_props = val()?,
            "--heliodec-props" => a.heliodec_props = val()?,
            "--out" => a.out = Some(val()?.into()),
            "--frames-csv" => a.frames_csv = Some(val()?.into()),
            "--side-by-side" => a.side_by_side = Some(val()?.into()),
            "--plugin-path" => a.plugin_path = Some(val()?.into()),
            other => return Err(format!("unknown option {other}\n\n{USAGE}")),
        }
    }
    Ok(a)
}

/// Registers the helio plugin from its build folder; returns a note for the report.
fn load_helio_plugin(explicit: Option<&Path>) -> String {
    let lib = "libgsthelio.so";
    let mut candidates: Vec<PathBuf> = Vec::new();
    match explicit {
        Some(p) => candidates.push(p.to_path_buf()),
        None => {
            if let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
                candidates.push(dir);
            }
            candidates.push(workspace_root().join("target/release"));
            candidates.push(workspace_root().join("target/debug"));
        }
    }
    for dir in &candidates {
        if dir.join(lib).exists() {
            let registry = gst::Registry::get();
            registry.scan_path(dir);
            return match gst::ElementFactory::find("helioenc") {
                Some(_) => format!("helio plugin: {}", dir.join(lib).display()),
                None => format!("{} exists but does not register helioenc (see GST_DEBUG=GST_PLUGIN_LOADING:4)", dir.join(lib).display()),
            };
        }
    }
    if gst::ElementFactory::find("helioenc").is_some() {
        return "helio plugin: from GST_PLUGIN_PATH / the registry".into();
    }
    format!(
        "helio plugin not found ({lib} not in {}): helio skipped",
        candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )
}

/// Number of quality levels of a model package (`model.json` "qualities").
fn model_quality_levels(model_dir: &Path) -> Result<u32, String> {
    let p = model_dir.join("model.json");
    let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
    v.get("qualities")
        .and_then(|q| q.as_array())
        .map(|q| q.len() as u32)
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{}: no \"qualities\" list", p.display()))
}

/// The maximum of helioenc's `quality` property.
fn helio_max_quality() -> Result<u32, String> {
    let e = gst::ElementFactory::make("helioenc").build().map_err(|e| format!("cannot create helioenc: {e}"))?;
    let ps = e.find_property("quality").ok_or("helioenc has no `quality` property")?;
    if let Some(p) = ps.downcast_ref::<glib::ParamSpecUInt>() {
        Ok(p.maximum())
    } else if let Some(p) = ps.downcast_ref::<glib::ParamSpecInt>() {
        Ok(p.maximum().max(1) as u32)
    } else if let Some(p) = ps.downcast_ref::<glib::ParamSpecUChar>() {
        Ok(p.maximum() as u32)
    } else {
        Err(format!("helioenc `quality` has unexpected type {}", ps.value_type()))
    }
}

struct Doc {
    header: String,
    notes: Vec<String>,
}

/// For a helio-gop30 point coded with an inter package: which scheduled P-frames
/// helioenc's RD decision coded as I-frames (frame numbers from 0).
fn rd_keyframes_note(p: &Point) -> Option<String> {
    if p.codec != "helio-gop30" || p.frames < 2 {
        return None;
    }
    let extra: Vec<usize> = p.extra_keyframes()?.iter().enumerate().filter(|(_, e)| **e).map(|(i, _)| i).collect();
    let scheduled_p = p.delta_frames()? + extra.len();
    Some(format!(
        "{} helio-gop30 {}: {} of {} scheduled P-frames coded as I-frames by the RD decision{}",
        p.mode.name(),
        p.setting,
        extra.len(),
        scheduled_p,
        if extra.is_empty() {
            String::new()
        } else {
            format!(" (frames {})", extra.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", "))
        }
    ))
}

fn render(doc: &Doc, points: &[Point], modes: &[Mode]) -> String {
    let mut s = doc.header.clone();
    for &m in modes {
        if !points.iter().any(|p| p.mode == m) {
            continue;
        }
        s.push_str(&format!("\n## {} \n\n", m.name()));
        s.push_str(match m {
            Mode::Display8 => "All codecs get the same 8-bit display frames; PSNR against them.\n\n",
            Mode::Dn16 => "helio and JPEG 2000 get the 16-bit DN, x265 12 bits (DN >> 2, rounded), x264 10 bits (High 10, DN >> 4, rounded), AV1 10 bits (DN >> 4) through the ffmpeg program (libaom-av1 with the display8 row's settings, decoded by libdav1d; GStreamer 1.22's av1enc is 8-bit only; its frames/s include ffmpeg's start-up and file I/O); PSNR after mapping decoded DN to the display domain; DN errors against the original DN; rel err bright / dark: mean |decoded - original| / max(original, 1) over each frame's brightest 10 % / darkest 25 % of pixels (original DN), averaged over frames.\n\n",
        });
        s.push_str(&report::points_table(points, m));
        let anchors = ["x264", "x264-intra", "x265", "x265-intra", "av1", "j2k"];
        let gop_anchors = ["x264", "x265", "av1", "helio", "x264-intra", "x265-intra", "j2k"];
        for (test, anchors, what) in [
            ("helio", &anchors[..], "helio (I-frames only)"),
            ("helio-gop30", &gop_anchors[..], "helio GoP 30 (I + P-frames)"),
        ] {
            let bd = report::bd_table(points, m, test, anchors);
            if !bd.is_empty() {
                s.push_str(&format!(
                    "\nBD-rate of {what} (negative = fewer bits than the anchor at equal quality), {}:\n\n",
                    m.name()
                ));
                s.push_str(&bd);
            }
        }
    }
    if !doc.notes.is_empty() {
        s.push_str("\n## Notes\n\n");
        for n in &doc.notes {
            s.push_str(&format!("- {n}\n"));
        }
    }
    s
}

fn write_outputs(out: Option<&Path>, text: &str, points: &[Point]) {
    let Some(out) = out else { return };
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = std::fs::write(out, text) {
        eprintln!("helio-eval: cannot write {}: {e}", out.display());
    }
    let csv = out.with_extension("csv");
    if let Err(e) = std::fs::write(&csv, report::csv(points)) {
        eprintln!("helio-eval: cannot write {}: {e}", csv.display());
    }
}

/// `helio-eval compare --frames A --decoded B`: per-frame errors of decoded PNGs.
fn compare_main(argv: &[String]) -> ExitCode {
    let mut frames_dir = workspace_root().join("data/aia171");
    let mut decoded_dir: Option<PathBuf> = None;
    let mut bit_depth = 14u8;
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        let v = it.next();
        match (a.as_str(), v) {
            ("--frames", Some(v)) => frames_dir = v.into(),
            ("--decoded", Some(v)) => decoded_dir = Some(v.into()),
            ("--bit-depth", Some(v)) => bit_depth = v.parse().unwrap_or(14),
            _ => {
                eprintln!("usage: helio-eval compare --frames ORIGINAL_DIR --decoded DECODED_DIR [--bit-depth 14]");
                return ExitCode::from(2);
            }
        }
    }
    let Some(decoded_dir) = decoded_dir else {
        eprintln!("helio-eval compare: --decoded DIR is required");
        return ExitCode::from(2);
    };
    let load = |d: &Path| match frames::load_dir(d, None) {
        Ok(s) => {
            for w in &s.warnings {
                eprintln!("helio-eval compare: warning: {w}");
            }
            Some(s.frames)
        }
        Err(e) => {
            eprintln!("helio-eval compare: {e}");
            None
        }
    };
    let (Some(orig), Some(dec)) = (load(&frames_dir), load(&decoded_dir)) else { return ExitCode::FAILURE };
    if orig.len() != dec.len() {
        eprintln!("helio-eval compare: {} original frames but {} decoded; comparing the first {}", orig.len(), dec.len(), orig.len().min(dec.len()));
    }
    let lut = DisplayLut::new(bit_depth);
    println!("| frame | PSNR dB (display) | MS-SSIM | RMSE DN | max err DN |\n|---|---:|---:|---:|---:|");
    let (mut ps, mut ms, mut se, mut mx, mut n) = (0.0, 0.0, 0.0, 0u32, 0usize);
    for (o, d) in orig.iter().zip(&dec) {
        if (o.width, o.height) != (d.width, d.height) {
            eprintln!("helio-eval compare: {} is {}x{}, {} is {}x{}", o.path.display(), o.width, o.height, d.path.display(), d.width, d.height);
            return ExitCode::FAILURE;
        }
        let (a, b, dn) = match (&o.samples, &d.samples) {
            (Samples::U16(x), Samples::U16(y)) => (lut.map(x), lut.map(y), Some(helio_eval::metrics::dn_errors(x, y))),
            (Samples::U8(x), Samples::U8(y)) => (x.clone(), y.clone(), None),
            _ => {
                eprintln!("helio-eval compare: {} and {} differ in bit depth", o.path.display(), d.path.display());
                return ExitCode::FAILURE;
            }
        };
        let p = helio_eval::metrics::psnr_u8(&a, &b);
        let m = helio_eval::metrics::ms_ssim_u8(&a, &b, o.width, o.height);
        let name = o.path.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default();
        match dn {
            Some((r, x)) => {
                println!("| {name} | {p:.2} | {} | {r:.2} | {x} |", m.map(|v| format!("{v:.5}")).unwrap_or("n/a".into()));
                se += r * r;
                mx = mx.max(x);
            }
            None => println!("| {name} | {p:.2} | {} | | |", m.map(|v| format!("{v:.5}")).unwrap_or("n/a".into())),
        }
        ps += p;
        ms += m.unwrap_or(f64::NAN);
        n += 1;
    }
    if n > 0 {
        let nf = n as f64;
        println!("| mean | {:.2} | {:.5} | {:.2} | {mx} |", ps / nf, ms / nf, (se / nf).sqrt());
    }
    ExitCode::SUCCESS
}

/// `helio-eval bd --anchor A.csv --test B.csv`: BD-rate of one run against another
/// (the CSVs beside two `--out` files), per mode and codec found in both; for instance
/// the same sweep with two model packages.
fn bd_main(argv: &[String]) -> ExitCode {
    let (mut anchor, mut test) = (None, None);
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--anchor", Some(v)) => anchor = Some(PathBuf::from(v)),
            ("--test", Some(v)) => test = Some(PathBuf::from(v)),
            _ => anchor = None,
        }
    }
    let (Some(anchor), Some(test)) = (anchor, test) else {
        eprintln!("usage: helio-eval bd --anchor A.csv --test B.csv (CSVs written beside helio-eval --out)");
        return ExitCode::from(2);
    };
    let read = |p: &Path| {
        std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| report::read_csv_points(&t))
            .map_err(|e| eprintln!("helio-eval bd: {}: {e}", p.display()))
    };
    let (Ok(a), Ok(t)) = (read(&anchor), read(&test)) else { return ExitCode::FAILURE };
    let mut keys: Vec<(String, String)> = a.iter().map(|p| (p.0.clone(), p.1.clone())).collect();
    keys.sort();
    keys.dedup();
    println!("BD-rate of {} against {} (negative: fewer bits at equal PSNR)\n", test.display(), anchor.display());
    println!("| mode | codec | BD-rate | PSNR range |\n|---|---|---:|---|");
    let mut any = false;
    for (mode, codec) in keys {
        let pick = |v: &[(String, String, f64, f64)]| -> Vec<(f64, f64)> {
            v.iter().filter(|p| p.0 == mode && p.1 == codec).map(|p| (p.2, p.3)).collect()
        };
        let (pa, pt) = (pick(&a), pick(&t));
        if pt.is_empty() {
            continue;
        }
        any = true;
        let range = helio_eval::metrics::bd_overlap(&pa, &pt)
            .map(|(lo, hi)| format!("{lo:.2}-{hi:.2} dB"))
            .unwrap_or_default();
        match helio_eval::metrics::bd_rate(&pa, &pt) {
            Ok(v) => println!("| {mode} | {codec} | {v:+.2} % | {range} |"),
            Err(e) => println!("| {mode} | {codec} | {e} | |"),
        }
    }
    if any { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("compare") {
        return compare_main(&argv[1..]);
    }
    if argv.first().map(String::as_str) == Some("bd") {
        return bd_main(&argv[1..]);
    }
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("helio-eval: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = gst::init() {
        eprintln!("helio-eval: cannot initialise GStreamer: {e}");
        return ExitCode::FAILURE;
    }
    let mut doc = Doc { header: String::new(), notes: Vec::new() };
    let plugin_note = if args.codecs.iter().any(|c| codecs::is_helio(c)) {
        load_helio_plugin(args.plugin_path.as_deref())
    } else {
        String::new()
    };
    eprintln!("helio-eval: {plugin_note}");

    let seq = match frames::load_dir(&args.frames, args.max_frames) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("helio-eval: {e}");
            doc.header = format!("# helio-eval results\n\nNo measurement: {e}\n");
            write_outputs(args.out.as_deref(), &doc.header, &[]);
            return ExitCode::FAILURE;
        }
    };
    for w in &seq.warnings {
        eprintln!("helio-eval: warning: {w}");
        doc.notes.push(w.clone());
    }
    let first = &seq.frames[0];
    let (w, h) = (first.width, first.height);
    let is16 = first.is_16bit();
    let lut = DisplayLut::new(args.bit_depth);
    let mut input = Input { width: w, height: h, bit_depth: args.bit_depth, display: Vec::new(), dn: None };
    if is16 {
        let dn: Vec<Vec<u16>> = seq
            .frames
            .iter()
            .map(|f| match &f.samples {
                Samples::U16(v) => v.clone(),
                Samples::U8(_) => unreachable!(),
            })
            .collect();
        let over = dn.iter().flatten().filter(|&&v| v as u32 >= 1u32 << args.bit_depth).count();
        if over > 0 {
            doc.notes.push(format!(
                "{over} samples exceed the {}-bit range; clamped in the display domain only",
                args.bit_depth
            ));
        }
        input.display = dn.iter().map(|f| lut.map(f)).collect();
        input.dn = Some(dn);
    } else {
        input.display = seq
            .frames
            .iter()
            .map(|f| match &f.samples {
                Samples::U8(v) => v.clone(),
                Samples::U16(_) => unreachable!(),
            })
            .collect();
    }
    let modes: Vec<Mode> = match (args.mode.as_deref(), is16) {
        (Some("display8"), _) | (None, false) => vec![Mode::Display8],
        (Some("dn16"), true) => vec![Mode::Dn16],
        (Some("dn16"), false) => {
            eprintln!("helio-eval: --mode dn16 needs 16-bit input; running display8");
            doc.notes.push("--mode dn16 asked for 8-bit input: display8 only".into());
            vec![Mode::Display8]
        }
        (_, true) => vec![Mode::Display8, Mode::Dn16],
        (_, false) => vec![Mode::Display8],
    };

    let (maj, min, mic, _) = gst::version();
    doc.header = format!(
        "# helio-eval results\n\n\
         - input: `{}`: {} frames, {}x{}, {}\n\
         - machine: {} CPU threads, GStreamer {maj}.{min}.{mic}; speeds are wall-clock frames/s of the whole \
         in-process pipeline (appsrc to appsink) measured in this run\n\
         - bpp: every byte of the elementary stream (headers included, no container) / (frames x width x height); \
         ratio = {} / bpp (uncompressed container bits)\n\
         - display domain: {}\n\
         - PSNR = mean over frames of 10 log10(255^2/MSE) in the display domain; MS-SSIM 5-scale (Wang 2003), \
         11x11 Gaussian sigma 1.5\n\
         - x264/x265 frames are padded to even size by edge replication (4:2:0 needs it; the padding's bits are counted), \
         chroma constant; JPEG 2000 is ffmpeg's encoder through GStreamer (`avenc_jpeg2000 layer-rates=<compression ratio>`, \
         since `openjpegenc` in GStreamer 1.22 has no rate or quality property) decoded by `openjpegdec`\n\
         {}",
        args.frames.display(),
        seq.frames.len(),
        w,
        h,
        if is16 { format!("16-bit (bit depth {})", args.bit_depth) } else { "8-bit".into() },
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        modes.iter().map(|m| format!("{} ({})", m.container_bits(), m.name())).collect::<Vec<_>>().join(", "),
        if is16 {
            format!(
                "round(255 t), t = (sqrt(DN+3/8) - sqrt(3/8)) / (sqrt({}+3/8) - sqrt(3/8)) (helio_core::intensity Sqrt)",
                (1u32 << args.bit_depth) - 1
            )
        } else {
            "the 8-bit input pixels".into()
        },
        if plugin_note.is_empty() { String::new() } else { format!("- {plugin_note}\n") }
    );

    // The intra package helioenc uses (default: the one compiled into the plugin, built
    // from models/checkerboard when it exists, else models/hyperprior).
    let default_dir = ["models/checkerboard", "models/hyperprior"]
        .map(|d| workspace_root().join(d))
        .into_iter()
        .find(|d| d.join("model.json").is_file())
        .unwrap_or_else(|| workspace_root().join("models/hyperprior"));
    let model_dir = args
        .helio_props
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("model-dir="))
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or(default_dir);
    // Its id, which helioenc writes into I-frame-only streams (P-capable ones get another).
    let helio_intra_id = args
        .codecs
        .iter()
        .any(|c| c == "helio-gop30")
        .then(|| helio_core::model::ModelPackage::load(&helio_core::ModelSource::Dir(model_dir.clone())).ok())
        .flatten()
        .map(|m| m.id.to_string());
    let helio_max = if args.codecs.iter().any(|c| codecs::is_helio(c)) && gst::ElementFactory::find("helioenc").is_some() {
        match helio_max_quality() {
            Ok(q) => {
                // The pspec maximum is only a bound (255); the model package says how many
                // levels exist.
                match model_quality_levels(&model_dir) {
                    Ok(n) if n < q => {
                        doc.notes.push(format!(
                            "helioenc `quality` pspec maximum is {q}; the model package {} has {n} levels: sweeping 1..={n}",
                            model_dir.display()
                        ));
                        Some(n)
                    }
                    Ok(_) => Some(q),
                    Err(e) => {
                        doc.notes.push(format!("helio quality levels: {e}; using the pspec maximum {q}"));
                        Some(q)
                    }
                }
            }
            Err(e) => {
                doc.notes.push(format!("helio skipped: {e}"));
                None
            }
        }
    } else {
        None
    };
    let opts = SweepOptions {
        quick: args.quick,
        helio_qualities: args.helio_qualities.clone(),
        helio_max_quality: helio_max,
        helio_props: args.helio_props.clone(),
        heliodec_props: args.heliodec_props.clone(),
        bit_depth: args.bit_depth,
    };

    let mut points: Vec<Point> = Vec::new();
    let mut failed = false;
    for &mode in &modes {
        for codec in &args.codecs {
            if codecs::is_helio(codec) && helio_max.is_none() {
                if mode == modes[0] {
                    doc.notes.push(format!("{codec} not measured: {plugin_note}"));
                }
                continue;
            }
            let specs = codecs::sweep(codec, mode, &opts);
            let Some(first_spec) = specs.first() else { continue };
            let missing = first_spec.missing();
            if !missing.is_empty() {
                let msg = format!("{codec} skipped: missing element(s) {}", missing.join(", "));
                eprintln!("helio-eval: {msg}");
                if !doc.notes.contains(&msg) {
                    doc.notes.push(msg);
                }
                continue;
            }
            for spec in &specs {
                eprint!("helio-eval: {} {} {} ... ", mode.name(), spec.codec, spec.setting);
                match codecs::evaluate(spec, &input, mode, &lut) {
                    Ok(p) => {
                        eprintln!(
                            "{:.4} bpp, {:.2} dB, enc {:.1} fps, dec {:.1} fps",
                            p.bpp, p.psnr, p.enc_fps, p.dec_fps
                        );
                        let no_p = "helio-gop30 coded I-frames only: helioenc found no inter package \
                                    (give inter-model-dir= in --helio-props, or build with models/ssf)";
                        let noted = doc.notes.iter().any(|n| n == no_p);
                        // Without P-frames, the stream's model id tells an encoder without
                        // inter package from one whose RD decision chose I every time.
                        let intra_only_stream = p.delta_frames() == Some(0)
                            && (p.stream_model_id.is_none() || p.stream_model_id == helio_intra_id);
                        if spec.codec == "helio-gop30" && intra_only_stream && p.frames > 1 && !noted {
                            doc.notes.push(no_p.to_string());
                        }
                        // (No RD decision to report when the props turned it off.)
                        let rd = !args.helio_props.contains("p-frame-decision=always");
                        if let Some(note) = rd_keyframes_note(&p).filter(|_| rd && !intra_only_stream) {
                            eprintln!("helio-eval: {note}");
                            doc.notes.push(note);
                        }
                        if spec.lossless && p.psnr.is_finite() {
                            doc.notes.push(format!(
                                "{} {} was expected lossless but is not ({:.2} dB, max err {:?})",
                                mode.name(),
                                codec,
                                p.psnr,
                                p.max_err_dn
                            ));
                        }
                        points.push(p);
                    }
                    Err(e) => {
                        eprintln!("failed");
                        eprintln!("helio-eval: {e}");
                        failed = true;
                        doc.notes.push(format!("{} {} {}: {e}", mode.name(), spec.codec, spec.setting));
                    }
                }
            }
            // Partial results survive a later crash or interruption.
            write_outputs(args.out.as_deref(), &render(&doc, &points, &modes), &points);
        }
    }

    if let Some(path) = &args.side_by_side {
        let mode = *modes.last().unwrap();
        let mut refpts: Vec<&Point> = points.iter().filter(|p| p.mode == mode && p.codec == "helio").collect();
        if refpts.is_empty() {
            refpts = points.iter().filter(|p| p.mode == mode && p.codec == "x265").collect();
        }
        refpts.sort_by(|a, b| a.bpp.partial_cmp(&b.bpp).unwrap());
        if let Some(r) = refpts.get(refpts.len() / 2) {
            let mut panels: Vec<(String, String, &[u8])> =
                vec![("ORIGINAL".into(), format!("{} {}", mode.name().to_uppercase(), "FRAME 0"), &input.display[0])];
            for c in ["helio", "x265", "j2k"] {
                if let Some(p) = report::closest(&points, mode, c, r.bpp) {
                    panels.push((
                        c.to_uppercase(),
                        format!("{:.3} BPP {:.1} DB", p.bpp, p.psnr),
                        &p.preview,
                    ));
                }
            }
            match report::side_by_side(path, w, h, &panels) {
                Ok(()) => {
                    eprintln!("helio-eval: wrote {}", path.display());
                    doc.notes.push(format!(
                        "side-by-side `{}` ({} mode, frame 0): {}",
                        path.display(),
                        mode.name(),
                        panels.iter().map(|p| format!("{} {}", p.0, p.1)).collect::<Vec<_>>().join(" | ")
                    ));
                }
                Err(e) => doc.notes.push(format!("side-by-side not written: {e}")),
            }
        } else {
            doc.notes.push("side-by-side not written: neither helio nor x265 points".into());
        }
    }

    let text = render(&doc, &points, &modes);
    print!("{text}");
    write_outputs(args.out.as_deref(), &text, &points);
    if let Some(path) = &args.frames_csv {
        match std::fs::write(path, report::frames_csv(&points)) {
            Ok(()) => eprintln!("helio-eval: wrote {}", path.display()),
            Err(e) => eprintln!("helio-eval: cannot write {}: {e}", path.display()),
        }
    }
    if let Some(o) = &args.out {
        eprintln!("helio-eval: wrote {} and {}", o.display(), o.with_extension("csv").display());
    }
    if failed && points.is_empty() { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
