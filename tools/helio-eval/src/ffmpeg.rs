//! The `ffmpeg` program as a codec runner, for what GStreamer 1.22 cannot do (AV1 at
//! 10 bits: its av1enc takes 8-bit 4:2:0 only). Raw frames and the coded stream go
//! through temporary files; the coded stream is a bare AV1 OBU stream, so its size is
//! the elementary stream's, as for the GStreamer codecs.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// What one encode + decode gave.
pub struct Coded {
    pub bytes: u64,
    /// Decoded luma planes (`fw x fh`, 16-bit samples), one per frame.
    pub luma: Vec<Vec<u16>>,
    pub enc_seconds: f64,
    pub dec_seconds: f64,
}

/// ffmpeg's encoders or decoders list contains `name`.
fn has(kind: &str, name: &str) -> bool {
    Command::new("ffmpeg")
        .args(["-hide_banner", kind])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().any(|w| w == name))
}

/// What is missing to run `[encoder, decoder]` through ffmpeg, described for the user.
pub fn missing(codecs: &[&str]) -> Vec<String> {
    if Command::new("ffmpeg").arg("-version").output().is_err() {
        return vec!["the ffmpeg program (Debian package: ffmpeg)".into()];
    }
    [("-encoders", "encoder"), ("-decoders", "decoder")]
        .iter()
        .zip(codecs)
        .filter(|((list, _), name)| !has(list, name))
        .map(|((_, kind), name)| format!("ffmpeg {kind} {name} (Debian package: ffmpeg, built with it)"))
        .collect()
}

/// A temporary folder removed on drop.
struct Tmp(PathBuf);

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(args: &[String]) -> Result<f64, String> {
    let t = Instant::now();
    let out = Command::new("ffmpeg").args(args).output().map_err(|e| format!("ffmpeg: {e}"))?;
    if !out.status.success() {
        return Err(format!("ffmpeg {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(t.elapsed().as_secs_f64())
}

/// Codes `n` frames of tightly packed `pix_fmt` (a 4:2:0 format of 16-bit samples, e.g.
/// yuv420p10le) of `fw x fh` with the encoder options `enc` (ffmpeg output options) and
/// decodes them with `decoder`.
pub fn code(enc: &str, decoder: &str, pix_fmt: &str, fw: usize, fh: usize, raw: &[u8], n: usize) -> Result<Coded, String> {
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let k = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = Tmp(std::env::temp_dir().join(format!("helio-eval-ffmpeg-{}-{k}", std::process::id())));
    std::fs::create_dir_all(&dir.0).map_err(|e| e.to_string())?;
    let path = |name: &str| dir.0.join(name).to_string_lossy().to_string();
    std::fs::write(path("in.yuv"), raw).map_err(|e| e.to_string())?;
    let quiet = ["-hide_banner", "-loglevel", "error", "-nostdin", "-y"].map(String::from);
    let mut args: Vec<String> = quiet.to_vec();
    args.extend(["-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", &format!("{fw}x{fh}"), "-r", "1"].map(String::from));
    args.extend(["-i".to_string(), path("in.yuv")]);
    args.extend(enc.split_whitespace().map(String::from));
    args.extend(["-f".to_string(), "obu".to_string(), path("out.obu")]);
    let enc_seconds = run(&args)?;
    let bytes = std::fs::metadata(path("out.obu")).map_err(|e| e.to_string())?.len();

    let mut args: Vec<String> = quiet.to_vec();
    args.extend(["-c:v".to_string(), decoder.to_string(), "-i".to_string(), path("out.obu")]);
    args.extend(["-f", "rawvideo", "-pix_fmt", pix_fmt].map(String::from));
    args.push(path("out.yuv"));
    let dec_seconds = run(&args)?;
    let decoded = std::fs::read(path("out.yuv")).map_err(|e| e.to_string())?;
    let (cw, ch) = (fw.div_ceil(2), fh.div_ceil(2));
    let frame = 2 * (fw * fh + 2 * cw * ch);
    if decoded.len() != n * frame {
        return Err(format!("ffmpeg decoded {} bytes, {n} frames of {fw}x{fh} {pix_fmt} are {}", decoded.len(), n * frame));
    }
    let luma = decoded
        .chunks_exact(frame)
        .map(|f| f[..2 * fw * fh].chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect())
        .collect();
    Ok(Coded { bytes, luma, enc_seconds, dec_seconds })
}
