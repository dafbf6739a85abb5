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

/// Off-limb fall-off for a limb cutout: column medians (robust to loops),
/// limb = column of steepest drop of the smoothed median profile; returns
/// (limb column, e-folding length in px fitted over limb+10..limb+fit_px,
/// ratio median(limb+50)/median(limb+5)) and the profile samples.
pub fn offlimb_falloff(w: usize, h: usize, img: &[f32], fit_px: usize) -> (usize, f64, f64, Vec<(usize, f64)>) {
    let mut prof = vec![0f64; w];
    let mut col = vec![0f32; h];
    for x in 0..w {
        for y in 0..h {
            col[y] = img[y * w + x];
        }
        col.sort_by(|a, b| a.partial_cmp(b).unwrap());
        prof[x] = col[h / 2] as f64;
    }
    // smoothed derivative
    let k = 4;
    let mut best = (0usize, 0f64);
    for x in k..w.saturating_sub(k) {
        let d = prof[x - k..x].iter().sum::<f64>() - prof[x..x + k].iter().sum::<f64>();
        let dir = d; // disk on the left: drop to the right
        if dir > best.1 {
            best = (x, dir);
        }
    }
    let limb = best.0;
    let (mut sx, mut sy, mut sxx, mut sxy, mut m) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for x in (limb + 10)..(limb + fit_px).min(w) {
        if prof[x] <= 0.5 {
            continue;
        }
        let lx = (x - limb) as f64;
        let ly = prof[x].ln();
        sx += lx;
        sy += ly;
        sxx += lx * lx;
        sxy += lx * ly;
        m += 1.0;
    }
    let slope = (m * sxy - sx * sy) / (m * sxx - sx * sx);
    let at = |d: usize| prof[(limb + d).min(w - 1)];
    let samples = [0usize, 5, 20, 50, 100, 150].iter().map(|&d| (d, at(d))).collect();
    (limb, -1.0 / slope, at(50) / at(5).max(1e-9), samples)
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
