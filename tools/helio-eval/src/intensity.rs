//! The display domain: helio's own sqrt ("Anscombe-like") intensity transform from
//! codec-core (`helio_core::intensity`), scaled to 8 bits.

use helio_core::intensity::IntensityTransform;

/// Normalised sqrt transform of a DN value: `t = (sqrt(DN+3/8) - sqrt(3/8)) /
/// (sqrt(max+3/8) - sqrt(3/8))` with `max = 2^bit_depth - 1`, DN clamped to 0..=max.
pub fn sqrt_transform(dn: u16, bit_depth: u8) -> f64 {
    IntensityTransform::Sqrt.forward(dn as u32, bit_depth) as f64
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
        // sqrt: the dark end gets most of the codes (DN 100 is already ~ 0.074 * 255).
        assert_eq!(m[100], 19);
    }

    #[test]
    fn matches_the_formula() {
        let l = DisplayLut::new(14);
        let c = 0.375f64.sqrt();
        for dn in (0..16384u16).step_by(7) {
            let t = ((dn as f64 + 0.375).sqrt() - c) / ((16383.375f64).sqrt() - c);
            let want = (255.0 * t).round() as i32;
            assert!((l.map(&[dn])[0] as i32 - want).abs() <= 1, "DN {dn}");
        }
    }
}
