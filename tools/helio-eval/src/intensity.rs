//! The display domain: helio's sqrt ("Anscombe-like") intensity transform.
//!
//! TODO: switch to `helio_core::intensity` once codec-core exposes it and builds,
//! so there is one definition (kept local for now: codec-core does not compile yet).

/// Normalised sqrt transform of a DN value: `t = (sqrt(DN+3/8) - sqrt(3/8)) /
/// (sqrt(max+3/8) - sqrt(3/8))` with `max = 2^bit_depth - 1`, DN clamped to 0..=max.
pub fn sqrt_transform(dn: u16, bit_depth: u8) -> f64 {
    let max = ((1u32 << bit_depth) - 1) as f64;
    let v = (dn as f64).min(max);
    let c = 0.375f64.sqrt();
    ((v + 0.375).sqrt() - c) / ((max + 0.375).sqrt() - c)
}

/// Lookup table DN -> 8-bit display value `round(255 * t)` for all 65536 inputs.
pub struct DisplayLut {
    pub bit_depth: u8,
    lut: Vec<u8>,
}

impl DisplayLut {
    pub fn new(bit_depth: u8) -> Self {
        assert!((1..=16).contains(&bit_depth), "bit depth must be 1..=16");
        let lut = (0..=u16::MAX)
            .map(|dn| (255.0 * sqrt_transform(dn, bit_depth)).round() as u8)
            .collect();
        DisplayLut { bit_depth, lut }
    }

    pub fn map(&self, dn: &[u16]) -> Vec<u8> {
        dn.iter().map(|&v| self.lut[v as usize]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_monotone() {
        let l = DisplayLut::new(14);
        assert_eq!(l.map(&[0, 16383, 20000, 65535]), vec![0, 255, 255, 255]);
        let all: Vec<u16> = (0..16384).collect();
        let m = l.map(&all);
        assert!(m.windows(2).all(|w| w[0] <= w[1]));
        // sqrt: the dark end gets most of the codes (DN 100 is already ~ 0.075 * 255).
        assert!(m[100] > 15 && m[100] < 25, "{}", m[100]);
    }
}
