//! Header cards: 80-character `KEYWORD = value / comment` records in 2880-byte blocks.

use crate::{BLOCK, Error, Result};

const CARD: usize = 80;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Logical(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A card without a value (COMMENT, HISTORY, blank) or one this reader cannot parse.
    None,
}

#[derive(Debug, Clone, Default)]
pub struct Header {
    cards: Vec<(String, Value)>,
}

/// What an HDU holds, from its header.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// No data array (NAXIS = 0), as the primary HDU of AIA level-1 files.
    Empty,
    Image { axes: i64 },
    /// A BINTABLE with ZIMAGE = T.
    Compressed,
    Table(String),
}

impl Kind {
    pub(crate) fn has_image(&self) -> bool {
        matches!(self, Kind::Image { axes } if *axes >= 2) || *self == Kind::Compressed
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kind::Empty => write!(f, "no data"),
            Kind::Image { axes } => write!(f, "{axes}-D array"),
            Kind::Compressed => write!(f, "tile-compressed image"),
            Kind::Table(t) => write!(f, "{t} table"),
        }
    }
}

impl Header {
    /// Reads the header starting at `offset` up to its END card; returns it and the
    /// offset of the data that follows (the next block boundary).
    pub(crate) fn parse(bytes: &[u8], offset: usize, hdu: usize) -> Result<(Header, usize)> {
        let mut cards = Vec::new();
        let mut block = offset;
        loop {
            let Some(data) = bytes.get(block..block + BLOCK) else {
                return Err(Error::Truncated {
                    what: format!("the header of HDU {hdu}"),
                    offset: block,
                    need: BLOCK,
                    have: bytes.len().saturating_sub(block),
                });
            };
            for card in data.chunks_exact(CARD) {
                if !card.is_ascii() {
                    return Err(Error::Header {
                        hdu,
                        msg: format!("non-ASCII card at offset {}", block),
                    });
                }
                let card = std::str::from_utf8(card).expect("ASCII is UTF-8");
                let key = card[..8].trim_end();
                if key == "END" {
                    let header = Header { cards };
                    header.check(offset == 0, hdu)?;
                    return Ok((header, block + BLOCK));
                }
                if !key.is_empty() {
                    cards.push((key.to_string(), parse_value(card)));
                }
            }
            block += BLOCK;
        }
    }

    fn check(&self, primary: bool, hdu: usize) -> Result<()> {
        let err = |msg: String| Error::Header { hdu, msg };
        let first = self.cards.first().map(|(k, _)| k.as_str());
        match (primary, first) {
            (true, Some("SIMPLE")) | (false, Some("XTENSION")) => {}
            (_, other) => {
                return Err(err(format!(
                    "first keyword is {}, not {}",
                    other.unwrap_or("missing"),
                    if primary { "SIMPLE" } else { "XTENSION" }
                )));
            }
        }
        for key in ["BITPIX", "NAXIS"] {
            if self.int(key).is_none() {
                return Err(err(format!("no integer {key}")));
            }
        }
        Ok(())
    }

    /// The value of the first card named `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.cards.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            Value::Int(v) => Some(*v),
            _ => None,
        }
    }

    pub fn float(&self, key: &str) -> Option<f64> {
        match self.get(key)? {
            Value::Int(v) => Some(*v as f64),
            Value::Float(v) => Some(*v),
            _ => None,
        }
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Value::Str(v) => Some(v.trim_end()),
            _ => None,
        }
    }

    pub fn logical(&self, key: &str) -> Option<bool> {
        match self.get(key)? {
            Value::Logical(v) => Some(*v),
            _ => None,
        }
    }

    /// Every card, in order.
    pub fn cards(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.cards.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub(crate) fn kind(&self) -> Kind {
        let axes = self.int("NAXIS").unwrap_or(0);
        match self.str("XTENSION") {
            None | Some("IMAGE") if axes == 0 => Kind::Empty,
            None | Some("IMAGE") => Kind::Image { axes },
            Some("BINTABLE") if self.logical("ZIMAGE") == Some(true) => Kind::Compressed,
            Some(other) => Kind::Table(other.to_string()),
        }
    }

    /// Bytes of data that follow the header: |BITPIX|/8 x GCOUNT x (PCOUNT + product of
    /// the NAXISn), the FITS rule for every HDU kind (for a BINTABLE, PCOUNT is its heap).
    pub(crate) fn data_len(&self, hdu: usize) -> Result<usize> {
        let err = |msg: String| Error::Header { hdu, msg };
        let axes = self.int("NAXIS").expect("checked on parse");
        if axes == 0 {
            return Ok(0);
        }
        if !(1..=999).contains(&axes) {
            return Err(err(format!("NAXIS = {axes}")));
        }
        let mut count: u64 = 1;
        for n in 1..=axes {
            let len = self
                .int(&format!("NAXIS{n}"))
                .filter(|v| *v >= 0)
                .ok_or_else(|| err(format!("no non-negative integer NAXIS{n}")))?;
            count = count.checked_mul(len as u64).ok_or_else(|| err("array too large".into()))?;
        }
        let pcount = self.int("PCOUNT").unwrap_or(0).max(0) as u64;
        let gcount = self.int("GCOUNT").unwrap_or(1).max(0) as u64;
        let bytes = (self.int("BITPIX").expect("checked on parse").unsigned_abs() / 8)
            .checked_mul(gcount)
            .and_then(|v| v.checked_mul(count.checked_add(pcount)?))
            .ok_or_else(|| err("array too large".into()))?;
        usize::try_from(bytes).map_err(|_| err("array too large".into()))
    }

    /// Width and height from `{prefix}1`, `{prefix}2` ("NAXIS" or "ZNAXIS"); further axes
    /// must have length 1.
    pub(crate) fn image_size(&self, hdu: usize, prefix: &str) -> Result<(usize, usize)> {
        let axes = self.int(prefix).unwrap_or(0);
        let len = |n: i64| self.int(&format!("{prefix}{n}")).filter(|v| *v > 0);
        let unsupported = |msg: String| Error::Unsupported { hdu, msg };
        if axes < 2 {
            return Err(unsupported(format!("{prefix} = {axes}: not a 2-D image")));
        }
        for n in 3..=axes {
            match len(n) {
                Some(1) => {}
                v => {
                    return Err(unsupported(format!(
                        "{prefix}{n} = {}: a {axes}-D cube; helio reads one 2-D image per file",
                        v.map_or("missing".into(), |v| v.to_string())
                    )));
                }
            }
        }
        match (len(1), len(2)) {
            (Some(w), Some(h)) if (w as u64).saturating_mul(h as u64) > crate::MAX_PIXELS as u64 => {
                Err(unsupported(format!("{w} x {h} pixels: larger than the {} this reader takes", crate::MAX_PIXELS)))
            }
            (Some(w), Some(h)) => Ok((w as usize, h as usize)),
            _ => Err(Error::Header {
                hdu,
                msg: format!("{prefix}1 and {prefix}2 must be positive integers"),
            }),
        }
    }
}

/// The value field of a card (columns 11-80 after `= ` in columns 9-10).
fn parse_value(card: &str) -> Value {
    if &card[8..10] != "= " {
        return Value::None;
    }
    let field = card[10..].trim_start();
    if let Some(rest) = field.strip_prefix('\'') {
        // A quote inside a string is written twice.
        let mut s = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                } else {
                    return Value::Str(s);
                }
            }
            s.push(c);
        }
        return Value::None; // unterminated
    }
    let token = field.split('/').next().unwrap_or("").trim();
    match token {
        "T" => Value::Logical(true),
        "F" => Value::Logical(false),
        _ => {
            if let Ok(v) = token.parse::<i64>() {
                Value::Int(v)
            } else if let Ok(v) = token.replace(['D', 'd'], "E").parse::<f64>() {
                Value::Float(v)
            } else {
                Value::None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(s: &str) -> String {
        format!("{s:<80}")
    }

    #[test]
    fn values() {
        assert_eq!(parse_value(&card("BITPIX  =                  -32 / x")), Value::Int(-32));
        assert_eq!(parse_value(&card("SIMPLE  =                    T")), Value::Logical(true));
        assert_eq!(parse_value(&card("EXPTIME =   2.0000959999999997")), Value::Float(2.0000959999999997));
        assert_eq!(parse_value(&card("BSCALE  =               1.5D-2")), Value::Float(0.015));
        assert_eq!(parse_value(&card("TELESCOP= 'SDO/AIA ' / name")), Value::Str("SDO/AIA ".into()));
        assert_eq!(parse_value(&card("OBSERVER= 'O''Hara'")), Value::Str("O'Hara".into()));
        assert_eq!(parse_value(&card("HISTORY = not a value")), Value::None);
        assert_eq!(parse_value(&card("COMMENT   hello")), Value::None);
    }
}
