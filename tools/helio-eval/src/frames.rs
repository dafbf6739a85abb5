//! Loading a folder of grayscale PNG frames (8- or 16-bit).

use std::path::{Path, PathBuf};

/// A frame's samples: codec-core's own buffer type, so decoded helio frames and
/// PNG frames share one representation.
pub use helio_core::codec::PixelBuf as Samples;

#[derive(Debug, Clone)]
pub struct Frame {
    pub path: PathBuf,
    pub width: usize,
    pub height: usize,
    pub samples: Samples,
}

impl Frame {
    pub fn is_16bit(&self) -> bool {
        matches!(self.samples, Samples::U16(_))
    }
}

/// Reads one grayscale PNG (bit depths 1..16; 16-bit samples are big-endian in PNG).
pub fn read_png(path: &Path) -> Result<Frame, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
    let mut dec = png::Decoder::new(std::io::BufReader::new(file));
    // Expand 1/2/4-bit gray to 8 bits; keep 16 bits as they are.
    dec.set_transformations(png::Transformations::EXPAND);
    let mut reader = dec.read_info().map_err(|e| format!("{}: not a readable PNG: {e}", path.display()))?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| format!("{}: image too large", path.display()))?;
    let mut buf = vec![0u8; size];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("{}: corrupt PNG data: {e}", path.display()))?;
    if info.color_type != png::ColorType::Grayscale {
        return Err(format!(
            "{}: colour type {:?}, expected single-channel grayscale",
            path.display(),
            info.color_type
        ));
    }
    let (w, h) = (info.width as usize, info.height as usize);
    let samples = match info.bit_depth {
        png::BitDepth::Sixteen => Samples::U16(
            buf[..info.line_size * h]
                .chunks_exact(info.line_size)
                .flat_map(|row| row[..2 * w].chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])))
                .collect(),
        ),
        _ => Samples::U8(
            buf[..info.line_size * h]
                .chunks_exact(info.line_size)
                .flat_map(|row| row[..w].iter().copied())
                .collect(),
        ),
    };
    Ok(Frame { path: path.to_path_buf(), width: w, height: h, samples })
}

/// A loaded sequence and the problems met while loading it.
pub struct Sequence {
    pub frames: Vec<Frame>,
    pub warnings: Vec<String>,
}

/// Loads `*.png` from `dir` in name order. Unreadable files and frames whose size or
/// bit depth differs from the first good frame are skipped with a warning.
/// An empty result is an error (with the reasons).
pub fn load_dir(dir: &Path, max_frames: Option<usize>) -> Result<Sequence, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("{}: cannot read folder: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("png")))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(format!("{}: no .png files in this folder", dir.display()));
    }
    let mut frames: Vec<Frame> = Vec::new();
    let mut warnings = Vec::new();
    for p in paths {
        if max_frames.is_some_and(|m| frames.len() >= m) {
            break;
        }
        match read_png(&p) {
            Ok(f) => {
                if let Some(first) = frames.first() {
                    if (f.width, f.height, f.is_16bit()) != (first.width, first.height, first.is_16bit()) {
                        warnings.push(format!(
                            "{}: {}x{} {}-bit differs from the first frame ({}x{} {}-bit): skipped",
                            p.display(),
                            f.width,
                            f.height,
                            if f.is_16bit() { 16 } else { 8 },
                            first.width,
                            first.height,
                            if first.is_16bit() { 16 } else { 8 }
                        ));
                        continue;
                    }
                }
                frames.push(f);
            }
            Err(e) => warnings.push(format!("{e}: skipped")),
        }
    }
    if frames.is_empty() {
        return Err(format!("{}: no usable frame ({})", dir.display(), warnings.join("; ")));
    }
    Ok(Sequence { frames, warnings })
}
