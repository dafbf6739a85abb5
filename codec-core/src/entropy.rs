//! Range coding of integer symbols with integer CDF tables (constriction 0.5).
//!
//! Coder: constriction's queue-based `DefaultRangeEncoder`/`DefaultRangeDecoder`
//! (32-bit words, 64-bit state). A queue (FIFO) coder rather than ANS because
//! the decoder reads symbols in the order the encoder wrote them, which is what
//! a hyperprior needs (z first, then y conditioned on it) and what later
//! context models (checkerboard, channel groups) need: no reversed buffering on
//! the encoder side. Code words are serialized big-endian.
//!
//! Tables: CompressAI's quantized CDFs at 16-bit precision, converted once (at
//! model load) to `ContiguousCategoricalEntropyModel`s from their bin widths.
//! The last bin is the escape: a value outside the table's range is coded as the
//! escape bin followed by a bypass code of `raw`, the zig-zagged distance past
//! the table's edge (CompressAI's mapping):
//! `raw = 2*(-s) - 1` below the table, `raw = 2*(s - escape)` above it, where
//! `s = value - offset`. The bypass code is Elias-gamma-like with uniform
//! models: the bit length `n` of `raw` (0..=32, one symbol of a 33-ary uniform
//! model), then `raw`'s low `n` bits in chunks of 8 bits. Every model shares the
//! 16-bit precision, so a decoder fed arbitrary bytes only ever sees valid
//! quantiles; it reads zeros past the end and performs a fixed, bounded amount
//! of work per symbol: corrupt input gives wrong symbols (caught upstream by the
//! packet CRC) or an `Err`, never a panic or an endless loop.

use constriction::stream::model::{ContiguousCategoricalEntropyModel, UniformModel};
use constriction::stream::queue::{DefaultRangeDecoder, DefaultRangeEncoder};
use constriction::stream::{Decode, Encode};

use crate::{Error, Result};

/// Fixed-point precision of every CDF table (bits).
pub const PRECISION: usize = 16;

type CategoricalModel = ContiguousCategoricalEntropyModel<u32, Vec<u32>, PRECISION>;
type Uniform = UniformModel<u32, PRECISION>;

/// Largest |symbol| the coder accepts; quantizers clamp to this so `raw` fits 32 bits.
pub const MAX_ABS_SYMBOL: i32 = 1 << 28;

const BYPASS_CHUNK_BITS: u32 = 8;

/// One integer CDF table with its offset (the value of bin 0).
#[derive(Debug, Clone)]
pub struct CdfTable {
    model: CategoricalModel,
    offset: i32,
    /// Index of the escape bin (= number of regular bins).
    escape: usize,
}

impl CdfTable {
    /// Builds a table from a CompressAI quantized CDF: non-decreasing from 0 to
    /// `2^16`, every bin at least 1 wide, at least one regular bin plus the escape.
    /// `what` names the table in error messages.
    pub fn from_cdf(cdf: &[u32], offset: i32, what: &str) -> Result<Self> {
        let bad = |msg: String| Error::Model(format!("{what}: {msg}"));
        if cdf.len() < 3 {
            return Err(bad(format!("CDF has {} entries, need at least 3 (one bin + escape)", cdf.len())));
        }
        if cdf[0] != 0 {
            return Err(bad(format!("CDF starts at {}, must start at 0", cdf[0])));
        }
        let total = 1u32 << PRECISION;
        if *cdf.last().expect("len >= 3") != total {
            return Err(bad(format!("CDF ends at {}, must end at {total}", cdf.last().unwrap())));
        }
        if let Some(i) = cdf.windows(2).position(|w| w[1] <= w[0]) {
            return Err(bad(format!(
                "bin {i} has zero or negative width (cdf[{i}]={}, cdf[{}]={}); every bin must be at least 1 wide",
                cdf[i],
                i + 1,
                cdf[i + 1]
            )));
        }
        if offset.unsigned_abs() > MAX_ABS_SYMBOL as u32 {
            return Err(bad(format!("offset {offset} is out of range")));
        }
        let probabilities: Vec<u32> = cdf.windows(2).map(|w| w[1] - w[0]).collect();
        let model = CategoricalModel::from_nonzero_fixed_point_probabilities(&probabilities, false)
            .map_err(|()| bad("constriction rejected the probabilities".into()))?;
        Ok(Self { model, offset, escape: probabilities.len() - 1 })
    }

    pub fn offset(&self) -> i32 {
        self.offset
    }

    /// Number of values coded without escape: `offset .. offset + regular_bins()`.
    pub fn regular_bins(&self) -> usize {
        self.escape
    }
}

/// Collects symbols into range-coder words.
pub struct SymbolEncoder {
    coder: DefaultRangeEncoder,
    escapes: u64,
}

impl Default for SymbolEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SymbolEncoder {
    pub fn new() -> Self {
        Self { coder: DefaultRangeEncoder::new(), escapes: 0 }
    }

    /// Codes `value` with `table`; values outside the table use the escape bin.
    /// Values beyond ±[`MAX_ABS_SYMBOL`] are a caller bug (quantizers clamp).
    pub fn encode(&mut self, value: i32, table: &CdfTable) -> Result<()> {
        if value.unsigned_abs() > MAX_ABS_SYMBOL as u32 {
            return Err(Error::Config(format!("symbol {value} exceeds ±{MAX_ABS_SYMBOL}")));
        }
        let s = value as i64 - table.offset as i64;
        let esc = table.escape as i64;
        if (0..esc).contains(&s) {
            return self.put(s as usize, &table.model);
        }
        self.escapes += 1;
        self.put(table.escape, &table.model)?;
        let raw = if s < 0 { -2 * s - 1 } else { 2 * (s - esc) };
        self.put_bypass(u32::try_from(raw).expect("|value| <= 2^28 keeps raw < 2^32"))
    }

    fn put<M>(&mut self, symbol: usize, model: M) -> Result<()>
    where
        M: constriction::stream::model::EncoderModel<PRECISION, Symbol = usize, Probability = u32>,
    {
        self.coder
            .encode_symbol(symbol, model)
            .map_err(|e| Error::Config(format!("range encoder: {e}")))
    }

    fn put_bypass(&mut self, raw: u32) -> Result<()> {
        let n = 32 - raw.leading_zeros();
        self.put(n as usize, Uniform::new(33))?;
        let mut shift = 0;
        while shift < n {
            let bits = BYPASS_CHUNK_BITS.min(n - shift);
            let chunk = (raw >> shift) & ((1u32 << bits) - 1);
            self.put(chunk as usize, Uniform::new(1 << bits))?;
            shift += bits;
        }
        Ok(())
    }

    /// How many values so far needed the escape code (a sign of a badly matched model).
    pub fn escapes(&self) -> u64 {
        self.escapes
    }

    /// Finishes the stream and returns its bytes (a multiple of 4).
    pub fn finish(self) -> Vec<u8> {
        let words = self.coder.into_compressed().unwrap_or_else(|never| match never {});
        words.iter().flat_map(|w| w.to_be_bytes()).collect()
    }
}

/// Reads symbols back from bytes produced by [`SymbolEncoder::finish`].
pub struct SymbolDecoder {
    coder: DefaultRangeDecoder,
}

impl SymbolDecoder {
    pub fn new(bytes: &[u8]) -> Result<Self> {
        if bytes.len() % 4 != 0 {
            return Err(Error::Corrupt(format!("range-coded section of {} bytes is not a multiple of 4", bytes.len())));
        }
        let words: Vec<u32> = bytes.chunks_exact(4).map(|c| u32::from_be_bytes(c.try_into().unwrap())).collect();
        let coder = DefaultRangeDecoder::from_compressed(words).unwrap_or_else(|never| match never {});
        Ok(Self { coder })
    }

    pub fn decode(&mut self, table: &CdfTable) -> Result<i32> {
        let s = self.take(&table.model)?;
        if s < table.escape {
            return Ok(table.offset + s as i32);
        }
        let raw = self.take_bypass()? as i64;
        let esc = table.escape as i64;
        // Inverse of the zig-zag in `SymbolEncoder::encode`.
        let s = if raw % 2 == 1 { -(raw + 1) / 2 } else { raw / 2 + esc };
        let value = table.offset as i64 + s;
        if value.unsigned_abs() > MAX_ABS_SYMBOL as u64 {
            return Err(Error::Corrupt(format!("escaped symbol {value} is out of range")));
        }
        Ok(value as i32)
    }

    fn take<M>(&mut self, model: M) -> Result<usize>
    where
        M: constriction::stream::model::DecoderModel<PRECISION, Symbol = usize, Probability = u32>,
    {
        self.coder
            .decode_symbol(model)
            .map_err(|e| Error::Corrupt(format!("range decoder: {e}")))
    }

    fn take_bypass(&mut self) -> Result<u32> {
        let n = self.take(Uniform::new(33))? as u32;
        if n > 32 {
            return Err(Error::Corrupt(format!("bypass length {n} > 32")));
        }
        let (mut raw, mut shift) = (0u64, 0);
        while shift < n {
            let bits = BYPASS_CHUNK_BITS.min(n - shift);
            raw |= (self.take(Uniform::new(1 << bits))? as u64) << shift;
            shift += bits;
        }
        u32::try_from(raw).map_err(|_| Error::Corrupt("bypass value overflows".into()))
    }

    /// True if the decoder may have consumed all data (a cheap plausibility check:
    /// after the last symbol of a valid stream this holds).
    pub fn maybe_exhausted(&self) -> bool {
        self.coder.maybe_exhausted()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A discretized Laplacian-ish table over `offset .. offset + bins`, plus escape.
    pub(crate) fn test_table(bins: usize, offset: i32, spread: f64) -> CdfTable {
        let total = 1u32 << PRECISION;
        let centre = (bins as f64 - 1.0) / 2.0;
        let weights: Vec<f64> =
            (0..=bins).map(|i| if i == bins { 0.001 } else { (-(i as f64 - centre).abs() / spread).exp() }).collect();
        let sum: f64 = weights.iter().sum();
        let budget = total - (bins as u32 + 1);
        let mut widths: Vec<u32> = weights.iter().map(|w| 1 + (w / sum * budget as f64).floor() as u32).collect();
        let used: u32 = widths.iter().sum();
        widths[bins / 2] += total - used;
        let mut cdf = vec![0u32];
        for w in widths {
            cdf.push(cdf.last().unwrap() + w);
        }
        CdfTable::from_cdf(&cdf, offset, "test table").unwrap()
    }

    /// Small deterministic generator (xorshift) so tests need no extra crates.
    pub(crate) struct Rng(pub u64);
    impl Rng {
        pub fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
            lo + (self.next() % (hi - lo + 1) as u64) as i64
        }
    }

    #[test]
    fn rejects_malformed_cdfs() {
        let t = 1u32 << PRECISION;
        for (cdf, why) in [
            (vec![0, t], "too short"),
            (vec![1, 5, t], "not starting at 0"),
            (vec![0, 5, t - 1], "not ending at 2^16"),
            (vec![0, 5, 5, t], "zero-width bin"),
            (vec![0, 9, 5, t], "decreasing"),
        ] {
            assert!(CdfTable::from_cdf(&cdf, -1, "t").is_err(), "{why} accepted");
        }
        let err = CdfTable::from_cdf(&[0, 5, 5, t], 0, "y.cdfs[3]").unwrap_err().to_string();
        assert!(err.contains("y.cdfs[3]") && err.contains("bin 1"), "{err}");
    }

    #[test]
    fn round_trip_random_symbols_with_escapes() {
        let tables = [test_table(21, -10, 2.0), test_table(3, -1, 0.5), test_table(60, -30, 8.0)];
        let mut rng = Rng(0x9e3779b97f4a7c15);
        let mut values = Vec::new();
        for i in 0..20_000 {
            let t = i % tables.len();
            let v = match rng.next() % 10 {
                0 => rng.range(-MAX_ABS_SYMBOL as i64, MAX_ABS_SYMBOL as i64), // mostly escapes, both signs
                1 => rng.range(-100, 100),
                _ => rng.range(-8, 8),
            } as i32;
            values.push((t, v));
        }
        for edge in [MAX_ABS_SYMBOL, -MAX_ABS_SYMBOL, 0, -10, 10, 11, -11] {
            values.push((0, edge));
        }
        let mut enc = SymbolEncoder::new();
        for &(t, v) in &values {
            enc.encode(v, &tables[t]).unwrap();
        }
        assert!(enc.escapes() > 2000, "test must exercise escapes");
        let bytes = enc.finish();
        let mut dec = SymbolDecoder::new(&bytes).unwrap();
        for (i, &(t, v)) in values.iter().enumerate() {
            assert_eq!(dec.decode(&tables[t]).unwrap(), v, "symbol {i}");
        }
        assert!(dec.maybe_exhausted());
    }

    #[test]
    fn every_bin_of_every_table_round_trips() {
        let tables: Vec<CdfTable> =
            (1..40).map(|n| test_table(n, -(n as i32) / 2, 1.0 + n as f64 / 4.0)).collect();
        let mut enc = SymbolEncoder::new();
        for t in &tables {
            for v in t.offset() - 2..t.offset() + t.regular_bins() as i32 + 2 {
                enc.encode(v, t).unwrap();
            }
        }
        let bytes = enc.finish();
        let mut dec = SymbolDecoder::new(&bytes).unwrap();
        for t in &tables {
            for v in t.offset() - 2..t.offset() + t.regular_bins() as i32 + 2 {
                assert_eq!(dec.decode(t).unwrap(), v);
            }
        }
    }

    #[test]
    fn skewed_data_compresses() {
        let t = test_table(31, -15, 1.0);
        let mut enc = SymbolEncoder::new();
        for i in 0..10_000 {
            enc.encode([0, 0, 0, 1, -1][i % 5], &t).unwrap();
        }
        let bytes = enc.finish();
        assert!(bytes.len() < 10_000 / 8 * 3, "{} bytes for 10k low-entropy symbols", bytes.len());
    }

    #[test]
    fn garbage_input_terminates_without_panic() {
        let tables = [test_table(5, -2, 0.3), test_table(200, -100, 30.0)];
        let mut rng = Rng(42);
        for len in [0usize, 4, 8, 64, 1024] {
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let mut dec = SymbolDecoder::new(&bytes).unwrap();
            for i in 0..5_000 {
                // Either value is fine; only panics and hangs are failures.
                let _ = dec.decode(&tables[i % 2]);
            }
        }
        assert!(SymbolDecoder::new(&[1, 2, 3]).is_err());
    }

    #[test]
    fn symbols_beyond_the_limit_are_refused() {
        let t = test_table(5, -2, 1.0);
        let mut enc = SymbolEncoder::new();
        assert!(enc.encode(MAX_ABS_SYMBOL + 1, &t).is_err());
        assert!(enc.encode(i32::MIN, &t).is_err());
    }
}
