//! Image statistics used to calibrate the generator against real frames.

/// Percentiles (in %) of the pooled pixel values.
pub fn percentiles(frames: &[Vec<u16>], pcts: &[f64]) -> Vec<f64> {
    let mut all: Vec<u16> = frames.iter().flat_map(|f| f.iter().copied()).collect();
    all.sort_unstable();
    pcts.iter()
        .map(|p| all[(((all.len() - 1) as f64) * p / 100.0).round() as usize] as f64)
        .collect()
}

fn fft(re: &mut [f64], im: &mut [f64]) {
    let n = re.len();
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        let ang = -2.0 * std::f64::consts::PI / len as f64;
        for start in (0..n).step_by(len) {
            for k in 0..len / 2 {
                let (s, c) = (ang * k as f64).sin_cos();
                let (a, b) = (start + k, start + k + len / 2);
                let tr = re[b] * c - im[b] * s;
                let ti = re[b] * s + im[b] * c;
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
            }
        }
        len <<= 1;
    }
}

/// Slope of log P(k) vs log k of the azimuthally averaged power spectrum of
/// the largest centred power-of-two square (Hann windowed), fitted over
/// k in [kmin, kmax] cycles/pixel.
pub fn spectrum_slope(w: usize, h: usize, img: &[f32], kmin: f64, kmax: f64) -> f64 {
    let mut n = 1;
    while n * 2 <= w.min(h) {
        n *= 2;
    }
    let (ox, oy) = ((w - n) / 2, (h - n) / 2);
    let mut mean = 0.0;
    for y in 0..n {
        for x in 0..n {
            mean += img[(oy + y) * w + ox + x] as f64;
        }
    }
    mean /= (n * n) as f64;
    let win: Vec<f64> = (0..n).map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos()).collect();
    let mut re = vec![0f64; n * n];
    let mut im = vec![0f64; n * n];
    for y in 0..n {
        for x in 0..n {
            re[y * n + x] = (img[(oy + y) * w + ox + x] as f64 - mean) * win[x] * win[y];
        }
    }
    for y in 0..n {
        fft(&mut re[y * n..(y + 1) * n], &mut im[y * n..(y + 1) * n]);
    }
    let mut cr = vec![0f64; n];
    let mut ci = vec![0f64; n];
    for x in 0..n {
        for y in 0..n {
            cr[y] = re[y * n + x];
            ci[y] = im[y * n + x];
        }
        fft(&mut cr, &mut ci);
        for y in 0..n {
            re[y * n + x] = cr[y];
            im[y * n + x] = ci[y];
        }
    }
    let nb = n / 2;
    let mut pk = vec![0f64; nb];
    let mut cnt = vec![0usize; nb];
    for y in 0..n {
        for x in 0..n {
            let fx = if x < n / 2 { x as f64 } else { x as f64 - n as f64 };
            let fy = if y < n / 2 { y as f64 } else { y as f64 - n as f64 };
            let k = (fx * fx + fy * fy).sqrt().round() as usize;
            if k < nb {
                pk[k] += re[y * n + x].powi(2) + im[y * n + x].powi(2);
                cnt[k] += 1;
            }
        }
    }
    let (mut sx, mut sy, mut sxx, mut sxy, mut m) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for k in 1..nb {
        let f = k as f64 / n as f64;
        if f < kmin || f > kmax || cnt[k] == 0 || pk[k] <= 0.0 {
            continue;
        }
        let lx = f.ln();
        let ly = (pk[k] / cnt[k] as f64).ln();
        sx += lx;
        sy += ly;
        sxx += lx * lx;
        sxy += lx * ly;
        m += 1.0;
    }
    (m * sxy - sx * sy) / (m * sxx - sx * sx)
}

/// RMS of consecutive-frame differences over RMS of the frames.
pub fn diff_energy(frames: &[Vec<f32>]) -> f64 {
    if frames.len() < 2 {
        return f64::NAN;
    }
    let mut num = 0.0;
    let mut den = 0.0;
    for p in frames.windows(2) {
        for (a, b) in p[0].iter().zip(p[1].iter()) {
            num += ((*b - *a) as f64).powi(2);
            den += (*a as f64).powi(2);
        }
    }
    (num / den).sqrt()
}

/// Off-limb fall-off for a limb cutout (disk on the left): per row, the limb
/// is the steepest drop of the box-smoothed row; a straight line through the
/// medians of the top-half and bottom-half detections gives the (tilted)
/// limb. The profile is the lower quartile over rows (robust to bright loops)
/// at each distance d from the limb. Returns (limb column at mid-height,
/// e-folding length in px fitted over d in 10..fit_px, ratio
/// I(d=50)/I(d=5)) and samples (d = usize::MAX means 60 px inside).
pub fn offlimb_falloff(w: usize, h: usize, img: &[f32], fit_px: usize) -> (usize, f64, f64, Vec<(usize, f64)>) {
    let k = 8usize;
    let mut det = Vec::with_capacity(h);
    for y in 0..h {
        let row = &img[y * w..(y + 1) * w];
        let mut best = (0usize, f64::MIN);
        for x in k..w.saturating_sub(k) {
            let a: f64 = row[x - k..x].iter().map(|&v| v as f64).sum();
            let b: f64 = row[x..x + k].iter().map(|&v| v as f64).sum();
            if a - b > best.1 {
                best = (x, a - b);
            }
        }
        det.push(best.0 as f64);
    }
    let med = |v: &[f64]| {
        let mut s = v.to_vec();
        s.sort_by(|a, b| a.partial_cmp(b).unwrap());
        s[s.len() / 2]
    };
    let (y1, y2) = (h as f64 * 0.25, h as f64 * 0.75);
    let (x1, x2) = (med(&det[..h / 2]), med(&det[h / 2..]));
    let slope_l = (x2 - x1) / (y2 - y1);
    let xl = |y: usize| x1 + slope_l * (y as f64 - y1);
    let dmin = -80i64;
    let dmax = 220i64;
    let nb = (dmax - dmin) as usize;
    let mut bins: Vec<Vec<f32>> = vec![Vec::new(); nb];
    for y in 0..h {
        let l = xl(y);
        for x in 0..w {
            let d = (x as f64 - l).round() as i64;
            if d >= dmin && d < dmax {
                bins[(d - dmin) as usize].push(img[y * w + x]);
            }
        }
    }
    let prof: Vec<f64> = bins
        .iter_mut()
        .map(|b| {
            if b.len() < 20 {
                return f64::NAN;
            }
            b.sort_by(|p, q| p.partial_cmp(q).unwrap());
            b[b.len() / 4] as f64
        })
        .collect();
    let at = |d: i64| prof[((d - dmin) as usize).min(nb - 1)];
    let (mut sx, mut sy, mut sxx, mut sxy, mut m) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for d in 10..fit_px as i64 {
        let v = at(d);
        if !(v > 0.5) {
            continue;
        }
        let lx = d as f64;
        let ly = v.ln();
        sx += lx;
        sy += ly;
        sxx += lx * lx;
        sxy += lx * ly;
        m += 1.0;
    }
    let slope = (m * sxy - sx * sy) / (m * sxx - sx * sx);
    let mut samples: Vec<(usize, f64)> = vec![(usize::MAX, at(-60))];
    samples.extend([0usize, 5, 20, 50, 100, 150].iter().map(|&d| (d, at(d as i64))));
    (xl(h / 2).round().max(0.0) as usize, -1.0 / slope, at(50) / at(5).max(1e-9), samples)
}

/// Radial profile (mean in rings of width dr px) about (cx, cy).
pub fn radial_profile(w: usize, h: usize, img: &[f32], cx: f64, cy: f64, r_px: f64, rel: &[f64]) -> Vec<f64> {
    rel.iter()
        .map(|&q| {
            let (r0, r1) = (q * r_px - 1.5, q * r_px + 1.5);
            let (mut s, mut n) = (0.0, 0.0);
            for y in 0..h {
                for x in 0..w {
                    let d = ((x as f64 - cx).powi(2) + (y as f64 - cy).powi(2)).sqrt();
                    if d >= r0 && d < r1 {
                        s += img[y * w + x] as f64;
                        n += 1.0;
                    }
                }
            }
            if n > 0.0 { s / n } else { f64::NAN }
        })
        .collect()
}
