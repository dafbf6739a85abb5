//! Markdown / CSV output, BD-rate table and the side-by-side image.

use std::fmt::Write as _;
use std::path::Path;

use crate::codecs::{Mode, Point};
use crate::font;
use crate::metrics;

fn f(v: f64, prec: usize) -> String {
    if v.is_infinite() { "inf".into() } else { format!("{v:.prec$}") }
}

/// The results table of one mode.
pub fn points_table(points: &[Point], mode: Mode) -> String {
    let mut s = String::new();
    let dn = mode == Mode::Dn16;
    s.push_str("| codec | setting | bpp | ratio | PSNR dB | MS-SSIM |");
    if dn {
        s.push_str(" RMSE DN | max err DN | rel err bright | rel err dark |");
    }
    s.push_str(" enc fps | dec fps |\n|---|---|---:|---:|---:|---:|");
    if dn {
        s.push_str("---:|---:|---:|---:|");
    }
    s.push_str("---:|---:|\n");
    for p in points.iter().filter(|p| p.mode == mode) {
        let _ = write!(
            s,
            "| {} | {} | {:.4} | {:.1} | {} | {} |",
            p.codec,
            p.setting,
            p.bpp,
            p.ratio,
            f(p.psnr, 2),
            p.ms_ssim.map(|v| format!("{v:.5}")).unwrap_or("n/a".into())
        );
        if dn {
            let _ = write!(
                s,
                " {} | {} | {} | {} |",
                p.rmse_dn.map(|v| format!("{v:.2}")).unwrap_or_default(),
                p.max_err_dn.map(|v| v.to_string()).unwrap_or_default(),
                p.rel_err_bright.map(|v| format!("{:.2} %", 100.0 * v)).unwrap_or_default(),
                p.rel_err_dark.map(|v| format!("{:.2} %", 100.0 * v)).unwrap_or_default()
            );
        }
        let _ = writeln!(s, " {:.1} | {:.1} |", p.enc_fps, p.dec_fps);
    }
    s
}

fn curve(points: &[Point], mode: Mode, codec: &str, ms_ssim: bool) -> Vec<(f64, f64)> {
    points
        .iter()
        .filter(|p| p.mode == mode && p.codec == codec)
        .filter_map(|p| {
            if ms_ssim {
                // MS-SSIM in dB, as is usual for BD-rate over MS-SSIM.
                p.ms_ssim.filter(|&v| v < 1.0).map(|v| (p.bpp, -10.0 * (1.0 - v).log10()))
            } else {
                Some((p.bpp, p.psnr))
            }
        })
        .collect()
}

/// Narrowest quality overlap (dB) for which a BD-rate is printed: over a sliver the
/// number is an extrapolation artefact.
pub const MIN_BD_OVERLAP_DB: f64 = 0.5;

/// BD-rate of `test` against every other lossy codec of the mode.
pub fn bd_table(points: &[Point], mode: Mode, test: &str, anchors: &[&str]) -> String {
    let mut s = format!(
        "| {test} vs anchor | BD-rate (PSNR) | BD-rate (MS-SSIM dB) |\n|---|---:|---:|\n"
    );
    let t_ps = curve(points, mode, test, false);
    let t_ms = curve(points, mode, test, true);
    let mut any = false;
    for a in anchors {
        let a_ps = curve(points, mode, a, false);
        if a_ps.is_empty() {
            continue;
        }
        any = true;
        let a_ms = curve(points, mode, a, true);
        // The overlap is shown: a BD-rate over a narrow interval says little.
        let show = |r: Result<f64, metrics::BdError>, a: &[(f64, f64)], t: &[(f64, f64)]| match r {
            Ok(v) => {
                let (lo, hi) = metrics::bd_overlap(a, t).unwrap_or((0.0, 0.0));
                if hi - lo < MIN_BD_OVERLAP_DB {
                    format!("overlap only {lo:.2}..{hi:.2} dB (< {MIN_BD_OVERLAP_DB} dB): not reported")
                } else {
                    format!("{v:+.1} % (over {lo:.2}..{hi:.2} dB)")
                }
            }
            Err(e) => e.to_string(),
        };
        let _ = writeln!(
            s,
            "| {a} | {} | {} |",
            show(metrics::bd_rate(&a_ps, &t_ps), &a_ps, &t_ps),
            show(metrics::bd_rate(&a_ms, &t_ms), &a_ms, &t_ms)
        );
    }
    if !any || t_ps.is_empty() {
        return String::new();
    }
    s
}

pub fn csv(points: &[Point]) -> String {
    let mut s = String::from(
        "mode,codec,setting,frames,width,height,bytes,bpp,ratio,psnr_db,ms_ssim,rmse_dn,max_abs_err_dn,enc_fps,dec_fps,rel_err_bright,rel_err_dark\n",
    );
    for p in points {
        let _ = writeln!(
            s,
            "{},{},\"{}\",{},{},{},{},{:.6},{:.3},{},{},{},{},{:.3},{:.3},{},{}",
            p.mode.name(),
            p.codec,
            p.setting.replace('"', "'"),
            p.frames,
            p.width,
            p.height,
            p.bytes,
            p.bpp,
            p.ratio,
            f(p.psnr, 4),
            p.ms_ssim.map(|v| format!("{v:.6}")).unwrap_or_default(),
            p.rmse_dn.map(|v| format!("{v:.4}")).unwrap_or_default(),
            p.max_err_dn.map(|v| v.to_string()).unwrap_or_default(),
            p.enc_fps,
            p.dec_fps,
            p.rel_err_bright.map(|v| format!("{v:.6}")).unwrap_or_default(),
            p.rel_err_dark.map(|v| format!("{v:.6}")).unwrap_or_default()
        );
    }
    s
}

/// (mode, codec, bpp, PSNR) of every row of a CSV written by [`csv`], for comparing
/// two runs (`helio-eval bd`). The setting column is quoted and may hold commas.
pub fn read_csv_points(text: &str) -> Result<Vec<(String, String, f64, f64)>, String> {
    let mut lines = text.lines();
    let head = split_csv_line(lines.next().ok_or("empty CSV")?);
    let col = |name: &str| head.iter().position(|h| h == name).ok_or(format!("no `{name}` column"));
    let (m, c, b, p) = (col("mode")?, col("codec")?, col("bpp")?, col("psnr_db")?);
    let mut out = Vec::new();
    for (i, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let f = split_csv_line(line);
        let num = |k: usize| {
            f.get(k).and_then(|v| v.parse::<f64>().ok()).ok_or(format!("row {}: bad or missing `{}`", i + 2, head[k]))
        };
        let (bpp, psnr) = (num(b)?, num(p)?);
        if bpp > 0.0 && psnr.is_finite() {
            out.push((f[m].clone(), f[c].clone(), bpp, psnr));
        }
    }
    Ok(out)
}

fn split_csv_line(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    for ch in line.chars() {
        match ch {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(ch),
        }
    }
    out.push(cur);
    out
}

/// One row per coded frame of every point that has per-frame sizes: frame type
/// (I = keyframe, P = delta unit), bytes, bits per pixel, PSNR, and `extra_i`:
/// 1 for a keyframe the fixed GoP schedule did not ask for (helio-gop30: a
/// scheduled P-frame the RD decision coded as I), else 0.
pub fn frames_csv(points: &[Point]) -> String {
    let mut s = String::from("mode,codec,setting,frame,frame_type,bytes,bpp,psnr_db,extra_i\n");
    for p in points {
        let Some(frames) = &p.per_frame else { continue };
        let extra = p.extra_keyframes().unwrap_or_default();
        for (i, fr) in frames.iter().enumerate() {
            let _ = writeln!(
                s,
                "{},{},\"{}\",{i},{},{},{:.6},{},{}",
                p.mode.name(),
                p.codec,
                p.setting.replace('"', "'"),
                if fr.keyframe { "I" } else { "P" },
                fr.bytes,
                fr.bytes as f64 * 8.0 / (p.width * p.height) as f64,
                f(fr.psnr, 4),
                u8::from(extra.get(i).copied().unwrap_or(false))
            );
        }
    }
    s
}

/// Picks the point of `codec` (lossy) whose bpp is closest (in log) to `bpp`.
pub fn closest<'a>(points: &'a [Point], mode: Mode, codec: &str, bpp: f64) -> Option<&'a Point> {
    points
        .iter()
        .filter(|p| p.mode == mode && p.codec == codec && !p.preview.is_empty())
        .min_by(|a, b| {
            let da = (a.bpp / bpp).ln().abs();
            let db = (b.bpp / bpp).ln().abs();
            da.partial_cmp(&db).unwrap()
        })
}

/// Writes panels side by side, each with a label strip (two lines) above it.
pub fn side_by_side(
    path: &Path,
    w: usize,
    h: usize,
    panels: &[(String, String, &[u8])],
) -> Result<(), String> {
    let scale = if w >= 300 { 2 } else { 1 };
    let gap = 6;
    let strip = 2 * 8 * scale + 6;
    let tw = panels.len() * w + (panels.len().saturating_sub(1)) * gap;
    let th = strip + h;
    let mut img = vec![0u8; tw * th];
    for (i, (l1, l2, px)) in panels.iter().enumerate() {
        let x0 = i * (w + gap);
        for y in 0..strip {
            img[y * tw + x0..y * tw + x0 + w].fill(255);
        }
        let max_chars = w / (6 * scale);
        let clip = |s: &str| s.chars().take(max_chars).collect::<String>();
        font::draw_text(&mut img, tw, x0 + 2, 2, &clip(l1), scale, 0);
        font::draw_text(&mut img, tw, x0 + 2, 4 + 8 * scale, &clip(l2), scale, 0);
        for y in 0..h {
            img[(strip + y) * tw + x0..(strip + y) * tw + x0 + w].copy_from_slice(&px[y * w..(y + 1) * w]);
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), tw as u32, th as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let mut wr = enc.write_header().map_err(|e| e.to_string())?;
    wr.write_image_data(&img).map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_by_side_writes_a_readable_png() {
        let dir = std::env::temp_dir().join(format!("helio-eval-sbs-{}", std::process::id()));
        let p = dir.join("sbs.png");
        let a = vec![100u8; 320 * 200];
        let b = vec![30u8; 320 * 200];
        side_by_side(&p, 320, 200, &[("ORIGINAL".into(), "8 BPP".into(), &a), ("X".into(), "1.0 BPP".into(), &b)])
            .unwrap();
        let f = crate::frames::read_png(&p).unwrap();
        assert_eq!(f.width, 320 * 2 + 6);
        assert!(f.height > 200);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn csv_points_read_back_with_commas_in_settings() {
        let text = "mode,codec,setting,frames,width,height,bytes,bpp,ratio,psnr_db,ms_ssim\n\
                    display8,helio,\"quality=1, threads=2\",3,8,8,10,0.125000,64.000,35.5000,\n\
                    display8,png,\"lossless\",3,8,8,90,1.125000,7.000,inf,\n";
        let pts = read_csv_points(text).unwrap();
        assert_eq!(pts, vec![("display8".to_string(), "helio".to_string(), 0.125, 35.5)]);
        assert!(read_csv_points("mode,codec\n").unwrap_err().contains("bpp"));
    }
}
