//! Distortion metrics (PSNR, MS-SSIM, DN errors) and the Bjontegaard delta rate.
//!
//! All image metrics take tightly packed single-channel images (row-major, no stride).

/// Mean squared error between two 8-bit images of the same size.
pub fn mse_u8(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len(), "mse: images differ in size");
    assert!(!a.is_empty(), "mse: empty image");
    let sum: u64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = x as i64 - y as i64;
            (d * d) as u64
        })
        .sum();
    sum as f64 / a.len() as f64
}

/// PSNR in dB for a given peak value and MSE; `f64::INFINITY` when MSE is 0.
pub fn psnr_from_mse(mse: f64, peak: f64) -> f64 {
    if mse <= 0.0 {
        f64::INFINITY
    } else {
        10.0 * (peak * peak / mse).log10()
    }
}

/// PSNR of two 8-bit images: `10 log10(255^2 / MSE)`.
pub fn psnr_u8(a: &[u8], b: &[u8]) -> f64 {
    psnr_from_mse(mse_u8(a, b), 255.0)
}

/// RMSE and maximum absolute error between two 16-bit images (e.g. DN).
pub fn dn_errors(a: &[u16], b: &[u16]) -> (f64, u32) {
    assert_eq!(a.len(), b.len(), "dn_errors: images differ in size");
    assert!(!a.is_empty(), "dn_errors: empty image");
    let mut sum = 0u64;
    let mut max = 0u32;
    for (&x, &y) in a.iter().zip(b) {
        let d = (x as i64 - y as i64).unsigned_abs();
        sum += d * d;
        max = max.max(d as u32);
    }
    ((sum as f64 / a.len() as f64).sqrt(), max)
}

/// Mean relative error `|decoded - original| / max(original, 1)` over the bright pixels
/// (original at or above the frame's 90th percentile: loops, active regions, flares) and
/// over the dark ones (at or below its 25th percentile: quiet corona, off-limb), as
/// fractions: (bright, dark). Errors in DN hide how a codec treats faint structure,
/// where a few DN are a large part of the signal.
pub fn relative_errors(original: &[u16], decoded: &[u16]) -> (f64, f64) {
    assert_eq!(original.len(), decoded.len(), "relative_errors: images differ in size");
    assert!(!original.is_empty(), "relative_errors: empty image");
    let mut sorted = original.to_vec();
    sorted.sort_unstable();
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    let (bright, dark) = (at(0.9), at(0.25));
    let mean = |keep: &dyn Fn(u16) -> bool| {
        let (mut sum, mut n) = (0.0, 0usize);
        for (&o, &d) in original.iter().zip(decoded) {
            if keep(o) {
                sum += (d as f64 - o as f64).abs() / (o as f64).max(1.0);
                n += 1;
            }
        }
        sum / n.max(1) as f64
    };
    (mean(&|o| o >= bright), mean(&|o| o <= dark))
}

/// MS-SSIM scale weights from Wang, Simoncelli, Bovik (2003).
pub const MS_SSIM_WEIGHTS: [f64; 5] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];

/// A single-channel f64 image.
#[derive(Clone)]
struct Img {
    w: usize,
    h: usize,
    p: Vec<f64>,
}

fn gaussian_kernel(size: usize, sigma: f64) -> Vec<f64> {
    let c = (size as f64 - 1.0) / 2.0;
    let mut k: Vec<f64> = (0..size)
        .map(|i| {
            let x = i as f64 - c;
            (-(x * x) / (2.0 * sigma * sigma)).exp()
        })
        .collect();
    let s: f64 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= s);
    k
}

/// Separable "valid" filtering (no padding): output is (w-k+1) x (h-k+1).
fn filter_valid(img: &Img, k: &[f64]) -> Img {
    let n = k.len();
    let ow = img.w + 1 - n;
    let oh = img.h + 1 - n;
    // horizontal
    let mut tmp = vec![0.0; ow * img.h];
    for y in 0..img.h {
        let row = &img.p[y * img.w..(y + 1) * img.w];
        for x in 0..ow {
            let mut s = 0.0;
            for (i, kv) in k.iter().enumerate() {
                s += kv * row[x + i];
            }
            tmp[y * ow + x] = s;
        }
    }
    // vertical
    let mut out = vec![0.0; ow * oh];
    for y in 0..oh {
        for (i, kv) in k.iter().enumerate() {
            let src = &tmp[(y + i) * ow..(y + i + 1) * ow];
            let dst = &mut out[y * ow..(y + 1) * ow];
            for x in 0..ow {
                dst[x] += kv * src[x];
            }
        }
    }
    Img { w: ow, h: oh, p: out }
}

/// Mean SSIM and mean contrast-structure term at one scale.
fn ssim_cs(a: &Img, b: &Img, k: &[f64], peak: f64) -> (f64, f64) {
    let c1 = (0.01 * peak) * (0.01 * peak);
    let c2 = (0.03 * peak) * (0.03 * peak);
    let mul = |x: &Img, y: &Img| Img {
        w: x.w,
        h: x.h,
        p: x.p.iter().zip(&y.p).map(|(u, v)| u * v).collect(),
    };
    let mu_a = filter_valid(a, k);
    let mu_b = filter_valid(b, k);
    let aa = filter_valid(&mul(a, a), k);
    let bb = filter_valid(&mul(b, b), k);
    let ab = filter_valid(&mul(a, b), k);
    let n = mu_a.p.len() as f64;
    let (mut ssim, mut cs) = (0.0, 0.0);
    for i in 0..mu_a.p.len() {
        let (ma, mb) = (mu_a.p[i], mu_b.p[i]);
        let va = aa.p[i] - ma * ma;
        let vb = bb.p[i] - mb * mb;
        let cov = ab.p[i] - ma * mb;
        let cs_i = (2.0 * cov + c2) / (va + vb + c2);
        let l_i = (2.0 * ma * mb + c1) / (ma * ma + mb * mb + c1);
        cs += cs_i;
        ssim += l_i * cs_i;
    }
    (ssim / n, cs / n)
}

/// 2x2 average pooling (the last odd row / column is dropped).
fn downsample(img: &Img) -> Img {
    let w = img.w / 2;
    let h = img.h / 2;
    let mut p = vec![0.0; w * h];
    for y in 0..h {
        for x in 0..w {
            let i = 2 * y * img.w + 2 * x;
            p[y * w + x] = 0.25 * (img.p[i] + img.p[i + 1] + img.p[i + img.w] + img.p[i + img.w + 1]);
        }
    }
    Img { w, h, p }
}

/// Smallest side an image may have for the 5-scale MS-SSIM with an 11x11 window
/// (the coarsest scale must still hold one window): 11 * 2^4 = 176.
pub const MS_SSIM_MIN_SIDE: usize = 176;

/// Multi-scale SSIM (Wang, Simoncelli, Bovik 2003) of two 8-bit images:
/// 5 scales, 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255,
/// 2x2 average-pool downsampling between scales, weights [`MS_SSIM_WEIGHTS`].
/// The contrast-structure terms are clamped at 0 before the power (as common
/// implementations do) so a badly broken image gives 0 rather than NaN.
/// Returns `None` when the image is smaller than [`MS_SSIM_MIN_SIDE`] on a side.
pub fn ms_ssim_u8(a: &[u8], b: &[u8], w: usize, h: usize) -> Option<f64> {
    assert_eq!(a.len(), w * h);
    assert_eq!(b.len(), w * h);
    if w < MS_SSIM_MIN_SIDE || h < MS_SSIM_MIN_SIDE {
        return None;
    }
    let k = gaussian_kernel(11, 1.5);
    let mut ia = Img { w, h, p: a.iter().map(|&v| v as f64).collect() };
    let mut ib = Img { w, h, p: b.iter().map(|&v| v as f64).collect() };
    let mut result = 1.0;
    for (s, wgt) in MS_SSIM_WEIGHTS.iter().enumerate() {
        let (ssim, cs) = ssim_cs(&ia, &ib, &k, 255.0);
        if s + 1 == MS_SSIM_WEIGHTS.len() {
            result *= ssim.max(0.0).powf(*wgt);
        } else {
            result *= cs.max(0.0).powf(*wgt);
            ia = downsample(&ia);
            ib = downsample(&ib);
        }
    }
    Some(result)
}

/// Derivatives of the monotone piecewise cubic Hermite interpolant (Fritsch-Carlson,
/// with the same end conditions as SciPy's `PchipInterpolator`). `x` strictly increasing.
pub fn pchip_slopes(x: &[f64], y: &[f64]) -> Vec<f64> {
    let n = x.len();
    assert!(n >= 2 && y.len() == n);
    let h: Vec<f64> = (0..n - 1).map(|i| x[i + 1] - x[i]).collect();
    let m: Vec<f64> = (0..n - 1).map(|i| (y[i + 1] - y[i]) / h[i]).collect();
    if n == 2 {
        return vec![m[0], m[0]];
    }
    let mut d = vec![0.0; n];
    for k in 1..n - 1 {
        if m[k - 1] == 0.0 || m[k] == 0.0 || m[k - 1].signum() != m[k].signum() {
            d[k] = 0.0;
        } else {
            let w1 = 2.0 * h[k] + h[k - 1];
            let w2 = h[k] + 2.0 * h[k - 1];
            d[k] = (w1 + w2) / (w1 / m[k - 1] + w2 / m[k]);
        }
    }
    let edge = |h0: f64, h1: f64, m0: f64, m1: f64| {
        let mut d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1);
        if d.signum() != m0.signum() {
            d = 0.0;
        } else if m0.signum() != m1.signum() && d.abs() > 3.0 * m0.abs() {
            d = 3.0 * m0;
        }
        d
    };
    d[0] = edge(h[0], h[1], m[0], m[1]);
    d[n - 1] = edge(h[n - 2], h[n - 3], m[n - 2], m[n - 3]);
    d
}

/// Integral of the PCHIP interpolant of (x, y) over [a, b] (within [x0, xn]).
pub fn pchip_integral(x: &[f64], y: &[f64], a: f64, b: f64) -> f64 {
    let d = pchip_slopes(x, y);
    // Integral of the cubic Hermite piece on [x_i, x_i + h] from x_i to x_i + t*h.
    let partial = |i: usize, t: f64| {
        let h = x[i + 1] - x[i];
        let (y0, y1, d0, d1) = (y[i], y[i + 1], d[i], d[i + 1]);
        // Antiderivatives of the Hermite basis functions, evaluated at t (times h).
        let t2 = t * t;
        let t3 = t2 * t;
        let t4 = t3 * t;
        let h00 = t4 / 2.0 - t3 + t;
        let h10 = t4 / 4.0 - 2.0 * t3 / 3.0 + t2 / 2.0;
        let h01 = -t4 / 2.0 + t3;
        let h11 = t4 / 4.0 - t3 / 3.0;
        h * (h00 * y0 + h10 * h * d0 + h01 * y1 + h11 * h * d1)
    };
    let n = x.len();
    let mut total = 0.0;
    for i in 0..n - 1 {
        let lo = a.max(x[i]);
        let hi = b.min(x[i + 1]);
        if hi <= lo {
            continue;
        }
        let h = x[i + 1] - x[i];
        total += partial(i, (hi - x[i]) / h) - partial(i, (lo - x[i]) / h);
    }
    total
}

/// Why a BD-rate could not be computed.
#[derive(Debug, Clone, PartialEq)]
pub enum BdError {
    TooFewPoints,
    NoOverlap { anchor: (f64, f64), test: (f64, f64) },
}

impl std::fmt::Display for BdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BdError::TooFewPoints => write!(f, "fewer than 2 usable points"),
            BdError::NoOverlap { anchor, test } => write!(
                f,
                "no overlap (anchor {:.2}..{:.2} dB, test {:.2}..{:.2} dB)",
                anchor.0, anchor.1, test.0, test.1
            ),
        }
    }
}

/// Sorts (rate, psnr) points by PSNR, drops non-finite and duplicate-PSNR points,
/// returns (psnr, log10 rate).
fn prepare(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = points
        .iter()
        .filter(|(r, q)| r.is_finite() && *r > 0.0 && q.is_finite())
        .map(|&(r, q)| (q, r.log10()))
        .collect();
    v.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    v.dedup_by(|a, b| (a.0 - b.0).abs() < 1e-9);
    v
}

/// The PSNR interval on which [`bd_rate`] integrates (None if no overlap or too few points).
pub fn bd_overlap(anchor: &[(f64, f64)], test: &[(f64, f64)]) -> Option<(f64, f64)> {
    let a = prepare(anchor);
    let t = prepare(test);
    if a.len() < 2 || t.len() < 2 {
        return None;
    }
    let lo = a[0].0.max(t[0].0);
    let hi = a[a.len() - 1].0.min(t[t.len() - 1].0);
    (hi > lo).then_some((lo, hi))
}

/// Bjontegaard delta rate of `test` against `anchor`, in percent (negative: `test`
/// needs fewer bits for the same PSNR). Points are (rate, PSNR dB) with any rate unit.
/// log10(rate) is interpolated over PSNR with PCHIP and integrated over the
/// overlapping PSNR interval (the "pchip" variant used by JVET/AOM and CompressAI).
pub fn bd_rate(anchor: &[(f64, f64)], test: &[(f64, f64)]) -> Result<f64, BdError> {
    let a = prepare(anchor);
    let t = prepare(test);
    if a.len() < 2 || t.len() < 2 {
        return Err(BdError::TooFewPoints);
    }
    let lo = a[0].0.max(t[0].0);
    let hi = a[a.len() - 1].0.min(t[t.len() - 1].0);
    if hi <= lo {
        return Err(BdError::NoOverlap {
            anchor: (a[0].0, a[a.len() - 1].0),
            test: (t[0].0, t[t.len() - 1].0),
        });
    }
    let integ = |v: &[(f64, f64)]| {
        let x: Vec<f64> = v.iter().map(|p| p.0).collect();
        let y: Vec<f64> = v.iter().map(|p| p.1).collect();
        pchip_integral(&x, &y, lo, hi)
    };
    let avg_diff = (integ(&t) - integ(&a)) / (hi - lo);
    Ok((10f64.powf(avg_diff) - 1.0) * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(w: usize, h: usize) -> Vec<u8> {
        (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                ((x * 7 + y * 3 + (x * y) % 13) % 200 + 20) as u8
            })
            .collect()
    }

    #[test]
    fn relative_errors_split_bright_and_dark() {
        // 80 pixels at 100 DN, 20 at 1000 DN, all decoded 10 DN too high.
        let orig: Vec<u16> = (0..100).map(|i| if i < 80 { 100 } else { 1000 }).collect();
        let dec: Vec<u16> = orig.iter().map(|v| v + 10).collect();
        let (bright, dark) = relative_errors(&orig, &dec);
        assert!((bright - 0.01).abs() < 1e-12 && (dark - 0.1).abs() < 1e-12, "{bright} {dark}");
        assert_eq!(relative_errors(&orig, &orig), (0.0, 0.0));
        // Zero DN count as 1 (no division by zero).
        assert_eq!(relative_errors(&[0, 0, 0, 0], &[2, 2, 2, 2]), (2.0, 2.0));
    }

    #[test]
    fn psnr_of_constant_offset() {
        let a = ramp(64, 48);
        let b: Vec<u8> = a.iter().map(|v| v + 5).collect();
        // MSE = 25 -> 10 log10(65025 / 25) = 34.1514 dB
        let p = psnr_u8(&a, &b);
        assert!((p - 10.0 * (65025.0f64 / 25.0).log10()).abs() < 1e-9, "{p}");
        assert!((p - 34.1514).abs() < 1e-3);
        assert_eq!(psnr_u8(&a, &a), f64::INFINITY);
    }

    #[test]
    fn dn_errors_known() {
        let a = [100u16, 200, 300, 400];
        let b = [102u16, 198, 300, 404];
        let (rmse, max) = dn_errors(&a, &b);
        assert_eq!(max, 4);
        assert!((rmse - (24.0f64 / 4.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn ms_ssim_identical_is_one() {
        let (w, h) = (200, 190);
        let a = ramp(w, h);
        let s = ms_ssim_u8(&a, &a, w, h).unwrap();
        assert!((s - 1.0).abs() < 1e-12, "{s}");
    }

    #[test]
    fn ms_ssim_decreases_with_noise_and_needs_size() {
        let (w, h) = (200, 190);
        let a = ramp(w, h);
        let mut seed = 12345u32;
        let b: Vec<u8> = a
            .iter()
            .map(|&v| {
                seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
                (v as i32 + ((seed >> 24) as i32 % 31) - 15).clamp(0, 255) as u8
            })
            .collect();
        let s = ms_ssim_u8(&a, &b, w, h).unwrap();
        assert!(s > 0.0 && s < 0.999, "{s}");
        assert!(ms_ssim_u8(&a[..100 * 100], &a[..100 * 100], 100, 100).is_none());
    }

    fn curve() -> Vec<(f64, f64)> {
        vec![(0.1, 30.0), (0.2, 33.5), (0.4, 36.8), (0.8, 39.9), (1.6, 42.5)]
    }

    #[test]
    fn bd_rate_identical_is_zero() {
        let c = curve();
        assert!(bd_rate(&c, &c).unwrap().abs() < 1e-9);
    }

    #[test]
    fn bd_rate_scaled_rates() {
        let a = curve();
        let t: Vec<(f64, f64)> = a.iter().map(|&(r, q)| (r * 0.8, q)).collect();
        let bd = bd_rate(&a, &t).unwrap();
        assert!((bd - -20.0).abs() < 1e-9, "{bd}");
        let t2: Vec<(f64, f64)> = a.iter().map(|&(r, q)| (r * 1.5, q)).collect();
        assert!((bd_rate(&a, &t2).unwrap() - 50.0).abs() < 1e-9);
    }

    #[test]
    fn bd_rate_partial_overlap_and_none() {
        let a = curve();
        // Shifted up 2 dB: same rate gives 2 dB more -> fewer bits for equal PSNR.
        let t: Vec<(f64, f64)> = a.iter().map(|&(r, q)| (r, q + 2.0)).collect();
        assert!(bd_rate(&a, &t).unwrap() < -10.0);
        let far: Vec<(f64, f64)> = a.iter().map(|&(r, q)| (r, q + 50.0)).collect();
        assert!(matches!(bd_rate(&a, &far), Err(BdError::NoOverlap { .. })));
        assert_eq!(bd_rate(&a[..1], &a), Err(BdError::TooFewPoints));
    }

    #[test]
    fn pchip_integral_of_linear_and_cubic_data() {
        let x = [0.0, 1.0, 2.5, 4.0];
        let y: Vec<f64> = x.iter().map(|v| 2.0 * v + 1.0).collect();
        // Linear data is reproduced exactly: integral over [0.5, 3] = [x^2 + x] = 12 - 0.75
        assert!((pchip_integral(&x, &y, 0.5, 3.0) - 11.25).abs() < 1e-12);
        // Monotone data: integral lies between the bounds of the data.
        let y2 = [0.0, 0.5, 3.0, 3.2];
        let i = pchip_integral(&x, &y2, 0.0, 4.0);
        assert!(i > 0.0 && i < 4.0 * 3.2);
    }
}
