//! helio-synth CLI: frames | dataset | calibrate | preview | bench

use helio_synth::io::{preview_sqrt, read_png_gray, write_png16, write_png8, NpyWriter};
use helio_synth::stats;
use helio_synth::{Scene, Sun, SunConfig, View, Wavelength};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

type R<T> = Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "usage:
  helio-synth frames    --out DIR [--size 512 | --width W --height H] [--wavelengths 171,193]
                        [--frames 30] [--start 0] [--cadence 12] [--seed 1] [--bit-depth 14]
                        [--exposure-changes] [--no-noise]
  helio-synth dataset   --out DIR [--crops N] [--crop 256] [--clips M] [--clip-len 4]
                        [--sizes 512,1024,2048,4096] [--wavelengths all] [--seed 1]
  helio-synth calibrate --real DIR --wavelength 171 [--seed 1]
  helio-synth preview   --out DIR [--size 512] [--seed 1] [--t 0] [--wavelengths all]
  helio-synth bench     [--size 512] [--wavelengths 171] [--frames 5]";

struct Args {
    kv: HashMap<String, String>,
    flags: Vec<String>,
}

impl Args {
    fn parse(v: &[String]) -> R<Args> {
        let mut kv = HashMap::new();
        let mut flags = Vec::new();
        let mut i = 0;
        while i < v.len() {
            let a = &v[i];
            let Some(k) = a.strip_prefix("--") else { return Err(format!("unexpected argument '{a}'\n{USAGE}").into()) };
            if let Some((k, val)) = k.split_once('=') {
                kv.insert(k.to_string(), val.to_string());
            } else if i + 1 < v.len() && !v[i + 1].starts_with("--") {
                kv.insert(k.to_string(), v[i + 1].clone());
                i += 1;
            } else {
                flags.push(k.to_string());
            }
            i += 1;
        }
        Ok(Args { kv, flags })
    }
    fn get<T: std::str::FromStr>(&self, k: &str, default: T) -> R<T> {
        match self.kv.get(k) {
            None => Ok(default),
            Some(s) => s.parse().map_err(|_| format!("bad value for --{k}: '{s}'").into()),
        }
    }
    fn req(&self, k: &str) -> R<String> {
        self.kv.get(k).cloned().ok_or_else(|| format!("missing --{k}\n{USAGE}").into())
    }
    fn flag(&self, k: &str) -> bool {
        self.flags.iter().any(|f| f == k)
    }
    fn wavelengths(&self, default: &str) -> R<Vec<Wavelength>> {
        let s = self.kv.get("wavelengths").map(String::as_str).unwrap_or(default);
        if s == "all" {
            return Ok(Wavelength::ALL.to_vec());
        }
        Ok(Wavelength::parse_list(s)?)
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let res = match argv.first().map(String::as_str) {
        Some("frames") => Args::parse(&argv[1..]).and_then(|a| cmd_frames(&a)),
        Some("dataset") => Args::parse(&argv[1..]).and_then(|a| cmd_dataset(&a)),
        Some("calibrate") => Args::parse(&argv[1..]).and_then(|a| cmd_calibrate(&a)),
        Some("preview") => Args::parse(&argv[1..]).and_then(|a| cmd_preview(&a)),
        Some("bench") => Args::parse(&argv[1..]).and_then(|a| cmd_bench(&a)),
        _ => Err(USAGE.into()),
    };
    if let Err(e) = res {
        eprintln!("helio-synth: {e}");
        std::process::exit(2);
    }
}

fn base_config(a: &Args, default_wl: &str) -> R<SunConfig> {
    let size: u32 = a.get("size", 512)?;
    Ok(SunConfig {
        width: a.get("width", size)?,
        height: a.get("height", size)?,
        wavelengths: a.wavelengths(default_wl)?,
        cadence_s: a.get("cadence", 12.0)?,
        seed: a.get("seed", 1)?,
        bit_depth: a.get("bit-depth", 14)?,
        exposure_changes: a.flag("exposure-changes"),
        noise: !a.flag("no-noise"),
        view: None,
        scene: Scene::Random,
    })
}

fn cmd_frames(a: &Args) -> R<()> {
    let out = PathBuf::from(a.req("out")?);
    let cfg = base_config(a, "171")?;
    let n: u64 = a.get("frames", 30)?;
    let start: u64 = a.get("start", 0)?;
    let sun = Sun::new(cfg.clone())?;
    for w in &cfg.wavelengths {
        std::fs::create_dir_all(out.join(w.to_string()))?;
    }
    let mut frames_meta = Vec::new();
    let t0 = Instant::now();
    for t in start..start + n {
        let f = sun.frame(t);
        for (c, w) in cfg.wavelengths.iter().enumerate() {
            let p = out.join(w.to_string()).join(format!("frame_{:04}.png", t));
            write_png16(&p, cfg.width, cfg.height, &f.channels[c])?;
        }
        frames_meta.push(serde_json::json!({
            "t_index": t,
            "time_s": t as f64 * cfg.cadence_s,
            "exptime_s": cfg.wavelengths.iter().zip(&f.exposure_s)
                .map(|(w, e)| (w.to_string(), serde_json::json!(*e))).collect::<serde_json::Map<String, serde_json::Value>>(),
        }));
    }
    let meta = serde_json::json!({
        "generator": "helio-synth",
        "version": env!("CARGO_PKG_VERSION"),
        "config": cfg,
        "units": format!("DN, {}-bit, saturates at {}", cfg.bit_depth, cfg.max_dn()),
        "disk_radius_px": 0.8 * cfg.width.min(cfg.height) as f64 / 2.0,
        "frames": frames_meta,
    });
    std::fs::write(out.join("meta.json"), serde_json::to_string_pretty(&meta)?)?;
    eprintln!("wrote {} frames x {} wavelengths to {} in {:.2}s", n, cfg.wavelengths.len(), out.display(), t0.elapsed().as_secs_f64());
    Ok(())
}

fn cmd_dataset(a: &Args) -> R<()> {
    let out = PathBuf::from(a.req("out")?);
    std::fs::create_dir_all(&out)?;
    let crops: usize = a.get("crops", 64)?;
    let crop: u32 = a.get("crop", 256)?;
    let clips: usize = a.get("clips", 16)?;
    let clip_len: u64 = a.get("clip-len", 4)?;
    let seed: u64 = a.get("seed", 1)?;
    let wls = a.wavelengths("all")?;
    let sizes: Vec<u32> = a
        .kv
        .get("sizes")
        .map(String::as_str)
        .unwrap_or("512,1024,2048,4096")
        .split(',')
        .map(|s| s.trim().parse::<u32>().map_err(|_| format!("bad --sizes entry '{s}'")))
        .collect::<Result<_, _>>()?;
    if sizes.iter().any(|&s| s < crop) {
        return Err(format!("every --sizes entry must be >= --crop {crop}").into());
    }
    let cadences = [12.0, 24.0, 36.0, 60.0, 360.0];
    let nc = wls.len();
    let px = (crop * crop) as usize;
    let t0 = Instant::now();
    let mut samples = Vec::new();
    let draw = |i: u64, kind: u64| -> R<(Sun, u64, serde_json::Value)> {
        let h = |k: u64| mix(seed, kind * 1_000_003 + i * 16 + k);
        let full = sizes[(h(1) % sizes.len() as u64) as usize];
        // bias windows toward the disk and limb: centre within 0.95 R of disk centre
        let rr = 0.8 * full as f64 / 2.0;
        let ang = (h(2) as f64 / u64::MAX as f64) * std::f64::consts::TAU;
        let rad = (h(3) as f64 / u64::MAX as f64).sqrt() * 1.1 * rr;
        let cxw = full as f64 / 2.0 + rad * ang.cos();
        let cyw = full as f64 / 2.0 + rad * ang.sin();
        let x0 = (cxw - crop as f64 / 2.0).clamp(0.0, (full - crop) as f64) as i64;
        let y0 = (cyw - crop as f64 / 2.0).clamp(0.0, (full - crop) as f64) as i64;
        let cfg = SunConfig {
            width: crop,
            height: crop,
            wavelengths: wls.clone(),
            cadence_s: cadences[(h(4) % cadences.len() as u64) as usize],
            seed: h(5),
            bit_depth: 14,
            exposure_changes: h(6) % 4 == 0,
            noise: true,
            view: Some(View { full_size: full, x0, y0 }),
            scene: Scene::Random,
        };
        let t = h(7) % 20_000;
        let meta = serde_json::json!({"seed": cfg.seed, "full_size": full, "x0": x0, "y0": y0,
            "cadence_s": cfg.cadence_s, "t_index": t, "exposure_changes": cfg.exposure_changes});
        Ok((Sun::new(cfg)?, t, meta))
    };
    if crops > 0 {
        let mut w = NpyWriter::create(&out.join("crops.npy"), &[crops, nc, crop as usize, crop as usize])?;
        for i in 0..crops {
            let (sun, t, m) = draw(i as u64, 1)?;
            let f = sun.frame(t);
            for c in &f.channels {
                w.write(c)?;
            }
            samples.push(m);
        }
        w.finish()?;
    }
    let mut clip_meta = Vec::new();
    if clips > 0 {
        let mut w = NpyWriter::create(&out.join("clips.npy"), &[clips, clip_len as usize, nc, crop as usize, crop as usize])?;
        for i in 0..clips {
            let (sun, t, m) = draw(i as u64, 2)?;
            for k in 0..clip_len {
                let f = sun.frame(t + k);
                for c in &f.channels {
                    debug_assert_eq!(c.len(), px);
                    w.write(c)?;
                }
            }
            clip_meta.push(m);
        }
        w.finish()?;
    }
    let meta = serde_json::json!({
        "generator": "helio-synth", "dtype": "uint16", "units": "DN (14-bit, saturates at 16383)",
        "wavelengths": wls.iter().map(|w| w.angstrom()).collect::<Vec<_>>(),
        "crops": {"file": "crops.npy", "shape": [crops, nc, crop, crop], "samples": samples},
        "clips": {"file": "clips.npy", "shape": [clips, clip_len, nc, crop, crop], "samples": clip_meta},
    });
    std::fs::write(out.join("meta.json"), serde_json::to_string_pretty(&meta)?)?;
    eprintln!("wrote {crops} crops and {clips} clips x {clip_len} ({nc} wavelengths, {crop}px) to {} in {:.1}s",
        out.display(), t0.elapsed().as_secs_f64());
    Ok(())
}

fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

struct Set {
    w: usize,
    h: usize,
    frames: Vec<Vec<u16>>,
    expo: Vec<f64>,
}

fn load_real(dir: &Path) -> R<Set> {
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json"))?)?;
    let mut frames = Vec::new();
    let mut expo = Vec::new();
    let (mut w, mut h) = (0, 0);
    for f in meta["frames"].as_array().ok_or("meta.json has no frames")? {
        let file = f["file"].as_str().ok_or("frame without file")?;
        let (fw, fh, d) = read_png_gray(&dir.join(file))?;
        if !frames.is_empty() && (fw as usize != w || fh as usize != h) {
            return Err("frames differ in size".into());
        }
        w = fw as usize;
        h = fh as usize;
        frames.push(d);
        expo.push(f["exptime_s"].as_f64().or(f["exptime"].as_f64()).unwrap_or(1.0));
    }
    Ok(Set { w, h, frames, expo })
}

struct Row {
    name: String,
    real: String,
    synth: String,
}

fn set_stats(s: &Set) -> Vec<(String, String)> {
    let pcts = [1.0, 10.0, 50.0, 90.0, 99.0, 99.9];
    let p = stats::percentiles(&s.frames, &pcts);
    let mut out: Vec<(String, String)> = pcts.iter().zip(&p).map(|(q, v)| (format!("DN p{q}"), format!("{v:.0}"))).collect();
    let rate: Vec<Vec<f32>> = s.frames.iter().zip(&s.expo).map(|(f, e)| f.iter().map(|&v| v as f32 / *e as f32).collect()).collect();
    let raw: Vec<Vec<f32>> = s.frames.iter().map(|f| f.iter().map(|&v| v as f32).collect()).collect();
    // off-limb fall-off on the mean rate image
    let n = s.w * s.h;
    let mut mean = vec![0f32; n];
    for r in &rate {
        for i in 0..n {
            mean[i] += r[i] / rate.len() as f32;
        }
    }
    let (limb, efold, ratio, samples) = stats::offlimb_falloff(s.w, s.h, &mean, 150);
    out.push(("limb column (px)".into(), format!("{limb}")));
    for (d, v) in samples {
        let name = if d == usize::MAX { "q25 DN/s on disk (limb-60px)".to_string() } else { format!("q25 DN/s at limb+{d}px") };
        out.push((name, format!("{v:.1}")));
    }
    out.push(("off-limb e-fold length (px, limb+10..150)".into(), format!("{efold:.1}")));
    out.push(("I(limb+50)/I(limb+5)".into(), format!("{ratio:.3}")));
    let slopes: Vec<f64> = raw.iter().map(|f| stats::spectrum_slope(s.w, s.h, f, 0.01, 0.25)).collect();
    let ms = slopes.iter().sum::<f64>() / slopes.len() as f64;
    out.push(("power spectrum slope (k=0.01..0.25 c/px)".into(), format!("{ms:.2}")));
    out.push(("frame diff energy, raw DN".into(), format!("{:.3}", stats::diff_energy(&raw))));
    out.push(("frame diff energy, DN/s (exposure-normalised)".into(), format!("{:.3}", stats::diff_energy(&rate))));
    let emin = s.expo.iter().cloned().fold(f64::INFINITY, f64::min);
    let emax = s.expo.iter().cloned().fold(0.0, f64::max);
    out.push(("exposure range (s)".into(), format!("{emin:.2}-{emax:.2}")));
    let sat = s.frames.iter().flat_map(|f| f.iter()).filter(|&&v| v >= 16383).count() as f64
        / (s.frames.len() * n) as f64;
    out.push(("saturated fraction".into(), format!("{:.2e}", sat)));
    out
}

fn calibrate_synth(w: usize, h: usize, n: usize, wl: Wavelength, seed: u64) -> R<Set> {
    let full = 4096u32;
    let rr = 0.8 * full as f64 / 2.0;
    let c = (full as f64 - 1.0) / 2.0;
    let lat = 12f64.to_radians();
    // west-limb point at the active region's latitude, put at 45% of the width
    let lx = c + rr * lat.cos();
    let ly = c - rr * lat.sin();
    let cfg = SunConfig {
        width: w as u32,
        height: h as u32,
        wavelengths: vec![wl],
        cadence_s: 36.0,
        seed,
        bit_depth: 14,
        exposure_changes: true,
        noise: true,
        view: Some(View { full_size: full, x0: (lx - 0.45 * w as f64).round() as i64, y0: (ly - 0.5 * h as f64).round() as i64 }),
        scene: Scene::LimbFlare,
    };
    let sun = Sun::new(cfg)?;
    let mut frames = Vec::new();
    let mut expo = Vec::new();
    for t in 0..n as u64 {
        let mut buf = vec![0u16; w * h];
        sun.frame_into(&mut buf, 0, t)?;
        frames.push(buf);
        expo.push(sun.exposure_s(0, t));
    }
    Ok(Set { w, h, frames, expo })
}

fn cmd_calibrate(a: &Args) -> R<()> {
    let real_dir = PathBuf::from(a.req("real")?);
    let wl: Wavelength = a.req("wavelength")?.parse()?;
    let seed: u64 = a.get("seed", 1)?;
    let real = load_real(&real_dir)?;
    let t0 = Instant::now();
    let syn = calibrate_synth(real.w, real.h, real.frames.len(), wl, seed)?;
    let gen_s = t0.elapsed().as_secs_f64();
    if let Some(dir) = a.kv.get("save") {
        let d = PathBuf::from(dir);
        std::fs::create_dir_all(&d)?;
        for (i, f) in syn.frames.iter().enumerate() {
            write_png16(&d.join(format!("frame_{i:02}.png")), syn.w as u32, syn.h as u32, f)?;
        }
        write_png8(&d.join("preview_synth.png"), syn.w as u32, syn.h as u32, &preview_sqrt(&syn.frames[1], 99.9))?;
        write_png8(&d.join("preview_real.png"), real.w as u32, real.h as u32, &preview_sqrt(&real.frames[1], 99.9))?;
    }
    let rs = set_stats(&real);
    let ss = set_stats(&syn);
    let rows: Vec<Row> = rs.into_iter().zip(ss).map(|((n, r), (_, s))| Row { name: n, real: r, synth: s }).collect();
    println!("calibration: {} ({} frames, {}x{}) vs helio-synth LimbFlare scene, {} A, seed {}, 4096-px geometry, cadence 36 s, exposure alternation ({:.1}s to generate)",
        real_dir.display(), real.frames.len(), real.w, real.h, wl, seed, gen_s);
    println!();
    println!("| statistic | real | synthetic |");
    println!("|---|---:|---:|");
    for r in rows {
        println!("| {} | {} | {} |", r.name, r.real, r.synth);
    }
    Ok(())
}

fn cmd_preview(a: &Args) -> R<()> {
    let out = PathBuf::from(a.req("out")?);
    std::fs::create_dir_all(&out)?;
    let mut cfg = base_config(a, "all")?;
    cfg.exposure_changes = false;
    let t: u64 = a.get("t", 0)?;
    let sun = Sun::new(cfg.clone())?;
    let f = sun.frame(t);
    for (c, w) in cfg.wavelengths.iter().enumerate() {
        let img = preview_sqrt(&f.channels[c], 99.95);
        write_png8(&out.join(format!("{w}.png")), cfg.width, cfg.height, &img)?;
    }
    eprintln!("wrote {} previews to {}", cfg.wavelengths.len(), out.display());
    Ok(())
}

fn cmd_bench(a: &Args) -> R<()> {
    let cfg = base_config(a, "171")?;
    let n: u64 = a.get("frames", 5)?;
    let t0 = Instant::now();
    let sun = Sun::new(cfg.clone())?;
    let setup = t0.elapsed().as_secs_f64();
    let mut buf = vec![0u16; (cfg.width * cfg.height) as usize];
    let t1 = Instant::now();
    for t in 0..n {
        sun.frame_into(&mut buf, 0, t)?;
    }
    let per = t1.elapsed().as_secs_f64() / n as f64;
    let t2 = Instant::now();
    for t in 0..n {
        std::hint::black_box(sun.frame(t));
    }
    let per_all = t2.elapsed().as_secs_f64() / n as f64;
    println!("{}x{}: setup {:.3}s, frame_into (1 channel) {:.3}s/frame, frame() all {} channels {:.3}s/frame",
        cfg.width, cfg.height, setup, per, cfg.wavelengths.len(), per_all);
    Ok(())
}
