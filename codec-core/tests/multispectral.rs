//! Multispectral frames (one access unit per channel, X-frames predicted from
//! another channel of the same frame) on the bundled AIA 171/193/304 frames of
//! one instant. Each test skips (printing why) without the packages or ONNX
//! Runtime (and fails under HELIO_NO_SKIP).

mod common;

use common::*;
use helio_core::bitstream::{self, FrameType};
use helio_core::codec::Pixels;
use helio_core::{Encoder, EncoderConfig, ExecutionProvider, ModelSource, PFrameDecision};

const W: u32 = 320;
const H: u32 = 256;
const WAVELENGTHS: [u16; 3] = [171, 193, 304];

/// Frame `i` of the flare set: a W x H window of 171, 193 and 304, planes back to back.
fn aia_set(i: usize) -> Vec<u16> {
    WAVELENGTHS
        .iter()
        .flat_map(|wl| {
            let (w, _, px) = read_png16(&workspace().join(format!("data/aia{wl}/frame_{i:02}.png")));
            // The limb and the flare loops, where all three bands have structure.
            crop(&px, w, 40, 100, W, H)
        })
        .collect()
}

fn encoder(model: &ModelSource, wavelengths: &[u16], keyframe_interval: u32, decision: PFrameDecision) -> Encoder {
    Encoder::new(EncoderConfig {
        width: W,
        height: H,
        bit_depth: 14,
        quality: 3,
        model: model.clone(),
        execution_provider: ExecutionProvider::Cpu,
        threads: 1,
        keyframe_interval,
        p_frame_decision: decision,
        keyframe_quality_offset: helio_core::DEFAULT_KEYFRAME_QUALITY_OFFSET,
        wavelengths: wavelengths.to_vec(),
    })
    .unwrap()
}

#[test]
fn multispectral_gop_decodes_bit_exactly_with_x_frames() {
    let Some(model) = inter_model_or_skip("multispectral_gop_decodes_bit_exactly_with_x_frames") else { return };
    let sets: Vec<Vec<u16>> = (0..3).map(aia_set).collect();
    let mut enc = encoder(&model, &WAVELENGTHS, 8, PFrameDecision::Always);
    let coded: Vec<_> = sets
        .iter()
        .map(|s| {
            let u = enc.encode(Pixels::U16(s), false).unwrap();
            (u, enc.last_reconstruction().unwrap().clone())
        })
        .collect();
    // Keyframe: I on 171, X on the others; then P on every channel.
    let kinds = |i: usize| coded[i].0.units.iter().map(|u| u.frame_type).collect::<Vec<_>>();
    assert_eq!(kinds(0), [FrameType::I, FrameType::X, FrameType::X]);
    assert_eq!(kinds(1), [FrameType::P; 3]);
    assert_eq!(coded[0].0.frame_type, FrameType::I);
    assert_eq!(coded[1].0.frame_type, FrameType::P);
    let header = bitstream::SequenceHeader::parse(&coded[0].0.data).unwrap();
    assert_eq!((header.channels, &header.wavelengths[..]), (3, &WAVELENGTHS[..]));
    assert_eq!(bitstream::split_units(&coded[0].0.data, None).unwrap().len(), 3);

    for threads in [1, 2] {
        let mut dec = decoder(&model, threads);
        for (i, ((u, recon), orig)) in coded.iter().zip(&sets).enumerate() {
            let got = dec.decode(&u.data).unwrap_or_else(|e| panic!("threads={threads} frame {i}: {e}"));
            assert_eq!((got.channels, &got.wavelengths[..]), (3, &WAVELENGTHS[..]));
            assert_eq!(got.frame_type, u.frame_type);
            assert!(&got.pixels == recon, "threads={threads} frame {i}: decoder output != encoder reconstruction");
            let n = (W * H) as usize;
            for c in 0..3 {
                let psnr = psnr_sqrt_display(&orig[c * n..(c + 1) * n], &u16s(&got.pixels)[c * n..(c + 1) * n], 14);
                assert!(psnr > 30.0, "frame {i} channel {c}: {psnr:.2} dB");
            }
        }
    }
}

#[test]
fn x_frames_cost_less_than_coding_each_wavelength_alone() {
    let Some(model) = inter_model_or_skip("x_frames_cost_less_than_coding_each_wavelength_alone") else { return };
    let set = aia_set(0);
    let n = (W * H) as usize;
    // Intra-only joint stream (keyframe interval 1): still I + X + X per frame.
    let mut joint = encoder(&model, &WAVELENGTHS, 1, PFrameDecision::Rd);
    let j = joint.encode(Pixels::U16(&set), false).unwrap();
    let mut alone = 0usize;
    for (c, wl) in WAVELENGTHS.iter().enumerate() {
        let mut e = encoder(&model, &[*wl], 1, PFrameDecision::Rd);
        alone += e.encode(Pixels::U16(&set[c * n..(c + 1) * n]), false).unwrap().data.len();
    }
    let rd = |u: &helio_core::codec::UnitCoding| (u.frame_type, u.rd.bytes, u.rd.mse, u.rejected.clone());
    eprintln!("joint {} bytes {:?}; each alone {alone} bytes", j.data.len(), j.units.iter().map(rd).collect::<Vec<_>>());
    assert_eq!(j.frame_type, FrameType::I);
    assert!(j.units[1..].iter().any(|u| u.frame_type == FrameType::X), "no X-frame chosen");
    // The RD decision coded I too and kept the cheaper; X-frames should save a lot
    // (0.014 vs 0.046 bpp on whole 171->193 frames at quality 1).
    assert!(j.data.len() * 10 < alone * 9, "joint {} bytes vs {alone} bytes alone", j.data.len());
}

#[test]
fn damaged_multispectral_frame_is_an_error_and_the_next_keyframe_resyncs() {
    let Some(model) = inter_model_or_skip("damaged_multispectral_frame_is_an_error_and_the_next_keyframe_resyncs")
    else {
        return;
    };
    let mut enc = encoder(&model, &WAVELENGTHS, 2, PFrameDecision::Always);
    let units: Vec<_> = (0..4).map(|i| enc.encode(Pixels::U16(&aia_set(i % 2)), false).unwrap()).collect();
    let mut dec = decoder(&model, 1);
    dec.decode(&units[0].data).unwrap();
    // Frame 1 without its last channel (what helioparse passes on when that
    // unit is damaged): the band is reported missing, the others decode.
    let parts = bitstream::split_units(&units[1].data, None).unwrap();
    let short: Vec<u8> = parts[..2].concat();
    let got = dec.decode(&short).unwrap();
    assert_eq!(got.lost.len(), 1);
    assert_eq!((got.lost[0].channel, got.lost[0].wavelength), (2, Some(304)));
    assert!(got.lost[0].reason.contains("missing"), "{:?}", got.lost);
    // Cut in the middle of a unit: the frame cannot even be split.
    assert!(dec.decode(&units[1].data[..units[1].data.len() - 5]).is_err());
    // Frame 2 is a keyframe: decoding resumes there, bit-exactly.
    assert_eq!(units[2].frame_type, FrameType::I);
    let got = dec.decode(&units[2].data).unwrap();
    let got3 = dec.decode(&units[3].data).unwrap();
    let mut clean = decoder(&model, 1);
    let want: Vec<_> = units.iter().map(|u| clean.decode(&u.data).unwrap().pixels).collect();
    assert_eq!(got.pixels, want[2]);
    assert_eq!(got3.pixels, want[3]);
}

/// One damaged band of a multispectral frame costs that band only: the others
/// decode bit-exactly, the lost band (zeros) is reported by wavelength and stays
/// lost while its P-frames have no reference, and comes back at the keyframe.
#[test]
fn a_damaged_band_is_concealed_and_the_others_keep_decoding() {
    let Some(model) = inter_model_or_skip("a_damaged_band_is_concealed") else { return };
    let mut enc = encoder(&model, &WAVELENGTHS, 3, PFrameDecision::Always);
    let units: Vec<_> = (0..4).map(|i| enc.encode(Pixels::U16(&aia_set(i)), false).unwrap()).collect();
    let kinds: Vec<FrameType> = units.iter().map(|u| u.frame_type).collect();
    assert_eq!(kinds, [FrameType::I, FrameType::P, FrameType::P, FrameType::I]);
    let mut clean = decoder(&model, 1);
    let want: Vec<_> = units.iter().map(|u| clean.decode(&u.data).unwrap().pixels).collect();
    let n = (W * H) as usize;
    let plane = |p: &helio_core::codec::PixelBuf, c: usize| u16s(p)[c * n..(c + 1) * n].to_vec();

    let mut dec = decoder(&model, 1);
    dec.decode(&units[0].data).unwrap();
    // A flipped byte near the end of frame 1: inside the 304 A unit (CRC).
    let mut flipped = units[1].data.clone();
    let at = flipped.len() - 3;
    flipped[at] ^= 0x40;
    for (i, data) in [(1, &flipped), (2, &units[2].data)] {
        let got = dec.decode(data).unwrap();
        assert_eq!(got.lost.len(), 1, "frame {i}: {:?}", got.lost);
        assert_eq!((got.lost[0].channel, got.lost[0].wavelength), (2, Some(304)), "frame {i}");
        for c in 0..2 {
            assert_eq!(plane(&got.pixels, c), plane(&want[i], c), "frame {i} channel {c}");
        }
        assert!(plane(&got.pixels, 2).iter().all(|&v| v == 0));
        eprintln!("frame {i}: lost {:?}", got.lost[0]);
    }
    let got = dec.decode(&units[3].data).unwrap();
    assert!(got.lost.is_empty());
    assert_eq!(got.pixels, want[3]);
}

#[test]
fn multispectral_without_inter_package_is_intra_only_and_keeps_the_intra_id() {
    let Some(intra) = model_or_skip("multispectral_without_inter_package_is_intra_only_and_keeps_the_intra_id") else {
        return;
    };
    let mut enc = encoder(&intra, &WAVELENGTHS, 30, PFrameDecision::Rd);
    assert!(!enc.inter_coding());
    let set = aia_set(0);
    for _ in 0..2 {
        let u = enc.encode(Pixels::U16(&set), false).unwrap();
        assert!(u.units.iter().all(|u| u.frame_type == FrameType::I));
        let mut dec = decoder(&intra, 1);
        assert_eq!(dec.decode(&u.data).unwrap().pixels, *enc.last_reconstruction().unwrap());
    }
    let h = bitstream::SequenceHeader::parse(&enc.sequence_header()).unwrap();
    assert_eq!(h.model_id, enc.model_id());
}

#[test]
fn wrong_plane_count_is_a_config_error() {
    let Some(model) = model_or_skip("wrong_plane_count_is_a_config_error") else { return };
    let mut enc = encoder(&model, &WAVELENGTHS, 1, PFrameDecision::Rd);
    let one_plane = vec![0u16; (W * H) as usize];
    let err = enc.encode(Pixels::U16(&one_plane), false).unwrap_err();
    assert!(err.to_string().contains("3 plane(s)"), "{err}");
    let bad = Encoder::new(EncoderConfig {
        wavelengths: vec![193, 171],
        ..EncoderConfig {
            width: W,
            height: H,
            bit_depth: 14,
            quality: 1,
            model,
            execution_provider: ExecutionProvider::Cpu,
            threads: 1,
            keyframe_interval: 1,
            p_frame_decision: PFrameDecision::Rd,
            keyframe_quality_offset: helio_core::DEFAULT_KEYFRAME_QUALITY_OFFSET,
            wavelengths: vec![],
        }
    });
    assert!(bad.is_err(), "wavelengths out of order accepted");
}
