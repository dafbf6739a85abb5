//! P-frames through the intra + inter packages and ONNX Runtime: GoP structure,
//! bit-exact decoding, references, damage, model ids. Each test skips (printing
//! why) without the packages or ONNX Runtime (and fails under HELIO_NO_SKIP).

mod common;

use common::*;
use helio_core::bitstream::{self, FrameType, PACKET_HEADER_LEN, PacketHeader, SEQUENCE_HEADER_LEN};
use helio_core::codec::Pixels;
use helio_core::codec::PixelBuf;
use helio_core::intensity::{ForwardLut, IntensityTransform};
use helio_core::{
    Decoder, EncodedFrame, Encoder, Error, ModelSource, PFrameDecision,
};

const W: u32 = 160;
const H: u32 = 128;

/// An encoder that codes every scheduled P-frame as P ([`PFrameDecision::Always`]),
/// for tests that need P-frames at fixed positions.
fn encoder(model: &ModelSource, w: u32, h: u32, quality: u8, keyframe_interval: u32, threads: usize) -> Encoder {
    encoder_with(model, w, h, quality, keyframe_interval, threads, PFrameDecision::Always)
}

/// Encodes `frames`; returns the units and the encoder's reconstruction of each.
fn encode_all(enc: &mut Encoder, frames: &[Vec<u16>]) -> Vec<(EncodedFrame, PixelBuf)> {
    frames
        .iter()
        .map(|f| {
            let out = enc.encode(Pixels::U16(f), false).unwrap();
            (out, enc.last_reconstruction().unwrap().clone())
        })
        .collect()
}

/// The packet header and payload of a unit.
fn packet_of(unit: &[u8]) -> (PacketHeader, &[u8]) {
    let packet = if unit.starts_with(&bitstream::HEADER_MAGIC) { &unit[SEQUENCE_HEADER_LEN..] } else { unit };
    let (ph, _) = PacketHeader::parse(packet, usize::MAX).unwrap();
    (ph, &packet[PACKET_HEADER_LEN..])
}

/// A P unit with `payload` in place of its own, with a valid CRC (only the decoder can notice).
fn with_payload(unit: &[u8], payload: &[u8]) -> Vec<u8> {
    let (ph, _) = packet_of(unit);
    let mut out = Vec::new();
    bitstream::write_packet(&ph, payload, &mut out);
    out
}

#[test]
fn gop_decodes_bit_exactly_and_p_frames_are_small() {
    let Some(model) = inter_model_or_skip("gop_decodes_bit_exactly_and_p_frames_are_small") else { return };
    let frames = drifting_sequence(12, W, H);
    let mut enc = encoder(&model, W, H, 6, 8, 0);
    assert!(enc.inter_coding());
    let coded = encode_all(&mut enc, &frames);
    let types: Vec<FrameType> = coded.iter().map(|(u, _)| u.frame_type).collect();
    let expected: Vec<FrameType> =
        (0..12).map(|i| if i % 8 == 0 { FrameType::I } else { FrameType::P }).collect();
    assert_eq!(types, expected);
    for (i, (u, _)) in coded.iter().enumerate() {
        assert_eq!(u.frame_number, i as u32);
        // Only keyframes carry the sequence header.
        assert_eq!(u.data.starts_with(&bitstream::HEADER_MAGIC), u.frame_type == FrameType::I, "frame {i}");
    }

    for threads in [1, 2] {
        let mut dec = decoder(&model, threads);
        for (i, (u, recon)) in coded.iter().enumerate() {
            let got = dec.decode(&u.data).unwrap_or_else(|e| panic!("threads={threads} frame {i}: {e}"));
            assert_eq!(got.frame_type, u.frame_type);
            assert!(&got.pixels == recon, "threads={threads} frame {i}: decoder output != encoder reconstruction");
        }
    }

    let (mut i_bytes, mut p_bytes) = (Vec::new(), Vec::new());
    for (i, ((u, recon), orig)) in coded.iter().zip(&frames).enumerate() {
        let helio_core::codec::PixelBuf::U16(px) = recon else { panic!("16-bit output") };
        let psnr = psnr_sqrt_display(orig, px, 14);
        eprintln!("frame {i} {:?}: {} bytes, {psnr:.2} dB", u.frame_type, u.data.len());
        assert!(psnr > 25.0, "frame {i}: {psnr:.2} dB");
        match u.frame_type {
            FrameType::I => i_bytes.push(u.data.len()),
            FrameType::P => p_bytes.push(u.data.len()),
            FrameType::X => unreachable!("X-frames need several channels"),
        }
    }
    let mean = |v: &[usize]| v.iter().sum::<usize>() as f64 / v.len() as f64;
    let (mi, mp) = (mean(&i_bytes), mean(&p_bytes));
    eprintln!("mean I {mi:.0} bytes, mean P {mp:.0} bytes ({:.2} of I)", mp / mi);
    // A sanity bound: predicting from the right reference must beat coding the
    // frame alone. (The early inter package of 06:52 gives 0.89 here at quality 6
    // and P-frames larger than I-frames at low qualities; a trained one should
    // give well under 0.5, and this bound can then tighten.)
    assert!(mp < mi, "P-frames ({mp:.0} bytes) are not smaller than I-frames ({mi:.0} bytes)");
}

#[test]
fn p_frames_need_their_reference() {
    let Some(model) = inter_model_or_skip("p_frames_need_their_reference") else { return };
    let frames = drifting_sequence(7, W, H);
    let mut enc = encoder(&model, W, H, 2, 4, 0);
    let coded = encode_all(&mut enc, &frames);
    // I P P P I P P
    let mut dec = decoder(&model, 0);

    // Joined mid-GoP: no header yet, then a header but no reference.
    assert!(matches!(dec.decode(&coded[1].0.data), Err(Error::NeedKeyframe)));
    dec.set_sequence_header(&enc.sequence_header()).unwrap();
    let err = dec.decode(&coded[1].0.data).unwrap_err();
    assert!(matches!(err, Error::NoReference { frame_number: 1, .. }), "{err}");
    assert!(err.to_string().contains("no reference"), "{err}");

    // Frame 2 lost: frame 3 has a stale reference, and so has everything until the keyframe.
    dec.decode(&coded[0].0.data).unwrap();
    dec.decode(&coded[1].0.data).unwrap();
    let err = dec.decode(&coded[3].0.data).unwrap_err();
    assert!(matches!(err, Error::NoReference { frame_number: 3, .. }), "{err}");
    assert!(err.to_string().contains("jumps from 1 to 3"), "{err}");
    let got = dec.decode(&coded[4].0.data).unwrap();
    assert_eq!(got.pixels, coded[4].1);
    for (u, recon) in &coded[5..] {
        assert_eq!(&dec.decode(&u.data).unwrap().pixels, recon);
    }

    // reset() drops the reference (and the header).
    dec.reset();
    dec.set_sequence_header(&enc.sequence_header()).unwrap();
    assert!(matches!(dec.decode(&coded[5].0.data), Err(Error::NoReference { .. })));

    // A different frame size: the reference does not fit.
    let small = drifting_sequence(2, 128, 128);
    let mut enc2 = encoder(&model, 128, 128, 2, 4, 0);
    let c2 = encode_all(&mut enc2, &small);
    let mut dec = decoder(&model, 0);
    dec.decode(&coded[0].0.data).unwrap();
    dec.set_sequence_header(&enc2.sequence_header()).unwrap();
    let err = dec.decode(&c2[1].0.data).unwrap_err();
    assert!(err.to_string().contains("160x128") && err.to_string().contains("128x128"), "{err}");
}

#[test]
fn damaged_p_payloads_are_errors_not_panics() {
    let Some(model) = inter_model_or_skip("damaged_p_payloads_are_errors_not_panics") else { return };
    let frames = drifting_sequence(3, W, H);
    let mut enc = encoder(&model, W, H, 4, 30, 0);
    let coded = encode_all(&mut enc, &frames);
    let (ph, payload) = packet_of(&coded[1].0.data);
    assert_eq!(ph.frame_type, FrameType::P);
    let mut dec = decoder(&model, 0);
    let fresh = |dec: &mut Decoder| {
        dec.reset();
        dec.decode(&coded[0].0.data).unwrap();
    };

    // CRC catches flipped bits.
    fresh(&mut dec);
    let mut bad = coded[1].0.data.clone();
    bad[PACKET_HEADER_LEN + payload.len() / 2] ^= 0x04;
    assert!(matches!(dec.decode(&bad), Err(Error::Corrupt(_))));
    // ...and the reference is gone afterwards: the next P-frame waits for a keyframe.
    assert!(matches!(dec.decode(&coded[2].0.data), Err(Error::NoReference { .. })));

    // Valid CRCs around broken sections: truncated, cut in the middle, an I payload.
    let cut = [&payload[..payload.len() / 2], &payload[..payload.len() / 2 + 1], &payload[..payload.len() - 4]];
    let middle: Vec<u8> = [&payload[..20], &payload[40..]].concat();
    let (_, i_payload) = packet_of(&coded[0].0.data);
    for (what, p) in cut.iter().copied().chain([&middle[..], i_payload, &[]]).enumerate() {
        fresh(&mut dec);
        let err = dec.decode(&with_payload(&coded[1].0.data, p)).unwrap_err();
        assert!(matches!(err, Error::Corrupt(_)), "case {what}: {err}");
    }

    // Garbled words with intact section lengths: an error or garbage pixels, never a panic.
    for seed in 0..8u8 {
        fresh(&mut dec);
        let garbled: Vec<u8> = payload
            .iter()
            .enumerate()
            .map(|(i, &b)| if i % 4 == 0 && i >= 4 { b } else { b ^ (i as u8).wrapping_mul(31).wrapping_add(seed) })
            .collect();
        // Keep the gain (a u16 before the sections) and the four section lengths
        // so the range decoder sees the garbage.
        let mut p = garbled;
        let mut at = std::mem::size_of::<u16>();
        p[..at].copy_from_slice(&payload[..at]);
        for _ in 0..4 {
            let len = u32::from_be_bytes(payload[at..at + 4].try_into().unwrap()) as usize;
            p[at..at + 4].copy_from_slice(&payload[at..at + 4]);
            at += 4 + len;
        }
        match dec.decode(&with_payload(&coded[1].0.data, &p)) {
            Ok(d) => assert_eq!(d.frame_type, FrameType::P),
            Err(e) => assert!(matches!(e, Error::Corrupt(_)), "seed {seed}: {e}"),
        }
    }
}

#[test]
fn model_ids_keep_intra_streams_decodable() {
    let Some(model) = inter_model_or_skip("model_ids_keep_intra_streams_decodable") else { return };
    let ModelSource::Dirs { intra, .. } = &model else { unreachable!() };
    let intra_only = ModelSource::Dirs { intra: intra.clone(), inter: None };
    let frames = drifting_sequence(2, 64, 64);

    let mut gop = encoder(&model, 64, 64, 2, 30, 1);
    let mut all_i = encoder(&model, 64, 64, 2, 1, 1);
    let mut no_inter = encoder(&intra_only, 64, 64, 2, 30, 1);
    assert!(gop.inter_coding() && !all_i.inter_coding() && !no_inter.inter_coding());
    let intra_id = decoder(&intra_only, 1).model_id();
    assert_eq!(all_i.model_id(), intra_id);
    assert_eq!(no_inter.model_id(), intra_id);
    assert_ne!(gop.model_id(), intra_id);

    // Intra-only streams: identical bytes whether or not an inter package is around.
    let a = encode_all(&mut all_i, &frames);
    let b = encode_all(&mut no_inter, &frames);
    assert!(a.iter().zip(&b).all(|(x, y)| x.0.data == y.0.data && x.0.frame_type == FrameType::I));

    let g = encode_all(&mut gop, &frames);
    assert_eq!(g[1].0.frame_type, FrameType::P);
    // A decoder with both packages takes both kinds of stream.
    let mut both = decoder(&model, 1);
    assert_eq!(both.accepted_model_ids(), [intra_id, gop.model_id()]);
    both.decode(&a[0].0.data).unwrap();
    both.decode(&g[0].0.data).unwrap();
    assert_eq!(both.decode(&g[1].0.data).unwrap().pixels, g[1].1);
    // An intra-only decoder takes the intra stream and refuses the GoP stream, naming both ids.
    let mut only = decoder(&intra_only, 1);
    only.decode(&a[0].0.data).unwrap();
    let err = only.decode(&g[0].0.data).unwrap_err();
    assert!(matches!(err, Error::ModelMismatch { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&gop.model_id().to_string()) && msg.contains(&intra_id.to_string()), "{msg}");
    assert!(msg.contains("no inter package"), "{msg}");
}

#[test]
fn forced_keyframes_and_reset_start_a_new_gop() {
    let Some(model) = inter_model_or_skip("forced_keyframes_and_reset_start_a_new_gop") else { return };
    let frames = drifting_sequence(6, 64, 64);
    let mut enc = encoder(&model, 64, 64, 2, 30, 1);
    let mut types = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        if i == 4 {
            enc.reset();
        }
        assert_eq!(enc.next_frame_type(), if i == 0 || i == 4 { FrameType::I } else { FrameType::P });
        types.push(enc.encode(Pixels::U16(f), i == 2).unwrap().frame_type);
    }
    use FrameType::{I, P};
    assert_eq!(types, [I, P, I, P, I, P]);
}

/// Frames of the scene-cut sequence: the drifting window, then from `SCENE_CUT`
/// on the same window turned by 180 degrees and inverted in intensity
/// (unrelated content, drifting the other way). Turned alone no longer makes a
/// cut at quality 4: the P package of 2026-12-03 codes it as P for less than
/// an I-frame costs (J 0.993 against 1.097; I wins from quality 5), its scale
/// field blurring the useless reference away. Inverted too, no warp or gain
/// field predicts it: P costs 3.5x the I-frame's J (3.674 against 1.048).
const SCENE_CUT: usize = 3;
const CUT_FRAMES: u32 = 7;
/// Keyframe interval of the scene-cut tests: `always` gives I P P P P I P.
const CUT_GOP: u32 = 5;
const CUT_QUALITY: u8 = 4;

fn scene_cut_sequence() -> Vec<Vec<u16>> {
    drifting_sequence(CUT_FRAMES, W, H)
        .into_iter()
        .enumerate()
        .map(|(i, f)| if i < SCENE_CUT { f } else { f.into_iter().rev().map(|v| 16383 - v.min(16383)).collect() })
        .collect()
}

/// One coded frame of the scene-cut sequence, with the type the GoP schedule gave it.
struct CutFrame {
    scheduled: FrameType,
    unit: EncodedFrame,
    recon: PixelBuf,
}

fn encode_scene_cut(model: &ModelSource, decision: PFrameDecision) -> Vec<CutFrame> {
    let mut enc = encoder_with(model, W, H, CUT_QUALITY, CUT_GOP, 0, decision);
    scene_cut_sequence()
        .iter()
        .map(|f| {
            let scheduled = enc.next_frame_type();
            let unit = enc.encode(Pixels::U16(f), false).unwrap();
            CutFrame { scheduled, unit, recon: enc.last_reconstruction().unwrap().clone() }
        })
        .collect()
}

/// The decoder's output equals the encoder's reconstruction, frame by frame.
fn assert_decodes_bit_exactly(model: &ModelSource, coded: &[CutFrame], what: &str) {
    let mut dec = decoder(model, 0);
    for (i, c) in coded.iter().enumerate() {
        let got = dec.decode(&c.unit.data).unwrap_or_else(|e| panic!("{what} frame {i}: {e}"));
        assert_eq!(got.frame_type, c.unit.frame_type, "{what} frame {i}");
        assert!(got.pixels == c.recon, "{what} frame {i}: decoder output != encoder reconstruction");
    }
}

#[test]
fn rd_decision_codes_a_scene_cut_as_an_i_frame() {
    let Some(model) = inter_model_or_skip("rd_decision_codes_a_scene_cut_as_an_i_frame") else { return };
    use FrameType::{I, P};
    let always = encode_scene_cut(&model, PFrameDecision::Always);
    let rd = encode_scene_cut(&model, PFrameDecision::Rd);
    let types = |c: &[CutFrame]| c.iter().map(|f| f.unit.frame_type).collect::<Vec<_>>();
    for (what, c) in [("always", &always), ("rd", &rd)] {
        for (i, f) in c.iter().enumerate() {
            let r = f.unit.rejected.map_or(String::new(), |r| format!(", rejected {:?} {:.4}", r.frame_type, r.cost));
            eprintln!(
                "{what} frame {i}: scheduled {:?}, coded {:?} {} bytes, J {:.4} (mse {:.3e}){r}",
                f.scheduled, f.unit.frame_type, f.unit.data.len(), f.unit.rd.cost, f.unit.rd.mse
            );
        }
    }
    assert_eq!(types(&always), [I, P, P, P, P, I, P]);
    assert!(always.iter().all(|f| f.unit.rejected.is_none()), "always codes one candidate per frame");
    assert_eq!(rd[SCENE_CUT].scheduled, P);
    assert_eq!(rd[SCENE_CUT].unit.frame_type, I, "rd: the scene cut becomes an I-frame");
    assert!(rd[SCENE_CUT].unit.rejected.is_some(), "the scene cut's P-frame cost too much to skip the I candidate");
    // An I-frame chosen by the decision is a keyframe like any other...
    for (i, f) in rd.iter().enumerate() {
        assert_eq!(f.unit.data.starts_with(&bitstream::HEADER_MAGIC), f.unit.frame_type == I, "frame {i}");
        assert_eq!(f.unit.frame_number, i as u32);
        // ...and a scheduled P-frame was coded both ways unless P clearly won
        // (rd_decision_skips_the_i_candidate_while_p_wins_clearly).
        if f.scheduled == I {
            assert!(f.unit.rejected.is_none(), "frame {i}");
        } else if f.unit.rejected.is_none() {
            assert_eq!(f.unit.frame_type, P, "frame {i}");
        }
    }
    // ...and the GoP restarts from it: frame 5 is a P-frame in the schedule, not
    // the I-frame of the fixed 5-frame GoP.
    assert_eq!(rd[CUT_GOP as usize].scheduled, P);

    assert_decodes_bit_exactly(&model, &always, "always");
    assert_decodes_bit_exactly(&model, &rd, "rd");
}

#[test]
fn rd_decision_never_costs_more_than_always() {
    let Some(model) = inter_model_or_skip("rd_decision_never_costs_more_than_always") else { return };
    let frames = scene_cut_sequence();
    let lut = ForwardLut::new(IntensityTransform::default_for_bit_depth(14), 14);
    let to_plane = |px: &[u16]| {
        let mut out = vec![0f32; px.len()];
        lut.apply_u16(px, &mut out);
        out
    };
    // The lambda the packages were trained with at this quality.
    let ModelSource::Dirs { intra, .. } = &model else { unreachable!() };
    let package = helio_core::model::ModelPackage::load(&ModelSource::Dir(intra.clone())).unwrap();
    let lambda = package.spec.quality(CUT_QUALITY).unwrap().lambda;

    let mut totals = Vec::new();
    for decision in [PFrameDecision::Always, PFrameDecision::Rd] {
        let coded = encode_scene_cut(&model, decision);
        let mut total = 0.0;
        for (i, (c, orig)) in coded.iter().zip(&frames).enumerate() {
            // The reported cost is the training loss of what the decoder outputs.
            let PixelBuf::U16(px) = &c.recon else { panic!("16-bit output") };
            let (x, x_hat) = (to_plane(orig), to_plane(px));
            let mse = x.iter().zip(&x_hat).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum::<f64>() / x.len() as f64;
            let bpp = 8.0 * c.unit.data.len() as f64 / x.len() as f64;
            let cost = lambda * 255.0 * 255.0 * mse + bpp;
            let rd = c.unit.rd;
            assert_eq!((rd.frame_type, rd.bytes), (c.unit.frame_type, c.unit.data.len()), "{decision:?} frame {i}");
            assert!((rd.mse - mse).abs() <= 1e-9 * mse.max(1e-12), "{decision:?} frame {i}: mse {} vs {mse}", rd.mse);
            assert!((rd.cost - cost).abs() <= 1e-9 * cost, "{decision:?} frame {i}: cost {} vs {cost}", rd.cost);
            // Per frame: what rd keeps costs no more than the P-frame it could have coded.
            if let Some(rejected) = c.unit.rejected {
                assert_eq!(decision, PFrameDecision::Rd);
                assert_ne!(rejected.frame_type, rd.frame_type);
                assert!(rd.cost <= rejected.cost, "frame {i}: kept {rd:?} over {rejected:?}");
            }
            total += cost;
        }
        eprintln!("{decision:?}: total J {total:.4} over {} frames", frames.len());
        totals.push(total);
    }
    assert!(totals[1] <= totals[0], "rd stream costs {} > always stream {}", totals[1], totals[0]);
}

/// Prints P-frame encode/decode wall time at 512x512 (mirror-tiled real frame, drifting):
/// `cargo test --release -p helio-codec-core --test inter -- --ignored --nocapture timing`
#[test]
#[ignore = "a measurement, not a check; run in release"]
fn timing_p_512x512() {
    let Some(model) = inter_model_or_skip("timing_p_512x512") else { return };
    let frames: Vec<Vec<u16>> = (0..6).map(|t| mirror_tiled(512, t)).collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for (threads, decision) in [(1, PFrameDecision::Always), (cores, PFrameDecision::Always), (cores, PFrameDecision::Rd)] {
        let mut enc = encoder_with(&model, 512, 512, 4, 30, threads, decision);
        let mut dec = decoder(&model, threads);
        let (mut te, mut td, mut bytes) = (Vec::new(), Vec::new(), Vec::new());
        let mut types = String::new();
        for f in &frames {
            let t = std::time::Instant::now();
            let u = enc.encode(Pixels::U16(f), false).unwrap();
            te.push(t.elapsed().as_secs_f64() * 1e3);
            let t = std::time::Instant::now();
            dec.decode(&u.data).unwrap();
            td.push(t.elapsed().as_secs_f64() * 1e3);
            bytes.push(u.data.len());
            types.push_str(&format!("{:?}", u.frame_type));
        }
        let p = 2..frames.len(); // frame 0 is the I-frame, frame 1 a warm-up
        let mean = |v: &[f64]| v[p.clone()].iter().sum::<f64>() / p.len() as f64;
        eprintln!(
            "512x512 q4, {threads} thread(s), {decision:?}: I-frame {} bytes; frames 2.. encode {:.0} ms, decode {:.0} ms (mean of {}), {:?} bytes, types {types}",
            bytes[0],
            mean(&te),
            mean(&td),
            p.len(),
            &bytes[1..]
        );
    }
}

#[test]
fn rd_decision_skips_the_i_candidate_while_p_wins_clearly() {
    let Some(model) = inter_model_or_skip("rd_decision_skips_the_i_candidate_while_p_wins_clearly") else { return };
    let frames = drifting_sequence(20, W, H);
    let mut enc = encoder_with(&model, W, H, 2, 30, 0, PFrameDecision::Rd);
    let coded = encode_all(&mut enc, &frames);
    let mut run = 0;
    let mut skipped = 0;
    for (i, (u, _)) in coded.iter().enumerate().skip(1) {
        eprintln!("frame {i}: {:?} J {:.4} rejected {:?}", u.frame_type, u.rd.cost, u.rejected.map(|r| r.cost));
        match u.rejected {
            // Skipped: P won by the margin against the last I coded for it.
            None => {
                assert_eq!(u.frame_type, FrameType::P, "frame {i}");
                run += 1;
                skipped += 1;
                assert!(run <= helio_core::codec::RD_RECHECK_FRAMES, "frame {i}: {run} skips in a row");
            }
            Some(r) => {
                assert_eq!(r.frame_type, FrameType::I, "frame {i}");
                run = 0;
            }
        }
    }
    assert!(skipped > 0, "P-frames on slowly drifting content never skipped the I candidate");
    let mut dec = decoder(&model, 1);
    for (i, (u, recon)) in coded.iter().enumerate() {
        assert!(dec.decode(&u.data).unwrap().pixels == *recon, "frame {i}");
    }
}

/// Keyframes that start a GoP of P-frames are coded one quality level up (the
/// default offset), capped at the top level; P-frames, all-intra streams and an
/// offset of 0 keep the configured level. The decoder reads each frame's level
/// from its packet and matches the encoder's reconstruction.
#[test]
fn keyframes_that_start_a_gop_are_coded_one_quality_level_up() {
    let Some(model) = inter_model_or_skip("keyframes_that_start_a_gop_are_coded_one_quality_level_up") else { return };
    let frames = drifting_sequence(7, W, H);
    let with_offset = |quality: u8, keyframe_interval: u32, offset: u8| {
        Encoder::new(helio_core::EncoderConfig {
            width: W,
            height: H,
            bit_depth: 14,
            quality,
            model: model.clone(),
            execution_provider: helio_core::ExecutionProvider::Cpu,
            threads: 1,
            keyframe_interval,
            p_frame_decision: PFrameDecision::Always,
            keyframe_quality_offset: offset,
            wavelengths: vec![],
        })
        .unwrap()
    };
    let levels = with_offset(1, 1, 0).quality_levels();
    let cases: [(u8, u32, u8, [u8; 7]); 4] = [
        (2, 3, helio_core::DEFAULT_KEYFRAME_QUALITY_OFFSET, [3, 2, 2, 3, 2, 2, 3]),
        (2, 3, 0, [2; 7]),
        (2, 1, helio_core::DEFAULT_KEYFRAME_QUALITY_OFFSET, [2; 7]),
        (levels, 3, 2, [levels; 7]),
    ];
    for (quality, interval, offset, want) in cases {
        let mut enc = with_offset(quality, interval, offset);
        let mut dec = decoder(&model, 1);
        let mut got = Vec::new();
        for (unit, rec) in encode_all(&mut enc, &frames) {
            let out = dec.decode(&unit.data).unwrap();
            assert_eq!(out.pixels, rec, "quality {quality}, interval {interval}, offset {offset}");
            got.push(out.quality);
        }
        assert_eq!(got, want, "quality {quality}, interval {interval}, offset {offset}");
    }
}
