use helio_synth::{ConfigError, Sun, SunConfig, Wavelength};

fn cfg(size: u32, wls: &[u32], seed: u64) -> SunConfig {
    SunConfig {
        width: size,
        height: size,
        wavelengths: wls.iter().map(|&w| Wavelength::from_angstrom(w).unwrap()).collect(),
        seed,
        ..SunConfig::default()
    }
}

#[test]
fn deterministic_same_seed_same_bytes_any_order() {
    let a = Sun::new(cfg(96, &[171, 304], 7)).unwrap();
    let b = Sun::new(cfg(96, &[171, 304], 7)).unwrap();
    let a5 = a.frame(5);
    let _ = b.frame(9); // order must not matter
    let b5 = b.frame(5);
    assert_eq!(a5, b5);
    // frame_into gives the same bytes as frame()
    let mut buf = vec![0u16; 96 * 96];
    b.frame_into(&mut buf, 1, 5).unwrap();
    assert_eq!(buf, a5.channels[1]);
    // different frames and different seeds differ
    assert_ne!(a.frame(6).channels[0], a5.channels[0]);
    let c = Sun::new(cfg(96, &[171, 304], 8)).unwrap();
    assert_ne!(c.frame(5).channels[0], a5.channels[0]);
}

#[test]
fn config_errors_are_clear() {
    assert!(matches!("172".parse::<Wavelength>(), Err(ConfigError::UnknownWavelength(_))));
    assert!(matches!(Wavelength::parse_list("171,abc"), Err(ConfigError::UnknownWavelength(_))));
    let e = Wavelength::from_angstrom(500).unwrap_err();
    assert!(e.to_string().contains("500") && e.to_string().contains("171"));
    let mut c = cfg(0, &[171], 1);
    assert!(matches!(Sun::new(c.clone()), Err(ConfigError::BadSize(0, 0))));
    c.width = 64;
    c.height = 5000;
    assert!(matches!(Sun::new(c.clone()), Err(ConfigError::BadSize(..))));
    for bad in [0.0, 11.9, 3601.0, f64::NAN, -12.0] {
        let mut c = cfg(64, &[171], 1);
        c.cadence_s = bad;
        assert!(matches!(Sun::new(c), Err(ConfigError::BadCadence(_))), "cadence {bad}");
    }
    let mut c = cfg(64, &[171], 1);
    c.bit_depth = 17;
    assert!(matches!(Sun::new(c), Err(ConfigError::BadBitDepth(17))));
    let c = cfg(64, &[], 1);
    assert!(matches!(Sun::new(c), Err(ConfigError::NoWavelengths)));
    let c = cfg(64, &[171, 171], 1);
    assert!(matches!(Sun::new(c), Err(ConfigError::DuplicateWavelength(171))));
    // odd sizes are fine, frame_into checks its arguments instead of panicking
    let s = Sun::new(cfg(33, &[193], 1)).unwrap();
    assert_eq!(s.frame(0).channels[0].len(), 33 * 33);
    assert!(s.frame_into(&mut [0u16; 10], 0, 0).is_err());
    assert!(s.frame_into(&mut vec![0u16; 33 * 33], 1, 0).is_err());
}

#[test]
fn bit_depth_ceiling() {
    let mut c = cfg(64, &[171], 3);
    c.bit_depth = 8;
    let f = Sun::new(c).unwrap().frame(0);
    assert!(f.channels[0].iter().all(|&v| v <= 255));
    assert!(f.channels[0].iter().any(|&v| v > 0));
}

fn corr(a: &[u16], b: &[u16]) -> f64 {
    let n = a.len() as f64;
    let ma = a.iter().map(|&v| v as f64).sum::<f64>() / n;
    let mb = b.iter().map(|&v| v as f64).sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64 - ma, y as f64 - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    sab / (saa * sbb).sqrt()
}

#[test]
fn channels_correlated_not_identical() {
    for seed in [1, 2, 3] {
        let f = Sun::new(cfg(128, &[171, 193], seed)).unwrap().frame(0);
        let r = corr(&f.channels[0], &f.channels[1]);
        assert!(r > 0.5 && r < 0.99, "seed {seed}: corr(171,193) = {r}");
    }
}

/// Shift (dx, dy) of b relative to a by cross-correlation of a window
/// around the disk centre, with parabolic sub-pixel refinement.
fn shift(a: &[f32], b: &[f32], w: usize, cx: usize, cy: usize, half: usize, maxs: i32) -> (f64, f64) {
    let win = |img: &[f32], dx: i32, dy: i32| -> Vec<f64> {
        let mut v = Vec::new();
        for y in (cy - half)..(cy + half) {
            for x in (cx - half)..(cx + half) {
                v.push(img[(y as i32 + dy) as usize * w + (x as i32 + dx) as usize] as f64);
            }
        }
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let s = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>()).sqrt();
        v.iter().map(|x| (x - m) / s).collect()
    };
    let wa = win(a, 0, 0);
    let n = (2 * maxs + 1) as usize;
    let mut cc = vec![0f64; n * n];
    for dy in -maxs..=maxs {
        for dx in -maxs..=maxs {
            let wb = win(b, dx, dy);
            cc[(dy + maxs) as usize * n + (dx + maxs) as usize] = wa.iter().zip(&wb).map(|(p, q)| p * q).sum();
        }
    }
    let (mut bi, mut bv) = (0, f64::MIN);
    for (i, &v) in cc.iter().enumerate() {
        if v > bv {
            bv = v;
            bi = i;
        }
    }
    let (iy, ix) = (bi / n, bi % n);
    let para = |m: f64, c: f64, p: f64| (m - p) / (2.0 * (m - 2.0 * c + p));
    let fx = if ix > 0 && ix < n - 1 { para(cc[iy * n + ix - 1], bv, cc[iy * n + ix + 1]) } else { 0.0 };
    let fy = if iy > 0 && iy < n - 1 { para(cc[(iy - 1) * n + ix], bv, cc[(iy + 1) * n + ix]) } else { 0.0 };
    (ix as f64 - maxs as f64 + fx, iy as f64 - maxs as f64 + fy)
}

#[test]
fn rotation_is_subpixel_per_frame_at_512_and_12s() {
    let mut c = cfg(512, &[171], 11);
    c.noise = false;
    c.cadence_s = 12.0;
    let sun = Sun::new(c).unwrap();
    let gap = 600u64; // two hours apart
    let a = sun.expected_rate(0, 0);
    let b = sun.expected_rate(0, gap);
    let (dx, dy) = shift(&a, &b, 512, 256, 256, 40, 8);
    // equator at disk centre: 14.713 deg/day * 2 h = 1.226 deg -> R * sin = 4.4 px (R = 204.8)
    let expect = 204.8 * (14.713f64 * 2.0 / 24.0).to_radians().sin();
    let per_frame = dx / gap as f64;
    eprintln!("shift over {gap} frames: dx={dx:.2} dy={dy:.2} px (expect ~{expect:.2}), per frame {per_frame:.4} px");
    assert!(dx > 0.0, "features rotate east to west (+x)");
    assert!((dx - expect).abs() < 1.0, "dx {dx} vs {expect}");
    assert!(dy.abs() < 0.6, "dy {dy}");
    assert!(per_frame > 0.0 && per_frame < 1.0);
}
