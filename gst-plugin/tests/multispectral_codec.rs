// SPDX-License-Identifier: MPL-2.0

//! Multispectral streams through helioenc / helioparse / heliodec: three
//! wavelengths (videotestsrc planes relabelled as multispectral) coded into one video/x-helio stream (X-frames
//! across wavelengths, P-frames in time), written to a file, decoded
//! bit-exactly to codec-core's reconstruction through helioparse and through
//! heliodec's own splitting, with multispectral caps out; invalid caps refused
//! with a message. Needs the intra and inter packages (skips otherwise).

mod common;

use std::time::Duration;

use common::*;
use gst::prelude::*;
use helio_core::bitstream::{self, FrameType};

const FRAMES: usize = 5;
const SIZE: u32 = 128;
const WAVELENGTHS: [u16; 3] = [171, 193, 304];

fn dec_chain(model: &str, inter: &str) -> String {
    format!("heliodec model-dir=\"{model}\" inter-model-dir=\"{inter}\" execution-provider=cpu")
}

#[test]
fn multispectral_stream_round_trips_through_a_file() {
    init();
    let Some((model, inter)) = inter_model_or_skip("multispectral_stream_round_trips_through_a_file") else {
        return;
    };
    let dir = TempDir::new("ms");
    let path = dir.file("ms.helio");
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers={FRAMES} pattern=ball ! \
         video/x-raw,format=GRAY16_LE,width={SIZE},height={},framerate=12/1 ! \
         capssetter join=false replace=true caps=\"video/x-multispectral,format=GRAY16_LE,width={SIZE},\
         height={SIZE},channels=3,wavelengths=(int)<171,193,304>,framerate=12/1\" ! \
         helioenc name=enc model-dir=\"{model}\" inter-model-dir=\"{inter}\" execution-provider=cpu \
         keyframe-interval=3 p-frame-decision=always bit-depth=16 ! filesink name=sink location=\"{path}\"",
        3 * SIZE
    ))
    .unwrap();
    let bin = pipeline.downcast_ref::<gst::Bin>().unwrap();
    let raw = collect_buffers(&bin.by_name("enc").unwrap());
    let units = collect_buffers(&bin.by_name("sink").unwrap());
    let res = run_to_eos(&pipeline, Duration::from_secs(300));
    assert!(res.eos && res.errors.is_empty(), "{res:?}");
    let (raw, units) = (raw.lock().unwrap().clone(), units.lock().unwrap().clone());
    assert_eq!((raw.len(), units.len()), (FRAMES, FRAMES));
    let header = bitstream::SequenceHeader::parse(&bytes(&units[0])).unwrap();
    assert_eq!((header.channels, &header.wavelengths[..]), (3, &WAVELENGTHS[..]));

    // The same frames through codec-core: same bytes, and the reconstructions.
    let quality = gst::ElementFactory::make("helioenc").build().unwrap().property::<u32>("quality");
    let mut enc = helio_core::Encoder::new(helio_core::EncoderConfig {
        width: SIZE,
        height: SIZE,
        bit_depth: 16,
        quality: quality as u8,
        model: helio_core::ModelSource::Dirs { intra: model.clone().into(), inter: Some(inter.clone().into()) },
        execution_provider: helio_core::ExecutionProvider::Cpu,
        threads: 0,
        keyframe_interval: 3,
        p_frame_decision: helio_core::PFrameDecision::Always,
        keyframe_quality_offset: helio_core::DEFAULT_KEYFRAME_QUALITY_OFFSET,
        wavelengths: WAVELENGTHS.to_vec(),
    })
    .unwrap();
    let mut recon = Vec::new();
    for (i, (r, u)) in raw.iter().zip(&units).enumerate() {
        // Planes of 128 GRAY16 samples need no row padding: the buffer is the planes.
        assert_eq!(r.size(), 3 * (SIZE * SIZE * 2) as usize);
        let out = enc.encode(helio_core::codec::Pixels::U16(&samples16(r)), false).unwrap();
        let keyframe = i % 3 == 0;
        assert_eq!(out.frame_type, if keyframe { FrameType::I } else { FrameType::P });
        let kinds: Vec<FrameType> = out.units.iter().map(|u| u.frame_type).collect();
        let want = if keyframe { [FrameType::I, FrameType::X, FrameType::X] } else { [FrameType::P; 3] };
        assert_eq!(kinds, want, "frame {i}");
        assert!(out.data == bytes(u), "frame {i}: helioenc and codec-core code the same bytes");
        assert_eq!(!u.flags().contains(gst::BufferFlags::DELTA_UNIT), keyframe, "frame {i}");
        assert_eq!(bitstream::split_units(&bytes(u), None).unwrap().len(), 3);
        let Some(helio_core::codec::PixelBuf::U16(px)) = enc.last_reconstruction() else { panic!("16-bit") };
        recon.push(px.clone());
    }

    let dec = dec_chain(&model, &inter);
    for chain in [
        format!("helioparse ! {dec}"),
        format!("capsfilter caps=\"video/x-helio,width={SIZE},height={SIZE},framerate=12/1\" ! {dec}"),
    ] {
        let (out, caps, res) = decode_file(&path, &chain);
        assert!(res.eos && res.errors.is_empty(), "{chain}: {res:?}");
        let caps = caps.unwrap();
        let s = caps.structure(0).unwrap();
        assert_eq!(s.name(), "video/x-multispectral", "{chain}: {caps}");
        assert_eq!((s.get::<i32>("channels").unwrap(), s.get::<i32>("height").unwrap()), (3, SIZE as i32));
        assert_eq!(out.len(), FRAMES, "{chain}");
        for (i, (b, want)) in out.iter().zip(&recon).enumerate() {
            assert!(samples16(b) == *want, "{chain} frame {i}: decoded != encoder reconstruction");
        }
    }
}

#[test]
fn invalid_multispectral_caps_are_refused_with_a_message() {
    init();
    let Some(model) = model_or_skip("invalid_multispectral_caps_are_refused_with_a_message") else { return };
    // Stacked GRAY frames relabelled as a 2-wavelength frame with the bands out of order.
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=1 ! video/x-raw,format=GRAY16_LE,width=64,height=128,framerate=1/1 ! \
         capssetter join=false replace=true caps=\"video/x-multispectral,format=GRAY16_LE,width=64,height=64,\
         channels=2,wavelengths=(int)<193,171>,framerate=1/1\" ! helioenc model-dir=\"{model}\" ! fakesink"
    ))
    .unwrap();
    let res = run_to_eos(&pipeline, Duration::from_secs(60));
    assert!(!res.errors.is_empty(), "unsorted wavelengths accepted: {res:?}");
    let all = res.errors.join("\n");
    assert!(all.contains("wavelength") || all.contains("multispectral"), "{all}");
}

/// `heliotestsrc wavelengths=...`: one buffer holds the bands in ascending
/// order, rendered from one plasma (correlated, not copies), the same for a seed.
#[test]
fn heliotestsrc_renders_several_wavelengths_per_buffer() {
    init();
    let frames = |seed: u32| {
        let pipeline = gst::parse::launch(&format!(
            "heliotestsrc num-buffers=1 seed={seed} wavelengths=304,171,193 ! \
             video/x-multispectral,format=GRAY16_LE,width=128,height=128 ! fakesink name=sink"
        ))
        .unwrap();
        let sink = pipeline.downcast_ref::<gst::Bin>().unwrap().by_name("sink").unwrap();
        let buffers = collect_buffers(&sink);
        let res = run_to_eos(&pipeline, Duration::from_secs(60));
        assert!(res.eos && res.errors.is_empty(), "{res:?}");
        let b = buffers.lock().unwrap()[0].clone();
        samples16(&b)
    };
    let a = frames(7);
    let n = 128 * 128;
    assert_eq!(a.len(), 3 * n);
    assert_eq!(a, frames(7), "same seed, same bytes");
    assert_ne!(a, frames(8), "another seed, another Sun");
    let plane = |c: usize| a[c * n..(c + 1) * n].iter().map(|&v| v as f64).collect::<Vec<f64>>();
    let corr = |x: &[f64], y: &[f64]| {
        let (mx, my) = (x.iter().sum::<f64>() / n as f64, y.iter().sum::<f64>() / n as f64);
        let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
        let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
        let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
        cov / (vx * vy).sqrt()
    };
    // 171 and 193 (planes 0 and 1): both coronal, strongly correlated, not equal.
    let (p171, p193) = (plane(0), plane(1));
    assert_ne!(p171, p193);
    let r = corr(&p171, &p193);
    assert!(r > 0.5 && r < 0.9999, "171/193 correlation {r}");
}

#[test]
fn heliotestsrc_refuses_an_unknown_wavelength_at_start() {
    init();
    let pipeline = gst::parse::launch("heliotestsrc num-buffers=1 wavelengths=171,999 ! fakesink").unwrap();
    let res = run_to_eos(&pipeline, Duration::from_secs(60));
    let all = res.errors.join("\n");
    assert!(all.contains("'999'") && all.contains("1700"), "{all}");
}

/// A damaged band in a multispectral file: helioparse passes the frame on
/// without it, heliodec outputs every frame, the band's plane zeroed and the
/// buffer flagged CORRUPTED until the next keyframe, with a warning naming
/// the wavelength; the other bands are the encoder's reconstruction.
#[test]
fn a_damaged_band_is_concealed_and_named() {
    init();
    let Some((model, inter)) = inter_model_or_skip("a_damaged_band_is_concealed_and_named") else {
        return;
    };
    let mut enc = helio_core::Encoder::new(helio_core::EncoderConfig {
        width: SIZE,
        height: SIZE,
        bit_depth: 14,
        quality: 3,
        model: helio_core::ModelSource::Dirs { intra: model.clone().into(), inter: Some(inter.clone().into()) },
        execution_provider: helio_core::ExecutionProvider::Cpu,
        threads: 1,
        keyframe_interval: 3,
        p_frame_decision: helio_core::PFrameDecision::Always,
        keyframe_quality_offset: helio_core::DEFAULT_KEYFRAME_QUALITY_OFFSET,
        wavelengths: WAVELENGTHS.to_vec(),
    })
    .unwrap();
    let n = (SIZE * SIZE) as usize;
    let mut stream = Vec::new();
    let mut recon = Vec::new();
    for f in 0..4usize {
        // Three correlated bands with a feature that moves a little each frame.
        let px: Vec<u16> = (0..3 * n)
            .map(|i| {
                let (c, x, y) = (i / n, (i % n) % SIZE as usize, (i % n) / SIZE as usize);
                let d = ((x as f64 - 60.0 - f as f64).powi(2) + (y as f64 - 64.0).powi(2)).sqrt();
                ((3000.0 + 8000.0 * (-d / 30.0).exp()) * (1.0 + 0.3 * c as f64)) as u16
            })
            .collect();
        let out = enc.encode(helio_core::codec::Pixels::U16(&px), false).unwrap();
        let mut data = out.data.clone();
        if f == 1 {
            // A flipped byte inside the last (304 A) unit's payload.
            let at = data.len() - 6;
            data[at] ^= 0x10;
        }
        stream.extend_from_slice(&data);
        let Some(helio_core::codec::PixelBuf::U16(r)) = enc.last_reconstruction() else { panic!("16-bit") };
        recon.push(r.clone());
    }
    let dir = TempDir::new("ms-damage");
    let path = dir.file("damaged.helio");
    std::fs::write(&path, &stream).unwrap();

    let (out, _, res) = decode_file(&path, &format!("helioparse ! {}", dec_chain(&model, &inter)));
    assert!(res.eos && res.errors.is_empty(), "{res:?}");
    assert_eq!(out.len(), 4, "every frame comes out: {res:?}");
    assert!(res.warnings.iter().any(|w| w.contains("304 A")), "no warning names the band: {:?}", res.warnings);
    for (i, b) in out.iter().enumerate() {
        let damaged = i == 1 || i == 2; // frame 2's 304 A P-frame has no reference
        assert_eq!(b.flags().contains(gst::BufferFlags::CORRUPTED), damaged, "frame {i}");
        let got = samples16(b);
        assert!(got[..2 * n] == recon[i][..2 * n], "frame {i}: 171/193 differ from the reconstruction");
        if damaged {
            assert!(got[2 * n..].iter().all(|&v| v == 0), "frame {i}: lost band not zeroed");
        } else {
            assert!(got[2 * n..] == recon[i][2 * n..], "frame {i}: 304 differs");
        }
    }
}
