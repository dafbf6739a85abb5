// SPDX-License-Identifier: MPL-2.0

//! heliotestsrc: determinism, caps negotiation (formats, sizes, refused
//! formats), settings errors, timestamps, seeking, live mode and a round trip
//! through the codec. Frames are kept small (the generator costs ~0.2 s per
//! 512x512 frame on one core).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use gst::prelude::*;
use helio_core::intensity::IntensityTransform;

const TIMEOUT: Duration = Duration::from_secs(120);

/// What came out of a `... ! fakesink name=sink` pipeline.
struct Output {
    buffers: Vec<gst::Buffer>,
    caps: Option<gst::Caps>,
    result: RunResult,
}

impl Output {
    fn bytes(&self) -> Vec<Vec<u8>> {
        self.buffers
            .iter()
            .map(|b| b.map_readable().unwrap().to_vec())
            .collect()
    }

    fn pts(&self) -> Vec<u64> {
        self.buffers
            .iter()
            .map(|b| b.pts().unwrap().nseconds())
            .collect()
    }

    fn durations(&self) -> Vec<u64> {
        self.buffers
            .iter()
            .map(|b| b.duration().unwrap().nseconds())
            .collect()
    }

    fn offsets(&self) -> Vec<u64> {
        self.buffers.iter().map(|b| b.offset()).collect()
    }

    fn structure(&self) -> gst::Structure {
        self.caps
            .as_ref()
            .expect("caps reached the sink")
            .structure(0)
            .unwrap()
            .to_owned()
    }

    fn assert_ok(&self, frames: usize) {
        assert!(
            self.result.eos && self.result.errors.is_empty(),
            "{:?}",
            self.result
        );
        assert_eq!(self.buffers.len(), frames);
    }
}

fn sink_of(pipeline: &gst::Element) -> gst::Element {
    pipeline
        .downcast_ref::<gst::Bin>()
        .unwrap()
        .by_name("sink")
        .unwrap()
}

fn caps_probe(sink: &gst::Element) -> Arc<Mutex<Option<gst::Caps>>> {
    let caps = Arc::new(Mutex::new(None));
    let c = caps.clone();
    sink.static_pad("sink").unwrap().add_probe(
        gst::PadProbeType::EVENT_DOWNSTREAM,
        move |_, info| {
            if let Some(gst::EventView::Caps(e)) = info.event().map(|e| e.view()) {
                *c.lock().unwrap() = Some(e.caps_owned());
            }
            gst::PadProbeReturn::Ok
        },
    );
    caps
}

/// Runs `chain ! fakesink name=sink sync=false` to EOS or error.
fn run(chain: &str) -> Output {
    init();
    let pipeline = gst::parse::launch(&format!("{chain} ! fakesink name=sink sync=false"))
        .unwrap_or_else(|e| panic!("{chain}: {e}"));
    let sink = sink_of(&pipeline);
    let buffers = collect_buffers(&sink);
    let caps = caps_probe(&sink);
    let result = run_to_eos(&pipeline, TIMEOUT);
    let buffers = buffers.lock().unwrap().clone();
    let caps = caps.lock().unwrap().clone();
    Output {
        buffers,
        caps,
        result,
    }
}

fn gray16(w: u32, h: u32) -> String {
    format!("video/x-raw,format=GRAY16_LE,width={w},height={h}")
}

#[test]
fn same_seed_same_bytes_other_seed_differs() {
    let chain = |seed: u64| {
        format!(
            "heliotestsrc num-buffers=3 seed={seed} ! {}",
            gray16(96, 80)
        )
    };
    let a = run(&chain(7));
    let b = run(&chain(7));
    let c = run(&chain(8));
    for o in [&a, &b, &c] {
        o.assert_ok(3);
    }
    assert_eq!(a.bytes(), b.bytes(), "same seed must give the same bytes");
    for (i, (x, y)) in a.bytes().iter().zip(c.bytes()).enumerate() {
        assert_ne!(x, &y, "frame {i}: seeds 7 and 8 gave the same bytes");
    }
    // Consecutive frames differ (the Sun evolves, noise is redrawn) and
    // carry signal.
    let frames = a.bytes();
    assert_ne!(frames[0], frames[1]);
    let s = samples16(&a.buffers[0]);
    assert!(s.iter().any(|&v| v > 100), "frame looks empty");
    assert!(s.iter().all(|&v| v < 1 << 14), "14-bit DN expected");
}

#[test]
fn defaults_fixate_to_gray16_512_at_5fps() {
    let o = run("heliotestsrc num-buffers=1");
    o.assert_ok(1);
    let s = o.structure();
    assert_eq!(s.get::<&str>("format").unwrap(), "GRAY16_LE");
    assert_eq!(s.get::<i32>("width").unwrap(), 512);
    assert_eq!(s.get::<i32>("height").unwrap(), 512);
    assert_eq!(
        s.get::<gst::Fraction>("framerate").unwrap(),
        gst::Fraction::new(5, 1)
    );
    assert_eq!(o.buffers[0].size(), 512 * 512 * 2);
}

#[test]
fn gray8_256_is_sqrt_scaled_gray16() {
    let g8 = run("heliotestsrc num-buffers=1 ! video/x-raw,format=GRAY8,width=256,height=256");
    let g16 = run(&format!(
        "heliotestsrc num-buffers=1 ! {}",
        gray16(256, 256)
    ));
    g8.assert_ok(1);
    g16.assert_ok(1);
    assert_eq!(g8.structure().get::<&str>("format").unwrap(), "GRAY8");
    assert_eq!(g8.buffers[0].size(), 256 * 256);
    let dn = samples16(&g16.buffers[0]);
    let expected: Vec<u8> = dn
        .iter()
        .map(|&v| (IntensityTransform::Sqrt.forward(v as u32, 14) * 255.0).round() as u8)
        .collect();
    assert_eq!(g8.bytes()[0], expected);
}

#[test]
fn odd_size_101x67_uses_padded_strides() {
    let g16 = run(&format!(
        "heliotestsrc num-buffers=1 noise=false ! {}",
        gray16(101, 67)
    ));
    let g8 = run(
        "heliotestsrc num-buffers=1 noise=false ! video/x-raw,format=GRAY8,width=101,height=67",
    );
    g16.assert_ok(1);
    g8.assert_ok(1);
    let info16 = gst_video::VideoInfo::from_caps(g16.caps.as_ref().unwrap()).unwrap();
    let info8 = gst_video::VideoInfo::from_caps(g8.caps.as_ref().unwrap()).unwrap();
    assert_eq!((info16.width(), info16.height()), (101, 67));
    assert_eq!(g16.buffers[0].size(), info16.size());
    assert_eq!(g8.buffers[0].size(), info8.size());
    let (s16, s8) = (info16.stride()[0] as usize, info8.stride()[0] as usize);
    let (b16, b8) = (&g16.bytes()[0], &g8.bytes()[0]);
    // Same image in both formats, row by row (padding ignored).
    for y in 0..67 {
        for x in 0..101 {
            let dn = u16::from_le_bytes([b16[y * s16 + 2 * x], b16[y * s16 + 2 * x + 1]]);
            let t = IntensityTransform::Sqrt.forward(dn as u32, 14);
            assert_eq!(
                b8[y * s8 + x],
                (t * 255.0).round() as u8,
                "pixel ({x}, {y})"
            );
        }
    }
}

#[test]
fn rgb_is_not_negotiated() {
    init();
    // A caps string in the launch line would already fail linking; restrict
    // after linking so that negotiation itself refuses.
    let pipeline =
        gst::parse::launch("heliotestsrc num-buffers=1 ! capsfilter name=f ! fakesink name=sink")
            .unwrap();
    let bin = pipeline.downcast_ref::<gst::Bin>().unwrap();
    bin.by_name("f").unwrap().set_property(
        "caps",
        gst::Caps::builder("video/x-raw")
            .field("format", "RGB")
            .build(),
    );
    let buffers = collect_buffers(&sink_of(&pipeline));
    let result = run_to_eos(&pipeline, TIMEOUT);
    assert!(buffers.lock().unwrap().is_empty());
    let errors = result.errors.join("\n");
    assert!(errors.contains("not-negotiated"), "{errors}");
}

#[test]
fn unknown_wavelength_fails_start_naming_it() {
    init();
    let src = gst::ElementFactory::make("heliotestsrc").build().unwrap();
    // Setting it must not panic, and reads back.
    src.set_property("wavelength", 200u32);
    assert_eq!(src.property::<u32>("wavelength"), 200);

    let o = run("heliotestsrc wavelength=200 num-buffers=1");
    assert!(o.buffers.is_empty());
    let errors = o.result.errors.join("\n");
    assert!(errors.contains("wavelength 200"), "{errors}");
    for w in [
        "94", "131", "171", "193", "211", "304", "335", "1600", "1700",
    ] {
        assert!(
            errors.contains(w),
            "valid wavelength {w} not listed: {errors}"
        );
    }

    // Every AIA wavelength works.
    let o = run(&format!(
        "heliotestsrc wavelength=1700 num-buffers=1 ! {}",
        gray16(32, 32)
    ));
    o.assert_ok(1);
}

#[test]
fn timestamps_follow_fps() {
    let o = run(&format!("heliotestsrc num-buffers=3 ! {}", gray16(32, 32)));
    o.assert_ok(3);
    let ms = 1_000_000;
    assert_eq!(o.pts(), [0, 200 * ms, 400 * ms]);
    assert_eq!(o.durations(), [200 * ms; 3]);
    assert_eq!(o.offsets(), [0, 1, 2]);
    assert!(o.buffers.iter().all(|b| b.offset_end() == b.offset() + 1));

    // Non-integer frame period: contiguous timestamps.
    let o = run(&format!(
        "heliotestsrc num-buffers=4 fps=3/1 ! {}",
        gray16(32, 32)
    ));
    o.assert_ok(4);
    let (pts, dur) = (o.pts(), o.durations());
    assert_eq!(pts, [0, 333_333_333, 666_666_666, 1_000_000_000]);
    for i in 0..3 {
        assert_eq!(pts[i] + dur[i], pts[i + 1]);
    }

    // A framerate in downstream caps wins over the property.
    let o = run(&format!(
        "heliotestsrc num-buffers=2 fps=3/1 ! {},framerate=10/1",
        gray16(32, 32)
    ));
    o.assert_ok(2);
    assert_eq!(o.pts(), [0, 100 * ms]);
}

#[test]
fn cadence_changes_the_sun_not_the_timestamps() {
    let a = run(&format!(
        "heliotestsrc num-buffers=2 cadence=12 ! {}",
        gray16(48, 48)
    ));
    let b = run(&format!(
        "heliotestsrc num-buffers=2 cadence=600 ! {}",
        gray16(48, 48)
    ));
    a.assert_ok(2);
    b.assert_ok(2);
    assert_eq!(a.pts(), b.pts());
    // Frame 0 is t = 0 for any cadence; frame 1 is 12 s vs 10 min later.
    assert_eq!(a.bytes()[0], b.bytes()[0]);
    assert_ne!(a.bytes()[1], b.bytes()[1]);
}

#[test]
fn seek_jumps_to_the_frame_index() {
    init();
    let caps = gray16(48, 48);
    let reference = run(&format!("heliotestsrc num-buffers=7 ! {caps}"));
    reference.assert_ok(7);

    let pipeline = gst::parse::launch(&format!(
        "heliotestsrc ! {caps} ! fakesink name=sink sync=false"
    ))
    .unwrap();
    let sink = sink_of(&pipeline);
    pipeline.set_state(gst::State::Paused).unwrap();
    let (res, _, _) = pipeline.state(gst::ClockTime::from_seconds(30));
    res.expect("prerolls");
    let buffers = collect_buffers(&sink);
    // 1 s at 5 fps = frame 5; stop after frame 6.
    pipeline
        .seek(
            1.0,
            gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE,
            gst::SeekType::Set,
            gst::ClockTime::from_seconds(1),
            gst::SeekType::Set,
            gst::ClockTime::from_mseconds(1300),
        )
        .expect("seek accepted");
    let result = run_to_eos(&pipeline, TIMEOUT);
    assert!(result.eos && result.errors.is_empty(), "{result:?}");
    let buffers = buffers.lock().unwrap().clone();
    assert_eq!(buffers.len(), 2, "frames 5 and 6 up to the segment stop");
    assert_eq!(buffers[0].offset(), 5);
    assert_eq!(buffers[0].pts(), Some(gst::ClockTime::from_seconds(1)));
    let want = reference.bytes();
    assert_eq!(
        buffers[0].map_readable().unwrap().as_slice(),
        want[5].as_slice()
    );
    assert_eq!(
        buffers[1].map_readable().unwrap().as_slice(),
        want[6].as_slice()
    );
}

#[test]
fn live_source_runs_on_the_clock() {
    init();
    let t0 = std::time::Instant::now();
    let pipeline = gst::parse::launch(&format!(
        "heliotestsrc is-live=true fps=20/1 num-buffers=4 ! {} ! fakesink name=sink sync=true",
        gray16(32, 32)
    ))
    .unwrap();
    let buffers = collect_buffers(&sink_of(&pipeline));
    let result = run_to_eos(&pipeline, TIMEOUT);
    assert!(result.eos && result.errors.is_empty(), "{result:?}");
    let buffers = buffers.lock().unwrap().clone();
    assert_eq!(buffers.len(), 4);
    // Frames are released on the clock: the last one (pts 150 ms) not before.
    assert!(
        t0.elapsed() >= Duration::from_millis(150),
        "{:?}",
        t0.elapsed()
    );
    let pts: Vec<u64> = buffers
        .iter()
        .map(|b| b.pts().unwrap().mseconds())
        .collect();
    assert!(pts.windows(2).all(|w| w[0] < w[1]), "{pts:?}");
}

#[test]
fn round_trip_through_the_codec() {
    let Some(model) = model_or_skip("round_trip_through_the_codec") else {
        return;
    };
    let o = run(&format!(
        "heliotestsrc num-buffers=3 ! {} ! \
         helioenc model-dir=\"{model}\" execution-provider=cpu ! helioparse ! \
         heliodec model-dir=\"{model}\" execution-provider=cpu",
        gray16(256, 256)
    ));
    o.assert_ok(3);
    let s = o.structure();
    assert_eq!(s.get::<&str>("format").unwrap(), "GRAY16_LE");
    assert_eq!(s.get::<i32>("width").unwrap(), 256);
    assert_eq!(o.pts()[2], 400_000_000);
}
