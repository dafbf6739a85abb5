// SPDX-License-Identifier: MPL-2.0

//! heliomsjoin / heliomssplit: bands in ascending wavelength order whatever
//! the request order, bytes and timestamps kept, odd widths (row padding),
//! a band that stops (plane zeroed, CORRUPTED, a warning naming it, the others
//! flowing), mismatched bands refused naming the pad, join ! split bit-exact.

mod common;

use std::time::Duration;

use common::*;
use gst::prelude::*;

/// Buffers reaching each named fakesink of `launch`, and the messages.
fn run(launch: &str, sinks: &[&str]) -> (Vec<Vec<gst::Buffer>>, RunResult) {
    init();
    let pipeline = gst::parse::launch(launch).unwrap();
    let bin = pipeline.downcast_ref::<gst::Bin>().unwrap();
    let collected: Vec<_> = sinks.iter().map(|s| collect_buffers(&bin.by_name(s).unwrap())).collect();
    let res = run_to_eos(&pipeline, Duration::from_secs(120));
    (collected.iter().map(|c| c.lock().unwrap().clone()).collect(), res)
}

fn band(wl: u32, frames: u32, fmt: &str, w: u32, h: u32) -> String {
    format!(
        "heliotestsrc num-buffers={frames} wavelength={wl} ! video/x-raw,format={fmt},width={w},height={h},framerate=5/1"
    )
}

#[test]
fn join_orders_bands_by_wavelength_and_split_gives_them_back() {
    // Requested 304, 171, 193; odd width 67 in GRAY8 pads each row to 68 bytes.
    let (w, h) = (67, 40);
    let launch = format!(
        "heliomsjoin name=j ! tee name=t ! queue ! fakesink name=joined \
         t. ! queue ! heliomssplit name=s \
         s.src_171 ! queue ! fakesink name=o171 s.src_193 ! queue ! fakesink name=o193 \
         s.src_304 ! queue ! fakesink name=o304 \
         {} ! tee name=a304 ! queue ! j.sink_304 a304. ! queue ! fakesink name=i304 \
         {} ! tee name=a171 ! queue ! j.sink_171 a171. ! queue ! fakesink name=i171 \
         {} ! tee name=a193 ! queue ! j.sink_193 a193. ! queue ! fakesink name=i193",
        band(304, 3, "GRAY8", w, h),
        band(171, 3, "GRAY8", w, h),
        band(193, 3, "GRAY8", w, h)
    );
    let (b, res) = run(&launch, &["joined", "o171", "o193", "o304", "i171", "i193", "i304"]);
    assert!(res.eos && res.errors.is_empty() && res.warnings.is_empty(), "{res:?}");
    let (joined, outs, ins) = (&b[0], &b[1..4], &b[4..7]);
    assert_eq!(joined.len(), 3);
    let plane = 68 * h as usize;
    for (i, set) in joined.iter().enumerate() {
        let data = bytes(set);
        assert_eq!(data.len(), 3 * plane);
        assert!(!set.flags().contains(gst::BufferFlags::CORRUPTED));
        // The samples of each row (the 68th byte is row padding, undefined).
        let rows = |b: &[u8]| b.chunks(68).map(|r| r[..w as usize].to_vec()).collect::<Vec<_>>();
        for c in 0..3 {
            // Plane c is band c in ascending order (171, 193, 304): the input's samples.
            let input = rows(&bytes(&ins[c][i]));
            assert!(rows(&data[c * plane..(c + 1) * plane]) == input, "set {i} plane {c}");
            // heliomssplit hands the same bytes and timestamp back.
            assert!(bytes(&outs[c][i]) == data[c * plane..(c + 1) * plane], "split set {i} band {c}");
            assert_eq!(outs[c][i].pts(), ins[c][i].pts());
        }
        assert_eq!(set.pts(), ins[0][i].pts());
    }
    // The bands differ (171 vs 304 are different plasma temperatures).
    assert!(bytes(&ins[0][0]) != bytes(&ins[2][0]));
}

#[test]
fn a_band_that_stops_is_zeroed_flagged_and_named() {
    let launch = format!(
        "heliomsjoin name=j ! fakesink name=joined {} ! j.sink_171 {} ! j.sink_193",
        band(171, 4, "GRAY16_LE", 64, 64),
        band(193, 1, "GRAY16_LE", 64, 64)
    );
    let (b, res) = run(&launch, &["joined"]);
    assert!(res.eos && res.errors.is_empty(), "{res:?}");
    let sets = &b[0];
    assert_eq!(sets.len(), 4, "171 keeps flowing after 193 stops");
    let plane = 64 * 64 * 2;
    for (i, s) in sets.iter().enumerate() {
        let data = bytes(s);
        let missing = i > 0;
        assert_eq!(s.flags().contains(gst::BufferFlags::CORRUPTED), missing, "set {i}");
        assert_eq!(data[plane..].iter().all(|&v| v == 0), missing, "set {i}: 193 plane");
        assert!(data[..plane].iter().any(|&v| v != 0), "set {i}: 171 plane");
    }
    // One warning for the outage, naming the pad and wavelength.
    assert_eq!(res.warnings.len(), 1, "{:?}", res.warnings);
    assert!(res.warnings[0].contains("sink_193") && res.warnings[0].contains("193 A"), "{:?}", res.warnings);
}

#[test]
fn bands_of_different_sizes_are_refused_naming_the_pad() {
    let launch = format!(
        "heliomsjoin name=j ! fakesink name=joined {} ! j.sink_171 {} ! j.sink_193",
        band(171, 2, "GRAY16_LE", 64, 64),
        band(193, 2, "GRAY16_LE", 64, 80)
    );
    let (_, res) = run(&launch, &["joined"]);
    let all = res.errors.join("\n");
    assert!(all.contains("sink_193") && all.contains("sink_171") && all.contains("videocrop"), "{all}");
}

#[test]
fn pads_without_a_number_take_the_next_aia_wavelength() {
    init();
    let join = gst::ElementFactory::make("heliomsjoin").build().unwrap();
    let a = join.request_pad_simple("sink_%u").unwrap();
    let b = join.request_pad_simple("sink_171").unwrap();
    let c = join.request_pad_simple("sink_%u").unwrap();
    assert_eq!((a.name().as_str(), b.name().as_str(), c.name().as_str()), ("sink_94", "sink_171", "sink_131"));
    assert!(join.request_pad_simple("sink_0").is_none(), "wavelength 0");
}
