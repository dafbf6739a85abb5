//! The plasma model and its rendering.
//!
//! Emission measure lives in `NB` temperature bins; a channel's intensity is
//! `sum_b RESPONSE[c][b] * EM_b` (DN/s). Surface features are defined in
//! Carrington-like coordinates and carried by differential rotation; the
//! corona's line-of-sight column through a hydrostatic (exponential) +
//! power-law atmosphere gives limb brightening and the off-limb fall-off.

use crate::hash::{hash2, hash3, unit, Rng};
use crate::noise::{fbm, ridged};
use crate::{Scene, SunConfig, Wavelength};
use std::f32::consts::PI;

pub const NB: usize = 6;
/// log10 T (K) of each bin: UV continuum/chromosphere, transition region,
/// Fe IX, Fe XII, Fe XIV/XVI, Fe XVIII-XXIV (flare).
const BIN_LOGT: [f32; NB] = [4.0, 4.9, 5.85, 6.2, 6.45, 7.0];

pub struct ChannelInfo {
    pub wavelength: u32,
    /// DN/s per unit emission measure in each bin.
    pub response: [f32; NB],
    /// DN per photon (AIA, Boerner et al. 2012; UV approximate).
    pub gain: f32,
    /// Nominal exposure (s).
    pub exposure: f32,
    /// Read noise (DN, 14-bit scale).
    pub read_noise: f32,
    /// How much filament material darkens this channel (0..1).
    pub absorb: f32,
}

// Ordered as Wavelength::ALL.
pub static CHANNEL_INFO: [ChannelInfo; 9] = [
    ChannelInfo { wavelength: 94, response: [0.0, 0.0, 0.15, 0.12, 0.5, 60.0], gain: 2.128, exposure: 2.9, read_noise: 1.2, absorb: 0.3 },
    ChannelInfo { wavelength: 131, response: [0.0, 1.2, 0.6, 0.15, 0.1, 90.0], gain: 1.523, exposure: 2.9, read_noise: 1.2, absorb: 0.5 },
    ChannelInfo { wavelength: 171, response: [0.0, 14.0, 160.0, 14.0, 1.8, 2.0], gain: 1.168, exposure: 2.0, read_noise: 1.2, absorb: 0.7 },
    ChannelInfo { wavelength: 193, response: [0.0, 2.0, 12.0, 100.0, 35.0, 20.0], gain: 1.024, exposure: 2.0, read_noise: 1.2, absorb: 0.7 },
    ChannelInfo { wavelength: 211, response: [0.0, 0.8, 2.5, 30.0, 45.0, 4.0], gain: 0.946, exposure: 2.9, read_noise: 1.2, absorb: 0.7 },
    ChannelInfo { wavelength: 304, response: [0.0, 40.0, 1.5, 1.5, 0.5, 0.3], gain: 0.658, exposure: 2.9, read_noise: 1.2, absorb: 0.6 },
    ChannelInfo { wavelength: 335, response: [0.0, 0.2, 0.2, 1.2, 4.0, 3.0], gain: 0.596, exposure: 2.9, read_noise: 1.2, absorb: 0.5 },
    ChannelInfo { wavelength: 1600, response: [40.0, 25.0, 0.0, 0.0, 0.0, 0.0], gain: 0.15, exposure: 2.9, read_noise: 1.2, absorb: 0.0 },
    ChannelInfo { wavelength: 1700, response: [700.0, 3.0, 0.0, 0.0, 0.0, 0.0], gain: 0.1, exposure: 1.0, read_noise: 1.2, absorb: 0.0 },
];

/// Hydrostatic scale height of each bin in solar radii (47 Mm per MK) and
/// the weight of the power-law (non-hydrostatic) tail.
const BIN_H: [f32; NB] = [0.0025, 0.012, 0.03, 0.08, 0.14, 0.4];
const BIN_TAIL: [f32; NB] = [0.0, 0.0, 0.002, 0.01, 0.02, 0.02];
/// Fraction of the on-disk signal that behaves optically thin (gets the
/// line-of-sight limb brightening); the rest is "thick" (flat to the limb).
const BIN_THIN: [f32; NB] = [0.0, 0.2, 0.3, 0.35, 0.4, 0.5];

const DEG: f32 = PI / 180.0;

/// Sidereal differential rotation (rad/s) at latitude `lat` (rad).
pub fn omega(lat: f32) -> f32 {
    let s2 = lat.sin().powi(2);
    (14.713 - 2.396 * s2 - 1.787 * s2 * s2) * DEG / 86400.0
}

#[inline]
fn sph(lat: f32, lon: f32) -> [f32; 3] {
    [lat.cos() * lon.sin(), lat.sin(), lat.cos() * lon.cos()]
}

#[inline]
fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

#[inline]
fn add(a: [f32; 3], b: [f32; 3], s: f32) -> [f32; 3] {
    [a[0] + s * b[0], a[1] + s * b[1], a[2] + s * b[2]]
}

#[inline]
fn norm(a: [f32; 3]) -> [f32; 3] {
    let l = dot(a, a).sqrt().max(1e-12);
    [a[0] / l, a[1] / l, a[2] / l]
}

/// Rotate a Carrington vector to the observer frame by angle `th` about the
/// solar axis (y).
#[inline]
fn roty(p: [f32; 3], c: f32, s: f32) -> [f32; 3] {
    [p[0] * c + p[2] * s, p[1], p[2] * c - p[0] * s]
}

/// Point at angular offsets (east, north) from unit vector `c`.
fn offset(c: [f32; 3], de: f32, dn: f32) -> [f32; 3] {
    let lon = c[0].atan2(c[2]);
    let lat = c[1].clamp(-1.0, 1.0).asin();
    let e = [lon.cos(), 0.0, -lon.sin()];
    let n = [-lat.sin() * lon.sin(), lat.cos(), -lat.sin() * lon.cos()];
    norm(add(add(c, e, de), n, dn))
}

/// Emission-measure weights over the bins for a plasma at `logt`.
fn dem_weights(logt: f32) -> [f32; NB] {
    let mut w = [0.0; NB];
    let mut s = 0.0;
    for b in 1..NB {
        let d = (logt - BIN_LOGT[b]) / 0.22;
        w[b] = (-0.5 * d * d).exp();
        s += w[b];
    }
    for v in w.iter_mut() {
        *v /= s.max(1e-9);
    }
    w
}

struct Strand {
    /// Samples in Carrington frame (units of R), with their height.
    pts: Vec<[f32; 3]>,
    ds_px: f32,
    em: [f32; NB],
    sigma_px: f32,
    period_s: f32,
    phase: f32,
    /// Bounding sphere (Carrington) for culling.
    center: [f32; 3],
    radius: f32,
    scale_h: f32,
}

struct ActiveRegion {
    lat: f32,
    c: [f32; 3],
    pos: [f32; 3],
    neg: [f32; 3],
    sigma: f32,
    strength: f32,
    strands: Vec<Strand>,
    /// Neutral-line direction (Carrington) for flare arcades.
    axis_e: f32,
    axis_n: f32,
}

struct CoronalHole {
    c: [f32; 3],
    cos_r: f32,
    r: f32,
}

struct Filament {
    lat: f32,
    /// (point on surface, half width px, opacity)
    pts: Vec<[f32; 3]>,
    width_px: f32,
    opacity: f32,
    height: f32,
}

pub struct Model {
    w: usize,
    h: usize,
    /// Disk centre (output pixel coords) and radius (px).
    cx: f32,
    cy: f32,
    r_px: f32,
    seed: u64,
    // per pixel static geometry
    rho: Vec<f32>,
    lat: Vec<f32>,
    lon: Vec<f32>,
    om: Vec<f32>,
    /// Static off-limb modulation (streamers) and plume column (bin 2).
    streamer: Vec<f32>,
    plume: Vec<f32>,
    // radial column tables
    tab_step: f32,
    tabs: Vec<[f32; NB]>,
    octaves: u32,
    ars: Vec<ActiveRegion>,
    holes: Vec<CoronalHole>,
    polar_n: f32,
    polar_s: f32,
    filaments: Vec<Filament>,
    scene: Scene,
}

const S_AR: u64 = 1;
const S_CH: u64 = 2;
const S_FIL: u64 = 3;
const S_FLARE: u64 = 4;
const S_ERUPT: u64 = 5;
const S_NOISE: u64 = 6;
const S_EXPO: u64 = 7;
const S_STREAM: u64 = 8;
const S_TEX: u64 = 9;

const FLARE_SLOT_S: f64 = 1800.0;
const FLARE_P: f64 = 0.3;
const FLARE_LOOKBACK_S: f64 = 6.0 * 3600.0;
const ERUPT_SLOT_S: f64 = 4.0 * 3600.0;
const ERUPT_P: f64 = 0.5;

impl Model {
    pub fn new(cfg: &SunConfig) -> Model {
        let (w, h) = (cfg.width as usize, cfg.height as usize);
        let (cx, cy, r_px) = match cfg.view {
            None => ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0, 0.8 * w.min(h) as f32 / 2.0),
            Some(v) => {
                let f = v.full_size as f32;
                ((f - 1.0) / 2.0 - v.x0 as f32, (f - 1.0) / 2.0 - v.y0 as f32, 0.8 * f / 2.0)
            }
        };
        let seed = cfg.seed;
        let n = w * h;
        let mut rho = vec![0f32; n];
        let mut lat = vec![0f32; n];
        let mut lon = vec![0f32; n];
        let mut om = vec![0f32; n];
        let mut streamer = vec![1f32; n];
        let mut plume = vec![0f32; n];

        // Streamers and plumes: static functions of position angle.
        let mut rs = Rng::new(seed, S_STREAM);
        let n_str = 3 + rs.below(4) as usize;
        let streamers: Vec<(f32, f32, f32)> = (0..n_str)
            .map(|_| {
                let side = if rs.f64() < 0.5 { 90.0 } else { 270.0 };
                let pa = (side + rs.normal() * 25.0) as f32 * DEG;
                (pa, rs.range(8.0, 18.0) as f32 * DEG, rs.range(0.3, 1.0) as f32)
            })
            .collect();
        let n_pl = 14;
        let plumes: Vec<(f32, f32, f32)> = (0..n_pl)
            .map(|i| {
                let pole = if i % 2 == 0 { 0.0 } else { 180.0 };
                let pa = (pole + rs.range(-28.0, 28.0)) as f32 * DEG;
                (pa, rs.range(0.6, 1.6) as f32 * DEG, rs.range(0.5, 1.5) as f32)
            })
            .collect();

        let mut rmax = 0f32;
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                let px = (x as f32 - cx) / r_px;
                let py = (cy - y as f32) / r_px;
                let r = (px * px + py * py).sqrt();
                rmax = rmax.max(r);
                rho[i] = r;
                let v = if r < 1.0 {
                    [px, py, (1.0 - r * r).sqrt()]
                } else {
                    [px / r, py / r, 0.0]
                };
                let la = v[1].clamp(-1.0, 1.0).asin();
                lat[i] = la;
                lon[i] = v[0].atan2(v[2]);
                om[i] = omega(la);
                if r >= 1.0 {
                    let pa = px.atan2(py); // 0 = north, +90 deg = west
                    let hgt = r - 1.0;
                    let mut s = 1.0f32;
                    for &(p0, wd, a) in &streamers {
                        let d = wrap(pa - p0);
                        // streamers narrow with height (cusp) and extend far
                        let wh = wd * (1.0 - 0.5 * (hgt / 0.5).min(1.0));
                        s += a * (-0.5 * (d / wh).powi(2)).exp() * (hgt / 0.08).min(1.0);
                    }
                    streamer[i] = s;
                    let mut pl = 0.0f32;
                    for &(p0, wd, a) in &plumes {
                        // plumes are superradial: width grows with height
                        let d = wrap(pa - p0);
                        let wh = wd * (1.0 + 1.5 * hgt);
                        pl += a * (-0.5 * (d / wh).powi(2)).exp();
                    }
                    plume[i] = pl * (-hgt / 0.25).exp() * (hgt / 0.01).min(1.0);
                }
            }
        }

        // Radial column tables.
        let nt = 2048usize;
        let tab_step = (rmax + 0.01) / (nt - 1) as f32;
        let tabs = column_tables(nt, tab_step);

        let octaves = {
            let fmax = r_px / 1.6;
            let mut o = 1u32;
            let mut f = 6.0f32;
            while f * 2.03 < fmax && o < 9 {
                f *= 2.03;
                o += 1;
            }
            o.max(3)
        };
        let arcsec_px = 960.0 / r_px;

        // Active regions.
        let mut ra = Rng::new(seed, S_AR);
        let mut n_ar = 3 + ra.below(6) as usize;
        if cfg.scene == Scene::LimbFlare {
            n_ar = n_ar.max(1);
        }
        let mut ars = Vec::with_capacity(n_ar);
        for k in 0..n_ar {
            let mut r = Rng::new(seed, S_AR * 1000 + k as u64 + 1);
            let hemi = if r.f64() < 0.5 { 1.0 } else { -1.0 };
            let mut la = (hemi * r.range(7.0, 32.0)) as f32 * DEG;
            let mut lo = r.range(-180.0, 180.0) as f32 * DEG;
            let mut sigma = r.range(2.5, 6.0) as f32 * DEG;
            let mut strength = (r.normal() * 0.5).exp() as f32;
            if cfg.scene == Scene::LimbFlare && k == 0 {
                la = 12.0 * DEG;
                lo = 93.0 * DEG;
                sigma = 3.0 * DEG;
                strength = 1.6;
            }
            let c = sph(la, lo);
            let tilt = (la / DEG * 0.5 + r.normal() as f32 * 10.0) * DEG * -hemi.signum() as f32;
            let d = 1.2 * sigma;
            let (ae, an) = (tilt.cos(), tilt.sin());
            let pos = offset(c, -0.5 * d * ae, -0.5 * d * an);
            let neg = offset(c, 0.5 * d * ae, 0.5 * d * an);
            let mut strands = Vec::new();
            let kinds: [(usize, f32, usize, f32, f32, f32); 3] = [
                // (count, spread (x d), bin, aspect lo, hi, amp)
                (45, 0.35, 4, 0.5, 1.0, 3.0),
                (55, 0.6, 3, 0.7, 1.2, 2.5),
                (60, 0.3, 2, 0.5, 0.9, 3.0),
            ];
            for (kind, &(count, spread, bin, alo, ahi, amp)) in kinds.iter().enumerate() {
                for _ in 0..count {
                    let a = offset(pos, r.normal() as f32 * spread * d, r.normal() as f32 * spread * d);
                    let b = if kind == 2 {
                        // fan loops: from one polarity out to distant quiet Sun
                        let ang = r.range(0.0, std::f64::consts::TAU) as f32;
                        let dist = r.range(1.0, 2.0) as f32 * d;
                        offset(c, dist * ang.cos(), dist * ang.sin())
                    } else {
                        offset(neg, r.normal() as f32 * spread * d, r.normal() as f32 * spread * d)
                    };
                    let (a, b) = if kind == 2 && r.f64() < 0.5 {
                        (offset(neg, r.normal() as f32 * spread * d, r.normal() as f32 * spread * d), b)
                    } else {
                        (a, b)
                    };
                    let aspect = r.range(alo as f64, ahi as f64) as f32;
                    let incl = r.normal() as f32 * 0.35;
                    let mut em = [0f32; NB];
                    em[bin] = amp * strength * (r.normal() * 0.7).exp() as f32;
                    let sig_arcsec = r.range(0.5, 1.3) as f32;
                    strands.push(make_strand(
                        a,
                        b,
                        aspect,
                        incl,
                        em,
                        sig_arcsec / arcsec_px,
                        r_px,
                        r.range(200.0, 1200.0) as f32,
                        r.range(0.0, std::f64::consts::TAU) as f32,
                        BIN_H[bin],
                    ));
                }
            }
            ars.push(ActiveRegion { lat: la, c, pos, neg, sigma, strength, strands, axis_e: ae, axis_n: an });
        }

        // Coronal holes.
        let mut rc = Rng::new(seed, S_CH);
        let polar_n = rc.range(55.0, 68.0) as f32 * DEG;
        let polar_s = rc.range(55.0, 68.0) as f32 * DEG;
        let n_ch = rc.below(3) as usize;
        let holes = (0..n_ch)
            .map(|_| {
                let la = rc.range(-40.0, 40.0) as f32 * DEG;
                let lo = rc.range(-180.0, 180.0) as f32 * DEG;
                let r = rc.range(5.0, 13.0) as f32 * DEG;
                CoronalHole { c: sph(la, lo), cos_r: (2.0 * r).cos(), r }
            })
            .collect();

        // Filaments: random walks on the sphere, roughly east-west.
        let mut rf = Rng::new(seed, S_FIL);
        let n_fil = 2 + rf.below(5) as usize;
        let mut filaments = Vec::new();
        for k in 0..n_fil {
            let hemi = if rf.f64() < 0.5 { 1.0 } else { -1.0 };
            let mut la = (hemi * rf.range(15.0, 50.0)) as f32 * DEG;
            let mut lo = rf.range(-180.0, 180.0) as f32 * DEG;
            if cfg.scene == Scene::LimbFlare && k == 0 {
                la = 25.0 * DEG;
                lo = -30.0 * DEG;
            }
            let len = rf.range(8.0, 25.0) as f32 * DEG;
            let mut dir = rf.range(-0.6, 0.6) as f32;
            let step = 0.5 / r_px; // half-pixel steps (radians at disk centre)
            let nst = (len / step) as usize;
            let mut pts = Vec::with_capacity(nst);
            let mut p = sph(la, lo);
            for _ in 0..nst {
                pts.push(p);
                dir += rf.normal() as f32 * 0.03;
                dir = dir.clamp(-1.0, 1.0);
                p = offset(p, step * dir.cos(), step * dir.sin());
            }
            filaments.push(Filament {
                lat: la,
                pts,
                width_px: (rf.range(0.25, 0.6) as f32 * DEG * r_px).max(0.7),
                opacity: rf.range(0.45, 0.8) as f32,
                height: rf.range(0.02, 0.06) as f32,
            });
        }

        Model {
            w,
            h,
            cx,
            cy,
            r_px,
            seed,
            rho,
            lat,
            lon,
            om,
            streamer,
            plume,
            tab_step,
            tabs,
            octaves,
            ars,
            holes,
            polar_n,
            polar_s,
            filaments,
            scene: cfg.scene,
        }
    }

    pub fn exposure(&self, cfg: &SunConfig, wl: Wavelength, t_index: u64) -> f64 {
        let nominal = CHANNEL_INFO[wl.index()].exposure as f64;
        if cfg.exposure_changes && t_index % 2 == 0 {
            let u = unit(hash3(self.seed, S_EXPO, t_index));
            nominal * (0.12 + 0.6 * u)
        } else {
            nominal
        }
    }

    #[inline]
    fn column(&self, r: f32) -> [f32; NB] {
        let f = r / self.tab_step;
        let i = (f as usize).min(self.tabs.len() - 2);
        let a = (f - i as f32).min(1.0);
        let (t0, t1) = (&self.tabs[i], &self.tabs[i + 1]);
        let mut o = [0f32; NB];
        for b in 0..NB {
            o[b] = t0[b] + a * (t1[b] - t0[b]);
        }
        o
    }

    /// Surface emission measure per bin at Carrington unit vector `v`.
    #[inline]
    fn surface(&self, v: [f32; 3], t: f32) -> [f32; NB] {
        let s = self.seed ^ S_TEX;
        let oct = self.octaves;
        let n1 = fbm(s, v, 3.0, oct, 0.7);
        let n2 = fbm(s.wrapping_add(77), v, 5.0, oct, 0.82);
        let net = ridged(s.wrapping_add(991), v, 38.0, 2);
        let euv = (1.6 * n1 + 1.0 * n2).exp();
        let euv2 = (1.0 * n1 + 0.3 * n2 + 0.25 * net).exp();
        let mut em = [0f32; NB];
        em[0] = 0.85 + 0.35 * net + 0.1 * n2;
        em[1] = 0.6 + 0.9 * net + 0.25 * euv;
        em[2] = euv * (0.75 + 0.6 * net);
        em[3] = euv2;
        em[4] = 0.12 * (1.3 * n1).exp();
        em[5] = 0.002;

        // Coronal holes (polar caps with ragged boundaries, a few low-latitude). The cap
        // boundary wanders by up to ~15 deg in latitude along its length (lobes and
        // tongues, as real polar holes have): a boundary at one latitude is seen edge-on
        // as a straight horizontal chord across the disk, which the Sun never shows.
        let la = v[1].clamp(-1.0, 1.0).asin();
        let mut ch = 0.0f32;
        if la.abs() > self.polar_n.min(self.polar_s) - 20.0 * DEG {
            let wander = fbm(s.wrapping_add(4243), v, 2.2, 3, 0.55);
            let edge = 14.0 * DEG * wander + 3.0 * DEG * n2;
            ch = smooth((la - self.polar_n + edge) / (4.0 * DEG))
                .max(smooth((-la - self.polar_s + edge) / (4.0 * DEG)));
        }
        for hole in &self.holes {
            let d = dot(v, hole.c);
            if d > hole.cos_r {
                let ang = d.clamp(-1.0, 1.0).acos();
                ch = ch.max(smooth((hole.r - ang + 3.0 * DEG * n1) / (3.0 * DEG)));
            }
        }
        if ch > 0.0 {
            const DEPTH: [f32; NB] = [0.0, 0.3, 0.75, 0.9, 0.93, 0.5];
            for b in 0..NB {
                em[b] *= 1.0 - DEPTH[b] * ch;
            }
        }

        // Active regions: diffuse hot core, plage, sunspots.
        for ar in &self.ars {
            let d = dot(v, ar.c);
            let cut = (4.0 * ar.sigma).cos();
            if d < cut {
                continue;
            }
            let ang2 = 2.0 * (1.0 - d); // ~ angle^2
            let g = (-ang2 / (2.0 * ar.sigma * ar.sigma)).exp();
            let a = ar.strength * (1.0 + 0.35 * n2 + 0.15 * (t / 3000.0 + ar.lat * 9.0).sin());
            em[2] += 1.2 * a * g;
            em[3] += 12.0 * a * g * g.sqrt();
            em[4] += 10.0 * a * g * g;
            em[5] += 0.01 * a * g * g * g;
            // plage around the polarities (network-like, very bright in 1600/304)
            let gp = (-(2.0 * (1.0 - dot(v, ar.pos))) / (2.0 * (0.45 * ar.sigma).powi(2))).exp()
                + (-(2.0 * (1.0 - dot(v, ar.neg))) / (2.0 * (0.5 * ar.sigma).powi(2))).exp();
            let plage = gp * (0.6 + 1.5 * net + 0.6 * n2).max(0.0);
            em[0] += 0.9 * ar.strength * plage;
            em[1] += 2.5 * ar.strength * plage;
            em[2] += 0.6 * ar.strength * plage; // moss
            // sunspot umbra/penumbra at the leading polarity
            let ds = 2.0 * (1.0 - dot(v, ar.pos));
            let rs2 = (0.18 * ar.sigma * ar.strength.sqrt()).powi(2);
            if ds < 4.0 * rs2 {
                let pen = smooth((2.0 * rs2 - ds) / rs2);
                let umb = smooth((0.6 * rs2 - ds) / (0.3 * rs2));
                em[0] = em[0] * (1.0 - 0.55 * pen) * (1.0 - 0.6 * umb);
            }
        }
        em
    }

    /// Expected rates (DN/s, 14-bit scale) for the requested channels.
    pub fn rates(&self, cfg: &SunConfig, t_index: u64, chans: &[usize]) -> Vec<Vec<f32>> {
        let t = (t_index as f64 * cfg.cadence_s) as f32;
        let n = self.w * self.h;
        let resp: Vec<[f32; NB]> = chans.iter().map(|&c| CHANNEL_INFO[cfg.wavelengths[c].index()].response).collect();
        let absorb: Vec<f32> = chans.iter().map(|&c| CHANNEL_INFO[cfg.wavelengths[c].index()].absorb).collect();
        let mut bufs = vec![vec![0f32; n]; chans.len()];

        // Filament opacity and prominence emission (bin 1, plus a little cool EUV).
        let mut opac = vec![0f32; n];
        let mut prom = vec![0f32; n];
        for f in &self.filaments {
            let th = omega(f.lat) * t;
            let (s, c) = th.sin_cos();
            for (j, &p0) in f.pts.iter().enumerate() {
                let p = roty(p0, c, s);
                if p[2] > 0.0 {
                    self.splat1(&mut opac, p, f.width_px, f.opacity * 0.5 / self.r_px * 2.0 * f.width_px);
                }
                // prominence sheet: visible above the limb
                let nh = 6;
                let wob = 1.0 + 0.3 * ((j as f32) * 0.05 + t / 2000.0).sin();
                for k in 1..=nh {
                    let hh = f.height * wob * k as f32 / nh as f32;
                    let q = [p[0] * (1.0 + hh), p[1] * (1.0 + hh), p[2] * (1.0 + hh)];
                    let rr = (q[0] * q[0] + q[1] * q[1]).sqrt();
                    // off the projected disk it is visible whether in front of or behind the limb
                    if rr > 1.0 {
                        self.splat1(&mut prom, q, (f.width_px * 0.6).max(0.7), 1.2);
                        self.splat1(&mut opac, q, (f.width_px * 0.6).max(0.7), 0.25);
                    }
                }
            }
        }

        // Pixel pass: background plasma.
        for i in 0..n {
            let r = self.rho[i];
            let lo = self.lon[i] - self.om[i] * t;
            let la = self.lat[i];
            let (sl, cl) = lo.sin_cos();
            let (sa, ca) = la.sin_cos();
            let v = [ca * sl, sa, ca * cl];
            let mut em = self.surface(v, t);
            let col = self.column(r);
            for b in 0..NB {
                em[b] *= col[b];
            }
            if r >= 1.0 {
                let st = self.streamer[i];
                em[3] *= st;
                em[4] *= st;
                em[2] *= 0.5 + 0.5 * st;
                em[2] += 0.25 * self.plume[i];
            }
            let op = opac[i].min(0.95);
            for (k, buf) in bufs.iter_mut().enumerate() {
                let rv = &resp[k];
                let mut s = 0.0;
                for b in 0..NB {
                    s += rv[b] * em[b];
                }
                buf[i] = s * (1.0 - absorb[k] * op);
            }
        }
        for (k, buf) in bufs.iter_mut().enumerate() {
            let r1 = resp[k][1];
            let r2 = resp[k][2] * 0.05;
            if r1 + r2 > 0.0 {
                for i in 0..n {
                    buf[i] += (r1 + r2) * prom[i];
                }
            }
        }
        drop(prom);
        drop(opac);

        // Loops (thin strands) with slow brightness evolution.
        for ar in &self.ars {
            let th = omega(ar.lat) * t;
            let (s, c) = th.sin_cos();
            for st in &ar.strands {
                let cen = roty(st.center, c, s);
                if !self.may_see(cen, st.radius) {
                    continue;
                }
                let mut wk = vec![0f32; resp.len()];
                let mut any = false;
                let ph = (std::f32::consts::TAU * t / st.period_s + st.phase).sin();
                let evo = 0.15 + 1.7 * (0.5 + 0.5 * ph).powi(3);
                for (k, rv) in resp.iter().enumerate() {
                    let mut v = 0.0;
                    for b in 0..NB {
                        v += rv[b] * st.em[b];
                    }
                    wk[k] = v * evo;
                    any |= v > 0.0;
                }
                if !any {
                    continue;
                }
                self.splat_strand(&mut bufs, &wk, st, c, s, 1.0);
            }
        }

        // Flares.
        self.flares(t as f64, &resp, &mut bufs);
        // Eruptions.
        self.eruptions(t as f64, &resp, &mut bufs);
        bufs
    }

    fn may_see(&self, p: [f32; 3], rad: f32) -> bool {
        let x = self.cx + self.r_px * p[0];
        let y = self.cy - self.r_px * p[1];
        let m = rad * self.r_px + 4.0;
        if x < -m || y < -m || x > self.w as f32 + m || y > self.h as f32 + m {
            return false;
        }
        // fully behind the disk?
        let rr = (p[0] * p[0] + p[1] * p[1]).sqrt();
        !(p[2] < 0.0 && rr + rad < 1.0)
    }

    /// Gaussian splat of `amount` (integrated) into one buffer.
    fn splat1(&self, buf: &mut [f32], p: [f32; 3], sigma: f32, amount: f32) {
        let x = self.cx + self.r_px * p[0];
        let y = self.cy - self.r_px * p[1];
        splat(buf, self.w, self.h, x, y, sigma, amount, |_, _| 1.0);
    }

    fn splat_strand(&self, bufs: &mut [Vec<f32>], wk: &[f32], st: &Strand, c: f32, s: f32, gain: f32) {
        let sig = st.sigma_px.max(0.6);
        let base = gain * st.ds_px * (2.0 * PI).sqrt() * st.sigma_px;
        for p0 in &st.pts {
            let p = roty(*p0, c, s);
            let rr2 = p[0] * p[0] + p[1] * p[1];
            if p[2] < 0.0 && rr2 < 1.0 {
                continue; // occulted by the disk
            }
            let hgt = (rr2 + p[2] * p[2]).sqrt() - 1.0;
            let a = base * (-hgt.max(0.0) / st.scale_h).exp();
            let x = self.cx + self.r_px * p[0];
            let y = self.cy - self.r_px * p[1];
            for (k, buf) in bufs.iter_mut().enumerate() {
                if wk[k] > 0.0 {
                    splat(buf, self.w, self.h, x, y, sig, a * wk[k], |_, _| 1.0);
                }
            }
        }
    }

    fn flare_events(&self, t: f64) -> Vec<(f64, usize, f32, f32, f32, u64)> {
        // (t0, ar, magnitude, tau_rise, tau_decay, id)
        let mut ev = Vec::new();
        if self.ars.is_empty() {
            return ev;
        }
        let k0 = ((t - FLARE_LOOKBACK_S) / FLARE_SLOT_S).floor() as i64;
        let k1 = (t / FLARE_SLOT_S).floor() as i64;
        for k in k0..=k1 {
            let h = hash3(self.seed, S_FLARE, k as u64);
            if unit(h) >= FLARE_P {
                continue;
            }
            let mut r = Rng::new(h, 1);
            let t0 = (k as f64 + r.f64()) * FLARE_SLOT_S;
            let ar = r.below(self.ars.len() as u64) as usize;
            let mag = 10f64.powf(r.range(0.0, 1.6)) as f32;
            let tr = r.range(60.0, 400.0) as f32;
            let td = r.range(600.0, 2400.0) as f32;
            if t >= t0 {
                ev.push((t0, ar, mag, tr, td, h));
            }
        }
        if self.scene == Scene::LimbFlare {
            ev.push((-2.0 * 3600.0, 0, 8.0, 1200.0, 5000.0, 0xF1A2E));
        }
        ev
    }

    fn flares(&self, t: f64, resp: &[[f32; NB]], bufs: &mut [Vec<f32>]) {
        for (t0, ai, mag, tr, td, id) in self.flare_events(t) {
            let dt = (t - t0) as f32;
            if dt > 8.0 * td {
                continue;
            }
            let ar = &self.ars[ai];
            let th = omega(ar.lat) * t as f32;
            let (s, c) = th.sin_cos();
            let lc = (1.0 - (-dt / tr).exp()) * (-dt / td).exp();
            let imp = (-dt / (0.7 * tr)).exp() * (1.0 - (-dt / 20.0).exp());
            // the arcade cools: log T from ~7.1 down to ~5.9 over a few decay times
            let logt = 7.1 - 1.2 * (dt / (2.5 * td)).min(1.0).powf(0.7);
            let dem = dem_weights(logt);
            let mut r = Rng::new(id, 2);
            let along = r.range(-0.5, 0.5) as f32 * ar.sigma;
            let cen = offset(ar.c, along * -ar.axis_n, along * ar.axis_e);
            let narc = 18;
            let len = ar.sigma * r.range(0.5, 1.0) as f32;
            let foot = 0.25 * ar.sigma * (1.0 + dt / td).min(3.0);
            let arcsec_px = 960.0 / self.r_px;
            for j in 0..narc {
                let u = j as f32 / (narc - 1) as f32 - 0.5;
                // points along the neutral line (perpendicular to the bipole axis)
                let m = offset(cen, u * len * -ar.axis_n, u * len * ar.axis_e);
                let a = offset(m, -foot * ar.axis_e, -foot * ar.axis_n);
                let b = offset(m, foot * ar.axis_e, foot * ar.axis_n);
                let mut em = [0f32; NB];
                for bb in 1..NB {
                    em[bb] = 5.0 * mag * lc * dem[bb];
                }
                let st = make_strand(a, b, 1.0, r.normal() as f32 * 0.15, em, 1.5 / arcsec_px, self.r_px, 1e9, 0.0, 0.3);
                let cc = roty(st.center, c, s);
                if !self.may_see(cc, st.radius) {
                    continue;
                }
                let fp = r.range(300.0, 1500.0) as f32;
                let fph = r.range(0.0, std::f64::consts::TAU) as f32;
                let evo = 0.3 + 1.4 * (0.5 + 0.5 * (std::f32::consts::TAU * t as f32 / fp + fph).sin()).powi(2);
                let wk: Vec<f32> = resp.iter().map(|rv| evo * (0..NB).map(|b| rv[b] * st.em[b]).sum::<f32>()).collect();
                self.splat_strand(bufs, &wk, &st, c, s, 1.0);
                // ribbons at both footpoints (transition region + UV continuum)
                for fp in [a, b] {
                    let p = roty(fp, c, s);
                    if p[2] <= 0.0 {
                        continue;
                    }
                    let amt_px = self.r_px * len / narc as f32;
                    for (k, rv) in resp.iter().enumerate() {
                        let v = (rv[0] * 3.0 + rv[1] * 6.0 + rv[5] * 0.1) * mag * imp * amt_px * 0.4;
                        if v > 0.0 {
                            self.splat1(&mut bufs[k], p, 1.2, v);
                        }
                    }
                }
            }
            // compact hot kernel above the arcade (saturates, blooms)
            let top = roty(cen, c, s);
            let top = [top[0] * 1.02, top[1] * 1.02, top[2] * 1.02];
            let rr2 = top[0] * top[0] + top[1] * top[1];
            if !(top[2] < 0.0 && rr2 < 1.0) {
                let sig = (0.004 * self.r_px).max(1.0);
                for (k, rv) in resp.iter().enumerate() {
                    let v: f32 = (1..NB).map(|b| rv[b] * dem[b]).sum::<f32>() * 60.0 * mag * lc * 2.0 * PI * sig * sig;
                    if v > 0.0 {
                        self.splat1(&mut bufs[k], top, sig, v);
                    }
                }
            }
        }
    }

    fn eruptions(&self, t: f64, resp: &[[f32; NB]], bufs: &mut [Vec<f32>]) {
        let k1 = (t / ERUPT_SLOT_S).floor() as i64;
        for k in (k1 - 1)..=k1 {
            let h = hash3(self.seed, S_ERUPT, k as u64);
            if unit(h) >= ERUPT_P {
                continue;
            }
            let mut r = Rng::new(h, 1);
            let t0 = (k as f64 + r.f64()) * ERUPT_SLOT_S;
            let dt = (t - t0) as f32;
            if dt < 0.0 {
                continue;
            }
            let v_rs = r.range(250.0, 1200.0) as f32 / 696_000.0; // R_sun per s
            let pa = if r.f64() < 0.5 { 90.0 } else { 270.0 } + r.normal() * 30.0;
            let pa = pa as f32 * DEG;
            let hgt = 0.03 + v_rs * dt * (1.0 - (-dt / 600.0).exp()).max(0.05);
            if hgt > 2.5 {
                continue;
            }
            let amp = 3.0 / (1.0 + 4.0 * hgt).powi(2) * (dt / 300.0).min(1.0);
            let (ux, uy) = (pa.sin(), pa.cos());
            let dc = 1.0 + 0.55 * hgt;
            let rb = 0.45 * hgt + 0.02;
            let (bx, by) = (self.cx + self.r_px * ux * dc, self.cy - self.r_px * uy * dc);
            let rbp = rb * self.r_px;
            let wth = (0.15 * rbp).max(1.0);
            let x0 = ((bx - rbp - 3.0 * wth).floor().max(0.0)) as usize;
            let x1 = ((bx + rbp + 3.0 * wth).ceil().min(self.w as f32 - 1.0)).max(-1.0);
            let y0 = ((by - rbp - 3.0 * wth).floor().max(0.0)) as usize;
            let y1 = ((by + rbp + 3.0 * wth).ceil().min(self.h as f32 - 1.0)).max(-1.0);
            if x1 < 0.0 || y1 < 0.0 {
                continue;
            }
            let (x1, y1) = (x1 as usize, y1 as usize);
            let wts: Vec<f32> = resp.iter().map(|rv| rv[2] * 0.6 + rv[3] * 1.0 + rv[4] * 0.3).collect();
            let wcore: Vec<f32> = resp.iter().map(|rv| rv[1] * 1.0 + rv[2] * 0.1).collect();
            for y in y0..=y1.min(self.h - 1) {
                for x in x0..=x1.min(self.w - 1) {
                    let i = y * self.w + x;
                    if self.rho[i] < 1.0 {
                        continue;
                    }
                    let dx = x as f32 - bx;
                    let dy = y as f32 - by;
                    let d = (dx * dx + dy * dy).sqrt();
                    let ring = (-0.5 * ((d - rbp) / wth).powi(2)).exp();
                    let inner = if d < rbp { 0.25 } else { 0.0 };
                    let core = (-0.5 * (d / (0.3 * rbp).max(1.0)).powi(2)).exp();
                    let fade = ((self.rho[i] - 1.0) / 0.02).min(1.0);
                    for k in 0..bufs.len() {
                        bufs[k][i] += fade * amp * (wts[k] * (ring + inner) + wcore[k] * 2.0 * core);
                    }
                }
            }
        }
    }

    /// Full render: rates -> exposure -> photon/read noise -> blooming -> clip.
    pub fn render(&self, cfg: &SunConfig, t_index: u64, chans: &[usize], outs: &mut [&mut [u16]]) {
        let rates = self.rates(cfg, t_index, chans);
        let maxv = cfg.max_dn() as f32;
        let bd_scale = (2f32).powi(cfg.bit_depth as i32 - 14);
        for (k, &c) in chans.iter().enumerate() {
            let wl = cfg.wavelengths[c];
            let info = &CHANNEL_INFO[wl.index()];
            let expo = self.exposure(cfg, wl, t_index) as f32;
            let gain = info.gain * bd_scale;
            let rn = info.read_noise * bd_scale;
            let mut dn = rates[k].clone();
            let nseed = hash3(self.seed, S_NOISE, t_index.wrapping_mul(16).wrapping_add(wl.index() as u64));
            for (i, v) in dn.iter_mut().enumerate() {
                let mu = (*v * expo * bd_scale).max(0.0);
                if cfg.noise {
                    let h = hash2(nseed, i as u64);
                    let lam = mu / gain;
                    let u1 = ((h >> 40) as f32 + 0.5) * (1.0 / (1u64 << 24) as f32);
                    let u2 = (((h >> 16) & 0xff_ffff) as f32) * (1.0 / (1u64 << 24) as f32);
                    let rmag = (-2.0 * u1.ln()).sqrt();
                    let (sn, cs) = (std::f32::consts::TAU * u2).sin_cos();
                    let photons = if lam < 25.0 {
                        poisson_small(lam, hash2(nseed ^ 0x5eed, i as u64))
                    } else {
                        (lam + lam.sqrt() * rmag * cs).max(0.0)
                    };
                    *v = photons * gain + rn * rmag * sn;
                } else {
                    *v = mu;
                }
            }
            bloom(&mut dn, self.w, self.h, maxv);
            let out = &mut outs[k];
            for (o, v) in out.iter_mut().zip(dn.iter()) {
                *o = v.round().clamp(0.0, maxv) as u16;
            }
        }
    }
}

fn poisson_small(lam: f32, h: u64) -> f32 {
    // inversion by sequential search; lam < 25
    let u = unit(h) as f32;
    let mut p = (-lam).exp();
    let mut cdf = p;
    let mut k = 0u32;
    while u > cdf && k < 100 {
        k += 1;
        p *= lam / k as f32;
        cdf += p;
    }
    k as f32
}

/// CCD blooming: charge above full well spills up and down the column.
fn bloom(dn: &mut [f32], w: usize, h: usize, cap: f32) {
    if !dn.iter().any(|&v| v > cap) {
        return;
    }
    for x in 0..w {
        let mut any = false;
        for y in 0..h {
            if dn[y * w + x] > cap {
                any = true;
                break;
            }
        }
        if !any {
            continue;
        }
        let mut excess: Vec<f32> = (0..h).map(|y| (dn[y * w + x] - cap).max(0.0)).collect();
        for y in 0..h {
            let i = y * w + x;
            dn[i] = dn[i].min(cap);
        }
        // down
        let mut carry = 0.0f32;
        for y in 0..h {
            let i = y * w + x;
            let v = dn[i] + carry + 0.5 * excess[y];
            if v > cap {
                carry = v - cap;
                dn[i] = cap;
            } else {
                carry = 0.0;
                dn[i] = v;
            }
        }
        carry = 0.0;
        for y in (0..h).rev() {
            let i = y * w + x;
            let v = dn[i] + carry + 0.5 * excess[y];
            excess[y] = 0.0;
            if v > cap {
                carry = v - cap;
                dn[i] = cap;
            } else {
                carry = 0.0;
                dn[i] = v;
            }
        }
    }
}

#[inline]
fn smooth(x: f32) -> f32 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

#[inline]
fn wrap(a: f32) -> f32 {
    let mut a = a % (2.0 * PI);
    if a > PI {
        a -= 2.0 * PI;
    }
    if a < -PI {
        a += 2.0 * PI;
    }
    a
}

#[allow(clippy::too_many_arguments)]
fn splat(buf: &mut [f32], w: usize, h: usize, x: f32, y: f32, sigma: f32, amount: f32, _f: impl Fn(usize, usize) -> f32) {
    let rad = (2.5 * sigma).ceil() as i32;
    let xi = x.round() as i32;
    let yi = y.round() as i32;
    if xi + rad < 0 || yi + rad < 0 || xi - rad >= w as i32 || yi - rad >= h as i32 {
        return;
    }
    let mut wx = [0f32; 64];
    let mut wy = [0f32; 64];
    let n = (2 * rad + 1).min(64) as usize;
    let inv = -0.5 / (sigma * sigma);
    let mut sx = 0.0;
    let mut sy = 0.0;
    for j in 0..n {
        let dx = (xi - rad + j as i32) as f32 - x;
        let dy = (yi - rad + j as i32) as f32 - y;
        wx[j] = (dx * dx * inv).exp();
        wy[j] = (dy * dy * inv).exp();
        sx += wx[j];
        sy += wy[j];
    }
    let norm = amount / (sx * sy);
    for jy in 0..n {
        let yy = yi - rad + jy as i32;
        if yy < 0 || yy >= h as i32 {
            continue;
        }
        let row = &mut buf[yy as usize * w..(yy as usize + 1) * w];
        let a = wy[jy] * norm;
        for jx in 0..n {
            let xx = xi - rad + jx as i32;
            if xx < 0 || xx >= w as i32 {
                continue;
            }
            row[xx as usize] += a * wx[jx];
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn make_strand(
    a: [f32; 3],
    b: [f32; 3],
    aspect: f32,
    incl: f32,
    em: [f32; NB],
    sigma_px: f32,
    r_px: f32,
    period_s: f32,
    phase: f32,
    scale_h: f32,
) -> Strand {
    let m = [(a[0] + b[0]) * 0.5, (a[1] + b[1]) * 0.5, (a[2] + b[2]) * 0.5];
    let u = [(a[0] - b[0]) * 0.5, (a[1] - b[1]) * 0.5, (a[2] - b[2]) * 0.5];
    let half = dot(u, u).sqrt().max(1e-6);
    let nrm = norm(m);
    // tilt the loop plane about the chord by `incl`
    let uh = [u[0] / half, u[1] / half, u[2] / half];
    let side = norm(cross(uh, nrm));
    let wdir = norm(add([nrm[0] * incl.cos(), nrm[1] * incl.cos(), nrm[2] * incl.cos()], side, incl.sin()));
    let hh = half * aspect;
    // lift the chord midpoint back to the surface so loops start at the surface
    let lift = 1.0 - dot(m, m).sqrt();
    let len_px = PI * 0.5 * (half + hh) * r_px;
    let ns = ((len_px / 0.5).ceil() as usize).clamp(8, 20000);
    let mut pts = Vec::with_capacity(ns);
    for j in 0..ns {
        let th = PI * (j as f32 + 0.5) / ns as f32;
        let mut p = add(m, u, th.cos());
        p = add(p, nrm, lift * th.sin());
        p = add(p, wdir, hh * th.sin());
        pts.push(p);
    }
    let center = add(m, wdir, 0.5 * hh);
    let radius = half.max(hh) * 1.2;
    Strand { pts, ds_px: len_px / ns as f32, em, sigma_px, period_s, phase, center, radius, scale_h }
}

fn cross(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

/// Line-of-sight column of each bin's atmosphere vs projected radius,
/// normalised to 1 at disk centre.
fn column_tables(nt: usize, step: f32) -> Vec<[f32; NB]> {
    let dens = |b: usize, rr: f64| -> f64 {
        let hgt = (rr - 1.0).max(0.0);
        (-hgt / BIN_H[b] as f64).exp() + BIN_TAIL[b] as f64 * rr.powf(-6.0)
    };
    let integ = |b: usize, r: f64| -> f64 {
        // integrate density along s from s0 outward
        let (s0, twice) = if r < 1.0 { ((1.0 - r * r).sqrt(), false) } else { (0.0, true) };
        let umax = 6.0f64;
        let m = 300;
        let a = 12.0f64;
        let mut acc = 0.0;
        let mut prev_u = 0.0;
        let mut prev_f = dens(b, (r * r + s0 * s0).sqrt());
        for k in 1..=m {
            let u = umax * (((a * k as f64 / m as f64).exp() - 1.0) / (a.exp() - 1.0));
            let s = s0 + u;
            let f = dens(b, (r * r + s * s).sqrt());
            acc += 0.5 * (f + prev_f) * (u - prev_u);
            prev_u = u;
            prev_f = f;
        }
        if twice { 2.0 * acc } else { acc }
    };
    let mut center = [0f64; NB];
    for b in 0..NB {
        center[b] = integ(b, 0.0);
    }
    (0..nt)
        .map(|i| {
            let r = (i as f32 * step) as f64;
            let mut o = [0f32; NB];
            for b in 0..NB {
                let thin = integ(b, r) / center[b];
                let thick = if r < 1.0 {
                    if b == 0 {
                        // UV continuum limb darkening
                        let mu = (1.0 - r * r).sqrt();
                        1.0 - 0.65 * (1.0 - mu)
                    } else {
                        1.0
                    }
                } else {
                    let base = if b == 0 { 0.35 } else { 1.0 };
                    base * (-(r - 1.0) / BIN_H[b] as f64).exp()
                };
                let f = BIN_THIN[b] as f64;
                o[b] = ((1.0 - f) * thick + f * thin) as f32;
            }
            o
        })
        .collect()
}
