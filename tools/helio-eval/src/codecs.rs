//! The codecs under test, their quality sweeps and one encode+decode+measure run.

use std::time::Duration;

use gst_video::VideoFormat;

use crate::gstrun::{self, Plane};
use crate::intensity::DisplayLut;
use crate::metrics;

/// Comparison setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every codec gets the same 8-bit display frames; PSNR against them (the papers' setting).
    Display8,
    /// Codecs get the DN (helio, JPEG 2000: 16-bit; x265: 12-bit); PSNR after mapping the
    /// decoded DN to the display domain, plus DN errors.
    Dn16,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Display8 => "display8",
            Mode::Dn16 => "dn16",
        }
    }
    /// Bits per pixel of the uncompressed container (for compression ratios).
    pub fn container_bits(self) -> f64 {
        match self {
            Mode::Display8 => 8.0,
            Mode::Dn16 => 16.0,
        }
    }
}

/// The frames to code: display frames always, DN frames for 16-bit input.
pub struct Input {
    pub width: usize,
    pub height: usize,
    pub bit_depth: u8,
    pub display: Vec<Vec<u8>>,
    pub dn: Option<Vec<Vec<u16>>>,
}

/// How raw frames are handed to the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// GRAY8 display frames.
    Gray8,
    /// GRAY16_LE DN frames.
    Gray16,
    /// I420, size padded to even by edge replication (x264/x265 need 4:2:0 sizes), Y = display, chroma 128.
    I420Even,
    /// I420_10LE (x264) or I420_12LE (x265), padded to even, Y = DN reduced to that many
    /// bits (rounded), chroma mid-grey.
    I420DeepEven(u8),
}

/// One point of a sweep.
#[derive(Debug, Clone)]
pub struct Spec {
    pub codec: String,
    pub setting: String,
    /// What must exist: GStreamer elements, or for [`Tool::Ffmpeg`] ffmpeg's encoder
    /// and decoder names.
    pub elements: Vec<&'static str>,
    pub feed: Feed,
    /// Pipeline fragment between appsrc and appsink for encoding.
    pub enc: String,
    /// Caps forced on the encoder's appsink (stream format), if any.
    pub enc_caps: Option<String>,
    /// Pipeline fragment between appsrc (encoder caps) and appsink for decoding.
    pub dec: String,
    /// Raw caps of the decoder's appsink.
    pub dec_caps: String,
    pub lossless: bool,
    pub tool: Tool,
}

impl Spec {
    /// What this point needs and this machine lacks, described with where to get it.
    pub fn missing(&self) -> Vec<String> {
        match self.tool {
            Tool::Gst => gstrun::missing(&self.elements),
            Tool::Ffmpeg => crate::ffmpeg::missing(&self.elements),
        }
    }
}

/// What runs a sweep point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// GStreamer, in-process: `enc`/`dec` are pipeline fragments.
    Gst,
    /// The `ffmpeg` program, for what GStreamer 1.22 cannot do (10-bit AV1): `enc` is
    /// ffmpeg's output options for the encoder, `dec` the decoder's name; raw frames go
    /// through temporary files, the coded stream is a bare OBU stream.
    Ffmpeg,
}

/// A measured point.
#[derive(Debug, Clone)]
pub struct Point {
    pub mode: Mode,
    pub codec: String,
    pub setting: String,
    pub frames: usize,
    pub width: usize,
    pub height: usize,
    pub bytes: u64,
    pub bpp: f64,
    pub ratio: f64,
    pub psnr: f64,
    pub ms_ssim: Option<f64>,
    pub rmse_dn: Option<f64>,
    pub max_err_dn: Option<u32>,
    /// Mean relative error on the brightest 10 % and darkest 25 % of each frame's
    /// pixels ([`metrics::relative_errors`]), averaged over frames (dn16 only).
    pub rel_err_bright: Option<f64>,
    pub rel_err_dark: Option<f64>,
    pub enc_fps: f64,
    pub dec_fps: f64,
    /// Display-domain decode of the first frame (for the side-by-side image).
    pub preview: Vec<u8>,
    /// Per coded frame, when the encoder gave one buffer per frame.
    pub per_frame: Option<Vec<FrameStat>>,
    /// helio: the model id in the first unit's sequence header (the intra
    /// package's id for a stream of I-frames only, else the combined id).
    pub stream_model_id: Option<String>,
}

/// One coded frame of a point (for GoP drift plots).
#[derive(Debug, Clone, Copy)]
pub struct FrameStat {
    pub bytes: usize,
    /// Not flagged DELTA_UNIT by the encoder (an I-frame / IDR).
    pub keyframe: bool,
    pub psnr: f64,
}

impl Point {
    /// Coded frames flagged DELTA_UNIT (P-frames), if known.
    pub fn delta_frames(&self) -> Option<usize> {
        self.per_frame.as_ref().map(|f| f.iter().filter(|s| !s.keyframe).count())
    }

    /// Per coded frame (if known): whether it is a keyframe the fixed GoP schedule
    /// did not ask for (the encoder's own decision: helio-gop30's RD I/P decision,
    /// an x26x scene cut), see [`extra_keyframes`].
    pub fn extra_keyframes(&self) -> Option<Vec<bool>> {
        let keys: Vec<bool> = self.per_frame.as_ref()?.iter().map(|f| f.keyframe).collect();
        Some(extra_keyframes(&keys, keyframe_interval(&self.codec)))
    }
}

/// Keyframe interval of a codec's sweep: [`GOP`] for the GoP codecs, 1 for the intra ones.
pub fn keyframe_interval(codec: &str) -> u32 {
    match codec {
        "helio-gop30" | "x264" | "x265" | "av1" => GOP,
        _ => 1,
    }
}

/// Which keyframes come earlier than the schedule: the schedule puts a keyframe
/// on the first frame and `gop` frames after the last keyframe (an encoder that
/// inserts one restarts its GoP there, as helioenc and x26x do).
pub fn extra_keyframes(keyframes: &[bool], gop: u32) -> Vec<bool> {
    let mut last: Option<usize> = None;
    keyframes
        .iter()
        .enumerate()
        .map(|(i, &key)| {
            let scheduled = last.is_none_or(|l| i - l >= gop.max(1) as usize);
            if key {
                last = Some(i);
            }
            key && !scheduled
        })
        .collect()
}

/// Sweep settings.
pub struct SweepOptions {
    pub quick: bool,
    /// helio qualities to run (None: all 1..=max).
    pub helio_qualities: Option<Vec<u32>>,
    /// Max of helioenc's `quality` property (None: helio not available).
    pub helio_max_quality: Option<u32>,
    /// Extra helioenc properties (e.g. `threads=2`), appended verbatim.
    pub helio_props: String,
    /// Extra heliodec properties (e.g. `frame-threads=2`), appended verbatim.
    pub heliodec_props: String,
    /// Significant bits of 16-bit input (given to helioenc as `bit-depth` in dn16 mode).
    pub bit_depth: u8,
}

/// x264/x265 quality parameters: the papers' CRF sweep 9..30, extended to 35/40 so the
/// low-rate end can overlap a learned codec's curve.
pub const CRF_SWEEP: &[u32] = &[9, 13, 17, 21, 25, 30, 35, 40];
pub const CRF_SWEEP_QUICK: &[u32] = &[17, 25, 33, 40];
/// JPEG 2000 target bits per pixel (converted to compression ratios of the container).
pub const J2K_BPP: &[f64] = &[0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2];
pub const J2K_BPP_QUICK: &[f64] = &[0.05, 0.2, 0.8];

/// AV1 (libaom `av1enc`, end-usage=q) constant quantizers, 0..63 scale: a sweep
/// over about the same rate range as the CRF sweeps.
pub const AV1_Q: &[u32] = &[16, 24, 32, 40, 48, 56];
pub const AV1_Q_QUICK: &[u32] = &[24, 36, 48, 58];

/// All codec names known to the tool, in run order.
pub const ALL_CODECS: &[&str] = &[
    "png",
    "j2k-lossless",
    "ffv1",
    "helio",
    "helio-gop30",
    "x264",
    "x264-intra",
    "x265",
    "x265-intra",
    "av1",
    "j2k",
];

/// Keyframe interval of the GoP codecs (x264, x265, helio-gop30): the papers' GoP 30.
pub const GOP: u32 = 30;

/// Whether `codec` is one of helio's settings (needs the helio plugin).
pub fn is_helio(codec: &str) -> bool {
    codec == "helio" || codec == "helio-gop30"
}

const H264: &str = "video/x-h264,stream-format=byte-stream,alignment=au";
const H265: &str = "video/x-h265,stream-format=byte-stream,alignment=au";

fn spread(max: u32, n: usize) -> Vec<u32> {
    if max as usize <= n {
        return (1..=max).collect();
    }
    let mut v: Vec<u32> = (0..n)
        .map(|i| 1 + ((max - 1) as f64 * i as f64 / (n - 1) as f64).round() as u32)
        .collect();
    v.dedup();
    v
}

/// The sweep of `codec` in `mode` (empty when the codec does not apply to the mode).
pub fn sweep(codec: &str, mode: Mode, opts: &SweepOptions) -> Vec<Spec> {
    let gray_caps = match mode {
        Mode::Display8 => "video/x-raw,format=GRAY8",
        Mode::Dn16 => "video/x-raw,format=GRAY16_LE",
    };
    let gray_feed = match mode {
        Mode::Display8 => Feed::Gray8,
        Mode::Dn16 => Feed::Gray16,
    };
    let crfs = if opts.quick { CRF_SWEEP_QUICK } else { CRF_SWEEP };
    let mut out = Vec::new();
    match codec {
        "png" => {
            let (enc, dec) = match mode {
                Mode::Display8 => ("pngenc compression-level=9".to_string(), "pngdec".to_string()),
                Mode::Dn16 => (
                    "videoconvert ! video/x-raw,format=GRAY16_BE ! pngenc compression-level=9".to_string(),
                    "pngdec ! videoconvert".to_string(),
                ),
            };
            out.push(Spec {
                codec: "png".into(),
                setting: "lossless, level 9".into(),
                elements: vec!["pngenc", "pngdec", "videoconvert"],
                feed: gray_feed,
                enc,
                enc_caps: None,
                dec,
                dec_caps: gray_caps.into(),
                lossless: true,
                tool: Tool::Gst,
            });
        }
        "j2k-lossless" => out.push(Spec {
            codec: "j2k-lossless".into(),
            setting: "openjpegenc default (5/3)".into(),
            elements: vec!["openjpegenc", "openjpegdec"],
            feed: gray_feed,
            enc: "openjpegenc".into(),
            enc_caps: None,
            dec: "openjpegdec".into(),
            dec_caps: gray_caps.into(),
            lossless: true,
            tool: Tool::Gst,
        }),
        "ffv1" => out.push(Spec {
            codec: "ffv1".into(),
            // FFV1 (libav) takes GRAY8 and GRAY16_LE as they are: lossless in both modes.
            setting: "avenc_ffv1 defaults (lossless, intra)".into(),
            elements: vec!["avenc_ffv1", "avdec_ffv1"],
            feed: gray_feed,
            enc: "avenc_ffv1".into(),
            enc_caps: None,
            dec: "avdec_ffv1".into(),
            dec_caps: gray_caps.into(),
            lossless: true,
            tool: Tool::Gst,
        }),
        "helio" | "helio-gop30" => {
            // helio: every frame an I-frame; helio-gop30: I + P-frames like x26x's GoP 30.
            let k = if codec == "helio" { 1 } else { GOP };
            let Some(max) = opts.helio_max_quality else { return out };
            let qs = opts
                .helio_qualities
                .clone()
                .unwrap_or_else(|| if opts.quick { spread(max, 3) } else { (1..=max).collect() });
            for q in qs.into_iter().filter(|&q| q >= 1 && q <= max) {
                out.push(Spec {
                    codec: codec.into(),
                    setting: format!("quality={q}"),
                    elements: vec!["helioenc", "heliodec"],
                    feed: gray_feed,
                    enc: match mode {
                        Mode::Display8 => format!("helioenc quality={q} keyframe-interval={k} {}", opts.helio_props),
                        Mode::Dn16 => format!(
                            "helioenc quality={q} keyframe-interval={k} bit-depth={} {}",
                            opts.bit_depth, opts.helio_props
                        ),
                    }
                    .trim_end()
                    .to_string(),
                    enc_caps: None,
                    dec: helio_dec(opts),
                    dec_caps: gray_caps.into(),
                    lossless: false,
                    tool: Tool::Gst,
                });
            }
        }
        "x264" | "x264-intra" => {
            let k = if codec == "x264" { GOP } else { 1 };
            // dn16: x264's High 10 profile (I420_10LE), the deepest it codes: DN >> 4.
            let (feed, dec_caps) = match mode {
                Mode::Display8 => (Feed::I420Even, "video/x-raw,format=I420"),
                Mode::Dn16 => (Feed::I420DeepEven(10), "video/x-raw,format=I420_10LE"),
            };
            for &q in crfs {
                out.push(Spec {
                    codec: codec.into(),
                    setting: format!("qual quantizer={q}"),
                    elements: vec!["x264enc", "h264parse", "avdec_h264"],
                    feed,
                    enc: format!(
                        "x264enc pass=qual quantizer={q} vbv-buf-capacity=0 key-int-max={k} bframes=0 speed-preset=medium"
                    ),
                    enc_caps: Some(H264.into()),
                    dec: "h264parse ! avdec_h264".into(),
                    dec_caps: dec_caps.into(),
                    lossless: false,
                    tool: Tool::Gst,
                });
            }
        }
        "x265" | "x265-intra" => {
            let k = if codec == "x265" { GOP } else { 1 };
            let (feed, dec_caps) = match mode {
                Mode::Display8 => (Feed::I420Even, "video/x-raw,format=I420"),
                Mode::Dn16 => (Feed::I420DeepEven(12), "video/x-raw,format=I420_12LE"),
            };
            for &q in crfs {
                out.push(Spec {
                    codec: codec.into(),
                    setting: format!("crf={q}"),
                    elements: vec!["x265enc", "h265parse", "avdec_h265"],
                    feed,
                    enc: format!(
                        "x265enc tune=0 key-int-max={k} speed-preset=medium option-string=\"bframes=0:crf={q}\""
                    ),
                    enc_caps: Some(H265.into()),
                    dec: "h265parse ! avdec_h265".into(),
                    dec_caps: dec_caps.into(),
                    lossless: false,
                    tool: Tool::Gst,
                });
            }
        }
        "av1" if mode == Mode::Dn16 => {
            // av1enc in GStreamer 1.22 takes 8-bit 4:2:0 only: the same encoder (libaom)
            // through ffmpeg, 10 bits (DN >> 4), same quantizers, GoP and speed.
            for &q in if opts.quick { AV1_Q_QUICK } else { AV1_Q } {
                out.push(Spec {
                    codec: codec.into(),
                    setting: format!("q={q} cpu-used=4, ffmpeg libaom-av1 10-bit"),
                    elements: vec!["libaom-av1", "libdav1d"],
                    feed: Feed::I420DeepEven(10),
                    enc: format!(
                        "-c:v libaom-av1 -cpu-used 4 -lag-in-frames 0 -g {GOP} -b:v 0 -crf {q} -qmin {q} -qmax {q}"
                    ),
                    enc_caps: None,
                    dec: "libdav1d".into(),
                    dec_caps: "yuv420p10le".into(),
                    lossless: false,
                    tool: Tool::Ffmpeg,
                });
            }
        }
        "av1" => {
            for &q in if opts.quick { AV1_Q_QUICK } else { AV1_Q } {
                out.push(Spec {
                    codec: codec.into(),
                    setting: format!("q={q} cpu-used=4"),
                    elements: vec!["av1enc", "av1parse", "av1dec"],
                    feed: Feed::I420Even,
                    // Constant quantizer, low delay (no lag, no alt-ref reordering),
                    // GoP 30 like the x26x anchors; cpu-used=4, libaom's usual
                    // good-quality speed (0, the default, takes minutes per frame).
                    enc: format!(
                        "av1enc end-usage=q min-quantizer={q} max-quantizer={q} cpu-used=4 lag-in-frames=0 \
                         keyframe-max-dist={GOP}"
                    ),
                    enc_caps: Some("video/x-av1,alignment=tu".into()),
                    dec: "av1parse ! av1dec".into(),
                    dec_caps: "video/x-raw,format=I420".into(),
                    lossless: false,
                    tool: Tool::Gst,
                });
            }
        }
        "j2k" => {
            let bpps = if opts.quick { J2K_BPP_QUICK } else { J2K_BPP };
            for &b in bpps {
                let ratio = mode.container_bits() / b;
                out.push(Spec {
                    codec: "j2k".into(),
                    setting: format!("layer-rates={ratio:.1} (~{b} bpp)"),
                    elements: vec!["avenc_jpeg2000", "jpeg2000parse", "openjpegdec"],
                    feed: gray_feed,
                    enc: format!("avenc_jpeg2000 format=j2k layer-rates={ratio:.1}"),
                    enc_caps: None,
                    // jpeg2000parse: avenc_jpeg2000 labels gray codestreams `sampling=RGB`,
                    // which openjpegdec then fails on; the parser reads the real SIZ.
                    dec: "jpeg2000parse ! openjpegdec".into(),
                    dec_caps: gray_caps.into(),
                    lossless: false,
                    tool: Tool::Gst,
                });
            }
        }
        _ => {}
    }
    out
}

/// heliodec with the model properties given to helioenc (the decoder needs the
/// same packages), then the heliodec-only ones.
fn helio_dec(opts: &SweepOptions) -> String {
    let models = opts
        .helio_props
        .split_whitespace()
        .filter(|kv| kv.starts_with("model-dir=") || kv.starts_with("inter-model-dir="));
    std::iter::once("heliodec").chain(models).chain(opts.heliodec_props.split_whitespace()).collect::<Vec<_>>().join(" ")
}

fn even(v: usize) -> usize {
    v + (v & 1)
}

/// Raw buffers and caps for `feed`.
fn make_raw(input: &Input, feed: Feed) -> Result<(gst::Caps, Vec<gst::Buffer>), String> {
    let (w, h) = (input.width, input.height);
    let dn = || input.dn.as_ref().ok_or("this feed needs 16-bit input".to_string());
    let (format, fw, fh) = match feed {
        Feed::Gray8 => (VideoFormat::Gray8, w, h),
        Feed::Gray16 => (VideoFormat::Gray16Le, w, h),
        Feed::I420Even => (VideoFormat::I420, even(w), even(h)),
        Feed::I420DeepEven(10) => (VideoFormat::I42010le, even(w), even(h)),
        Feed::I420DeepEven(_) => (VideoFormat::I42012le, even(w), even(h)),
    };
    let info = gstrun::video_info(format, fw, fh);
    let n = input.display.len();
    let mut bufs = Vec::with_capacity(n);
    for i in 0..n {
        let mut data = vec![0u8; info.size()];
        // Edge replication for the padded column / row.
        let cx = |x: usize| x.min(w - 1);
        let cy = |y: usize| y.min(h - 1);
        let (cw, ch) = (fw.div_ceil(2), fh.div_ceil(2));
        match feed {
            Feed::Gray8 => {
                let d = &input.display[i];
                gstrun::fill_plane(&mut data, &info, 0, fw, fh, 1, |x, y| d[y * w + x] as u16);
            }
            Feed::Gray16 => {
                let d = &dn()?[i];
                gstrun::fill_plane(&mut data, &info, 0, fw, fh, 2, |x, y| d[y * w + x]);
            }
            Feed::I420Even => {
                let d = &input.display[i];
                gstrun::fill_plane(&mut data, &info, 0, fw, fh, 1, |x, y| d[cy(y) * w + cx(x)] as u16);
                gstrun::fill_plane(&mut data, &info, 1, cw, ch, 1, |_, _| 128);
                gstrun::fill_plane(&mut data, &info, 2, cw, ch, 1, |_, _| 128);
            }
            Feed::I420DeepEven(bits) => {
                let d = &dn()?[i];
                gstrun::fill_plane(&mut data, &info, 0, fw, fh, 2, |x, y| {
                    reduce(d[cy(y) * w + cx(x)], input.bit_depth, bits)
                });
                let grey = 1u16 << (bits - 1);
                gstrun::fill_plane(&mut data, &info, 1, cw, ch, 2, |_, _| grey);
                gstrun::fill_plane(&mut data, &info, 2, cw, ch, 2, |_, _| grey);
            }
        }
        bufs.push(gst::Buffer::from_mut_slice(data));
    }
    let caps = info.to_caps().map_err(|e| e.to_string())?;
    Ok((caps, gstrun::stamp(bufs)))
}

/// DN of `bit_depth` bits reduced to `bits` (rounded, clamped): what x264 (10), x265
/// (12) and AV1 (10) get in dn16 mode.
fn reduce(dn: u16, bit_depth: u8, bits: u8) -> u16 {
    let shift = bit_depth.saturating_sub(bits) as u32;
    let round = if shift > 0 { 1u32 << (shift - 1) } else { 0 };
    ((dn as u32 + round) >> shift).min((1u32 << bits) - 1) as u16
}

/// Tightly packed 4:2:0 frames of `bits`-bit samples (16-bit little-endian words), the
/// size padded to even by edge replication, chroma mid-grey: ffmpeg's yuv420p10le for 10.
fn raw_deep_420(input: &Input, bits: u8) -> Result<(usize, usize, Vec<u8>), String> {
    let (w, h) = (input.width, input.height);
    let (fw, fh) = (even(w), even(h));
    let (cw, ch) = (fw / 2, fh / 2);
    let dn = input.dn.as_ref().ok_or("this feed needs 16-bit input")?;
    let grey = (1u16 << (bits - 1)).to_le_bytes();
    let mut out = Vec::with_capacity(dn.len() * 2 * (fw * fh + 2 * cw * ch));
    for d in dn {
        for y in 0..fh {
            for x in 0..fw {
                out.extend(reduce(d[y.min(h - 1) * w + x.min(w - 1)], input.bit_depth, bits).to_le_bytes());
            }
        }
        for _ in 0..2 * cw * ch {
            out.extend(grey);
        }
    }
    Ok((fw, fh, out))
}

/// What coding one sweep point gave, whatever ran it.
struct Coded {
    bytes: u64,
    /// (bytes, keyframe) per coded buffer, when the runner sees them.
    coded_sizes: Option<Vec<(usize, bool)>>,
    /// Decoded planes cropped to the input size.
    planes: Vec<Plane>,
    enc_seconds: f64,
    dec_seconds: f64,
    stream_model_id: Option<String>,
}

/// Codes one sweep point through GStreamer pipelines (in-process).
fn code_gst(spec: &Spec, input: &Input) -> Result<Coded, String> {
    let (w, h) = (input.width, input.height);
    let timeout = Duration::from_secs(600);
    let (caps, raw) = make_raw(input, spec.feed)?;
    let enc = gstrun::run(&spec.enc, &caps, spec.enc_caps.as_deref(), raw, timeout)?;
    if enc.samples.is_empty() {
        return Err(format!("`{}` produced no output", spec.enc));
    }
    let bytes: u64 = enc.samples.iter().filter_map(|s| s.buffer()).map(|b| b.size() as u64).sum();
    let coded_caps = enc.samples[0].caps().ok_or("encoder output without caps")?.to_owned();
    let coded: Vec<gst::Buffer> = enc.samples.iter().filter_map(|s| s.buffer_owned()).collect();
    let coded_sizes: Vec<(usize, bool)> =
        coded.iter().map(|b| (b.size(), !b.flags().contains(gst::BufferFlags::DELTA_UNIT))).collect();
    let stream_model_id = is_helio(&spec.codec)
        .then(|| coded.first()?.map_readable().ok())
        .flatten()
        .and_then(|m| helio_core::bitstream::SequenceHeader::parse(&m).ok())
        .map(|h| h.model_id.to_string());
    let dec = gstrun::run(&spec.dec, &coded_caps, Some(&spec.dec_caps), coded, timeout)?;
    Ok(Coded {
        bytes,
        coded_sizes: Some(coded_sizes),
        planes: dec.samples.iter().map(|s| gstrun::plane0(s, w, h)).collect::<Result<_, _>>()?,
        enc_seconds: enc.seconds,
        dec_seconds: dec.seconds,
        stream_model_id,
    })
}

/// Encodes, decodes and measures one sweep point.
pub fn evaluate(spec: &Spec, input: &Input, mode: Mode, lut: &DisplayLut) -> Result<Point, String> {
    let (w, h) = (input.width, input.height);
    let n = input.display.len();
    let coded = match spec.tool {
        Tool::Gst => code_gst(spec, input)?,
        Tool::Ffmpeg => {
            let Feed::I420DeepEven(bits) = spec.feed else { return Err("ffmpeg runs deep 4:2:0 feeds only".into()) };
            let (fw, fh, raw) = raw_deep_420(input, bits)?;
            let c = crate::ffmpeg::code(&spec.enc, &spec.dec, &spec.dec_caps, fw, fh, &raw, n)?;
            let planes = c
                .luma
                .iter()
                .map(|l| Plane::U16((0..h).flat_map(|y| l[y * fw..y * fw + w].iter().copied()).collect()))
                .collect();
            Coded {
                bytes: c.bytes,
                coded_sizes: None,
                planes,
                enc_seconds: c.enc_seconds,
                dec_seconds: c.dec_seconds,
                stream_model_id: None,
            }
        }
    };
    if coded.planes.len() != n {
        return Err(format!("decoder returned {} frames for {n}", coded.planes.len()));
    }
    let bytes = coded.bytes;
    let dn_max = ((1u32 << input.bit_depth) - 1) as u16;
    let (mut psnr_sum, mut ssim_sum, mut ssim_ok) = (0.0, 0.0, true);
    let (mut se_dn, mut max_dn) = (0.0f64, 0u32);
    let (mut rel_bright, mut rel_dark) = (0.0f64, 0.0f64);
    let mut preview = Vec::new();
    let mut psnrs = Vec::with_capacity(n);
    for (i, plane) in coded.planes.into_iter().enumerate() {
        let (disp, dn): (Vec<u8>, Option<Vec<u16>>) = match (mode, plane) {
            (Mode::Display8, Plane::U8(p)) => (p, None),
            (Mode::Dn16, Plane::U16(p)) => {
                let p: Vec<u16> = if let Feed::I420DeepEven(bits) = spec.feed {
                    // Back to DN: the reduction's inverse (up to its rounding).
                    let shift = input.bit_depth.saturating_sub(bits) as u32;
                    p.iter().map(|&v| ((v as u32) << shift).min(dn_max as u32) as u16).collect()
                } else {
                    p
                };
                (lut.map(&p), Some(p))
            }
            (m, Plane::U8(_)) => return Err(format!("decoder gave 8-bit samples in {} mode", m.name())),
            (m, Plane::U16(_)) => return Err(format!("decoder gave 16-bit samples in {} mode", m.name())),
        };
        let psnr = metrics::psnr_u8(&input.display[i], &disp);
        psnr_sum += psnr;
        psnrs.push(psnr);
        match metrics::ms_ssim_u8(&input.display[i], &disp, w, h) {
            Some(v) => ssim_sum += v,
            None => ssim_ok = false,
        }
        if let (Some(d), Some(orig)) = (&dn, &input.dn) {
            let (rmse, mx) = metrics::dn_errors(&orig[i], d);
            se_dn += rmse * rmse;
            max_dn = max_dn.max(mx);
            let (b, k) = metrics::relative_errors(&orig[i], d);
            rel_bright += b;
            rel_dark += k;
        }
        if i == 0 {
            preview = disp;
        }
    }
    let bpp = bytes as f64 * 8.0 / (n * w * h) as f64;
    Ok(Point {
        mode,
        codec: spec.codec.clone(),
        setting: spec.setting.clone(),
        frames: n,
        width: w,
        height: h,
        bytes,
        bpp,
        ratio: mode.container_bits() / bpp,
        psnr: psnr_sum / n as f64,
        ms_ssim: ssim_ok.then(|| ssim_sum / n as f64),
        rmse_dn: (mode == Mode::Dn16).then(|| (se_dn / n as f64).sqrt()),
        max_err_dn: (mode == Mode::Dn16).then_some(max_dn),
        rel_err_bright: (mode == Mode::Dn16).then(|| rel_bright / n as f64),
        rel_err_dark: (mode == Mode::Dn16).then(|| rel_dark / n as f64),
        enc_fps: n as f64 / coded.enc_seconds,
        dec_fps: n as f64 / coded.dec_seconds,
        preview,
        stream_model_id: coded.stream_model_id,
        // One buffer per frame (helio, x26x with alignment=au): per-frame sizes are known.
        per_frame: coded.coded_sizes.filter(|c| c.len() == n).map(|c| {
            c.iter().zip(&psnrs).map(|(&(bytes, keyframe), &psnr)| FrameStat { bytes, keyframe, psnr }).collect()
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_keyframes_are_those_before_the_schedule_and_restart_it() {
        let keys = |s: &str| s.chars().map(|c| c == 'I').collect::<Vec<_>>();
        let extra = |s: &str, gop| {
            extra_keyframes(&keys(s), gop).iter().map(|&e| if e { 'x' } else { '.' }).collect::<String>()
        };
        assert_eq!(extra("IPPPIPPP", 4), "........");
        // An inserted keyframe at 2 moves the next scheduled one to 6.
        assert_eq!(extra("IPIPPPIP", 4), "..x.....");
        assert_eq!(extra("IPIPIPIP", 4), "..x.x.x.");
        assert_eq!(extra("IIII", 1), "....");
        assert_eq!(extra("PPIP", 30), "....", "a stream whose first keyframe comes late has none extra");
    }
}
