// SPDX-License-Identifier: MPL-2.0

//! GoP streams (I- and P-frames) through whole pipelines: a 100-frame file
//! decodes bit-exactly to the encoder's reconstruction, a damaged P-frame costs
//! the rest of its GoP only, a stream cut mid-GoP decodes from its first
//! keyframe. Needs the intra and inter packages (skips with a reason otherwise).

mod common;

use std::time::Duration;

use common::*;
use gst::prelude::*;
use helio_core::bitstream::FrameType;

const FRAMES: usize = 100;
const GOP: usize = 30;
const SIZE: u32 = 128;

/// An encoded file and what it should decode to.
struct Coded {
    _dir: TempDir,
    path: String,
    /// Access unit sizes in file order.
    sizes: Vec<usize>,
    /// codec-core's reconstruction of every frame (what a decoder must output).
    recon: Vec<Vec<u16>>,
}

impl Coded {
    fn start(&self, i: usize) -> usize {
        self.sizes[..i].iter().sum()
    }

    fn write_variant(&self, name: &str, data: &[u8]) -> String {
        let path = self._dir.file(name);
        std::fs::write(&path, data).unwrap();
        path
    }
}

/// `heliotestsrc ! helioenc keyframe-interval=30 p-frame-decision=always ! filesink`
/// (P-frames at fixed positions, whatever they cost), then the same raw frames
/// through codec-core's encoder for the reconstructions.
fn encode_gop_file(model: &str, inter: &str) -> Coded {
    let dir = TempDir::new("gop");
    let path = dir.file("gop.helio");
    let pipeline = gst::parse::launch(&format!(
        "heliotestsrc num-buffers={FRAMES} ! \
         video/x-raw,format=GRAY16_LE,width={SIZE},height={SIZE},framerate=12/1 ! \
         helioenc name=enc model-dir=\"{model}\" inter-model-dir=\"{inter}\" execution-provider=cpu \
         keyframe-interval={GOP} p-frame-decision=always ! filesink name=sink location=\"{path}\""
    ))
    .unwrap();
    let bin = pipeline.downcast_ref::<gst::Bin>().unwrap();
    let raw = collect_buffers(&bin.by_name("enc").unwrap());
    let units = collect_buffers(&bin.by_name("sink").unwrap());
    let res = run_to_eos(&pipeline, Duration::from_secs(300));
    assert!(res.eos && res.errors.is_empty(), "{res:?}");
    let units = units.lock().unwrap().clone();
    let raw = raw.lock().unwrap().clone();
    assert_eq!((units.len(), raw.len()), (FRAMES, FRAMES));
    for (i, u) in units.iter().enumerate() {
        let delta = u.flags().contains(gst::BufferFlags::DELTA_UNIT);
        assert_eq!(delta, i % GOP != 0, "frame {i}: DELTA_UNIT exactly on P-frames");
    }

    let quality = gst::ElementFactory::make("helioenc").build().unwrap().property::<u32>("quality");
    let mut enc = helio_core::Encoder::new(helio_core::EncoderConfig {
        width: SIZE,
        height: SIZE,
        bit_depth: 14,
        quality: quality as u8,
        model: helio_core::ModelSource::Dirs { intra: model.into(), inter: Some(inter.into()) },
        execution_provider: helio_core::ExecutionProvider::Cpu,
        threads: 0,
        keyframe_interval: GOP as u32,
        p_frame_decision: helio_core::PFrameDecision::Always,
        keyframe_quality_offset: helio_core::DEFAULT_KEYFRAME_QUALITY_OFFSET,
        wavelengths: vec![],
    })
    .unwrap();
    let mut recon = Vec::new();
    for (i, (r, u)) in raw.iter().zip(&units).enumerate() {
        let out = enc.encode(helio_core::codec::Pixels::U16(&samples16(r)), false).unwrap();
        assert_eq!(out.frame_type, if i % GOP == 0 { FrameType::I } else { FrameType::P });
        assert!(out.data == bytes(u), "frame {i}: helioenc and codec-core code the same bytes");
        let Some(helio_core::codec::PixelBuf::U16(px)) = enc.last_reconstruction() else {
            panic!("16-bit reconstruction")
        };
        recon.push(px.clone());
    }
    let sizes = units.iter().map(|b| b.size()).collect();
    Coded { _dir: dir, path, sizes, recon }
}

fn dec_chain(model: &str, inter: &str) -> String {
    format!("heliodec model-dir=\"{model}\" inter-model-dir=\"{inter}\" execution-provider=cpu")
}

/// Decodes `path` through helioparse, through heliodec's own splitting and
/// through helioparse with 3 frame threads; returns the frames and messages
/// of each, in the order of [`CHAINS`].
fn decode_three_ways(path: &str, model: &str, inter: &str) -> Vec<(Vec<Vec<u16>>, RunResult)> {
    let dec = dec_chain(model, inter);
    [
        format!("helioparse ! {dec}"),
        format!("capsfilter caps=\"video/x-helio,width={SIZE},height={SIZE},framerate=12/1\" ! {dec}"),
        format!("helioparse ! {dec} frame-threads=3"),
    ]
        .iter()
        .map(|chain| {
            let (out, _, res) = decode_file(path, chain);
            assert!(res.eos && res.errors.is_empty(), "{chain}: {res:?}");
            (out.iter().map(|b| samples16(b)).collect(), res)
        })
        .collect()
}

const CHAINS: [&str; 3] = ["helioparse", "unparsed", "frame-threads=3"];

fn heliodec_warned(res: &RunResult) -> bool {
    res.warnings.iter().any(|w| w.contains("heliodec") && w.contains("next keyframe"))
}

#[test]
fn gop_file_round_trips_bit_exactly() {
    let Some((model, inter)) = inter_model_or_skip("gop_file_round_trips_bit_exactly") else {
        return;
    };
    let coded = encode_gop_file(&model, &inter);
    let i_mean = [0, 30, 60, 90].iter().map(|&i| coded.sizes[i]).sum::<usize>() as f64 / 4.0;
    let p_mean = (coded.sizes.iter().sum::<usize>() as f64 - 4.0 * i_mean) / 96.0;
    eprintln!("{SIZE}x{SIZE}: mean I-frame {i_mean:.0} bytes, mean P-frame {p_mean:.0} bytes");
    for (chain, (frames, res)) in CHAINS.iter().zip(decode_three_ways(&coded.path, &model, &inter)) {
        assert!(res.warnings.is_empty(), "{chain}: {res:?}");
        assert_eq!(frames.len(), FRAMES, "{chain}");
        for (i, (got, want)) in frames.iter().zip(&coded.recon).enumerate() {
            assert!(got == want, "{chain}: frame {i} differs from the encoder's reconstruction");
        }
    }
}

#[test]
fn damaged_p_frame_costs_the_rest_of_its_gop() {
    let Some((model, inter)) = inter_model_or_skip("damaged_p_frame_costs_the_rest_of_its_gop") else {
        return;
    };
    let coded = encode_gop_file(&model, &inter);
    let clean = std::fs::read(&coded.path).unwrap();
    // Cut bytes out of the middle of P-frame 40 (GoP 30..59).
    let (at, len) = (coded.start(40) + coded.sizes[40] / 2, (coded.sizes[40] / 4).max(1));
    let damaged = [&clean[..at], &clean[at + len..]].concat();
    let path = coded.write_variant("damaged.helio", &damaged);
    let expected: Vec<usize> = (0..40).chain(60..FRAMES).collect();
    for (chain, (frames, res)) in CHAINS.iter().zip(decode_three_ways(&path, &model, &inter)) {
        assert!(heliodec_warned(&res), "{chain}: heliodec warns that it waits for a keyframe: {res:?}");
        assert_eq!(frames.len(), expected.len(), "{chain}: frames 40..59 are lost, no more: {res:?}");
        for (got, &i) in frames.iter().zip(&expected) {
            assert!(*got == coded.recon[i], "{chain}: frame {i} differs from the undamaged decode");
        }
    }
}

#[test]
fn stream_joined_mid_gop_decodes_from_the_first_keyframe() {
    let Some((model, inter)) = inter_model_or_skip("stream_joined_mid_gop_decodes_from_the_first_keyframe") else {
        return;
    };
    let coded = encode_gop_file(&model, &inter);
    let clean = std::fs::read(&coded.path).unwrap();
    // Starts at the P packet of frame 10.
    let path = coded.write_variant("joined.helio", &clean[coded.start(10)..]);
    for (chain, (frames, res)) in CHAINS.iter().zip(decode_three_ways(&path, &model, &inter)) {
        assert_eq!(frames.len(), FRAMES - GOP, "{chain}: {res:?}");
        for (got, want) in frames.iter().zip(&coded.recon[GOP..]) {
            assert!(got == want, "{chain}: frames from the first keyframe on decode exactly");
        }
        if *chain == "unparsed" {
            // helioparse drops units before the first sequence header itself.
            assert!(heliodec_warned(&res), "{chain}: {res:?}");
        }
    }
}
