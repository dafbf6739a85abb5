//! Time of codec-core's scale-space warp (not a test: machines are noisy).
//!
//!     cargo bench -p helio-codec-core --bench warp
//!
//! 512x512 frame, flow at 1/4 resolution, 5 levels from sigma 1.5 (the shipped
//! package's settings), on 1 and 2 threads: once with the scale channel at 0
//! (what the shipped models produce: no blur is computed) and once reaching the
//! top level (all four blurs). Median of 15 runs.

use helio_core::warp::ScaleSpaceWarp;
use std::time::Instant;

fn main() {
    let (w, h, stride) = (512, 512, 4);
    let (fw, fh) = (w / stride, h / stride);
    let reference: Vec<f32> = (0..w * h).map(|i| ((i % w) as f32 * 0.05).sin() * 0.3 + 0.5).collect();
    let warp = ScaleSpaceWarp::new(5, 1.5, stride);
    for (what, top) in [("scale 0 (no blur)", 0.0f32), ("scales up to 4 (all blurs)", 4.0)] {
        let flow: Vec<f32> = (0..4 * fw * fh)
            .map(|i| match i / (fw * fh) {
                0 | 1 => ((i as f32) * 0.37).sin() * 1.5,
                2 => top * (i % fw) as f32 / (fw - 1) as f32,
                _ => 0.01,
            })
            .collect();
        for threads in [1, 2] {
            let mut t: Vec<f64> = (0..15)
                .map(|_| {
                    let s = Instant::now();
                    std::hint::black_box(warp.predict(&reference, &flow, w, h, threads));
                    s.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            t.sort_by(f64::total_cmp);
            println!("warp 512x512, {what}, {threads} thread(s): {:.2} ms", t[7]);
        }
    }
}
