//! Reads the 2-D image of a FITS file, the standard format of solar data.
//!
//! Covers what solar archives hand out: a primary or `IMAGE` extension array of any
//! BITPIX (8, 16, 32, 64, -32, -64) with BSCALE/BZERO/BLANK, and tile-compressed images
//! (FITS 4.0 section 10: a `BINTABLE` with `ZIMAGE = T`) coded with `RICE_1` (SDO/AIA
//! level 1 ships this way: one tile per row, 16-bit integers), `GZIP_1`, `GZIP_2` or
//! `NOCOMPRESS`. Quantized floating-point tiles, `PLIO_1` and `HCOMPRESS_1` are refused
//! with an error saying so (`funpack` from the Debian `libcfitsio-bin` package expands
//! them into plain FITS, which this reader takes).
//!
//! Pure Rust on purpose: GStreamer's own `avdec_fits` has `unknown/unknown` sink caps in
//! gst-libav 1.22 (nothing links to it) and FFmpeg's FITS decoder reads uncompressed
//! primary arrays only, while a libcfitsio binding would add a C library to every
//! build for the handful of layouts above.
//!
//! Rows come out as stored: FITS puts the bottom row first (SunPy and ds9 show them with
//! the origin at the lower left); [`Image::flip_rows`] turns them top-down.

mod header;
mod rice;
mod table;
mod tiled;

pub use header::{Header, Value};

/// FITS files are made of 2880-byte blocks.
pub const BLOCK: usize = 2880;

/// Largest image read (8192 x 8192; SDO/AIA and HMI are 4096 x 4096): a header cannot
/// make the reader allocate more than this many samples, whatever it claims.
pub const MAX_PIXELS: usize = 1 << 26;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not a FITS file: it does not start with the card `SIMPLE  =                    T`")]
    NotFits,
    #[error("truncated FITS data: {what} needs {need} bytes from offset {offset}, the data holds {have}")]
    Truncated {
        what: String,
        offset: usize,
        need: usize,
        have: usize,
    },
    #[error("HDU {hdu}: bad header: {msg}")]
    Header { hdu: usize, msg: String },
    #[error("no 2-D image in this FITS file ({0}); helio reads a primary or IMAGE array, or a tile-compressed image")]
    NoImage(String),
    #[error("HDU {hdu}: {msg}")]
    Unsupported { hdu: usize, msg: String },
    #[error("HDU {hdu}: tile {tile}: {msg}")]
    Tile { hdu: usize, tile: usize, msg: String },
}

pub type Result<T> = std::result::Result<T, Error>;

/// The stored samples of an image, in file order (row-major, first row first).
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    U8(Vec<u8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Samples {
    pub fn len(&self) -> usize {
        match self {
            Samples::U8(v) => v.len(),
            Samples::I16(v) => v.len(),
            Samples::I32(v) => v.len(),
            Samples::I64(v) => v.len(),
            Samples::F32(v) => v.len(),
            Samples::F64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `i` as stored, or None where it is BLANK (integers) or NaN (floats).
    fn stored(&self, i: usize, blank: Option<i64>) -> Option<f64> {
        let int = |v: i64| (Some(v) != blank).then_some(v as f64);
        match self {
            Samples::U8(v) => int(v[i] as i64),
            Samples::I16(v) => int(v[i] as i64),
            Samples::I32(v) => int(v[i] as i64),
            Samples::I64(v) => int(v[i]),
            Samples::F32(v) => Some(v[i] as f64).filter(|x| !x.is_nan()),
            Samples::F64(v) => Some(v[i]).filter(|x| !x.is_nan()),
        }
    }

    fn swap_rows(&mut self, width: usize, a: usize, b: usize) {
        fn swap<T>(v: &mut [T], width: usize, a: usize, b: usize) {
            let (lo, hi) = (a.min(b), a.max(b));
            let (head, tail) = v.split_at_mut(hi * width);
            head[lo * width..(lo + 1) * width].swap_with_slice(&mut tail[..width]);
        }
        match self {
            Samples::U8(v) => swap(v, width, a, b),
            Samples::I16(v) => swap(v, width, a, b),
            Samples::I32(v) => swap(v, width, a, b),
            Samples::I64(v) => swap(v, width, a, b),
            Samples::F32(v) => swap(v, width, a, b),
            Samples::F64(v) => swap(v, width, a, b),
        }
    }
}

/// One 2-D image: samples plus the scaling that turns them into physical values.
#[derive(Debug, Clone)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub samples: Samples,
    /// physical = bzero + bscale * stored
    pub bscale: f64,
    pub bzero: f64,
    /// Integer stored value meaning "no data" (BLANK, or ZBLANK for compressed images).
    pub blank: Option<i64>,
    /// Index of the HDU the image came from (0 = primary).
    pub hdu: usize,
    /// That HDU's header (for a compressed image, the table's, which carries the image's
    /// own keywords such as WAVELNTH, DATE-OBS, EXPTIME).
    pub header: Header,
}

/// How [`Image::to_u16`] fared: samples that did not fit in 0..=65535.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clipped {
    pub below: usize,
    pub above: usize,
    /// BLANK or NaN samples, written as 0.
    pub blank: usize,
}

impl Image {
    /// Physical value of pixel `i` (row-major), None for BLANK/NaN.
    pub fn physical(&self, i: usize) -> Option<f64> {
        self.samples.stored(i, self.blank).map(|v| self.bzero + self.bscale * v)
    }

    /// round(physical * scale + offset) clamped into 0..=65535, BLANK/NaN as 0.
    pub fn to_u16(&self, scale: f64, offset: f64) -> (Vec<u16>, Clipped) {
        let mut clipped = Clipped::default();
        let out = (0..self.samples.len())
            .map(|i| match self.physical(i) {
                None => {
                    clipped.blank += 1;
                    0
                }
                Some(v) => {
                    let v = (v * scale + offset).round();
                    if v < 0.0 {
                        clipped.below += 1;
                        0
                    } else if v > 65535.0 {
                        clipped.above += 1;
                        65535
                    } else {
                        v as u16
                    }
                }
            })
            .collect();
        (out, clipped)
    }

    /// Reverses the row order (FITS bottom-up to top-down, or back).
    pub fn flip_rows(&mut self) {
        for r in 0..self.height / 2 {
            self.samples.swap_rows(self.width, r, self.height - 1 - r);
        }
    }
}

/// One header-data unit: where it lies in the file and what its header says.
#[derive(Debug, Clone)]
pub struct Hdu {
    pub index: usize,
    /// Offset of the data (just after the header's last block).
    pub data_start: usize,
    /// Bytes of data, not counting the padding to the next block.
    pub data_len: usize,
    pub header: Header,
}

impl Hdu {
    /// Offset of the next HDU.
    pub fn end(&self) -> usize {
        self.data_start + self.data_len.div_ceil(BLOCK) * BLOCK
    }
}

/// Reads the header at `offset` (HDU number `index`) and sizes its data.
fn hdu_at(bytes: &[u8], offset: usize, index: usize) -> Result<Hdu> {
    let (header, data_start) = Header::parse(bytes, offset, index)?;
    let data_len = header.data_len(index)?;
    Ok(Hdu {
        index,
        data_start,
        data_len,
        header,
    })
}

/// Every HDU of the file, in order. The last one's data must be present in full.
pub fn hdus(bytes: &[u8]) -> Result<Vec<Hdu>> {
    if !starts_fits(bytes) {
        return Err(Error::NotFits);
    }
    let mut out: Vec<Hdu> = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        if !out.is_empty() && !bytes[offset..].starts_with(b"XTENSION") {
            break; // padding or trailing bytes after the last extension
        }
        let hdu = hdu_at(bytes, offset, out.len())?;
        offset = hdu.end();
        out.push(hdu);
    }
    let last = out.last().expect("the primary HDU was read");
    if last.data_start + last.data_len > bytes.len() {
        return Err(Error::Truncated {
            what: format!("the data of HDU {}", last.index),
            offset: last.data_start,
            need: last.data_len,
            have: bytes.len().saturating_sub(last.data_start),
        });
    }
    Ok(out)
}

fn starts_fits(bytes: &[u8]) -> bool {
    bytes.len() >= 30 && &bytes[..10] == b"SIMPLE  = " && bytes[10..30].trim_ascii() == b"T"
}

/// Where a FITS file ends in a byte stream that may hold several files back to back
/// (a parser's question: is the file whole yet?).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// The HDU being read needs at least `need` bytes in all (0: not known yet).
    Incomplete { need: usize },
    /// The file ends at this length: the next bytes start another file.
    Ends(usize),
    /// Every HDU so far is whole and the bytes end with the last one: the file is
    /// complete unless more extensions follow.
    Whole(usize),
    /// The file is cut short: another file (a block starting `SIMPLE  =  T`) begins at
    /// this offset, inside what the headers say is this file.
    Cut(usize),
}

/// Scans `bytes` from the start of a file (see [`Extent`]).
pub fn extent(bytes: &[u8]) -> Result<Extent> {
    if bytes.len() < BLOCK {
        return if bytes.len() >= 30 && !starts_fits(bytes) {
            Err(Error::NotFits)
        } else {
            Ok(Extent::Incomplete { need: BLOCK })
        };
    }
    if !starts_fits(bytes) {
        return Err(Error::NotFits);
    }
    // A block starting a new file inside this one's extent means this one was cut.
    let next_file = |from: usize, to: usize| {
        (from..to.min(bytes.len())).step_by(BLOCK).skip(1).find(|&b| starts_fits(&bytes[b..]))
    };
    let mut offset = 0;
    let mut index = 0;
    loop {
        let hdu = match hdu_at(bytes, offset, index) {
            Ok(hdu) => hdu,
            Err(Error::Truncated { offset: at, need, .. }) => {
                return Ok(match next_file(offset, bytes.len()) {
                    Some(cut) => Extent::Cut(cut),
                    None => Extent::Incomplete { need: at + need },
                });
            }
            Err(e) => return next_file(offset, bytes.len()).map(Extent::Cut).ok_or(e),
        };
        if let Some(cut) = next_file(offset, hdu.end()) {
            return Ok(Extent::Cut(cut));
        }
        offset = hdu.end();
        index += 1;
        if offset > bytes.len() {
            return Ok(Extent::Incomplete { need: offset });
        }
        let rest = &bytes[offset..];
        if rest.is_empty() {
            return Ok(Extent::Whole(offset));
        }
        if rest.len() < 8 {
            // Too short to say whether an extension follows.
            return Ok(Extent::Incomplete { need: offset + 8 });
        }
        if !rest.starts_with(b"XTENSION") {
            return Ok(Extent::Ends(offset));
        }
    }
}

/// What [`read_image`] should pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pick {
    /// The first HDU holding a 2-D image (plain or tile-compressed).
    #[default]
    FirstImage,
    /// This HDU (0 = primary).
    Hdu(usize),
}

/// Decodes one 2-D image of a whole FITS file. Arrays with more axes are refused unless
/// the extra axes have length 1.
pub fn read_image(bytes: &[u8], pick: Pick) -> Result<Image> {
    let all = hdus(bytes)?;
    let chosen = match pick {
        Pick::Hdu(i) => all.get(i).ok_or_else(|| {
            Error::NoImage(format!("HDU {i} asked for, the file has {} HDUs", all.len()))
        })?,
        Pick::FirstImage => {
            let mut seen = Vec::new();
            let found = all.iter().find(|h| {
                let kind = h.header.kind();
                seen.push(format!("HDU {}: {}", h.index, kind));
                kind.has_image()
            });
            found.ok_or_else(|| Error::NoImage(seen.join(", ")))?
        }
    };
    let data = &bytes[chosen.data_start..chosen.data_start + chosen.data_len];
    match chosen.header.kind() {
        header::Kind::Image { .. } => plain_image(chosen, data),
        header::Kind::Compressed => tiled::decode(chosen, data),
        kind => Err(Error::NoImage(format!("HDU {} is {}", chosen.index, kind))),
    }
}

/// A primary or IMAGE extension array.
fn plain_image(hdu: &Hdu, data: &[u8]) -> Result<Image> {
    let h = &hdu.header;
    let (width, height) = h.image_size(hdu.index, "NAXIS")?;
    let bitpix = h.int("BITPIX").unwrap_or(0);
    let need = width * height * (bitpix.unsigned_abs() as usize / 8);
    if data.len() < need {
        return Err(Error::Header {
            hdu: hdu.index,
            msg: format!("{width} x {height} samples of BITPIX {bitpix} need {need} bytes, the HDU's data is {}", data.len()),
        });
    }
    let samples = samples_be(data, bitpix, width * height).ok_or_else(|| Error::Unsupported {
        hdu: hdu.index,
        msg: format!("BITPIX = {bitpix}: not a FITS sample type"),
    })?;
    Ok(Image {
        width,
        height,
        samples,
        bscale: h.float("BSCALE").unwrap_or(1.0),
        bzero: h.float("BZERO").unwrap_or(0.0),
        blank: if bitpix > 0 { h.int("BLANK") } else { None },
        hdu: hdu.index,
        header: h.clone(),
    })
}

/// `n` big-endian samples of type `bitpix` from the front of `data` (None: bad BITPIX,
/// or `data` too short).
pub(crate) fn samples_be(data: &[u8], bitpix: i64, n: usize) -> Option<Samples> {
    if data.len() < n * (bitpix.unsigned_abs() as usize / 8) {
        return None;
    }
    fn take<const N: usize, T>(data: &[u8], n: usize, f: fn([u8; N]) -> T) -> Vec<T> {
        data.chunks_exact(N)
            .take(n)
            .map(|c| f(c.try_into().expect("chunk of N")))
            .collect()
    }
    Some(match bitpix {
        8 => Samples::U8(data[..n].to_vec()),
        16 => Samples::I16(take(data, n, i16::from_be_bytes)),
        32 => Samples::I32(take(data, n, i32::from_be_bytes)),
        64 => Samples::I64(take(data, n, i64::from_be_bytes)),
        -32 => Samples::F32(take(data, n, f32::from_be_bytes)),
        -64 => Samples::F64(take(data, n, f64::from_be_bytes)),
        _ => return None,
    })
}
