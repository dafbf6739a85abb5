// SPDX-License-Identifier: MPL-2.0

//! helioparse and the typefinder on synthetic streams written with
//! codec-core's bitstream writer: no model package or ONNX Runtime needed.

mod common;

use common::*;
use gst::prelude::*;
use helio_core::bitstream::{FrameType, SEQUENCE_HEADER_LEN};

/// Pushes `data` into a helioparse harness in chunks of `chunk` bytes, then
/// EOS, and returns the output buffers and the src caps.
fn parse(
    data: &[u8],
    chunk: usize,
    sink_caps: &str,
    extra: &str,
) -> (Vec<gst::Buffer>, Option<gst::Caps>, RunResult) {
    init();
    let mut h = gst_check::Harness::new_parse(&format!("helioparse {extra}"));
    let bus = gst::Bus::new();
    h.element().unwrap().set_bus(Some(&bus));
    h.set_src_caps_str(sink_caps);
    // Like filesrc: a BYTES segment and buffers without timestamps.
    let mut segment = gst::FormattedSegment::<gst::format::Bytes>::new();
    segment.set_start(gst::format::Bytes::ZERO);
    assert!(h.push_event(gst::event::Segment::new(&segment)));
    for piece in data.chunks(chunk) {
        h.push(gst::Buffer::from_slice(piece.to_vec())).unwrap();
    }
    assert!(h.push_event(gst::event::Eos::new()));
    let mut out = Vec::new();
    while let Some(buffer) = h.try_pull() {
        out.push(buffer);
    }
    let caps = h.sinkpad().and_then(|p| p.current_caps());
    (out, caps, drain_bus(&bus))
}

fn stream_i_p_i() -> (Vec<u8>, [usize; 3]) {
    let header = test_header(128, 96, 14);
    let u0 = test_unit(Some(&header), FrameType::I, 0, 1500);
    let u1 = test_unit(None, FrameType::P, 1, 700);
    let u2 = test_unit(Some(&header), FrameType::I, 2, 1800);
    let lens = [u0.len(), u1.len(), u2.len()];
    ([u0, u1, u2].concat(), lens)
}

#[test]
fn splits_access_units_and_marks_keyframes() {
    let (stream, lens) = stream_i_p_i();
    for chunk in [1, 7, 100, 4096, stream.len()] {
        let (out, caps, msgs) = parse(&stream, chunk, "video/x-helio", "");
        assert_eq!(
            out.iter().map(|b| b.size()).collect::<Vec<_>>(),
            lens.to_vec(),
            "chunk size {chunk}"
        );
        assert!(!out[0].flags().contains(gst::BufferFlags::DELTA_UNIT));
        assert!(out[1].flags().contains(gst::BufferFlags::DELTA_UNIT));
        assert!(!out[2].flags().contains(gst::BufferFlags::DELTA_UNIT));
        assert!(msgs.warnings.is_empty(), "{:?}", msgs.warnings);

        let caps = caps.expect("src caps");
        let s = caps.structure(0).unwrap();
        assert_eq!(s.name(), "video/x-helio");
        assert!(s.get::<bool>("parsed").unwrap());
        assert_eq!(s.get::<i32>("width").unwrap(), 128);
        assert_eq!(s.get::<i32>("height").unwrap(), 96);
        assert_eq!(s.get::<i32>("channels").unwrap(), 1);
        assert_eq!(s.get::<i32>("bit-depth").unwrap(), 14);
        let streamheader = s.get::<gst::ArrayRef>("streamheader").unwrap();
        let header_buf = streamheader.as_slice()[0].get::<gst::Buffer>().unwrap();
        assert!(header_buf.flags().contains(gst::BufferFlags::HEADER));
        assert_eq!(
            &*header_buf.map_readable().unwrap(),
            &stream[..SEQUENCE_HEADER_LEN]
        );
    }
}

#[test]
fn skips_garbage_and_bad_crc_then_resyncs() {
    let header = test_header(64, 64, 8);
    let u0 = test_unit(Some(&header), FrameType::I, 0, 900);
    let mut u1 = test_unit(Some(&header), FrameType::I, 1, 900);
    let u2 = test_unit(Some(&header), FrameType::I, 2, 900);
    let u3 = test_unit(Some(&header), FrameType::I, 3, 900);
    let n = u1.len();
    u1[n - 10] ^= 0x40; // payload damage: packet CRC mismatch
    let garbage: Vec<u8> = (0..333u32).map(|i| (i * 13 + 5) as u8).collect();
    // Garbage first, damaged unit, garbage with a fake sync word, a unit cut
    // short (its tail is missing), then good units.
    let mut stream = garbage.clone();
    stream.extend_from_slice(&u0);
    stream.extend_from_slice(&u1);
    stream.extend_from_slice(&garbage);
    stream.extend_from_slice(b"HLFRxx");
    stream.extend_from_slice(&u2[..u2.len() / 2]);
    stream.extend_from_slice(&u3);
    stream.extend_from_slice(&u2);

    let (out, caps, msgs) = parse(&stream, 512, "video/x-helio", "");
    let sizes: Vec<usize> = out.iter().map(|b| b.size()).collect();
    assert_eq!(sizes, vec![u0.len(), u3.len(), u2.len()]);
    assert_eq!(
        &*out[1].map_readable().unwrap(),
        &u3[..],
        "unit after damage is intact"
    );
    assert!(out[1].flags().contains(gst::BufferFlags::DISCONT));
    assert!(caps.is_some());
    assert!(
        msgs.warnings.iter().any(|w| w.contains("Skipped")),
        "warnings: {:?}",
        msgs.warnings
    );
}

#[test]
fn truncated_last_unit_is_dropped_at_eos() {
    let (stream, lens) = stream_i_p_i();
    let cut = &stream[..stream.len() - 100];
    let (out, _, msgs) = parse(cut, 1000, "video/x-helio", "");
    assert_eq!(
        out.iter().map(|b| b.size()).collect::<Vec<_>>(),
        lens[..2].to_vec()
    );
    assert!(!msgs.warnings.is_empty(), "a warning about the cut unit");
}

#[test]
fn drops_units_before_the_first_sequence_header() {
    let header = test_header(64, 64, 8);
    let p = test_unit(None, FrameType::P, 5, 300);
    let i = test_unit(Some(&header), FrameType::I, 6, 300);
    let stream = [p.clone(), i.clone()].concat();
    let (out, _, _) = parse(&stream, 4096, "video/x-helio", "");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].size(), i.len());
}

#[test]
fn streamheader_in_sink_caps_allows_headerless_units() {
    let header = test_header(64, 64, 8);
    let p = test_unit(None, FrameType::P, 1, 300);
    let header_hex: String = header
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let caps = format!("video/x-helio, streamheader=(buffer)<{header_hex}>");
    let (out, caps, _) = parse(&p, 4096, &caps, "");
    assert_eq!(out.len(), 1);
    let s = caps.unwrap();
    assert_eq!(s.structure(0).unwrap().get::<i32>("width").unwrap(), 64);
}

#[test]
fn timestamps_from_upstream_framerate() {
    let (stream, _) = stream_i_p_i();
    let (out, caps, _) = parse(&stream, 4096, "video/x-helio, framerate=(fraction)2/1", "");
    let pts: Vec<_> = out.iter().map(|b| b.pts()).collect();
    assert_eq!(
        pts,
        vec![
            Some(gst::ClockTime::ZERO),
            Some(gst::ClockTime::from_mseconds(500)),
            Some(gst::ClockTime::from_mseconds(1000))
        ]
    );
    let s = caps.unwrap();
    assert_eq!(
        s.structure(0)
            .unwrap()
            .get::<gst::Fraction>("framerate")
            .unwrap(),
        gst::Fraction::new(2, 1)
    );
}

#[test]
fn timestamps_from_default_framerate_property() {
    let (stream, _) = stream_i_p_i();
    let (out, caps, _) = parse(&stream, 4096, "video/x-helio", "default-framerate=1/12");
    let pts: Vec<_> = out.iter().map(|b| b.pts()).collect();
    assert_eq!(
        pts,
        vec![
            Some(gst::ClockTime::ZERO),
            Some(gst::ClockTime::from_seconds(12)),
            Some(gst::ClockTime::from_seconds(24))
        ]
    );
    assert_eq!(
        caps.unwrap()
            .structure(0)
            .unwrap()
            .get::<gst::Fraction>("framerate")
            .unwrap(),
        gst::Fraction::new(1, 12)
    );
}

#[test]
fn typefinder_recognises_helio_streams() {
    init();
    let (stream, _) = stream_i_p_i();
    let (caps, prob) =
        gst_base::functions::type_find_helper_for_data(None::<&gst::Object>, &stream)
            .expect("typefinder finds the stream");
    assert_eq!(caps.structure(0).unwrap().name(), "video/x-helio");
    assert_eq!(prob, gst::TypeFindProbability::Maximum);

    // A stream cut in the middle is still recognised from a later keyframe.
    let mut cut = vec![0x55u8; 700];
    cut.extend_from_slice(&stream);
    let (caps, _) = gst_base::functions::type_find_helper_for_data(None::<&gst::Object>, &cut)
        .expect("typefinder finds the cut stream");
    assert_eq!(caps.structure(0).unwrap().name(), "video/x-helio");

    assert!(
        gst_base::functions::type_find_helper_for_data(None::<&gst::Object>, [0u8; 2048])
            .map(|(c, _)| c.structure(0).unwrap().name() != "video/x-helio")
            .unwrap_or(true)
    );
}

#[test]
fn elements_are_registered_with_documented_properties() {
    init();
    for (name, props) in [
        (
            "helioenc",
            &[
                "quality",
                "model-dir",
                "execution-provider",
                "threads",
                "keyframe-interval",
                "p-frame-decision",
                "inter-model-dir",
                "bit-depth",
            ][..],
        ),
        (
            "heliodec",
            &["model-dir", "inter-model-dir", "execution-provider", "threads"][..],
        ),
        ("helioparse", &["default-framerate"][..]),
    ] {
        let element = gst::ElementFactory::make(name).build().unwrap();
        for prop in props {
            let pspec = element
                .find_property(prop)
                .unwrap_or_else(|| panic!("{name} lacks {prop}"));
            assert!(
                pspec.blurb().is_some_and(|b| b.len() > 10),
                "{name}.{prop} has no real description"
            );
        }
    }
}
