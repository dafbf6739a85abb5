//! helio-bench-entropy: decode time of the entropy model (z and y decoding
//! with the hyper-synthesis and any context networks) against the whole I-frame
//! decode, for one or more intra packages, on the same frames. A benchmark,
//! not a test: run it on an idle machine (`bash pipelines/bench-entropy.sh`).
//!
//!   helio-bench-entropy --frames DIR --model DIR [--model DIR ...]
//!       [--qualities 1,4,6] [--repeat 3] [--max-frames N]
//!
//! Frames are coded once per package and quality by codec-core's Encoder; the
//! payloads are then decoded `repeat` times by the intra codec, timing
//! `decode_latent` (entropy model) and `synthesize` (g_s) apart. Decoders run
//! on one thread (the context networks always do). Prints a Markdown table.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use helio_core::bitstream::{self, SequenceHeader};
use helio_core::codec::{PixelBuf, Pixels};
use helio_core::intra::{IntraCodec, Networks};
use helio_core::model::ModelPackage;
use helio_core::runtime::SessionSettings;
use helio_core::{Encoder, EncoderConfig, ExecutionProvider, ModelSource};
use helio_eval::frames;

struct Args {
    frames: PathBuf,
    models: Vec<PathBuf>,
    qualities: Vec<u8>,
    repeat: usize,
    max_frames: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args { frames: PathBuf::new(), models: vec![], qualities: vec![1, 4, 6], repeat: 3, max_frames: None };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{k} needs a value"));
        match k.as_str() {
            "--frames" => a.frames = val()?.into(),
            "--model" => a.models.push(val()?.into()),
            "--qualities" => {
                a.qualities = val()?
                    .split(',')
                    .map(|q| q.parse().map_err(|e| format!("--qualities: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--repeat" => a.repeat = val()?.parse().map_err(|e| format!("--repeat: {e}"))?,
            "--max-frames" => a.max_frames = Some(val()?.parse().map_err(|e| format!("--max-frames: {e}"))?),
            "-h" | "--help" => {
                return Err("usage: helio-bench-entropy --frames DIR --model DIR [--model DIR ...] \
                 [--qualities 1,4,6] [--repeat 3] [--max-frames N]"
                    .into());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.frames.as_os_str().is_empty() || a.models.is_empty() {
        return Err("--frames and at least one --model are required (--help)".into());
    }
    Ok(a)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn run(a: &Args) -> Result<(), String> {
    helio_core::runtime::init(None).map_err(|e| e.to_string())?;
    let seq = frames::load_dir(&a.frames, a.max_frames)?;
    let first = seq.frames.first().ok_or("no frames")?;
    let (w, h) = (first.width, first.height);
    let bit_depth = if first.is_16bit() { 14 } else { 8 };
    println!(
        "frames: {} x {}x{} from {}, {} decode(s) each, 1 thread\n",
        seq.frames.len(),
        w,
        h,
        a.frames.display(),
        a.repeat
    );
    println!("| package | entropy model | quality | bpp | entropy decode ms | synthesis ms | entropy share |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for dir in &a.models {
        let source = ModelSource::Dirs { intra: dir.clone(), inter: None };
        let model = ModelPackage::load(&source).map_err(|e| e.to_string())?;
        let settings = SessionSettings { execution_provider: ExecutionProvider::Cpu, threads: 1 };
        let nets = Networks::for_decoder(&model, settings).map_err(|e| e.to_string())?;
        let kind = format!("{:?}", model.kind);
        let mut codec = IntraCodec::new(model, nets);
        for &q in &a.qualities {
            let mut enc = Encoder::new(EncoderConfig {
                width: w as u32,
                height: h as u32,
                bit_depth,
                quality: q,
                model: source.clone(),
                execution_provider: ExecutionProvider::Cpu,
                threads: 1,
                keyframe_interval: 1,
                p_frame_decision: Default::default(),
                keyframe_quality_offset: helio_core::DEFAULT_KEYFRAME_QUALITY_OFFSET,
                wavelengths: vec![],
            })
            .map_err(|e| e.to_string())?;
            let (mut t_ent, mut t_syn, mut bytes) = (Duration::ZERO, Duration::ZERO, 0usize);
            for f in &seq.frames {
                let pixels = match &f.samples {
                    PixelBuf::U8(p) => Pixels::U8(p),
                    PixelBuf::U16(p) => Pixels::U16(p),
                };
                let data = enc.encode(pixels, true).map_err(|e| e.to_string())?.data;
                bytes += data.len();
                let header = SequenceHeader::parse(&data).map_err(|e| e.to_string())?;
                let unit = bitstream::parse_access_unit(&data, Some(&header)).map_err(|e| e.to_string())?;
                for _ in 0..a.repeat {
                    let t = Instant::now();
                    let y_hat = codec.decode_latent(unit.packet.payload, w, h, q).map_err(|e| e.to_string())?;
                    let t1 = Instant::now();
                    codec.synthesize(&y_hat, w, h).map_err(|e| e.to_string())?;
                    t_syn += t1.elapsed();
                    t_ent += t1 - t;
                }
            }
            let n = (seq.frames.len() * a.repeat) as f64;
            let (e, s) = (ms(t_ent) / n, ms(t_syn) / n);
            let bpp = bytes as f64 * 8.0 / (seq.frames.len() * w * h) as f64;
            println!(
                "| {} | {kind} | {q} | {bpp:.4} | {e:.1} | {s:.1} | {:.0} % |",
                dir.display(),
                100.0 * e / (e + s)
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match parse_args().and_then(|a| run(&a)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("helio-bench-entropy: {e}");
            ExitCode::FAILURE
        }
    }
}
