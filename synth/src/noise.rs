//! Smooth 3-D value noise, evaluated on the unit sphere so that textures have
//! no seams and rotate with the surface.

use crate::hash::mix64;

#[inline(always)]
fn lattice(seed: u64, x: i32, y: i32, z: i32) -> f32 {
    let h = mix64(
        seed ^ (x as u32 as u64).wrapping_mul(0x8cb9_2ba7_2f3d_8dd7)
            ^ (y as u32 as u64).wrapping_mul(0xd6e8_feb8_6659_fd93)
            ^ (z as u32 as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
    );
    // in [-1, 1)
    ((h >> 40) as f32) * (2.0 / (1u64 << 24) as f32) - 1.0
}

#[inline(always)]
fn fade(t: f32) -> f32 {
    t * t * (3.0 - 2.0 * t)
}

/// Value noise in [-1,1], C1-smooth.
#[inline]
pub fn value3(seed: u64, x: f32, y: f32, z: f32) -> f32 {
    let (xf, yf, zf) = (x.floor(), y.floor(), z.floor());
    let (xi, yi, zi) = (xf as i32, yf as i32, zf as i32);
    let (u, v, w) = (fade(x - xf), fade(y - yf), fade(z - zf));
    let c000 = lattice(seed, xi, yi, zi);
    let c100 = lattice(seed, xi + 1, yi, zi);
    let c010 = lattice(seed, xi, yi + 1, zi);
    let c110 = lattice(seed, xi + 1, yi + 1, zi);
    let c001 = lattice(seed, xi, yi, zi + 1);
    let c101 = lattice(seed, xi + 1, yi, zi + 1);
    let c011 = lattice(seed, xi, yi + 1, zi + 1);
    let c111 = lattice(seed, xi + 1, yi + 1, zi + 1);
    let x00 = c000 + u * (c100 - c000);
    let x10 = c010 + u * (c110 - c010);
    let x01 = c001 + u * (c101 - c001);
    let x11 = c011 + u * (c111 - c011);
    let y0 = x00 + v * (x10 - x00);
    let y1 = x01 + v * (x11 - x01);
    y0 + w * (y1 - y0)
}

/// Fractal sum of octaves. `freq` is the base lattice frequency (cells per
/// unit length on the unit sphere), `gain` the amplitude ratio per octave.
#[inline]
pub fn fbm(seed: u64, p: [f32; 3], freq: f32, octaves: u32, gain: f32) -> f32 {
    let mut f = freq;
    let mut a = 1.0f32;
    let mut s = 0.0f32;
    let mut norm = 0.0f32;
    for o in 0..octaves {
        s += a * value3(seed.wrapping_add(o as u64 * 0x51_7cc1_b727_220a), p[0] * f, p[1] * f, p[2] * f);
        norm += a;
        a *= gain;
        f *= 2.03;
    }
    s / norm
}

/// Ridged noise in [0,1]: bright thin ridges along zero crossings (a cheap
/// stand-in for the supergranular network lanes).
#[inline]
pub fn ridged(seed: u64, p: [f32; 3], freq: f32, octaves: u32) -> f32 {
    let mut f = freq;
    let mut a = 1.0f32;
    let mut s = 0.0f32;
    let mut norm = 0.0f32;
    for o in 0..octaves {
        let n = value3(seed.wrapping_add(0x1234 + o as u64 * 0x9e37), p[0] * f, p[1] * f, p[2] * f);
        let r = 1.0 - n.abs() * 1.6;
        s += a * r.max(0.0).powi(2);
        norm += a;
        a *= 0.5;
        f *= 2.1;
    }
    s / norm
}
