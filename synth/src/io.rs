//! PNG (16-bit / 8-bit grayscale) and .npy I/O.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

pub type IoResult<T> = Result<T, Box<dyn std::error::Error>>;

pub fn write_png16(path: &Path, w: u32, h: u32, data: &[u16]) -> IoResult<()> {
    let f = BufWriter::new(File::create(path)?);
    let mut enc = png::Encoder::new(f, w, h);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Sixteen);
    enc.set_compression(png::Compression::Fast);
    let mut wr = enc.write_header()?;
    let mut bytes = Vec::with_capacity(data.len() * 2);
    for v in data {
        bytes.extend_from_slice(&v.to_be_bytes());
    }
    wr.write_image_data(&bytes)?;
    Ok(())
}

pub fn write_png8(path: &Path, w: u32, h: u32, data: &[u8]) -> IoResult<()> {
    let f = BufWriter::new(File::create(path)?);
    let mut enc = png::Encoder::new(f, w, h);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let mut wr = enc.write_header()?;
    wr.write_image_data(data)?;
    Ok(())
}

/// Read a grayscale PNG (8 or 16 bit) as u16 samples.
pub fn read_png_gray(path: &Path) -> IoResult<(u32, u32, Vec<u16>)> {
    let dec = png::Decoder::new(std::io::BufReader::new(File::open(path)?));
    let mut rd = dec.read_info()?;
    let mut buf = vec![0u8; rd.output_buffer_size().ok_or("png too large")?];
    let info = rd.next_frame(&mut buf)?;
    let (w, h) = (info.width, info.height);
    let chans = info.color_type.samples();
    let n = (w * h) as usize;
    let mut out = Vec::with_capacity(n);
    match info.bit_depth {
        png::BitDepth::Sixteen => {
            for i in 0..n {
                let j = i * chans * 2;
                out.push(u16::from_be_bytes([buf[j], buf[j + 1]]));
            }
        }
        png::BitDepth::Eight => {
            for i in 0..n {
                out.push(buf[i * chans] as u16);
            }
        }
        d => return Err(format!("unsupported PNG bit depth {d:?}").into()),
    }
    Ok((w, h, out))
}

/// Streaming .npy writer for a uint16 array of known shape.
pub struct NpyWriter {
    f: BufWriter<File>,
}

impl NpyWriter {
    pub fn create(path: &Path, shape: &[usize]) -> IoResult<NpyWriter> {
        let mut f = BufWriter::new(File::create(path)?);
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        let shape_s = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
        let mut header = format!("{{'descr': '<u2', 'fortran_order': False, 'shape': {shape_s}, }}");
        let total = 10 + header.len() + 1;
        let pad = (64 - total % 64) % 64;
        header.push_str(&" ".repeat(pad));
        header.push('\n');
        f.write_all(b"\x93NUMPY\x01\x00")?;
        f.write_all(&(header.len() as u16).to_le_bytes())?;
        f.write_all(header.as_bytes())?;
        Ok(NpyWriter { f })
    }
    pub fn write(&mut self, data: &[u16]) -> IoResult<()> {
        let mut bytes = Vec::with_capacity(data.len() * 2);
        for v in data {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        self.f.write_all(&bytes)?;
        Ok(())
    }
    pub fn finish(mut self) -> IoResult<()> {
        self.f.flush()?;
        Ok(())
    }
}

/// 8-bit sqrt-scaled preview (clip at the given percentile).
pub fn preview_sqrt(data: &[u16], clip_pct: f64) -> Vec<u8> {
    let mut s: Vec<u16> = data.to_vec();
    s.sort_unstable();
    let hi = s[((s.len() - 1) as f64 * clip_pct / 100.0) as usize].max(1) as f32;
    data.iter().map(|&v| ((v as f32 / hi).min(1.0).sqrt() * 255.0).round() as u8).collect()
}
