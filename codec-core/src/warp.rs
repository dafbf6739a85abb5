//! The scale-space warp of a P-frame's prediction, done here rather than in
//! an ONNX graph (inter packages with `"warp": "codec-core"`, models/PACKAGE.md).
//!
//! Same arithmetic as `models/ssf.py` (`ScaleSpaceWarp`, `ScaleSpaceFlow.predict`,
//! `upsample_flow`): the motion decoder's flow `(fx, fy, fs, lg)` at
//! 1/`stride` resolution is upsampled bilinearly (half-pixel centres), the
//! reference is blurred into a volume of `levels` scales (level 0 the
//! reference, level l a separable Gaussian of sigma `sigma0 * 2^(l-1)`,
//! edge-replicated), the volume is sampled trilinearly at `(x + fx, y + fy, fs)`
//! with coordinates clamped to the volume ("border" padding, align_corners), and
//! the sample is scaled by `exp(clamp(lg, -3, 3))`.
//!
//! Why not ONNX: GridSample and the blurs were 60 % of the `predict` graph's
//! time. Here they are plain f32 arithmetic, every output sample computed by
//! the same operations in the same order whatever the thread count, with
//! `libm`'s `expf` (not the platform's), so encoder and decoder agree bit for
//! bit on any machine.
//!
//! Only the levels some sample can reach are blurred: a sample at scale `s`
//! reads levels `floor(s)` and `floor(s) + 1`, the second with weight
//! `s - floor(s)`, so levels above `ceil(max s)` only ever get weight 0.

use std::ops::Range;

/// Largest `exp` argument of the intensity-gain channel (as in training).
const GAIN_LOG_BOUND: f32 = 3.0;

/// The warp of one inter package (`scale_space` and `motion.flow_stride` of model.json).
#[derive(Debug, Clone)]
pub struct ScaleSpaceWarp {
    /// Kernel of each blurred level 1..levels (level 0 is the reference).
    kernels: Vec<Vec<f32>>,
    stride: usize,
}

impl ScaleSpaceWarp {
    /// `levels` >= 1 scales, `sigma0` > 0, flow at 1/`stride` resolution.
    pub fn new(levels: usize, sigma0: f32, stride: usize) -> Self {
        assert!(levels >= 1 && sigma0 > 0.0 && stride >= 1);
        let kernels = (1..levels).map(|l| gaussian_kernel(sigma0 * (1u32 << (l - 1)) as f32)).collect();
        Self { kernels, stride }
    }

    /// The flow's subsampling factor.
    pub fn stride(&self) -> usize {
        self.stride
    }

    pub fn levels(&self) -> usize {
        self.kernels.len() + 1
    }

    /// The prediction (`w` x `h`, row-major) of `reference` under `flow`
    /// (4 planes of `w / stride` x `h / stride`), on `threads` threads.
    pub fn predict(&self, reference: &[f32], flow: &[f32], w: usize, h: usize, threads: usize) -> Vec<f32> {
        let (fw, fh) = (w / self.stride, h / self.stride);
        assert!(fw * self.stride == w && fh * self.stride == h, "frame is a multiple of the flow stride");
        assert_eq!(reference.len(), w * h);
        assert_eq!(flow.len(), 4 * fw * fh);
        let threads = threads.clamp(1, h.max(1));
        // Upsampled scales are convex combinations of these: their maximum bounds the
        // reach, up to rounding (a few ulp: the margin); all zero stays exactly zero.
        let top = (self.levels() - 1) as f32;
        let reach = flow[2 * fw * fh..3 * fw * fh].iter().fold(0f32, |m, &s| m.max(s.clamp(0.0, top)));
        // NaN compares false: max() ignores it, and its sample below stays in bounds.
        let needed = if reach > 0.0 { ((reach + 1e-4).ceil() as usize).min(self.levels() - 1) } else { 0 };
        let blurred: Vec<Vec<f32>> = self.kernels[..needed].iter().map(|k| blur(reference, w, h, k, threads)).collect();
        let volume: Vec<&[f32]> = std::iter::once(reference).chain(blurred.iter().map(Vec::as_slice)).collect();
        let xs = self.source_columns(w, fw);
        let mut out = vec![0f32; w * h];
        for_rows(&mut out, w, threads, |rows, chunk| {
            // One output row of each flow channel at a time: no full-size flow planes.
            let mut f = [vec![0f32; w], vec![0f32; w], vec![0f32; w], vec![0f32; w]];
            for (y, row) in rows.zip(chunk.chunks_mut(w)) {
                for (c, fc) in f.iter_mut().enumerate() {
                    self.upsample_row(&flow[c * fw * fh..(c + 1) * fw * fh], fw, fh, y, &xs, fc);
                }
                for (x, o) in row.iter_mut().enumerate() {
                    let v = sample(&volume, w, h, x as f32 + f[0][x], y as f32 + f[1][x], f[2][x].clamp(0.0, top));
                    *o = v * libm::expf(f[3][x].clamp(-GAIN_LOG_BOUND, GAIN_LOG_BOUND));
                }
            }
        });
        out
    }

    /// For each output column: the flow columns and weight of the second.
    fn source_columns(&self, w: usize, fw: usize) -> Vec<(usize, usize, f32)> {
        (0..w).map(|x| source_index(x, self.stride, fw)).collect()
    }

    /// Row `y` of one flow channel (`plane`, `fw` x `fh`) at full resolution
    /// (PyTorch `interpolate` bilinear, align_corners=False; ONNX Resize half_pixel).
    fn upsample_row(&self, plane: &[f32], fw: usize, fh: usize, y: usize, xs: &[(usize, usize, f32)], out: &mut [f32]) {
        if self.stride == 1 {
            out.copy_from_slice(&plane[y * fw..(y + 1) * fw]);
            return;
        }
        let (y0, y1, ly) = source_index(y, self.stride, fh);
        let (r0, r1) = (&plane[y0 * fw..(y0 + 1) * fw], &plane[y1 * fw..(y1 + 1) * fw]);
        for (o, &(x0, x1, lx)) in out.iter_mut().zip(xs) {
            *o = (1.0 - ly) * ((1.0 - lx) * r0[x0] + lx * r0[x1]) + ly * ((1.0 - lx) * r1[x0] + lx * r1[x1]);
        }
    }
}

/// Source pixels and weight of the second for output index `i` of a
/// `stride`-times upsampling of `n` samples (half-pixel centres, clamped).
fn source_index(i: usize, stride: usize, n: usize) -> (usize, usize, f32) {
    let src = ((i as f32 + 0.5) / stride as f32 - 0.5).max(0.0);
    let i0 = (src as usize).min(n - 1);
    let i1 = (i0 + 1).min(n - 1);
    (i0, i1, src - i0 as f32)
}

/// Trilinear sample of `volume` (levels of `w` x `h`) at (`x`, `y`, `s`), `s`
/// already clamped; `x` and `y` are clamped to the frame here. Levels past
/// the volume's top are only reached with weight 0 (module doc).
#[inline(always)]
fn sample(volume: &[&[f32]], w: usize, h: usize, x: f32, y: f32, s: f32) -> f32 {
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    // `as usize` saturates, so a NaN coordinate lands on pixel 0, never out of bounds.
    let (x0, y0, s0) = ((x as usize).min(w - 1), (y as usize).min(h - 1), (s as usize).min(volume.len() - 1));
    let (x1, y1, s1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1), (s0 + 1).min(volume.len() - 1));
    let (lx, ly, ls) = (x - x0 as f32, y - y0 as f32, s - s0 as f32);
    let bilinear = |v: &[f32]| {
        let (a, b) = (v[y0 * w + x0], v[y0 * w + x1]);
        let (c, d) = (v[y1 * w + x0], v[y1 * w + x1]);
        (1.0 - ly) * ((1.0 - lx) * a + lx * b) + ly * ((1.0 - lx) * c + lx * d)
    };
    let lower = bilinear(volume[s0]);
    if ls == 0.0 { lower } else { (1.0 - ls) * lower + ls * bilinear(volume[s1]) }
}

/// Normalized Gaussian of radius `ceil(3 sigma)` (`models/ssf.py: gaussian_kernel`).
fn gaussian_kernel(sigma: f32) -> Vec<f32> {
    let r = (3.0 * sigma).ceil() as i32;
    let k: Vec<f32> = (-r..=r).map(|t| libm::expf(-0.5 * (t as f32 / sigma) * (t as f32 / sigma))).collect();
    let sum: f64 = k.iter().map(|&v| v as f64).sum();
    k.iter().map(|&v| (v as f64 / sum) as f32).collect()
}

/// Separable blur with edge replication: rows first, then columns.
fn blur(plane: &[f32], w: usize, h: usize, kernel: &[f32], threads: usize) -> Vec<f32> {
    let r = kernel.len() / 2;
    let mut rows = vec![0f32; w * h];
    for_rows(&mut rows, w, threads, |ys, chunk| {
        let mut padded = vec![0f32; w + 2 * r];
        for (y, out) in ys.zip(chunk.chunks_mut(w)) {
            let src = &plane[y * w..(y + 1) * w];
            padded[..r].fill(src[0]);
            padded[r..r + w].copy_from_slice(src);
            padded[r + w..].fill(src[w - 1]);
            // Tap by tap over the whole row: the compiler vectorizes along x,
            // and each output still sums its taps in kernel order.
            for (t, &k) in kernel.iter().enumerate() {
                for (o, &p) in out.iter_mut().zip(&padded[t..t + w]) {
                    *o += k * p;
                }
            }
        }
    });
    let mut out = vec![0f32; w * h];
    for_rows(&mut out, w, threads, |ys, chunk| {
        for (y, out) in ys.zip(chunk.chunks_mut(w)) {
            for (t, &k) in kernel.iter().enumerate() {
                let sy = (y + t).saturating_sub(r).min(h - 1);
                for (o, &p) in out.iter_mut().zip(&rows[sy * w..(sy + 1) * w]) {
                    *o += k * p;
                }
            }
        }
    });
    out
}

/// Runs `f(rows, chunk)` over `out` (rows of `w`) cut into `threads`
/// contiguous bands, each on its own thread (the calling one when 1).
fn for_rows(out: &mut [f32], w: usize, threads: usize, f: impl Fn(Range<usize>, &mut [f32]) + Sync) {
    let h = out.len() / w;
    let band = h.div_ceil(threads.max(1)).max(1);
    if band >= h {
        f(0..h, out);
        return;
    }
    std::thread::scope(|scope| {
        for (i, chunk) in out.chunks_mut(band * w).enumerate() {
            let rows = i * band..i * band + chunk.len() / w;
            let f = &f;
            scope.spawn(move || f(rows, chunk));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(w: usize, h: usize) -> Vec<f32> {
        (0..w * h).map(|i| ((i % w) as f32 * 0.37 + (i / w) as f32 * 0.11).sin() * 0.4 + 0.5).collect()
    }

    /// codec-core/tests/data/warp.bin, written by
    /// `python -m models.split_predict --fixture codec-core/tests/data/warp.bin`:
    /// models/ssf.py's prediction under a flow reaching every level and clamp.
    #[test]
    fn matches_the_training_code_on_every_level() {
        let bytes = include_bytes!("../tests/data/warp.bin");
        let u32_at = |i: usize| u32::from_le_bytes(bytes[4 * i..4 * i + 4].try_into().unwrap()) as usize;
        let (w, h, stride, levels) = (u32_at(0), u32_at(1), u32_at(2), u32_at(3));
        let floats: Vec<f32> = bytes[16..].chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        let sigma0 = floats[0];
        let (reference, rest) = floats[1..].split_at(w * h);
        let (flow, want) = rest.split_at(4 * w * h / (stride * stride));
        assert_eq!(want.len(), w * h);
        let warp = ScaleSpaceWarp::new(levels, sigma0, stride);
        let got = warp.predict(reference, flow, w, h, 2);
        // Relative: the gain channel scales samples up to e^3.
        let diff = got.iter().zip(want).map(|(a, b)| (a - b).abs() / b.abs().max(1.0)).fold(0f32, f32::max);
        assert!(diff < 1e-6, "max relative difference {diff} against models/ssf.py");
        let top = (levels - 1) as f32;
        assert!(flow[2 * w * h / (stride * stride)..3 * w * h / (stride * stride)].iter().any(|&s| s > top));
    }

    #[test]
    fn kernels_match_the_training_code() {
        // models/ssf.py gaussian_kernel(1.5): 11 taps (radius ceil(4.5) = 5), centre 0.2660.
        let k = gaussian_kernel(1.5);
        assert_eq!(k.len(), 11);
        assert!((k[5] - 0.26596).abs() < 1e-4, "{}", k[5]);
        assert!((k.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(gaussian_kernel(12.0).len(), 73);
    }

    #[test]
    fn zero_flow_copies_the_reference() {
        let (w, h) = (64, 48);
        let r = ramp(w, h);
        let warp = ScaleSpaceWarp::new(5, 1.5, 4);
        let pred = warp.predict(&r, &vec![0.0; 4 * 16 * 12], w, h, 2);
        assert_eq!(pred, r);
    }

    #[test]
    fn integer_shift_moves_the_picture_and_clamps_at_the_border() {
        let (w, h) = (32, 32);
        let r = ramp(w, h);
        let mut flow = vec![0f32; 4 * w * h];
        flow[..w * h].fill(2.0); // fx = 2: pred(x, y) = ref(x + 2, y)
        let pred = ScaleSpaceWarp::new(3, 1.0, 1).predict(&r, &flow, w, h, 1);
        assert_eq!(pred[5 * w + 3], r[5 * w + 5]);
        assert_eq!(pred[5 * w + w - 1], r[5 * w + w - 1], "border");
    }

    #[test]
    fn scale_one_is_the_first_blur_and_gain_scales() {
        let (w, h) = (40, 24);
        let r = ramp(w, h);
        let warp = ScaleSpaceWarp::new(5, 1.5, 1);
        let mut flow = vec![0f32; 4 * w * h];
        flow[2 * w * h..3 * w * h].fill(1.0);
        let blurred = blur(&r, w, h, &warp.kernels[0], 1);
        assert_eq!(warp.predict(&r, &flow, w, h, 1), blurred);
        flow[3 * w * h..].fill(10.0); // clamped to 3
        let scaled = warp.predict(&r, &flow, w, h, 1);
        assert_eq!(scaled[7], blurred[7] * libm::expf(3.0));
        // A constant plane stays constant under any blur (edges replicated).
        let flat = vec![0.25f32; w * h];
        assert!(blur(&flat, w, h, &warp.kernels[3], 1).iter().all(|v| (v - 0.25).abs() < 1e-6));
    }

    #[test]
    fn upsampling_interpolates_between_flow_samples() {
        // 2 samples, stride 4: outputs at 0.5/4 - 0.5 < 0 clamp to the first,
        // the middle ones interpolate, the last ones clamp to the second.
        let warp = ScaleSpaceWarp::new(1, 1.0, 4);
        let mut flow = vec![0f32; 4 * 2];
        flow[..2].copy_from_slice(&[0.0, 8.0]);
        let xs = warp.source_columns(8, 2);
        for y in 0..4 {
            let mut row = [0f32; 8];
            warp.upsample_row(&flow[..2], 2, 1, y, &xs, &mut row);
            assert_eq!(row, [0.0, 0.0, 1.0, 3.0, 5.0, 7.0, 8.0, 8.0]);
        }
    }

    #[test]
    fn any_thread_count_gives_the_same_bits() {
        let (w, h) = (96, 80);
        let r = ramp(w, h);
        let (fw, fh) = (w / 4, h / 4);
        let flow: Vec<f32> = (0..4 * fw * fh).map(|i| ((i as f32) * 0.731).sin() * [3.0, 3.0, 2.5, 0.2][i / (fw * fh)]).collect();
        let warp = ScaleSpaceWarp::new(5, 1.5, 4);
        let one = warp.predict(&r, &flow, w, h, 1);
        for t in [2, 3, 7, 200] {
            assert_eq!(warp.predict(&r, &flow, w, h, t), one, "{t} threads");
        }
    }

    #[test]
    fn nan_flow_stays_in_bounds() {
        let (w, h) = (16, 16);
        let warp = ScaleSpaceWarp::new(5, 1.5, 1);
        let pred = warp.predict(&ramp(w, h), &vec![f32::NAN; 4 * w * h], w, h, 2);
        assert_eq!(pred.len(), w * h);
    }
}
