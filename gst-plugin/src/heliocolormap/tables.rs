// SPDX-License-Identifier: MPL-2.0

//! The standard SDO/AIA colour tables and the input-value -> table-index
//! scalings of `heliocolormap`.
//!
//! The tables follow SolarSoft's `aia_lct.pro` (K. Schrijver, 2010), which
//! SunPy reproduces as the `sdoaia*` colormaps. Every channel of every table
//! is one of seven curves of the index `i` = 0..255:
//!
//! - `c0 = i` (identity),
//! - `c1 = byte(sqrt(i) * sqrt(255))` (square-root shaped),
//! - `c2 = byte(i^2 / 255)` (square shaped),
//! - `c3 = byte((c1 + c2/2) * 255 / (max(c1) + max(c2)/2))` (a mix of the two),
//! - `r0, g0, b0`: IDL colour table 3 ("red temperature"), three linear ramps
//!   `r0 = byte(255 i / 176)`, `g0 = byte(255 (i - 120) / 135)`,
//!   `b0 = byte(255 (i - 190) / 65)`, each clipped to 0..255 (these reproduce
//!   the 256 entries of IDL's table exactly).
//!
//! `byte()` truncates, as IDL does, and `c1`..`c3` are evaluated in single
//! precision like the IDL original (in double precision `sqrt(255)^2` falls
//! just below 255 and `c1[255]` would be 254). SunPy keeps `c1`..`c3` as floats
//! before matplotlib quantises them, so its colours can differ from these by
//! one level.
//!
//! | wavelength (Å) | red | green | blue |
//! |---|---|---|---|
//! | 94 | c2 | c3 | c0 |
//! | 131 | g0 | r0 | r0 |
//! | 171 | r0 | c0 | b0 |
//! | 193 | c1 | c0 | c2 |
//! | 211 | c1 | c0 | c3 |
//! | 304 | r0 | g0 | b0 |
//! | 335 | c2 | c0 | c1 |
//! | 1600 | c3 | c3 | c2 |
//! | 1700 | c1 | c0 | c0 |
//! | 4500 | c0 | c0 | b0/2 |
//! | 0 (helio's own: plain grey) | c0 | c0 | c0 |

/// Wavelengths with a table, in Å; 0 is the plain grey table.
pub const WAVELENGTHS: [u32; 11] = [0, 94, 131, 171, 193, 211, 304, 335, 1600, 1700, 4500];

/// The valid `wavelength` values, for messages.
pub fn valid_wavelengths() -> String {
    let aia: Vec<String> = WAVELENGTHS[1..].iter().map(u32::to_string).collect();
    format!("{} (AIA, Å) or 0 (grey)", aia.join(", "))
}

/// One colour table: 256 RGB entries, index 0 = darkest.
pub type Table = [[u8; 3]; 256];

/// Clips to 0..255 and truncates, like IDL's `byte()` of a non-negative float.
fn byte(x: f32) -> u8 {
    x.clamp(0.0, 255.0) as u8
}

/// One linear ramp of IDL table 3: 0 up to `start`, then 255 (i - start) / len
/// (truncated), 255 from `start + len` on. Integer arithmetic: exact.
fn ramp(i: usize, start: usize, len: usize) -> u8 {
    (i.saturating_sub(start) * 255 / len).min(255) as u8
}

/// The seven base curves of `aia_lct.pro`, each 256 entries.
struct Curves {
    c0: [u8; 256],
    c1: [u8; 256],
    c2: [u8; 256],
    c3: [u8; 256],
    r0: [u8; 256],
    g0: [u8; 256],
    b0: [u8; 256],
}

impl Curves {
    fn new() -> Self {
        let mut c = Curves {
            c0: [0; 256],
            c1: [0; 256],
            c2: [0; 256],
            c3: [0; 256],
            r0: [0; 256],
            g0: [0; 256],
            b0: [0; 256],
        };
        let sqrt255 = 255f32.sqrt();
        for i in 0..256 {
            let x = i as f32;
            c.c0[i] = i as u8;
            c.c1[i] = byte(x.sqrt() * sqrt255);
            c.c2[i] = byte(x * x / 255.0);
            c.r0[i] = ramp(i, 0, 176);
            c.g0[i] = ramp(i, 120, 135);
            c.b0[i] = ramp(i, 190, 65);
        }
        let max1 = *c.c1.iter().max().unwrap() as f32;
        let max2 = *c.c2.iter().max().unwrap() as f32;
        for i in 0..256 {
            let mixed = c.c1[i] as f32 + c.c2[i] as f32 / 2.0;
            c.c3[i] = byte(mixed * 255.0 / (max1 + max2 / 2.0));
        }
        c
    }
}

/// The colour table of `wavelength` (Å; 0 = grey), `None` for any other value.
pub fn aia_table(wavelength: u32) -> Option<Table> {
    let c = Curves::new();
    let half_b0 = c.b0.map(|v| v / 2);
    let (r, g, b) = match wavelength {
        0 => (&c.c0, &c.c0, &c.c0),
        94 => (&c.c2, &c.c3, &c.c0),
        131 => (&c.g0, &c.r0, &c.r0),
        171 => (&c.r0, &c.c0, &c.b0),
        193 => (&c.c1, &c.c0, &c.c2),
        211 => (&c.c1, &c.c0, &c.c3),
        304 => (&c.r0, &c.g0, &c.b0),
        335 => (&c.c2, &c.c0, &c.c1),
        1600 => (&c.c3, &c.c3, &c.c2),
        1700 => (&c.c1, &c.c0, &c.c0),
        4500 => (&c.c0, &c.c0, &half_b0),
        _ => return None,
    };
    let mut table = [[0u8; 3]; 256];
    for (i, entry) in table.iter_mut().enumerate() {
        *entry = [r[i], g[i], b[i]];
    }
    Some(table)
}

/// How input values between `min` and `max` are spread over the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stretch {
    Linear,
    Sqrt,
    Log,
}

/// `a` of the log stretch `log(1 + a x) / log(1 + a)` (astropy's LogStretch default).
pub const LOG_A: f64 = 1000.0;

impl Stretch {
    /// Maps `x` in [0, 1] to [0, 1], monotone.
    pub fn apply(self, x: f64) -> f64 {
        match self {
            Stretch::Linear => x,
            Stretch::Sqrt => x.sqrt(),
            Stretch::Log => (LOG_A * x).ln_1p() / LOG_A.ln_1p(),
        }
    }
}

/// Table index of every input value `0..=top`: `round(255 * stretch(x))` with
/// `x = (clamp(v, min, max) - min) / (max - min)`. Needs `min < max`.
pub fn index_lut(top: u32, min: u32, max: u32, stretch: Stretch) -> Vec<u8> {
    assert!(min < max, "index_lut needs min < max");
    let span = (max - min) as f64;
    (0..=top)
        .map(|v| {
            let x = (v.clamp(min, max) - min) as f64 / span;
            (255.0 * stretch.apply(x)).round().clamp(0.0, 255.0) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rec. 709 luma of an entry.
    fn luma(e: [u8; 3]) -> f64 {
        0.2126 * e[0] as f64 + 0.7152 * e[1] as f64 + 0.0722 * e[2] as f64
    }

    #[test]
    fn base_curves_match_the_formulas() {
        let c = Curves::new();
        /// (name, curve, (index, value) pairs)
        type Expected<'a> = (&'a str, &'a [u8; 256], &'a [(usize, u8)]);
        #[rustfmt::skip]
        let expected: [Expected; 6] = [
            // byte(sqrt(255 i)): 15.97 -> 15, sqrt(255*64) = 127.75 -> 127; f32: 255 at 255.
            ("c1", &c.c1, &[(0, 0), (1, 15), (64, 127), (128, 180), (255, 255)]),
            // byte(i^2/255): 64^2/255 = 16.06, 128^2/255 = 64.25, 200^2/255 = 156.9.
            ("c2", &c.c2, &[(1, 0), (64, 16), (128, 64), (200, 156), (255, 255)]),
            // byte((c1 + c2/2) * 255 / 382.5): i = 64: (127 + 8) * 2/3 = 90.
            ("c3", &c.c3, &[(1, 10), (64, 90), (128, 141), (255, 255)]),
            // IDL table 3: r0 reaches 255 at 176, g0 starts after 120, b0 after 190.
            ("r0", &c.r0, &[(1, 1), (11, 15), (128, 185), (175, 253), (176, 255)]),
            ("g0", &c.g0, &[(120, 0), (121, 1), (128, 15), (200, 151), (255, 255)]),
            ("b0", &c.b0, &[(190, 0), (191, 3), (200, 39), (254, 251), (255, 255)]),
        ];
        for (name, curve, entries) in expected {
            for &(i, v) in entries {
                assert_eq!(curve[i], v, "{name}[{i}]");
            }
        }
    }

    #[test]
    fn known_entries_of_171_and_304() {
        let t171 = aia_table(171).unwrap();
        // (r0, c0, b0)
        assert_eq!(t171[0], [0, 0, 0]);
        assert_eq!(t171[64], [92, 64, 0]);
        assert_eq!(t171[128], [185, 128, 0]);
        assert_eq!(t171[200], [255, 200, 39]);
        assert_eq!(t171[255], [255, 255, 255]);
        let t304 = aia_table(304).unwrap();
        // (r0, g0, b0)
        assert_eq!(t304[0], [0, 0, 0]);
        assert_eq!(t304[128], [185, 15, 0]);
        assert_eq!(t304[200], [255, 151, 39]);
        assert_eq!(t304[230], [255, 207, 156]);
        assert_eq!(t304[255], [255, 255, 255]);
        // 193: (c1, c0, c2)
        assert_eq!(aia_table(193).unwrap()[128], [180, 128, 64]);
        // 4500: blue is half of b0.
        assert_eq!(aia_table(4500).unwrap()[255], [255, 255, 127]);
    }

    #[test]
    fn tables_are_monotone_and_span_black_to_white() {
        for &w in &WAVELENGTHS {
            let t = aia_table(w).unwrap();
            assert_eq!(t[0], [0, 0, 0], "{w}");
            if w != 4500 {
                assert_eq!(t[255], [255, 255, 255], "{w}");
            }
            for (i, pair) in t.windows(2).enumerate() {
                let (lo, hi) = (pair[0], pair[1]);
                assert!(
                    (0..3).all(|ch| hi[ch] >= lo[ch]),
                    "{w}: a channel falls after {i}"
                );
                // Every table but 1600 (c3, c3, c2) has a strictly rising channel
                // weighted enough to make luminance rise at every step.
                if w != 1600 {
                    assert!(luma(hi) > luma(lo), "{w}: luminance flat after {i}");
                }
            }
        }
    }

    #[test]
    fn every_wavelength_has_its_own_table_and_others_have_none() {
        let tables: Vec<Table> = WAVELENGTHS.iter().map(|&w| aia_table(w).unwrap()).collect();
        for i in 0..tables.len() {
            for j in i + 1..tables.len() {
                assert_ne!(
                    tables[i], tables[j],
                    "{} vs {}",
                    WAVELENGTHS[i], WAVELENGTHS[j]
                );
            }
        }
        for w in [1, 170, 172, 195, 284, 5000] {
            assert!(aia_table(w).is_none(), "{w}");
        }
    }

    #[test]
    fn index_lut_scalings() {
        let lin = index_lut(255, 0, 255, Stretch::Linear);
        assert!(lin.iter().enumerate().all(|(i, &v)| v as usize == i));
        let sqrt = index_lut(16383, 0, 16383, Stretch::Sqrt);
        assert_eq!((sqrt[0], sqrt[4096], sqrt[16383]), (0, 128, 255));
        let log = index_lut(16383, 0, 16383, Stretch::Log);
        // log(1 + 1000 * 0.5) / log(1001) = 0.8998 -> 229.4
        assert_eq!((log[0], log[8192], log[16383]), (0, 229, 255));
        // Explicit range: below min -> 0, above max -> 255.
        let r = index_lut(3000, 1000, 2000, Stretch::Linear);
        assert_eq!(
            (r[0], r[999], r[1250], r[2000], r[3000]),
            (0, 0, 64, 255, 255)
        );
        for l in [&sqrt, &log] {
            assert!(l.windows(2).all(|w| w[0] <= w[1]));
        }
    }
}
