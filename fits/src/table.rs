//! Binary-table columns, as far as tile-compressed images need them: each row holds a
//! tile's descriptor (byte count and heap offset of its compressed bytes) and maybe
//! per-tile scalars.

use crate::{Error, Header, Result};

#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub name: String,
    /// Byte offset of the field within a row.
    pub offset: usize,
    /// TFORM type letter: P/Q (variable-length descriptor), I/J/K (integers), E/D, ...
    pub kind: char,
    pub repeat: usize,
}

/// The columns of a BINTABLE header, with their byte offsets in a row.
pub(crate) fn columns(h: &Header, hdu: usize) -> Result<Vec<Column>> {
    let err = |msg: String| Error::Header { hdu, msg };
    let fields = h.int("TFIELDS").filter(|v| (0..=999).contains(v)).ok_or_else(|| err("no TFIELDS".into()))?;
    let mut offset = 0;
    let mut out = Vec::new();
    for n in 1..=fields {
        let form = h.str(&format!("TFORM{n}")).ok_or_else(|| err(format!("no TFORM{n}")))?;
        let form = form.trim();
        let digits = form.chars().take_while(|c| c.is_ascii_digit()).count();
        let repeat: usize = if digits == 0 { 1 } else { form[..digits].parse().map_err(|_| err(format!("TFORM{n} = '{form}'")))? };
        let kind = form[digits..].chars().next().ok_or_else(|| err(format!("TFORM{n} = '{form}'")))?;
        let width = match kind {
            'L' | 'B' | 'A' => repeat,
            'X' => repeat.div_ceil(8),
            'I' => 2 * repeat,
            'J' | 'E' => 4 * repeat,
            'K' | 'D' | 'C' | 'P' => 8 * repeat,
            'M' | 'Q' => 16 * repeat,
            _ => return Err(err(format!("TFORM{n} = '{form}': unknown type"))),
        };
        let name = h.str(&format!("TTYPE{n}")).unwrap_or("").trim().to_string();
        out.push(Column { name, offset, kind, repeat });
        offset += width;
    }
    let row = h.int("NAXIS1").unwrap_or(-1);
    if row != offset as i64 {
        return Err(err(format!("NAXIS1 = {row}, the columns add up to {offset} bytes")));
    }
    Ok(out)
}

impl Column {
    /// (element count, heap offset) of a P or Q descriptor in `row`.
    pub(crate) fn descriptor(&self, row: &[u8]) -> Option<(u64, u64)> {
        let f = &row[self.offset..];
        match self.kind {
            'P' if self.repeat >= 1 => Some((
                u32::from_be_bytes(f[..4].try_into().ok()?) as u64,
                u32::from_be_bytes(f[4..8].try_into().ok()?) as u64,
            )),
            'Q' if self.repeat >= 1 => Some((
                u64::from_be_bytes(f[..8].try_into().ok()?),
                u64::from_be_bytes(f[8..16].try_into().ok()?),
            )),
            _ => None,
        }
    }
}
