//! The `RICE_1` tile coder (R. White's, as in cfitsio and the FITS tiled-image
//! convention), decoding side.
//!
//! A tile is: the first pixel raw (`bytepix` bytes, big-endian), then blocks of
//! `blocksize` pixel differences (the first difference is against that first pixel, so
//! it is 0). Each block starts with a `fsbits`-bit code k: k = 0 means every difference
//! is 0; k = fsmax + 1 means raw differences of 8 x bytepix bits; otherwise each
//! difference is a unary count of zeros, a 1, then k - 1 low bits. Differences are
//! zig-zag mapped (even = non-negative) and wrap in the pixel width.

/// Bit reader, most significant bit first.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> Option<u32> {
        let byte = *self.data.get(self.pos / 8)?;
        let b = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(b as u32)
    }

    fn bits(&mut self, n: u32) -> Option<u64> {
        let mut v = 0u64;
        let mut left = n;
        while left > 0 {
            let byte = *self.data.get(self.pos / 8)? as u64;
            let avail = 8 - (self.pos % 8) as u32;
            let take = avail.min(left);
            let chunk = (byte >> (avail - take)) & ((1 << take) - 1);
            v = (v << take) | chunk;
            self.pos += take as usize;
            left -= take;
        }
        Some(v)
    }

    /// Zeros before the next 1 (which is consumed).
    fn unary(&mut self) -> Option<u64> {
        let mut zeros = 0;
        // Whole zero bytes at a time, then bit by bit.
        while self.pos % 8 == 0 && *self.data.get(self.pos / 8)? == 0 {
            zeros += 8;
            self.pos += 8;
        }
        while self.bit()? == 0 {
            zeros += 1;
        }
        Some(zeros)
    }
}

/// Decodes `n` pixels of `bytepix` bytes (1, 2 or 4) each; returns them as unsigned
/// values of that width (the caller reinterprets the sign).
pub(crate) fn decode(data: &[u8], n: usize, bytepix: usize, blocksize: usize) -> Result<Vec<u32>, String> {
    let (fsbits, fsmax) = match bytepix {
        1 => (3, 6),
        2 => (4, 14),
        4 => (5, 25),
        _ => return Err(format!("BYTEPIX = {bytepix}: Rice takes 1, 2 or 4")),
    };
    if blocksize == 0 {
        return Err("BLOCKSIZE = 0".into());
    }
    let bbits = 8 * bytepix as u32;
    let mask: u64 = (1u64 << bbits) - 1;
    let first = data.get(..bytepix).ok_or("shorter than its first pixel")?;
    let mut last = first.iter().fold(0u64, |v, b| (v << 8) | *b as u64);
    let mut bits = Bits { data: &data[bytepix..], pos: 0 };
    let ends = || "the Rice data ends early".to_string();
    // A block of zero differences takes fsbits bits: the data bounds what n can really be.
    let mut out = Vec::with_capacity(n.min((data.len() * 8 / fsbits as usize + 1) * blocksize));
    while out.len() < n {
        let count = blocksize.min(n - out.len());
        let code = bits.bits(fsbits).ok_or_else(ends)?;
        let k = code as i64 - 1;
        for _ in 0..count {
            let mapped = if k < 0 {
                0
            } else if k == fsmax {
                bits.bits(bbits).ok_or_else(ends)?
            } else {
                let zeros = bits.unary().ok_or_else(ends)?;
                let low = bits.bits(k as u32).ok_or_else(ends)?;
                (zeros << k) | low
            };
            // Zig-zag: even = +d/2, odd = -(d+1)/2; the sum wraps in the pixel width.
            let diff = if mapped & 1 == 0 { mapped >> 1 } else { !(mapped >> 1) };
            last = last.wrapping_add(diff) & mask;
            out.push(last as u32);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal encoder (one k for the whole block, no special blocks) to test against.
    fn encode(pixels: &[u16], blocksize: usize) -> Vec<u8> {
        let mut bits: Vec<bool> = Vec::new();
        let push = |v: u64, n: u32, bits: &mut Vec<bool>| {
            for i in (0..n).rev() {
                bits.push((v >> i) & 1 == 1);
            }
        };
        let mut last = pixels[0];
        for block in pixels.chunks(blocksize) {
            let k = 3u32;
            push((k + 1) as u64, 4, &mut bits);
            for &p in block {
                let d = p.wrapping_sub(last) as i16 as i64;
                last = p;
                let m = if d >= 0 { (2 * d) as u64 } else { (-2 * d - 1) as u64 };
                for _ in 0..(m >> k) {
                    bits.push(false);
                }
                bits.push(true);
                push(m & ((1 << k) - 1), k, &mut bits);
            }
        }
        let mut out = pixels[0].to_be_bytes().to_vec();
        out.extend(bits.chunks(8).map(|c| c.iter().enumerate().fold(0u8, |b, (i, &x)| b | ((x as u8) << (7 - i)))));
        out
    }

    #[test]
    fn round_trip_with_wrapping_differences() {
        let pixels: Vec<u16> = vec![100, 101, 99, 99, 130, 65535, 0, 7, 7, 7, 6, 200, 190];
        let coded = encode(&pixels, 4);
        let back = decode(&coded, pixels.len(), 2, 4).unwrap();
        assert_eq!(back, pixels.iter().map(|&p| p as u32).collect::<Vec<_>>());
    }

    #[test]
    fn zero_block_repeats_the_first_pixel() {
        // First pixel 0x0102, code 0 (4 bits) = all differences zero.
        let back = decode(&[1, 2, 0], 5, 2, 32).unwrap();
        assert_eq!(back, vec![0x0102; 5]);
    }

    #[test]
    fn short_data_is_an_error() {
        let coded = encode(&[5, 9, 200, 3], 32);
        assert!(decode(&coded[..coded.len() - 1], 4, 2, 32).is_err());
        assert!(decode(&[1], 4, 2, 32).is_err());
        assert!(decode(&coded, 4, 3, 32).is_err());
    }
}
