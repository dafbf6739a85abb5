// SPDX-License-Identifier: MPL-2.0

//! Shared helpers for the GStreamer integration tests: plugin registration,
//! the model package (skip with a reason when it or ONNX Runtime is absent),
//! synthetic frames and streams, temp dirs and running pipelines to EOS.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Duration;

use gst::prelude::*;
use helio_core::bitstream::{
    self as bs, EntropyModelKind, FrameType, ModelId, PacketHeader, SequenceHeader,
};
use helio_core::intensity::IntensityTransform;

pub mod recipes;

pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gsthelio::plugin_register_static().expect("helio plugin registers");
    });
}

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `$HELIO_TEST_MODEL_DIR`, else `<workspace>/models/hyperprior`.
pub fn model_dir() -> PathBuf {
    std::env::var_os("HELIO_TEST_MODEL_DIR")
        .map_or_else(|| workspace().join("models/hyperprior"), PathBuf::from)
}

/// The model package directory to test with, or `None` (after printing why)
/// when the package or the ONNX Runtime library is missing.
pub fn model_or_skip(test: &str) -> Option<String> {
    init();
    let dir = model_dir();
    if !dir.join("model.json").is_file() {
        skip(format!(
            "SKIP {test}: no model package at {} (export one, or set HELIO_TEST_MODEL_DIR)",
            dir.display()
        ));
        return None;
    }
    if let Err(e) = helio_core::runtime::init(None) {
        skip(format!("SKIP {test}: {e}"));
        return None;
    }
    Some(dir.to_str().expect("utf-8 model path").to_string())
}

/// Number of quality levels of the test model package.
pub fn quality_levels(model_dir: &str) -> u32 {
    let source = helio_core::ModelSource::Dir(PathBuf::from(model_dir));
    helio_core::model::ModelPackage::load(&source)
        .expect("model package loads")
        .spec
        .quality_levels() as u32
}

/// A temporary directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "helio-gst-{}-{}-{}",
            name,
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn file(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A synthetic solar-looking frame: a limb-brightened disk with some
/// structure and noise, `max` = brightest value. `t` moves the structure.
pub fn sun_frame(width: u32, height: u32, max: u16, t: u32) -> Vec<u16> {
    let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
    let r = 0.4 * width.min(height) as f32;
    let mut seed = 0x9e37_79b9u32 ^ t.wrapping_mul(0x85eb_ca6b);
    let mut out = Vec::with_capacity((width * height) as usize);
    for y in 0..height {
        for x in 0..width {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let noise = (seed % 64) as f32 / 64.0;
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            let d = (dx * dx + dy * dy).sqrt() / r;
            let v = if d < 1.0 {
                let blob = ((x as f32 + t as f32 * 3.0) * 0.15).sin() * (y as f32 * 0.11).cos();
                0.3 + 0.4 * d * d + 0.2 * blob.abs() + 0.05 * noise
            } else {
                0.02 * noise + 0.05 * (-(d - 1.0) * 8.0).exp()
            };
            out.push((v.clamp(0.0, 1.0) * max as f32) as u16);
        }
    }
    out
}

/// A GRAY16_LE buffer (tightly packed) holding `samples`.
pub fn gray16_buffer(samples: &[u16], pts: gst::ClockTime) -> gst::Buffer {
    let bytes: Vec<u8> = samples.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut buffer = gst::Buffer::from_mut_slice(bytes);
    buffer.get_mut().unwrap().set_pts(pts);
    buffer
}

/// A GRAY8 buffer with the samples scaled from `sun_frame`.
pub fn gray8_buffer(width: u32, height: u32, t: u32, pts: gst::ClockTime) -> gst::Buffer {
    let bytes: Vec<u8> = sun_frame(width, height, 255, t)
        .into_iter()
        .map(|v| v as u8)
        .collect();
    let mut buffer = gst::Buffer::from_mut_slice(bytes);
    buffer.get_mut().unwrap().set_pts(pts);
    buffer
}

pub fn raw_caps(format: &str, width: u32, height: u32) -> gst::Caps {
    gst::Caps::builder("video/x-raw")
        .field("format", format)
        .field("width", width as i32)
        .field("height", height as i32)
        .field("framerate", gst::Fraction::new(1, 1))
        .build()
}

/// A sequence header like the encoder writes (fake model id: parser tests
/// need no model).
pub fn test_header(width: u32, height: u32, bit_depth: u8) -> SequenceHeader {
    SequenceHeader {
        width,
        height,
        channels: 1,
        bit_depth,
        transform: IntensityTransform::default_for_bit_depth(bit_depth),
        entropy_model: EntropyModelKind::Hyperprior,
        quality_levels: 6,
        model_id: ModelId([1, 2, 3, 4, 5, 6, 7, 8]),
        wavelengths: vec![],
    }
}

/// One synthetic access unit: optional sequence header + packet with an
/// arbitrary payload (valid CRCs, undecodable payload).
pub fn test_unit(
    header: Option<&SequenceHeader>,
    frame_type: FrameType,
    frame_number: u32,
    payload_len: usize,
) -> Vec<u8> {
    let mut out = header.map(|h| h.to_bytes()).unwrap_or_default();
    let payload: Vec<u8> = (0..payload_len)
        .map(|i| (i as u32 * 31 + frame_number * 7) as u8)
        .collect();
    let ph = PacketHeader {
        frame_type,
        quality: 3,
        channel: 0,
        ref_channel: 0,
        frame_number,
        payload_len: 0,
    };
    bs::write_packet(&ph, &payload, &mut out);
    out
}

/// What a pipeline run posted.
#[derive(Debug, Default)]
pub struct RunResult {
    pub eos: bool,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

fn describe(err: &gst::glib::Error, debug: Option<&str>, src: Option<&gst::Object>) -> String {
    format!(
        "{}: {} ({})",
        src.map(|s| s.path_string().to_string()).unwrap_or_default(),
        err.message(),
        debug.unwrap_or("")
    )
}

/// Plays `pipeline` until EOS or error (or `timeout`), then sets it to NULL.
pub fn run_to_eos(pipeline: &gst::Element, timeout: Duration) -> RunResult {
    let bus = pipeline.bus().unwrap();
    let mut result = RunResult::default();
    if pipeline.set_state(gst::State::Playing).is_err() {
        result.errors.push("state change to PLAYING failed".into());
    }
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => {
                result.eos = true;
                break;
            }
            gst::MessageView::Error(e) => {
                result
                    .errors
                    .push(describe(&e.error(), e.debug().as_deref(), msg.src()));
                break;
            }
            gst::MessageView::Warning(w) => {
                result
                    .warnings
                    .push(describe(&w.error(), w.debug().as_deref(), msg.src()));
            }
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    result
}

/// Collects the buffers reaching the sink pad of `element` (e.g. a fakesink).
pub fn collect_buffers(
    element: &gst::Element,
) -> std::sync::Arc<std::sync::Mutex<Vec<gst::Buffer>>> {
    let buffers = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let b = buffers.clone();
    element
        .static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(buffer) = info.buffer() {
                b.lock().unwrap().push(buffer.clone());
            }
            gst::PadProbeReturn::Ok
        });
    buffers
}

/// The caps currently on the sink pad of `element`.
pub fn sink_caps(element: &gst::Element) -> Option<gst::Caps> {
    element.static_pad("sink").unwrap().current_caps()
}

/// Drains the element's messages (posted on `bus`) into warning/error strings.
pub fn drain_bus(bus: &gst::Bus) -> RunResult {
    let mut result = RunResult::default();
    while let Some(msg) = bus.pop() {
        match msg.view() {
            gst::MessageView::Error(e) => {
                result
                    .errors
                    .push(describe(&e.error(), e.debug().as_deref(), msg.src()))
            }
            gst::MessageView::Warning(w) => {
                result
                    .warnings
                    .push(describe(&w.error(), w.debug().as_deref(), msg.src()))
            }
            gst::MessageView::Eos(_) => result.eos = true,
            _ => {}
        }
    }
    result
}

/// PSNR of two 16-bit planes against `max`.
pub fn psnr(a: &[u16], b: &[u16], max: f64) -> f64 {
    let mse = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    10.0 * (max * max / mse.max(1e-12)).log10()
}

/// Little-endian 16-bit samples of a tightly packed GRAY16_LE buffer.
pub fn samples16(buffer: &gst::BufferRef) -> Vec<u16> {
    let map = buffer.map_readable().unwrap();
    map.chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// Prints why a test is skipped, or fails it when `HELIO_NO_SKIP` is set
/// (`make test` sets it, so CI cannot pass by skipping the real work).
pub fn skip(reason: String) {
    if std::env::var_os("HELIO_NO_SKIP").is_some() {
        panic!("{reason} (HELIO_NO_SKIP is set: every test must run)");
    }
    eprintln!("{reason}");
}

/// `$HELIO_TEST_INTER_MODEL_DIR`, else `<workspace>/models/ssf`.
pub fn inter_model_dir() -> PathBuf {
    std::env::var_os("HELIO_TEST_INTER_MODEL_DIR")
        .map_or_else(|| workspace().join("models/ssf"), PathBuf::from)
}

/// The intra and inter package directories to test P-frames with, or `None`
/// (after printing why) when either package or ONNX Runtime is missing.
pub fn inter_model_or_skip(test: &str) -> Option<(String, String)> {
    let model = model_or_skip(test)?;
    let inter = inter_model_dir();
    if !inter.join("model.json").is_file() {
        skip(format!(
            "SKIP {test}: no inter package at {} (export one with `make export-ssf`, or set HELIO_TEST_INTER_MODEL_DIR)",
            inter.display()
        ));
        return None;
    }
    Some((model, inter.to_str().expect("utf-8 model path").to_string()))
}

/// Decodes `path` with `chain` between filesrc and fakesink; returns the
/// decoded buffers, their caps and the messages.
pub fn decode_file(path: &str, chain: &str) -> (Vec<gst::Buffer>, Option<gst::Caps>, RunResult) {
    launch_collect(&format!("filesrc location=\"{path}\" ! {chain} ! fakesink name=sink sync=false"))
}

/// Runs the `gst-launch` description `launch`, whose last element is named `sink`, to
/// EOS; returns the buffers that reached `sink`, the last caps it got and the messages.
pub fn launch_collect(launch: &str) -> (Vec<gst::Buffer>, Option<gst::Caps>, RunResult) {
    init();
    let pipeline = gst::parse::launch(launch).unwrap();
    let sink = pipeline
        .downcast_ref::<gst::Bin>()
        .unwrap()
        .by_name("sink")
        .unwrap();
    let buffers = collect_buffers(&sink);
    let caps = std::sync::Arc::new(std::sync::Mutex::new(None));
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
    let res = run_to_eos(&pipeline, Duration::from_secs(300));
    let out = buffers.lock().unwrap().clone();
    let caps = caps.lock().unwrap().clone();
    (out, caps, res)
}

pub fn bytes(buffer: &gst::Buffer) -> Vec<u8> {
    buffer.map_readable().unwrap().to_vec()
}
