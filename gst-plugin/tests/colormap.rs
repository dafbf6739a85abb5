// SPDX-License-Identifier: MPL-2.0

//! heliocolormap through gst_check::Harness: caps (GRAY8 / GRAY16_LE in, RGB out, the rest
//! refused with a message), ramps mapped onto the AIA tables, 16-bit scalings, property
//! checks and changes while playing. Needs no model.

mod common;

use std::time::Duration;

use common::*;
use gst::prelude::*;

const WAVELENGTHS: [u32; 11] = [0, 94, 131, 171, 193, 211, 304, 335, 1600, 1700, 4500];

/// A harness around a heliocolormap with `props` set as gst-launch would (from strings).
fn harness(props: &[(&str, &str)]) -> gst_check::Harness {
    init();
    let element = gst::ElementFactory::make("heliocolormap")
        .build()
        .expect("heliocolormap registered");
    for (name, value) in props {
        element.set_property_from_str(name, value);
    }
    gst_check::Harness::with_element(&element, Some("sink"), Some("src"))
}

/// A GRAY8 buffer whose `width` x `height` samples (row-major) are `f(x, y)`, laid out
/// with GStreamer's default stride for the width.
fn gray8(width: u32, height: u32, f: impl Fn(u32, u32) -> u8) -> gst::Buffer {
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Gray8, width, height)
        .build()
        .unwrap();
    let stride = info.stride()[0] as usize;
    let mut bytes = vec![0u8; info.size()];
    for y in 0..height {
        for x in 0..width {
            bytes[y as usize * stride + x as usize] = f(x, y);
        }
    }
    gst::Buffer::from_mut_slice(bytes)
}

/// A one-row GRAY16_LE frame holding `values`.
fn gray16_row(values: &[u16]) -> (gst::Caps, gst::Buffer) {
    (
        raw_caps("GRAY16_LE", values.len() as u32, 1),
        gray16_buffer(values, gst::ClockTime::ZERO),
    )
}

/// The pixels of an output frame as [r, g, b] (x byte dropped), row-major, using the
/// caps negotiated on the harness's sink pad.
fn rgb_pixels(h: &gst_check::Harness, buffer: &gst::Buffer) -> (String, Vec<[u8; 3]>) {
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let info = gst_video::VideoInfo::from_caps(&caps).unwrap();
    let (w, ht, stride) = (
        info.width() as usize,
        info.height() as usize,
        info.stride()[0] as usize,
    );
    let format = info.format().to_str().to_string();
    let (bpp, order) = match format.as_str() {
        "RGB" => (3, [0, 1, 2]),
        "RGBx" => (4, [0, 1, 2]),
        "BGRx" => (4, [2, 1, 0]),
        f => panic!("unexpected output format {f}"),
    };
    let map = buffer.map_readable().unwrap();
    let mut out = Vec::with_capacity(w * ht);
    for row in map.chunks(stride).take(ht) {
        for px in row[..w * bpp].chunks_exact(bpp) {
            out.push([px[order[0]], px[order[1]], px[order[2]]]);
        }
    }
    (format, out)
}

/// Pushes one frame and returns its coloured pixels.
fn colour(h: &mut gst_check::Harness, caps: gst::Caps, buffer: gst::Buffer) -> Vec<[u8; 3]> {
    h.set_src_caps(caps);
    h.push(buffer).expect("frame coloured");
    let out = h.pull().unwrap();
    rgb_pixels(h, &out).1
}

/// The 256 entries of a wavelength's table: a GRAY8 ramp 0..255, linear scaling.
fn table(wavelength: u32) -> Vec<[u8; 3]> {
    let wavelength = wavelength.to_string();
    let mut h = harness(&[("wavelength", &wavelength), ("scaling", "linear")]);
    colour(
        &mut h,
        raw_caps("GRAY8", 256, 1),
        gray8(256, 1, |x, _| x as u8),
    )
}

#[test]
fn gray_in_rgb_out_same_size_and_rate() {
    let mut h = harness(&[]);
    let pad = h.element().unwrap().static_pad("sink").unwrap();
    for ok in ["GRAY8", "GRAY16_LE"] {
        assert!(pad.query_accept_caps(&raw_caps(ok, 256, 256)), "{ok}");
    }
    for refused in ["RGB", "GRAY16_BE", "I420", "GRAY10_LE32"] {
        assert!(
            !pad.query_accept_caps(&raw_caps(refused, 256, 256)),
            "{refused}"
        );
    }
    // What the source pad offers for a grey input: RGB first.
    let src = h.element().unwrap().static_pad("src").unwrap();
    let offered = src.query_caps(None);
    assert!(offered.can_intersect(&raw_caps("RGB", 64, 32)));
    assert!(!offered.can_intersect(&raw_caps("GRAY8", 64, 32)));

    h.set_src_caps(raw_caps("GRAY16_LE", 100, 30));
    h.push(gray16_buffer(&[0; 100 * 30], gst::ClockTime::ZERO))
        .unwrap();
    let out = h.pull().unwrap();
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let s = caps.structure(0).unwrap();
    assert_eq!(s.get::<&str>("format").unwrap(), "RGB", "{caps}");
    assert_eq!(s.get::<i32>("width").unwrap(), 100);
    assert_eq!(s.get::<i32>("height").unwrap(), 30);
    assert_eq!(
        s.get::<gst::Fraction>("framerate").unwrap(),
        gst::Fraction::new(1, 1)
    );
    // RGB rows of 300 bytes, padded to 4: 30 x 300.
    assert_eq!(out.size(), 30 * 300);
    assert_eq!(out.pts(), Some(gst::ClockTime::ZERO));
}

#[test]
fn other_formats_are_not_negotiated_with_a_message() {
    for (format, bytes) in [("RGB", 3), ("GRAY16_BE", 2), ("I420", 2)] {
        let mut h = harness(&[]);
        let bus = gst::Bus::new();
        h.element().unwrap().set_bus(Some(&bus));
        h.set_src_caps(raw_caps(format, 64, 64));
        let res = h.push(gst::Buffer::from_mut_slice(vec![0u8; 64 * 64 * bytes]));
        assert_eq!(res, Err(gst::FlowError::NotNegotiated), "{format}");
        let msgs = drain_bus(&bus);
        assert!(
            msgs.warnings
                .iter()
                .any(|m| m.contains("GRAY8") && m.contains("GRAY16_LE")),
            "{format}: a message names the supported formats: {msgs:?}"
        );
    }
}

#[test]
fn gray8_ramp_maps_onto_the_171_table() {
    let t = table(171);
    assert_eq!(t.len(), 256);
    // IDL table 3 red (byte(255 i / 176)), identity green, IDL table 3 blue.
    assert_eq!(t[0], [0, 0, 0]);
    assert_eq!(t[128], [185, 128, 0]);
    assert_eq!(t[200], [255, 200, 39]);
    assert_eq!(t[255], [255, 255, 255]);
    // 304 is IDL table 3 itself.
    let t304 = table(304);
    assert_eq!(
        (t304[0], t304[128], t304[200]),
        ([0, 0, 0], [185, 15, 0], [255, 151, 39])
    );
    assert_eq!(t304[255], [255, 255, 255]);
}

#[test]
fn strided_frames_and_every_output_format() {
    // Width 101: GRAY8 rows padded to 104 bytes, RGB rows (303) to 304.
    let ramp = |x: u32, y: u32| ((x * 2 + y) % 256) as u8;
    let t = table(171);
    for format in ["RGB", "RGBx", "BGRx"] {
        let mut h = harness(&[("scaling", "linear")]);
        h.set_sink_caps(
            gst::Caps::builder("video/x-raw")
                .field("format", format)
                .build(),
        );
        h.set_src_caps(raw_caps("GRAY8", 101, 3));
        h.push(gray8(101, 3, ramp)).unwrap();
        let out = h.pull().unwrap();
        let (got, px) = rgb_pixels(&h, &out);
        assert_eq!(got, format);
        for y in 0..3 {
            for x in 0..101 {
                assert_eq!(
                    px[(y * 101 + x) as usize],
                    t[ramp(x, y) as usize],
                    "{format} ({x}, {y})"
                );
            }
        }
    }
}

#[test]
fn every_wavelength_has_a_different_table() {
    let tables: Vec<Vec<[u8; 3]>> = WAVELENGTHS.iter().map(|&w| table(w)).collect();
    for (i, a) in tables.iter().enumerate() {
        // Black to bright, never darker along the ramp.
        assert_eq!(a[0], [0, 0, 0], "{}", WAVELENGTHS[i]);
        assert!(
            a.windows(2).all(|p| (0..3).all(|c| p[1][c] >= p[0][c])),
            "{}",
            WAVELENGTHS[i]
        );
        for (j, b) in tables.iter().enumerate().skip(i + 1) {
            assert_ne!(a, b, "{} and {}", WAVELENGTHS[i], WAVELENGTHS[j]);
        }
    }
    // 0 is plain grey.
    assert!(
        tables[0]
            .iter()
            .enumerate()
            .all(|(i, p)| *p == [i as u8; 3])
    );
}

#[test]
fn gray16_scalings() {
    let values = [0u16, 1024, 4096, 16383, 20000, 65535];
    let grey = |scaling: &str, extra: &[(&str, &str)]| -> Vec<u8> {
        let mut props = vec![("wavelength", "0"), ("scaling", scaling)];
        props.extend_from_slice(extra);
        let mut h = harness(&props);
        let (caps, buffer) = gray16_row(&values);
        colour(&mut h, caps, buffer).iter().map(|p| p[0]).collect()
    };
    // Default: sqrt over 0..2^14-1; sqrt(1024/16383) = 0.25 -> 64, sqrt(4096/16383) -> 128.
    assert_eq!(grey("sqrt", &[]), [0, 64, 128, 255, 255, 255]);
    // Linear: 1024/16383*255 = 15.9 -> 16, 4096 -> 63.8 -> 64.
    assert_eq!(grey("linear", &[]), [0, 16, 64, 255, 255, 255]);
    // Log: log(1 + 1000 x)/log(1001), x = 1024/16383 -> 0.6004 -> 153; 4096 -> 0.7999 -> 204.
    assert_eq!(grey("log", &[]), [0, 153, 204, 255, 255, 255]);
    // bit-depth 12: 4095 is the top; 1024 -> sqrt(0.25006) -> 128.
    assert_eq!(
        grey("sqrt", &[("bit-depth", "12")]),
        [0, 128, 255, 255, 255, 255]
    );
    // Explicit range 1024..4096: below -> 0, above -> 255.
    assert_eq!(
        grey("linear", &[("min", "1024"), ("max", "4096")]),
        [0, 0, 255, 255, 255, 255]
    );
    // The default wavelength colours the same indices with the 171 table.
    let mut h = harness(&[]);
    let (caps, buffer) = gray16_row(&values);
    let t = table(171);
    assert_eq!(
        colour(&mut h, caps, buffer),
        [0, 64, 128, 255, 255, 255].map(|i| t[i])
    );
}

#[test]
fn invalid_settings_fail_with_a_clear_message() {
    init();
    let cases = [
        ("wavelength=172", "wavelength 172 has no colour table"),
        (
            "wavelength=195",
            "94, 131, 171, 193, 211, 304, 335, 1600, 1700, 4500",
        ),
        ("min=300", "min (300) must be below max (255"),
        ("min=500 max=400", "min (500) must be below max (400)"),
    ];
    for (props, expected) in cases {
        let pipeline = gst::parse::launch(&format!(
            "videotestsrc num-buffers=2 ! video/x-raw,format=GRAY8,width=64,height=64 \
             ! heliocolormap {props} ! fakesink"
        ))
        .unwrap();
        let res = run_to_eos(&pipeline, Duration::from_secs(10));
        assert!(!res.eos, "{props}: {res:?}");
        assert!(
            res.errors.iter().any(|e| e.contains(expected)),
            "{props}: expected an error containing {expected:?}: {res:?}"
        );
    }
    // The value reads back as set (the check is at start).
    let e = gst::ElementFactory::make("heliocolormap")
        .property("wavelength", 172u32)
        .build()
        .unwrap();
    assert_eq!(e.property::<u32>("wavelength"), 172);
}

#[test]
fn properties_change_while_playing() {
    let mut h = harness(&[("scaling", "linear")]);
    let bus = gst::Bus::new();
    h.element().unwrap().set_bus(Some(&bus));
    let frame = || gray8(256, 1, |x, _| x as u8);
    assert_eq!(
        colour(&mut h, raw_caps("GRAY8", 256, 1), frame()),
        table(171)
    );

    h.element().unwrap().set_property("wavelength", 304u32);
    h.push(frame()).unwrap();
    let out = h.pull().unwrap();
    assert_eq!(rgb_pixels(&h, &out).1, table(304));

    // Refused while playing: warning, the 304 colouring stays.
    h.element().unwrap().set_property("wavelength", 500u32);
    assert_eq!(h.element().unwrap().property::<u32>("wavelength"), 304);
    h.push(frame()).unwrap();
    let out = h.pull().unwrap();
    assert_eq!(rgb_pixels(&h, &out).1, table(304));
    let msgs = drain_bus(&bus);
    assert!(
        msgs.warnings
            .iter()
            .any(|m| m.contains("wavelength 500") && m.contains("refused")),
        "{msgs:?}"
    );

    h.element().unwrap().set_property("max", 127u32);
    h.push(frame()).unwrap();
    let out = h.pull().unwrap();
    let px = rgb_pixels(&h, &out).1;
    let t = table(304);
    assert_eq!((px[0], px[127], px[200]), (t[0], t[255], t[255]));
}
