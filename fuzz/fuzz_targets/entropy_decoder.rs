//! Arbitrary bytes as range-coded symbols (and as CDF tables): decoding must
//! return values or errors in bounded time, never panic.
#![no_main]

use helio_core::entropy::{CdfTable, MAX_ABS_SYMBOL, PRECISION, SymbolDecoder};
use libfuzzer_sys::fuzz_target;

/// A table over `bins` values plus escape, probability mass peaked at the centre.
fn table(bins: u32, offset: i32) -> CdfTable {
    let total = 1u32 << PRECISION;
    let mut widths: Vec<u32> = (0..=bins).map(|i| 1 + 64 / (1 + i.abs_diff(bins / 2))).collect();
    let used: u32 = widths.iter().sum();
    widths[(bins / 2) as usize] += total - used;
    let mut cdf = vec![0];
    for w in widths {
        cdf.push(cdf.last().unwrap() + w);
    }
    CdfTable::from_cdf(&cdf, offset, "fuzz").unwrap()
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };

    // Tables from the input itself: construction validates, never panics.
    if selector & 1 == 1 {
        let cdf: Vec<u32> = rest.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]) as u32).collect();
        let _ = CdfTable::from_cdf(&cdf, -(selector as i32), "fuzz");
    }

    let tables = [table(1, 0), table(4, -2), table(63, -31), table(500, -250)];
    let usable = rest.len() - rest.len() % 4;
    let Ok(mut dec) = SymbolDecoder::new(&rest[..usable]) else { return };
    // Far more symbols than bytes: reading past the end must stay bounded.
    for i in 0..4 * usable + 64 {
        match dec.decode(&tables[(i + selector as usize) % tables.len()]) {
            Ok(v) => assert!(v.unsigned_abs() <= MAX_ABS_SYMBOL as u32),
            Err(_) => break,
        }
    }
});
