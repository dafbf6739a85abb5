// SPDX-License-Identifier: MPL-2.0

//! helioenc / heliodec through gst_check::Harness: caps negotiation, round
//! trips, keyframes, clamping, decoder error handling. Tests that run the
//! networks skip (printing why) without the model package or ONNX Runtime.

mod common;

use common::*;
use gst::prelude::*;
use helio_core::bitstream::{FrameType, PACKET_HEADER_LEN, SEQUENCE_HEADER_LEN};

/// A helioenc harness; a string value for a non-string property (an enum such
/// as `p-frame-decision`) is parsed from its nick.
fn encoder_harness(model_dir: &str, props: &[(&str, &dyn ToValue)]) -> gst_check::Harness {
    let element = gst::ElementFactory::make("helioenc")
        .property("model-dir", model_dir)
        .property_from_str("execution-provider", "cpu")
        .build()
        .unwrap();
    for (name, value) in props {
        let value = value.to_value();
        let pspec = element
            .find_property(name)
            .unwrap_or_else(|| panic!("helioenc has no property {name}"));
        match value.get::<&str>() {
            Ok(nick) if pspec.value_type() != String::static_type() => {
                element.set_property_from_str(name, nick)
            }
            _ => element.set_property_from_value(name, &value),
        }
    }
    gst_check::Harness::with_element(&element, Some("sink"), Some("src"))
}

fn decoder_harness(model_dir: &str, threads: u32) -> gst_check::Harness {
    let element = gst::ElementFactory::make("heliodec")
        .property("model-dir", model_dir)
        .property_from_str("execution-provider", "cpu")
        .property("threads", threads)
        .build()
        .unwrap();
    gst_check::Harness::with_element(&element, Some("sink"), Some("src"))
}

fn src_caps_structure(h: &gst_check::Harness) -> gst::Structure {
    h.sinkpad()
        .unwrap()
        .current_caps()
        .expect("output caps")
        .structure(0)
        .unwrap()
        .to_owned()
}

#[test]
fn sink_pad_accepts_gray8_and_gray16_only() {
    init();
    let enc = gst::ElementFactory::make("helioenc").build().unwrap();
    let pad = enc.static_pad("sink").unwrap();
    assert!(pad.query_accept_caps(&raw_caps("GRAY8", 256, 256)));
    assert!(pad.query_accept_caps(&raw_caps("GRAY16_LE", 4096, 64)));
    assert!(!pad.query_accept_caps(&raw_caps("RGB", 256, 256)));
    assert!(!pad.query_accept_caps(&raw_caps("GRAY16_BE", 256, 256)));
    assert!(!pad.query_accept_caps(&raw_caps("GRAY8", 32, 32)));
    assert!(!pad.query_accept_caps(&raw_caps("GRAY8", 8192, 64)));

    // bit-depth pins the input format.
    enc.set_property("bit-depth", 12u32);
    let caps = pad.query_caps(None);
    assert!(caps.can_intersect(&raw_caps("GRAY16_LE", 128, 128)));
    assert!(!caps.can_intersect(&raw_caps("GRAY8", 128, 128)));
    enc.set_property("bit-depth", 8u32);
    let caps = pad.query_caps(None);
    assert!(!caps.can_intersect(&raw_caps("GRAY16_LE", 128, 128)));
    assert!(caps.can_intersect(&raw_caps("GRAY8", 128, 128)));
}

#[test]
fn rgb_and_tiny_frames_are_not_negotiated() {
    let Some(model) = model_or_skip("rgb_and_tiny_frames_are_not_negotiated") else {
        return;
    };
    for (format, w, h) in [("RGB", 128, 128), ("GRAY8", 32, 32)] {
        let mut harness = encoder_harness(&model, &[]);
        let bus = gst::Bus::new();
        harness.element().unwrap().set_bus(Some(&bus));
        harness.set_src_caps(raw_caps(format, w, h));
        let size = (w * h * if format == "RGB" { 3 } else { 1 }) as usize;
        let res = harness.push(gst::Buffer::from_mut_slice(vec![0u8; size]));
        assert_eq!(res, Err(gst::FlowError::NotNegotiated), "{format} {w}x{h}");
        let msgs = drain_bus(&bus);
        assert!(
            msgs.warnings
                .iter()
                .any(|m| m.contains("GRAY8") && m.contains("GRAY16_LE") && m.contains("64, 4096")),
            "a message names the supported formats and sizes: {msgs:?}"
        );
    }
}

#[test]
fn gray8_and_gray16_negotiate_with_streamheader() {
    let Some(model) = model_or_skip("gray8_and_gray16_negotiate_with_streamheader") else {
        return;
    };
    for (format, bit_depth_prop, expected_depth) in [
        ("GRAY8", 0u32, 8),
        ("GRAY16_LE", 0, 14),
        ("GRAY16_LE", 12, 12),
    ] {
        let mut h = encoder_harness(&model, &[("bit-depth", &bit_depth_prop)]);
        h.set_src_caps(raw_caps(format, 128, 64));
        let buffer = if format == "GRAY8" {
            gray8_buffer(128, 64, 0, gst::ClockTime::ZERO)
        } else {
            let max = (1u32 << expected_depth) - 1;
            gray16_buffer(&sun_frame(128, 64, max as u16, 0), gst::ClockTime::ZERO)
        };
        h.push(buffer).unwrap();
        let out = h.pull().unwrap();
        assert!(!out.flags().contains(gst::BufferFlags::DELTA_UNIT));

        let s = src_caps_structure(&h);
        assert_eq!(s.name(), "video/x-helio");
        assert_eq!(s.get::<i32>("width").unwrap(), 128);
        assert_eq!(s.get::<i32>("height").unwrap(), 64);
        assert_eq!(s.get::<i32>("channels").unwrap(), 1);
        assert_eq!(s.get::<i32>("bit-depth").unwrap(), expected_depth);
        assert_eq!(
            s.get::<gst::Fraction>("framerate").unwrap(),
            gst::Fraction::new(1, 1)
        );
        let sh = s.get::<gst::ArrayRef>("streamheader").unwrap();
        let header = sh.as_slice()[0].get::<gst::Buffer>().unwrap();
        let header = header.map_readable().unwrap();
        assert_eq!(header.len(), SEQUENCE_HEADER_LEN);
        // Keyframes carry the same sequence header in-band.
        assert_eq!(
            &out.map_readable().unwrap()[..SEQUENCE_HEADER_LEN],
            &header[..]
        );
    }
}

#[test]
fn harness_round_trip_gray16_and_gray8() {
    let Some(model) = model_or_skip("harness_round_trip_gray16_and_gray8") else {
        return;
    };
    // 14-bit, size not a multiple of 64.
    let (w, hgt) = (160u32, 96u32);
    let mut h = gst_check::Harness::new_parse(&format!(
        "helioenc model-dir=\"{model}\" execution-provider=cpu ! heliodec model-dir=\"{model}\" execution-provider=cpu"
    ));
    h.set_src_caps(raw_caps("GRAY16_LE", w, hgt));
    let frames: Vec<Vec<u16>> = (0..3).map(|t| sun_frame(w, hgt, 16383, t)).collect();
    // What codec-core itself reconstructs at the default quality.
    let quality = gst::ElementFactory::make("helioenc")
        .build()
        .unwrap()
        .property::<u32>("quality");
    let mut reference = helio_core::Encoder::new(helio_core::EncoderConfig {
        width: w,
        height: hgt,
        bit_depth: 14,
        quality: quality as u8,
        model: helio_core::ModelSource::Dir(model.clone().into()),
        execution_provider: helio_core::ExecutionProvider::Cpu,
        threads: 0,
        keyframe_interval: 30,
        p_frame_decision: Default::default(),
        keyframe_quality_offset: helio_core::DEFAULT_KEYFRAME_QUALITY_OFFSET,
        wavelengths: vec![],
    })
    .unwrap();
    for (i, f) in frames.iter().enumerate() {
        h.push(gray16_buffer(f, gst::ClockTime::from_seconds(i as u64)))
            .unwrap();
    }
    for (i, f) in frames.iter().enumerate() {
        let out = h.pull().unwrap();
        assert_eq!(out.size(), (w * hgt * 2) as usize);
        assert_eq!(out.pts(), Some(gst::ClockTime::from_seconds(i as u64)));
        let decoded = samples16(&out);
        reference
            .encode(helio_core::codec::Pixels::U16(f), false)
            .unwrap();
        let Some(helio_core::codec::PixelBuf::U16(expected)) = reference.last_reconstruction()
        else {
            panic!("16-bit reconstruction");
        };
        assert!(
            decoded == *expected,
            "frame {i}: decoder output == codec-core reconstruction"
        );
        let p = psnr(f, &decoded, 16383.0);
        eprintln!("frame {i}: PSNR {p:.1} dB (linear 14-bit)");
        assert!(p > 15.0, "frame {i}: PSNR {p:.1} dB");
    }
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let info = gst_video::VideoInfo::from_caps(&caps).unwrap();
    assert_eq!(info.format(), gst_video::VideoFormat::Gray16Le);
    assert_eq!((info.width(), info.height()), (w, hgt));

    // 8-bit in, 8-bit out.
    let mut h = gst_check::Harness::new_parse(&format!(
        "helioenc model-dir=\"{model}\" ! heliodec model-dir=\"{model}\""
    ));
    h.set_src_caps(raw_caps("GRAY8", 64, 128));
    h.push(gray8_buffer(64, 128, 1, gst::ClockTime::ZERO))
        .unwrap();
    let out = h.pull().unwrap();
    assert_eq!(out.size(), 64 * 128);
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let info = gst_video::VideoInfo::from_caps(&caps).unwrap();
    assert_eq!(info.format(), gst_video::VideoFormat::Gray8);
}

#[test]
fn forced_keyframes_flushes_and_latency() {
    let Some((model, inter)) = inter_model_or_skip("forced_keyframes_flushes_and_latency") else {
        return;
    };
    let mut h = encoder_harness(
        &model,
        &[
            ("keyframe-interval", &30u32),
            ("inter-model-dir", &inter),
            // P-frames wherever the GoP puts them, whatever they cost.
            ("p-frame-decision", &"always"),
        ],
    );
    h.set_src_caps(raw_caps("GRAY8", 64, 64));
    let push = |h: &mut gst_check::Harness, i: u64| {
        h.push(gray8_buffer(64, 64, i as u32, gst::ClockTime::from_seconds(i)))
            .unwrap();
    };
    for i in 0..6u64 {
        if i == 2 {
            let event = gst_video::UpstreamForceKeyUnitEvent::builder()
                .all_headers(true)
                .build();
            h.push_upstream_event(event);
        }
        if i == 4 {
            // A flush: downstream loses its reference, so a new GoP starts.
            h.push_event(gst::event::FlushStart::new());
            h.push_event(gst::event::FlushStop::new(false));
            h.push_event(gst::event::Segment::new(
                &gst::FormattedSegment::<gst::ClockTime>::new(),
            ));
        }
        push(&mut h, i);
    }
    let mut keyframes = Vec::new();
    while let Some(b) = h.try_pull() {
        let key = !b.flags().contains(gst::BufferFlags::DELTA_UNIT);
        // Keyframes carry the sequence header, P-frames do not.
        let data = b.map_readable().unwrap();
        assert_eq!(key, data.starts_with(b"HLIO"));
        let frame_type = if key { data[SEQUENCE_HEADER_LEN + 4] } else { data[4] };
        assert_eq!(frame_type, if key { 0 } else { 1 }, "I packets on keyframes, P otherwise");
        keyframes.push(key);
    }
    // Frame 0 starts the stream, 2 is forced, 4 follows the flush; the rest are P-frames.
    assert_eq!(keyframes, [true, false, true, false, true, false]);
    assert_eq!(h.query_latency(), Some(gst::ClockTime::ZERO));
}

/// `p-frame-decision`: rd (the default) turns a scene cut into a keyframe,
/// always keeps the GoP; helioenc codes the same bytes as codec-core's encoder
/// with the same setting.
#[test]
fn p_frame_decision_rd_makes_a_scene_cut_a_keyframe() {
    let Some((model, inter)) = inter_model_or_skip("p_frame_decision_rd_makes_a_scene_cut_a_keyframe")
    else {
        return;
    };
    let (w, hgt) = (128u32, 128u32);
    // Two frames of a slowly moving disk, then unrelated content (a brighter
    // disk elsewhere, upside down) that goes on.
    let cut = |t: u32| -> Vec<u16> {
        let taller = sun_frame(w, hgt + 40, 16383, 50 + t);
        taller[..(w * hgt) as usize].iter().rev().copied().collect()
    };
    let frames = [sun_frame(w, hgt, 12000, 0), sun_frame(w, hgt, 12000, 1), cut(0), cut(1)];
    let default = gst::ElementFactory::make("helioenc").build().unwrap();
    let value = default.property_value("p-frame-decision");
    let nick = gst::glib::EnumValue::from_value(&value).unwrap().1.nick();
    assert_eq!(nick, "rd", "rd is the default");

    let mut keyframes = Vec::new();
    for (nick, decision) in [
        ("always", helio_core::PFrameDecision::Always),
        ("rd", helio_core::PFrameDecision::Rd),
    ] {
        let mut h = encoder_harness(
            &model,
            &[
                ("keyframe-interval", &30u32),
                ("inter-model-dir", &inter),
                ("p-frame-decision", &nick),
            ],
        );
        h.set_src_caps(raw_caps("GRAY16_LE", w, hgt));
        let mut reference = helio_core::Encoder::new(helio_core::EncoderConfig {
            width: w,
            height: hgt,
            bit_depth: 14,
            quality: default.property::<u32>("quality") as u8,
            model: helio_core::ModelSource::Dirs {
                intra: model.clone().into(),
                inter: Some(inter.clone().into()),
            },
            execution_provider: helio_core::ExecutionProvider::Cpu,
            threads: 0,
            keyframe_interval: 30,
            p_frame_decision: decision,
            keyframe_quality_offset: helio_core::DEFAULT_KEYFRAME_QUALITY_OFFSET,
            wavelengths: vec![],
        })
        .unwrap();
        let mut keys = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            h.push(gray16_buffer(f, gst::ClockTime::from_seconds(i as u64)))
                .unwrap();
            let out = h.pull().unwrap();
            let want = reference
                .encode(helio_core::codec::Pixels::U16(f), false)
                .unwrap();
            eprintln!(
                "{nick} frame {i}: {:?}, {} bytes, J {:.4}, rejected {:?}",
                want.frame_type,
                want.data.len(),
                want.rd.cost,
                want.rejected.map(|r| r.cost)
            );
            assert!(bytes(&out) == want.data, "{nick} frame {i}: helioenc codes codec-core's bytes");
            let key = !out.flags().contains(gst::BufferFlags::DELTA_UNIT);
            assert_eq!(key, want.frame_type == FrameType::I, "{nick} frame {i}");
            keys.push(key);
        }
        keyframes.push(keys);
    }
    assert_eq!(keyframes[0], [true, false, false, false], "always: one GoP");
    assert!(keyframes[1][0] && keyframes[1][2], "rd: the cut at frame 2 is a keyframe: {:?}", keyframes[1]);
}

#[test]
fn decoder_refuses_a_gop_stream_without_the_inter_package() {
    let Some((model, inter)) = inter_model_or_skip("decoder_refuses_a_gop_stream_without_the_inter_package") else {
        return;
    };
    let mut enc = helio_core::Encoder::new(helio_core::EncoderConfig {
        width: 64,
        height: 64,
        bit_depth: 8,
        quality: 3,
        model: helio_core::ModelSource::Dirs { intra: model.clone().into(), inter: Some(inter.into()) },
        execution_provider: helio_core::ExecutionProvider::Cpu,
        threads: 0,
        keyframe_interval: 30,
        p_frame_decision: Default::default(),
        keyframe_quality_offset: helio_core::DEFAULT_KEYFRAME_QUALITY_OFFSET,
        wavelengths: vec![],
    })
    .unwrap();
    let unit = enc
        .encode(helio_core::codec::Pixels::U8(&vec![80u8; 64 * 64]), false)
        .unwrap()
        .data;
    // model-dir without an ssf/ subdirectory: the intra package only.
    let mut h = decoder_harness(&model, 0);
    let bus = gst::Bus::new();
    h.element().unwrap().set_bus(Some(&bus));
    h.set_src_caps_str("video/x-helio, parsed=(boolean)true");
    assert!(h.push(gst::Buffer::from_slice(unit)).is_err());
    let msgs = drain_bus(&bus);
    let id = enc.model_id().to_string();
    assert!(
        msgs.errors
            .iter()
            .any(|e| e.contains("model mismatch") && e.contains(&id) && e.contains("no inter package")),
        "{msgs:?}"
    );
}

#[test]
fn samples_above_bit_depth_warn_once() {
    let Some(model) = model_or_skip("samples_above_bit_depth_warn_once") else {
        return;
    };
    let mut h = encoder_harness(&model, &[("bit-depth", &10u32)]);
    let bus = gst::Bus::new();
    h.element().unwrap().set_bus(Some(&bus));
    h.set_src_caps(raw_caps("GRAY16_LE", 64, 64));
    for t in 0..3 {
        h.push(gray16_buffer(
            &sun_frame(64, 64, 4000, t),
            gst::ClockTime::from_seconds(t as u64),
        ))
        .unwrap();
    }
    let msgs = drain_bus(&bus);
    let clamps: Vec<_> = msgs
        .warnings
        .iter()
        .filter(|w| w.contains("clamped"))
        .collect();
    assert_eq!(clamps.len(), 1, "{msgs:?}");
    assert!(clamps[0].contains("10 bits"));
}

/// Encodes `n` 64x64 GRAY8 frames with codec-core directly (one access unit each).
fn encode_units(model: &str, n: u32) -> Vec<Vec<u8>> {
    let mut enc = helio_core::Encoder::new(helio_core::EncoderConfig {
        width: 64,
        height: 64,
        bit_depth: 8,
        quality: 3,
        model: helio_core::ModelSource::Dir(model.into()),
        execution_provider: helio_core::ExecutionProvider::Cpu,
        threads: 0,
        keyframe_interval: 1,
        p_frame_decision: Default::default(),
        keyframe_quality_offset: helio_core::DEFAULT_KEYFRAME_QUALITY_OFFSET,
        wavelengths: vec![],
    })
    .unwrap();
    (0..n)
        .map(|t| {
            let px: Vec<u8> = sun_frame(64, 64, 255, t)
                .into_iter()
                .map(|v| v as u8)
                .collect();
            enc.encode(helio_core::codec::Pixels::U8(&px), false)
                .unwrap()
                .data
        })
        .collect()
}

/// Rewrites the payload of an access unit with valid CRCs, so the parser
/// passes it and only the decoder can notice.
fn garble_payload(unit: &[u8]) -> Vec<u8> {
    let header = helio_core::bitstream::SequenceHeader::parse(unit).unwrap();
    let packet = &unit[SEQUENCE_HEADER_LEN..];
    let (ph, _) = helio_core::bitstream::PacketHeader::parse(packet, usize::MAX).unwrap();
    let payload: Vec<u8> = packet[PACKET_HEADER_LEN..]
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ (i as u8).wrapping_mul(151) ^ 0xa5)
        .collect();
    let mut out = header.to_bytes();
    helio_core::bitstream::write_packet(&ph, &payload[..payload.len() / 3], &mut out);
    out
}

#[test]
fn decoder_drops_damaged_frames_and_continues() {
    let Some(model) = model_or_skip("decoder_drops_damaged_frames_and_continues") else {
        return;
    };
    let units = encode_units(&model, 4);
    let mut h = decoder_harness(&model, 0);
    let bus = gst::Bus::new();
    h.element().unwrap().set_bus(Some(&bus));
    h.set_src_caps_str("video/x-helio, parsed=(boolean)true");

    let mut flows = Vec::new();
    let inputs = [
        units[0].clone(),
        garble_payload(&units[1]),
        b"HLIO garbage that is not a unit".to_vec(),
        units[2].clone(),
        garble_payload(&units[3]),
        units[3].clone(),
    ];
    for (i, data) in inputs.iter().enumerate() {
        let mut buffer = gst::Buffer::from_slice(data.clone());
        buffer
            .get_mut()
            .unwrap()
            .set_pts(gst::ClockTime::from_seconds(i as u64));
        flows.push(h.push(buffer));
    }
    assert!(flows.iter().all(|f| f.is_ok()), "{flows:?}");
    let mut pts = Vec::new();
    while let Some(b) = h.try_pull() {
        assert_eq!(b.size(), 64 * 64);
        pts.push(b.pts().unwrap().seconds());
    }
    let msgs = drain_bus(&bus);
    assert!(msgs.errors.is_empty(), "{msgs:?}");
    assert!(msgs.warnings.len() >= 2, "{msgs:?}");
    // Garbled payloads may still decode (to garbage) if the range decoder does
    // not notice; the good units always come out.
    for good in [0, 3, 5] {
        assert!(pts.contains(&good), "frame {good} decoded: {pts:?}");
    }
    assert!(!pts.contains(&2));
}

#[test]
fn decoder_uses_caps_streamheader_and_checks_model() {
    let Some(model) = model_or_skip("decoder_uses_caps_streamheader_and_checks_model") else {
        return;
    };
    let units = encode_units(&model, 2);
    let header_hex: String = units[0][..SEQUENCE_HEADER_LEN]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();

    // Packets without their in-band header decode with the caps streamheader.
    let mut h = decoder_harness(&model, 0);
    h.set_src_caps_str(&format!(
        "video/x-helio, parsed=(boolean)true, streamheader=(buffer)<{header_hex}>"
    ));
    h.push(gst::Buffer::from_slice(
        units[1][SEQUENCE_HEADER_LEN..].to_vec(),
    ))
    .unwrap();
    assert_eq!(h.pull().unwrap().size(), 64 * 64);

    // A header from another model package fails negotiation with a clear error.
    let mut other = units[0][..SEQUENCE_HEADER_LEN].to_vec();
    other[16] ^= 0xff; // model id
    let crc = crc32(&other[..24]);
    other[24..28].copy_from_slice(&crc.to_be_bytes());
    let other_hex: String = other.iter().map(|b| format!("{b:02x}")).collect();
    let mut h = decoder_harness(&model, 0);
    let bus = gst::Bus::new();
    h.element().unwrap().set_bus(Some(&bus));
    h.set_src_caps_str(&format!(
        "video/x-helio, parsed=(boolean)true, streamheader=(buffer)<{other_hex}>"
    ));
    let res = h.push(gst::Buffer::from_slice(units[1].clone()));
    assert!(res.is_err());
    let msgs = drain_bus(&bus);
    assert!(msgs.errors.iter().any(|e| e.contains("model")), "{msgs:?}");
}

fn crc32(data: &[u8]) -> u32 {
    // CRC-32 (IEEE), as the bitstream uses.
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn quality_above_model_levels_fails_at_start() {
    let Some(model) = model_or_skip("quality_above_model_levels_fails_at_start") else {
        return;
    };
    let levels = quality_levels(&model);
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=1 ! video/x-raw,format=GRAY8,width=64,height=64 ! \
         helioenc model-dir=\"{model}\" quality={} ! fakesink",
        levels + 1
    ))
    .unwrap();
    let res = run_to_eos(&pipeline, std::time::Duration::from_secs(30));
    assert!(!res.eos);
    let expected = format!("1..={levels}");
    assert!(
        res.errors
            .iter()
            .any(|e| e.contains("quality") && e.contains(&expected)),
        "{res:?}"
    );
}

/// heliodec frame-threads=3 on an all-intra stream: the same frames as one
/// decoder, in order, held back by two frames (reported as latency) until EOS;
/// frame-threads=0 (automatic, the default) holds back one frame when upstream
/// is not live and none when it is.
#[test]
fn frame_threads_decode_the_same_frames_with_their_latency() {
    let Some(model) = model_or_skip("frame_threads_decode_the_same_frames_with_their_latency") else {
        return;
    };
    let (w, hgt) = (128u32, 96u32);
    let mut enc = encoder_harness(&model, &[("keyframe-interval", &1u32)]);
    let mut caps = raw_caps("GRAY16_LE", w, hgt);
    caps.make_mut().set("framerate", gst::Fraction::new(12, 1));
    enc.set_src_caps(caps);
    let units: Vec<gst::Buffer> = (0..6)
        .map(|t| {
            let pts = gst::ClockTime::from_mseconds(t as u64 * 1000 / 12);
            enc.push(gray16_buffer(&sun_frame(w, hgt, 16383, t), pts)).unwrap();
            enc.pull().unwrap()
        })
        .collect();
    let coded_caps = enc.sinkpad().unwrap().current_caps().unwrap();

    // `live`: what the harness answers upstream latency queries with.
    let decode = |frame_threads: u32, live: bool| {
        let element = gst::ElementFactory::make("heliodec")
            .property("model-dir", &model)
            .property_from_str("execution-provider", "cpu")
            .property("frame-threads", frame_threads)
            .build()
            .unwrap();
        let mut h = gst_check::Harness::with_element(&element, Some("sink"), Some("src"));
        h.set_live(live);
        h.set_src_caps(coded_caps.clone());
        let mut out = Vec::new();
        for (i, u) in units.iter().enumerate() {
            h.push(u.clone()).unwrap();
            while let Some(b) = h.try_pull() {
                out.push(b);
            }
            // Frames wait until frame-threads - 1 newer ones are in flight.
            assert!(out.len() + frame_threads.max(1) as usize > i, "frame-threads={frame_threads}: {} out after {} in", out.len(), i + 1);
        }
        let latency = h.query_latency();
        assert!(h.push_event(gst::event::Eos::new()));
        while let Some(b) = h.try_pull() {
            out.push(b);
        }
        (out, latency)
    };
    let (one, latency_one) = decode(1, false);
    let (three, latency_three) = decode(3, true);
    // Automatic (the default): two frames for a file-like (not live) upstream, one when live.
    let (auto_file, latency_auto_file) = decode(0, false);
    let (auto_live, latency_auto_live) = decode(0, true);
    for (what, other) in [("frame-threads=3", &three), ("automatic, not live", &auto_file), ("automatic, live", &auto_live)] {
        assert_eq!(other.len(), 6, "{what}");
        for (i, (a, b)) in one.iter().zip(other).enumerate() {
            assert_eq!(a.pts(), b.pts(), "frame {i}");
            assert!(samples16(a) == samples16(b), "frame {i}: {what} output differs");
        }
    }
    let frame = gst::ClockTime::from_nseconds(1_000_000_000 / 12);
    assert_eq!(latency_one, Some(gst::ClockTime::ZERO));
    assert_eq!(latency_three, Some(gst::ClockTime::from_nseconds(2 * 1_000_000_000 / 12)));
    if std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2 {
        assert_eq!(latency_auto_file, Some(frame), "automatic frame threads on a non-live stream");
    }
    assert_eq!(latency_auto_live, Some(gst::ClockTime::ZERO), "automatic frame threads on a live stream");
}
