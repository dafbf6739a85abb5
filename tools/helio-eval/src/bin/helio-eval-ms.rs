//! helio-eval-ms: rate-distortion of multispectral coding. helio codes all
//! wavelengths of a frame into one stream (X-frames predict a band from
//! another band of the same instant) against helio coding each wavelength
//! alone and against x265 / JPEG 2000 coding each wavelength alone.
//!
//! bpp is bits per wavelength-pixel (all bytes / (frames x width x height x
//! wavelengths)); PSNR is helio-eval's (display domain, mean over frames),
//! averaged over the wavelengths. helio runs through codec-core (the same
//! networks and bitstream as helioenc), the anchors through GStreamer as in
//! helio-eval.
//!
//!   helio-eval-ms --frames data/aia171,data/aia193,data/aia304 [--quick]
//!       [--qualities 1,3,5] [--mode display8|dn16] [--max-frames N]
//!       [--threads N] [--out FILE.md]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use helio_core::codec::Pixels;
use helio_core::{Decoder, DecoderConfig, Encoder, EncoderConfig, ExecutionProvider, ModelSource, PFrameDecision};
use helio_eval::codecs::{self, Input, Mode, SweepOptions};
use helio_eval::frames::{self, Samples};
use helio_eval::gstrun;
use helio_eval::intensity::DisplayLut;
use helio_eval::metrics;

const BIT_DEPTH: u8 = 14;

struct Args {
    frames: Vec<PathBuf>,
    max_frames: Option<usize>,
    modes: Vec<Mode>,
    qualities: Option<Vec<u8>>,
    quick: bool,
    threads: usize,
    out: Option<PathBuf>,
}

/// One measured setting: bpp per wavelength-pixel, PSNR per wavelength.
struct Row {
    codec: String,
    setting: String,
    bpp: f64,
    psnr: Vec<f64>,
    /// helio: ms per wavelength-frame to encode and to decode.
    ms: Option<(f64, f64)>,
}

impl Row {
    fn mean_psnr(&self) -> f64 {
        self.psnr.iter().sum::<f64>() / self.psnr.len() as f64
    }
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        frames: Vec::new(),
        max_frames: None,
        modes: vec![Mode::Display8, Mode::Dn16],
        qualities: None,
        quick: false,
        threads: 1,
        out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = || it.next().ok_or(format!("{k} needs a value"));
        match k.as_str() {
            "--frames" => a.frames = val()?.split(',').map(PathBuf::from).collect(),
            "--max-frames" => a.max_frames = Some(val()?.parse().map_err(|e| format!("--max-frames: {e}"))?),
            "--mode" => {
                a.modes = match val()?.as_str() {
                    "display8" => vec![Mode::Display8],
                    "dn16" => vec![Mode::Dn16],
                    "both" => vec![Mode::Display8, Mode::Dn16],
                    m => return Err(format!("--mode {m}: display8, dn16 or both")),
                }
            }
            "--qualities" => {
                let q: Result<Vec<u8>, _> = val()?.split(',').map(str::parse).collect();
                a.qualities = Some(q.map_err(|e| format!("--qualities: {e}"))?);
            }
            "--quick" => a.quick = true,
            "--threads" => a.threads = val()?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--out" => a.out = Some(val()?.into()),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.frames.len() < 2 {
        return Err("--frames needs at least two folders (one per wavelength), comma-separated".into());
    }
    Ok(a)
}

/// The wavelength of a folder: meta.json `wavelength_angstrom`, else the digits of its name.
fn wavelength_of(dir: &Path) -> Result<u16, String> {
    if let Ok(text) = std::fs::read_to_string(dir.join("meta.json")) {
        let meta: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", dir.display()))?;
        if let Some(w) = meta["wavelength_angstrom"].as_u64() {
            return Ok(w as u16);
        }
    }
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let digits: String = name.chars().filter(char::is_ascii_digit).collect();
    digits.parse().map_err(|_| format!("{}: no wavelength in meta.json or in the folder name", dir.display()))
}

/// The bands of a run: wavelengths (ascending), size, per band its DN frames
/// cropped to the common size, and notes.
struct Bands {
    wavelengths: Vec<u16>,
    width: usize,
    height: usize,
    dn: Vec<Vec<Vec<u16>>>,
    notes: Vec<String>,
}

fn load(args: &Args) -> Result<Bands, String> {
    let mut bands = Vec::new();
    let mut notes = Vec::new();
    for dir in &args.frames {
        let seq = frames::load_dir(dir, args.max_frames)?;
        notes.extend(seq.warnings);
        bands.push((wavelength_of(dir)?, seq.frames));
    }
    bands.sort_by_key(|b| b.0);
    if bands.windows(2).any(|b| b[0].0 == b[1].0) {
        return Err("two folders have the same wavelength".into());
    }
    let n = bands.iter().map(|b| b.1.len()).min().unwrap_or(0);
    let w = bands.iter().flat_map(|b| b.1.iter().map(|f| f.width)).min().unwrap_or(0);
    let h = bands.iter().flat_map(|b| b.1.iter().map(|f| f.height)).min().unwrap_or(0);
    if bands.iter().any(|b| b.1.iter().any(|f| (f.width, f.height) != (w, h))) {
        notes.push(format!("frames cropped to the common size {w}x{h} (top-left)"));
    }
    let mut dn = Vec::new();
    for (wl, frames) in &bands {
        let mut seq = Vec::new();
        for f in frames.iter().take(n) {
            let Samples::U16(s) = &f.samples else { return Err(format!("{wl} A: 16-bit DN frames needed")) };
            seq.push((0..h).flat_map(|y| s[y * f.width..y * f.width + w].iter().copied()).collect());
        }
        dn.push(seq);
    }
    Ok(Bands { wavelengths: bands.iter().map(|b| b.0).collect(), width: w, height: h, dn, notes })
}

/// The packages helioenc embeds by default: the checkerboard intra package when
/// it exists (else the hyperprior) and the checkerboard inter package when it
/// exists (else the plain SSF one).
fn model() -> ModelSource {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let first = |dirs: [&str; 2]| {
        let d = root.join(dirs[0]);
        if d.join("model.json").is_file() { d } else { root.join(dirs[1]) }
    };
    let intra = first(["models/checkerboard", "models/hyperprior"]);
    ModelSource::Dirs { intra, inter: Some(first(["models/ssf-checkerboard", "models/ssf"])) }
}

/// helio on all wavelengths jointly (`joint`) or one stream per wavelength.
#[allow(clippy::too_many_arguments)]
fn helio(
    joint: bool,
    gop: u32,
    quality: u8,
    mode: Mode,
    wavelengths: &[u16],
    (w, h): (usize, usize),
    inputs: &[Input],
    threads: usize,
) -> Result<Row, String> {
    let bit_depth = if mode == Mode::Display8 { 8 } else { BIT_DEPTH };
    let lut = DisplayLut::new(BIT_DEPTH);
    let groups: Vec<Vec<usize>> =
        if joint { vec![(0..wavelengths.len()).collect()] } else { (0..wavelengths.len()).map(|c| vec![c]).collect() };
    let n = inputs[0].display.len();
    let (mut bytes, mut psnr, mut t_enc, mut t_dec) = (0usize, vec![0.0; wavelengths.len()], 0.0, 0.0);
    for group in &groups {
        let cfg = EncoderConfig {
            width: w as u32,
            height: h as u32,
            bit_depth,
            quality,
            model: model(),
            execution_provider: ExecutionProvider::Cpu,
            threads,
            keyframe_interval: gop,
            p_frame_decision: PFrameDecision::Rd,
            keyframe_quality_offset: helio_core::DEFAULT_KEYFRAME_QUALITY_OFFSET,
            wavelengths: if joint { wavelengths.to_vec() } else { Vec::new() },
        };
        let mut enc = Encoder::new(cfg).map_err(|e| e.to_string())?;
        let mut dec = Decoder::new(DecoderConfig { model: model(), execution_provider: ExecutionProvider::Cpu, threads })
            .map_err(|e| e.to_string())?;
        for i in 0..n {
            let t0 = Instant::now();
            let coded = match mode {
                Mode::Display8 => {
                    let planes: Vec<u8> = group.iter().flat_map(|&c| inputs[c].display[i].iter().copied()).collect();
                    enc.encode(Pixels::U8(&planes), false)
                }
                Mode::Dn16 => {
                    let planes: Vec<u16> =
                        group.iter().flat_map(|&c| inputs[c].dn.as_ref().unwrap()[i].iter().copied()).collect();
                    enc.encode(Pixels::U16(&planes), false)
                }
            }
            .map_err(|e| e.to_string())?;
            let t1 = Instant::now();
            let out = dec.decode(&coded.data).map_err(|e| e.to_string())?;
            t_enc += (t1 - t0).as_secs_f64();
            t_dec += t1.elapsed().as_secs_f64();
            if Some(&out.pixels) != enc.last_reconstruction() {
                return Err(format!("frame {i}: decoder output differs from the encoder's reconstruction"));
            }
            bytes += coded.data.len();
            for (k, &c) in group.iter().enumerate() {
                let plane = out.pixels.plane(k, w * h);
                let display = match plane {
                    Pixels::U8(p) => p.to_vec(),
                    Pixels::U16(p) => lut.map(p),
                };
                psnr[c] += metrics::psnr_u8(&inputs[c].display[i], &display) / n as f64;
            }
        }
    }
    let frames = (n * wavelengths.len()) as f64;
    Ok(Row {
        codec: format!("helio-{}{}", if joint { "joint" } else { "separate" }, if gop > 1 { "-gop30" } else { "" }),
        setting: format!("quality={quality}"),
        bpp: 8.0 * bytes as f64 / (frames * (w * h) as f64),
        psnr,
        ms: Some((1e3 * t_enc / frames, 1e3 * t_dec / frames)),
    })
}

/// An anchor codec run on each wavelength alone, points of one setting combined.
fn anchor(codec: &str, mode: Mode, inputs: &[Input], quick: bool) -> Vec<Row> {
    let opts = SweepOptions {
        quick,
        helio_qualities: None,
        helio_max_quality: None,
        helio_props: String::new(),
        heliodec_props: String::new(),
        bit_depth: BIT_DEPTH,
    };
    let lut = DisplayLut::new(BIT_DEPTH);
    let mut rows = Vec::new();
    for spec in codecs::sweep(codec, mode, &opts) {
        let missing = gstrun::missing(&spec.elements);
        if !missing.is_empty() {
            eprintln!("helio-eval-ms: {codec} skipped: missing {}", missing.join(", "));
            break;
        }
        let mut bits = 0.0;
        let mut psnr = Vec::new();
        for input in inputs {
            match codecs::evaluate(&spec, input, mode, &lut) {
                Ok(p) => {
                    bits += p.bpp;
                    psnr.push(p.psnr);
                }
                Err(e) => eprintln!("helio-eval-ms: {codec} {}: {e}", spec.setting),
            }
        }
        if psnr.len() == inputs.len() {
            eprintln!("helio-eval-ms: {} {codec} {}: {:.4} bpp", mode.name(), spec.setting, bits / inputs.len() as f64);
            rows.push(Row {
                codec: format!("{codec} (each wavelength)"),
                setting: spec.setting.clone(),
                bpp: bits / inputs.len() as f64,
                psnr,
                ms: None,
            });
        }
    }
    rows
}

fn curve(rows: &[Row], codec: &str) -> Vec<(f64, f64)> {
    rows.iter().filter(|r| r.codec == codec).map(|r| (r.bpp, r.mean_psnr())).collect()
}

fn report(mode: Mode, wavelengths: &[u16], rows: &[Row]) -> String {
    let mut s = format!("### {}\n\n| codec | setting | bpp | PSNR dB (mean) |", mode.name());
    for wl in wavelengths {
        s += &format!(" {wl} A |");
    }
    s += " enc / dec ms per wavelength-frame |\n|---|---|---|---|";
    s += &"---|".repeat(wavelengths.len() + 1);
    s += "\n";
    for r in rows {
        s += &format!("| {} | {} | {:.4} | {:.2} |", r.codec, r.setting, r.bpp, r.mean_psnr());
        for p in &r.psnr {
            s += &format!(" {p:.2} |");
        }
        s += &r.ms.map_or(" |".into(), |(e, d)| format!(" {e:.0} / {d:.0} |"));
        s += "\n";
    }
    s += "\n| test vs anchor | BD-rate (PSNR) |\n|---|---|\n";
    for (test, anchor) in [
        ("helio-joint", "helio-separate"),
        ("helio-joint-gop30", "helio-separate-gop30"),
        ("helio-joint-gop30", "x265 (each wavelength)"),
        ("helio-joint", "x265-intra (each wavelength)"),
        ("helio-joint", "j2k (each wavelength)"),
        ("helio-separate-gop30", "x265 (each wavelength)"),
    ] {
        let bd = metrics::bd_rate(&curve(rows, anchor), &curve(rows, test))
            .map_or_else(|e| format!("n/a ({e:?})"), |v| format!("{v:+.1}%"));
        s += &format!("| {test} vs {anchor} | {bd} |\n");
    }
    s
}

fn run(args: &Args) -> Result<String, String> {
    gst::init().map_err(|e| e.to_string())?;
    helio_core::runtime::init(None).map_err(|e| e.to_string())?;
    let Bands { wavelengths, width: w, height: h, dn, notes } = load(args)?;
    let lut = DisplayLut::new(BIT_DEPTH);
    let inputs: Vec<Input> = dn
        .into_iter()
        .map(|frames| Input {
            width: w,
            height: h,
            bit_depth: BIT_DEPTH,
            display: frames.iter().map(|f| lut.map(f)).collect(),
            dn: Some(frames),
        })
        .collect();
    let qualities = args.qualities.clone().unwrap_or(if args.quick { vec![1, 3, 5] } else { (1..=6).collect() });
    let mut out = format!(
        "# helio-eval-ms results\n\n- command: `{}`\n- input: {} wavelengths ({}), {} frames each, {w}x{h}, 14-bit DN\n\
         - bpp: bits per wavelength-pixel; PSNR: helio-eval's display-domain PSNR (mean over frames), \
         per wavelength and their mean; helio through codec-core with {} ONNX Runtime thread(s), \
         decoded output checked equal to the encoder's reconstruction; anchors through GStreamer, each wavelength alone\n",
        std::env::args().collect::<Vec<_>>().join(" "),
        wavelengths.len(),
        wavelengths.iter().map(|w| format!("{w} A")).collect::<Vec<_>>().join(", "),
        inputs[0].display.len(),
        args.threads,
    );
    for n in &notes {
        out += &format!("- {n}\n");
    }
    for &mode in &args.modes {
        let mut rows = Vec::new();
        for (joint, gop) in [(true, 1), (false, 1), (true, codecs::GOP), (false, codecs::GOP)] {
            for &q in &qualities {
                let r = helio(joint, gop, q, mode, &wavelengths, (w, h), &inputs, args.threads)?;
                eprintln!("helio-eval-ms: {} {} {}: {:.4} bpp {:.2} dB", mode.name(), r.codec, r.setting, r.bpp, r.mean_psnr());
                rows.push(r);
            }
        }
        for codec in ["x265", "x265-intra", "j2k"] {
            rows.extend(anchor(codec, mode, &inputs, args.quick));
        }
        out += "\n";
        out += &report(mode, &wavelengths, &rows);
    }
    Ok(out)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("helio-eval-ms: {e}");
            }
            eprintln!("usage: helio-eval-ms --frames DIR,DIR[,...] [--quick] [--qualities 1,3,5] [--mode display8|dn16|both] [--max-frames N] [--threads N] [--out FILE.md]");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(md) => {
            match &args.out {
                Some(p) => {
                    if let Err(e) = std::fs::write(p, &md) {
                        eprintln!("helio-eval-ms: cannot write {}: {e}", p.display());
                        return ExitCode::FAILURE;
                    }
                    eprintln!("helio-eval-ms: wrote {}", p.display());
                }
                None => print!("{md}"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("helio-eval-ms: {e}");
            ExitCode::FAILURE
        }
    }
}
