//! Frame-parallel decoding gives exactly what one decoder gives, frame by
//! frame: outputs, errors, and recovery at keyframes. Skips (printing why)
//! without the packages or ONNX Runtime (and fails under HELIO_NO_SKIP).

mod common;

use common::*;
use helio_core::bitstream::{self, FrameType, SequenceHeader};
use helio_core::codec::Pixels;
use helio_core::frame_threads::Ticket;
use helio_core::{DecodedFrame, DecoderConfig, ExecutionProvider, FrameThreadedDecoder, ModelSource, Result};

const W: u32 = 160;
const H: u32 = 128;

fn pool(model: &ModelSource, frames: usize) -> FrameThreadedDecoder {
    let cfg = DecoderConfig { model: model.clone(), execution_provider: ExecutionProvider::Cpu, threads: 1 };
    FrameThreadedDecoder::new(cfg, frames).unwrap()
}

/// Output or error message of a frame, for comparing two decoders.
fn outcome(r: Result<DecodedFrame>) -> std::result::Result<(FrameType, u32, Vec<u16>), String> {
    r.map(|d| (d.frame_type, d.frame_number, u16s(&d.pixels).to_vec())).map_err(|e| e.to_string())
}

/// Decodes `units` with one decoder and with `frames` decoder threads (all
/// submitted before the first result is taken), and checks they agree.
fn assert_same_as_one_decoder(model: &ModelSource, units: &[Vec<u8>], frames: usize, caps_header: Option<&[u8]>) {
    let mut one = decoder(model, 2);
    let mut many = pool(model, frames);
    if let Some(h) = caps_header {
        one.set_sequence_header(h).unwrap();
        many.set_sequence_header(h).unwrap();
    }
    let tickets: Vec<Ticket> = units.iter().map(|u| many.submit(u.clone())).collect();
    for (i, (u, t)) in units.iter().zip(tickets).enumerate() {
        let (a, b) = (outcome(one.decode(u)), outcome(t.wait()));
        assert_eq!(a.is_ok(), b.is_ok(), "frame {i}: one decoder {:?}, {frames} threads {:?}", a.as_ref().err(), b.as_ref().err());
        assert!(a == b, "frame {i}: {frames} decoder threads differ from one decoder ({:?} vs {:?})", a.as_ref().err(), b.as_ref().err());
    }
}

fn without_header(unit: &[u8]) -> Vec<u8> {
    match SequenceHeader::parse(unit) {
        Ok(h) => unit[h.encoded_len()..].to_vec(),
        Err(_) => unit.to_vec(),
    }
}

#[test]
fn frame_threads_decode_exactly_like_one_decoder() {
    let Some(model) = inter_model_or_skip("frame_threads_decode_exactly_like_one_decoder") else { return };
    let frames = drifting_sequence(10, W, H);
    // GoPs of 3: I P P I P P ..., so keyframes overlap P chains.
    let mut enc = encoder_with(&model, W, H, 4, 3, 0, helio_core::PFrameDecision::Always);
    let mut units = Vec::new();
    let mut recons = Vec::new();
    for f in &frames {
        units.push(enc.encode(Pixels::U16(f), false).unwrap().data);
        recons.push(u16s(enc.last_reconstruction().unwrap()).to_vec());
    }
    assert!(bitstream::is_keyframe(&units[3]) && !bitstream::is_keyframe(&units[4]));

    let mut many = pool(&model, 3);
    assert_eq!(many.frames(), 3);
    assert!(many.info().inter_coding);
    let tickets: Vec<Ticket> = units.iter().map(|u| many.submit(u.clone())).collect();
    for (i, t) in tickets.into_iter().enumerate() {
        let d = t.wait().unwrap_or_else(|e| panic!("frame {i}: {e}"));
        assert_eq!(d.frame_number, i as u32);
        assert!(u16s(&d.pixels) == recons[i].as_slice(), "frame {i}: output != encoder reconstruction");
    }
    // Decoders can be stopped before the first frame only (heliodec frame-threads=0 on a live source).
    assert!(!many.shrink_before_first_frame(1) && many.frames() == 3);
    let mut fresh = pool(&model, 3);
    assert!(fresh.shrink_before_first_frame(1) && fresh.frames() == 1);
    for (i, u) in units.iter().enumerate() {
        assert!(u16s(&fresh.submit(u.clone()).wait().unwrap().pixels) == recons[i].as_slice(), "frame {i} after shrinking");
    }

    // All-intra, every frame's header given once (as caps streamheader): the
    // workers that skipped it get it before their first frame.
    let mut intra = encoder_with(&model, W, H, 4, 1, 0, helio_core::PFrameDecision::Always);
    let units: Vec<Vec<u8>> = frames.iter().map(|f| intra.encode(Pixels::U16(f), false).unwrap().data).collect();
    let header = SequenceHeader::parse(&units[0]).unwrap().to_bytes();
    let bare: Vec<Vec<u8>> = units.iter().map(|u| without_header(u)).collect();
    assert_same_as_one_decoder(&model, &bare, 2, Some(&header));
    // Header in-band on the first frame only.
    let mut first_only = bare.clone();
    first_only[0] = units[0].clone();
    assert_same_as_one_decoder(&model, &first_only, 2, None);
}

#[test]
fn frame_threads_fail_and_recover_like_one_decoder() {
    let Some(model) = inter_model_or_skip("frame_threads_fail_and_recover_like_one_decoder") else { return };
    let frames = drifting_sequence(9, W, H);
    let mut enc = encoder_with(&model, W, H, 4, 3, 0, helio_core::PFrameDecision::Always);
    let mut units: Vec<Vec<u8>> = frames.iter().map(|f| enc.encode(Pixels::U16(f), false).unwrap().data).collect();
    // Damage the second keyframe's payload (its CRC then fails): its P-frames
    // have no reference; the third keyframe resumes.
    let n = units[3].len();
    units[3][n - 10] ^= 0x40;
    // A stream joined mid-GoP: P-frames before any keyframe.
    let joined: Vec<Vec<u8>> = units[1..].to_vec();
    for frames in [2, 3] {
        assert_same_as_one_decoder(&model, &units, frames, None);
        assert_same_as_one_decoder(&model, &joined, frames, None);
    }

    // Reset (a flush) forgets the references and the header, after the
    // frames already submitted.
    let mut many = pool(&model, 2);
    let before: Vec<Ticket> = units[..2].iter().map(|u| many.submit(u.clone())).collect();
    many.reset();
    let mut one = decoder(&model, 1);
    one.decode(&units[0]).unwrap();
    one.reset();
    let (a, b) = (outcome(one.decode(&units[2])), outcome(many.submit(units[2].clone()).wait()));
    assert!(a.is_err() && a == b, "P-frame after reset: {a:?} vs {b:?}");
    for (i, t) in before.into_iter().enumerate() {
        assert!(t.wait().is_ok(), "frame {i} submitted before the reset");
    }
    assert!(many.submit(units[6].clone()).wait().is_ok(), "keyframe after reset");
}
