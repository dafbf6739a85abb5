//! Tile-compressed images (FITS 4.0 section 10): the image is cut into ZTILE1 x ZTILE2
//! tiles (row by row by default), and row t of a BINTABLE holds tile t's compressed bytes
//! in the heap, found through the COMPRESSED_DATA descriptor.

use std::io::Read;

use crate::table::columns;
use crate::{Error, Hdu, Image, Result, Samples, rice, samples_be};

pub(crate) fn decode(hdu: &Hdu, data: &[u8]) -> Result<Image> {
    let h = &hdu.header;
    let index = hdu.index;
    let unsupported = |msg: String| Error::Unsupported { hdu: index, msg };
    let (width, height) = h.image_size(index, "ZNAXIS")?;
    let bitpix = h.int("ZBITPIX").unwrap_or(0);
    let method = h.str("ZCMPTYPE").unwrap_or("").trim().to_string();
    let cols = columns(h, index)?;
    let col = |name: &str| cols.iter().find(|c| c.name == name);
    if bitpix < 0 && (h.get("ZQUANTIZ").is_some() || col("ZSCALE").is_some()) {
        return Err(unsupported(format!(
            "{method} with quantized floating-point tiles (ZQUANTIZ/ZSCALE) is not supported: \
             expand the file with `funpack` (Debian package libcfitsio-bin) first"
        )));
    }
    let compressed = col("COMPRESSED_DATA").ok_or_else(|| Error::Header {
        hdu: index,
        msg: "a compressed image without a COMPRESSED_DATA column".into(),
    })?;
    let tile_w = h.int("ZTILE1").unwrap_or(width as i64);
    let tile_h = h.int("ZTILE2").unwrap_or(1);
    if tile_w < 1 || tile_h < 1 {
        return Err(Error::Header { hdu: index, msg: format!("ZTILE1/2 = {tile_w}/{tile_h}") });
    }
    let (tile_w, tile_h) = (tile_w as usize, tile_h as usize);
    let (tiles_x, tiles_y) = (width.div_ceil(tile_w), height.div_ceil(tile_h));
    let row_len = h.int("NAXIS1").unwrap_or(0) as usize;
    let rows = h.int("NAXIS2").unwrap_or(0) as usize;
    if rows != tiles_x * tiles_y {
        return Err(Error::Header {
            hdu: index,
            msg: format!("{rows} table rows for {tiles_x} x {tiles_y} tiles"),
        });
    }
    let heap_start = h.int("THEAP").unwrap_or((row_len * rows) as i64).max(0) as usize;
    let heap = data.get(heap_start..).unwrap_or(&[]);
    let codec = Codec::from_header(hdu, &method, bitpix)?;
    let mut image = Samples::empty(bitpix, width * height).ok_or_else(|| unsupported(format!("ZBITPIX = {bitpix}")))?;
    for t in 0..rows {
        let tile_err = |msg: String| Error::Tile { hdu: index, tile: t, msg };
        let row = data
            .get(t * row_len..(t + 1) * row_len)
            .ok_or_else(|| tile_err(format!("table row {t} lies outside the HDU's {} bytes of data", data.len())))?;
        let (x0, y0) = ((t % tiles_x) * tile_w, (t / tiles_x) * tile_h);
        let (tw, th) = (tile_w.min(width - x0), tile_h.min(height - y0));
        let (count, offset) = compressed.descriptor(row).ok_or_else(|| tile_err("bad COMPRESSED_DATA descriptor".into()))?;
        let bytes = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(count).ok())
            .and_then(|(o, c)| heap.get(o..o.checked_add(c)?))
            .ok_or_else(|| tile_err(format!("{count} bytes at heap offset {offset} lie outside the heap ({} bytes)", heap.len())))?;
        if bytes.is_empty() {
            return Err(tile_err("no compressed bytes (tiles stored uncompressed are not supported)".into()));
        }
        let tile = codec.decode(bytes, tw * th).map_err(tile_err)?;
        image.put_tile(&tile, width, x0, y0, tw, th);
    }
    Ok(Image {
        width,
        height,
        samples: image,
        bscale: h.float("BSCALE").unwrap_or(1.0),
        bzero: h.float("BZERO").unwrap_or(0.0),
        blank: if bitpix > 0 { h.int("ZBLANK").or(h.int("BLANK")) } else { None },
        hdu: index,
        header: h.clone(),
    })
}

enum Codec {
    Rice { bytepix: usize, blocksize: usize, bitpix: i64 },
    /// GZIP_2 shuffles the bytes: every sample's first byte, then every second byte, ...
    Gzip { shuffled: bool, bitpix: i64 },
    None { bitpix: i64 },
}

impl Codec {
    fn from_header(hdu: &Hdu, method: &str, bitpix: i64) -> Result<Codec> {
        let h = &hdu.header;
        // ZNAMEi / ZVALi pairs carry the coder's parameters.
        let param = |name: &str| {
            (1..=99).map_while(|i| h.str(&format!("ZNAME{i}")).map(|n| (i, n.trim().to_string())))
                .find(|(_, n)| n == name)
                .and_then(|(i, _)| h.int(&format!("ZVAL{i}")))
        };
        let unsupported = |msg: String| Error::Unsupported { hdu: hdu.index, msg };
        match method {
            "RICE_1" | "RICE_ONE" => {
                if bitpix < 0 || bitpix == 64 {
                    return Err(unsupported(format!("RICE_1 with ZBITPIX = {bitpix}")));
                }
                // The convention's default BYTEPIX is 4; cfitsio always writes it.
                let bytepix = param("BYTEPIX").unwrap_or(4).clamp(0, 8) as usize;
                let blocksize = param("BLOCKSIZE").unwrap_or(32).clamp(0, 1 << 20) as usize;
                Ok(Codec::Rice { bytepix, blocksize, bitpix })
            }
            "GZIP_1" => Ok(Codec::Gzip { shuffled: false, bitpix }),
            "GZIP_2" => Ok(Codec::Gzip { shuffled: true, bitpix }),
            "NOCOMPRESS" => Ok(Codec::None { bitpix }),
            other => Err(unsupported(format!(
                "ZCMPTYPE = '{other}' is not supported (RICE_1, GZIP_1, GZIP_2, NOCOMPRESS are): \
                 expand the file with `funpack` (Debian package libcfitsio-bin) first"
            ))),
        }
    }

    fn decode(&self, bytes: &[u8], n: usize) -> std::result::Result<Samples, String> {
        match *self {
            Codec::Rice { bytepix, blocksize, bitpix } => {
                // BYTEPIX is the coding width (bytes are unsigned, wider words signed, as
                // cfitsio codes them); the sample type comes from ZBITPIX.
                let v = rice::decode(bytes, n, bytepix, blocksize)?.into_iter().map(|x| match bytepix {
                    1 => x as u8 as i64,
                    2 => x as u16 as i16 as i64,
                    _ => x as i32 as i64,
                });
                Ok(match bitpix {
                    8 => Samples::U8(v.map(|x| x as u8).collect()),
                    16 => Samples::I16(v.map(|x| x as i16).collect()),
                    _ => Samples::I32(v.map(|x| x as i32).collect()),
                })
            }
            Codec::Gzip { shuffled, bitpix } => {
                let mut raw = Vec::new();
                let size = bitpix.unsigned_abs() as usize / 8;
                // Never inflate more than the tile can hold (a gzip bomb stops there).
                flate2::read::GzDecoder::new(bytes)
                    .take((n * size) as u64)
                    .read_to_end(&mut raw)
                    .map_err(|e| format!("gzip: {e}"))?;
                if raw.len() < n * size {
                    return Err(format!("gzip gave {} bytes for {n} samples of {size} bytes", raw.len()));
                }
                if shuffled {
                    raw = (0..n * size).map(|i| raw[(i % size) * n + i / size]).collect();
                }
                samples_be(&raw, bitpix, n).ok_or_else(|| format!("ZBITPIX = {bitpix}"))
            }
            Codec::None { bitpix } => {
                let size = bitpix.unsigned_abs() as usize / 8;
                if bytes.len() < n * size {
                    return Err(format!("{} bytes for {n} samples of {size} bytes", bytes.len()));
                }
                samples_be(bytes, bitpix, n).ok_or_else(|| format!("ZBITPIX = {bitpix}"))
            }
        }
    }
}

impl Samples {
    fn empty(bitpix: i64, n: usize) -> Option<Samples> {
        Some(match bitpix {
            8 => Samples::U8(vec![0; n]),
            16 => Samples::I16(vec![0; n]),
            32 => Samples::I32(vec![0; n]),
            64 => Samples::I64(vec![0; n]),
            -32 => Samples::F32(vec![0.0; n]),
            -64 => Samples::F64(vec![0.0; n]),
            _ => return None,
        })
    }

    /// Copies a tw x th tile into the image at (x0, y0). Types match: both come from ZBITPIX.
    fn put_tile(&mut self, tile: &Samples, width: usize, x0: usize, y0: usize, tw: usize, th: usize) {
        fn put<T: Copy>(dst: &mut [T], src: &[T], width: usize, x0: usize, y0: usize, tw: usize, th: usize) {
            for r in 0..th {
                let d = (y0 + r) * width + x0;
                dst[d..d + tw].copy_from_slice(&src[r * tw..(r + 1) * tw]);
            }
        }
        match (self, tile) {
            (Samples::U8(d), Samples::U8(s)) => put(d, s, width, x0, y0, tw, th),
            (Samples::I16(d), Samples::I16(s)) => put(d, s, width, x0, y0, tw, th),
            (Samples::I32(d), Samples::I32(s)) => put(d, s, width, x0, y0, tw, th),
            (Samples::I64(d), Samples::I64(s)) => put(d, s, width, x0, y0, tw, th),
            (Samples::F32(d), Samples::F32(s)) => put(d, s, width, x0, y0, tw, th),
            (Samples::F64(d), Samples::F64(s)) => put(d, s, width, x0, y0, tw, th),
            _ => unreachable!("tile and image samples both follow ZBITPIX"),
        }
    }
}
