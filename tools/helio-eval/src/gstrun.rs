//! In-process GStreamer plumbing: raw frames -> appsrc -> elements -> appsink.

use std::time::{Duration, Instant};

use gst::prelude::*;
use gst_video::prelude::*;

/// Frame rate given to every raw stream (x265 refuses 0/1; the value does not change
/// any codec setting used here since none of them is rate-controlled by bitrate).
pub const FPS: i32 = 30;

/// What a pipeline run produced.
pub struct RunOutput {
    pub samples: Vec<gst::Sample>,
    /// Wall time from the first pushed buffer to EOS at the sink.
    pub seconds: f64,
}

/// Runs `appsrc ! {middle} ! appsink caps={sink_caps}`, pushes `buffers` with `caps`,
/// sends EOS and collects everything that reaches the sink.
pub fn run(
    middle: &str,
    caps: &gst::Caps,
    sink_caps: Option<&str>,
    buffers: Vec<gst::Buffer>,
    timeout: Duration,
) -> Result<RunOutput, String> {
    let sink = match sink_caps {
        Some(c) => format!("appsink name=sink sync=false caps=\"{}\"", c.replace('"', "\\\"")),
        None => "appsink name=sink sync=false".to_string(),
    };
    let desc = format!("appsrc name=src format=time max-bytes=0 ! {middle} ! {sink}");
    let pipeline = gst::parse::launch(&desc)
        .map_err(|e| format!("cannot build pipeline `{desc}`: {e}"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline".to_string())?;
    let src = pipeline
        .by_name("src")
        .unwrap()
        .downcast::<gst_app::AppSrc>()
        .unwrap();
    let appsink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    src.set_caps(Some(caps));
    let result = (|| {
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| format!("`{middle}`: cannot start: {e}{}", bus_error(&pipeline)))?;
        let t0 = Instant::now();
        for b in buffers {
            src.push_buffer(b).map_err(|e| format!("`{middle}`: push: {e:?}{}", bus_error(&pipeline)))?;
        }
        let _ = src.end_of_stream();
        let mut samples = Vec::new();
        let bus = pipeline.bus().unwrap();
        loop {
            if let Some(s) = appsink.try_pull_sample(gst::ClockTime::from_mseconds(50)) {
                samples.push(s);
                continue;
            }
            if appsink.is_eos() {
                // An element may have failed and still let EOS through.
                let err = bus_error(&pipeline);
                if !err.is_empty() {
                    return Err(format!("`{middle}`{err}"));
                }
                break;
            }
            if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
                if let gst::MessageView::Error(e) = msg.view() {
                    return Err(format!("`{middle}`: {} ({})", e.error(), e.debug().unwrap_or_default()));
                }
            }
            if t0.elapsed() > timeout {
                return Err(format!("`{middle}`: timed out after {:?}", timeout));
            }
        }
        Ok(RunOutput { samples, seconds: t0.elapsed().as_secs_f64() })
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}

fn bus_error(pipeline: &gst::Pipeline) -> String {
    let bus = pipeline.bus().unwrap();
    while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
        if let gst::MessageView::Error(e) = msg.view() {
            return format!(": {} ({})", e.error(), e.debug().unwrap_or_default());
        }
    }
    String::new()
}

/// Stamps buffers with consecutive timestamps at [`FPS`].
pub fn stamp(mut bufs: Vec<gst::Buffer>) -> Vec<gst::Buffer> {
    let dur = gst::ClockTime::SECOND / FPS as u64;
    for (i, b) in bufs.iter_mut().enumerate() {
        let b = b.make_mut();
        b.set_pts(dur * i as u64);
        b.set_duration(dur);
    }
    bufs
}

/// Raw video info for one of our input layouts, with full-range colorimetry so that no
/// element rescales values to "TV range".
pub fn video_info(format: gst_video::VideoFormat, w: usize, h: usize) -> gst_video::VideoInfo {
    let colorimetry = gst_video::VideoColorimetry::new(
        gst_video::VideoColorRange::Range0_255,
        gst_video::VideoColorMatrix::Bt601,
        gst_video::VideoTransferFunction::Bt709,
        gst_video::VideoColorPrimaries::Bt709,
    );
    let b = gst_video::VideoInfo::builder(format, w as u32, h as u32).fps(gst::Fraction::new(FPS, 1));
    let b = if matches!(format, gst_video::VideoFormat::Gray8 | gst_video::VideoFormat::Gray16Le | gst_video::VideoFormat::Gray16Be) {
        b
    } else {
        b.colorimetry(&colorimetry)
    };
    b.build().expect("valid video info")
}

/// Fills plane `plane` of a raw frame buffer laid out as `info` with `w x h` samples
/// produced by `f(x, y)` (`bytes_per_sample` 1 or 2, little-endian for 2).
pub fn fill_plane(
    data: &mut [u8],
    info: &gst_video::VideoInfo,
    plane: usize,
    w: usize,
    h: usize,
    bytes_per_sample: usize,
    f: impl Fn(usize, usize) -> u16,
) {
    let stride = info.stride()[plane] as usize;
    let off = info.offset()[plane];
    for y in 0..h {
        let row = &mut data[off + y * stride..off + y * stride + w * bytes_per_sample];
        for x in 0..w {
            let v = f(x, y);
            if bytes_per_sample == 1 {
                row[x] = v as u8;
            } else {
                row[2 * x..2 * x + 2].copy_from_slice(&v.to_le_bytes());
            }
        }
    }
}

/// Decoded plane 0 of a raw video sample, cropped to `w x h`, as u8 or u16 samples.
pub enum Plane {
    U8(Vec<u8>),
    U16(Vec<u16>),
}

pub fn plane0(sample: &gst::Sample, w: usize, h: usize) -> Result<Plane, String> {
    let caps = sample.caps().ok_or("decoded sample without caps")?;
    let info = gst_video::VideoInfo::from_caps(caps).map_err(|e| format!("decoded caps {caps}: {e}"))?;
    if (info.width() as usize) < w || (info.height() as usize) < h {
        return Err(format!("decoded size {}x{} smaller than {w}x{h}", info.width(), info.height()));
    }
    let buffer = sample.buffer().ok_or("sample without buffer")?;
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info)
        .map_err(|e| format!("cannot map decoded frame: {e}"))?;
    let stride = frame.plane_stride()[0] as usize;
    let data = frame.plane_data(0).map_err(|e| e.to_string())?;
    let depth = info.format_info().depth()[0];
    let two = info.format_info().pixel_stride()[0] == 2 || depth > 8;
    if !two {
        Ok(Plane::U8((0..h).flat_map(|y| data[y * stride..y * stride + w].iter().copied()).collect()))
    } else {
        let be = info.format_info().flags().contains(gst_video::VideoFormatFlags::LE) == false;
        Ok(Plane::U16(
            (0..h)
                .flat_map(|y| {
                    data[y * stride..y * stride + 2 * w].chunks_exact(2).map(move |c| {
                        if be { u16::from_be_bytes([c[0], c[1]]) } else { u16::from_le_bytes([c[0], c[1]]) }
                    })
                })
                .collect(),
        ))
    }
}

/// Debian package that provides an element, for "missing element" messages.
pub fn debian_package(element: &str) -> &'static str {
    match element {
        "x264enc" => "gstreamer1.0-plugins-ugly",
        "x265enc" | "h264parse" | "h265parse" | "jpeg2000parse" | "openjpegenc" | "openjpegdec" => {
            "gstreamer1.0-plugins-bad"
        }
        "avdec_h264" | "avdec_h265" | "avenc_jpeg2000" | "avdec_jpeg2000" => "gstreamer1.0-libav",
        "pngenc" | "pngdec" => "gstreamer1.0-plugins-good",
        "videoconvert" | "appsrc" | "appsink" => "gstreamer1.0-plugins-base",
        "helioenc" | "heliodec" | "helioparse" => {
            "none: it is this workspace's plugin (cargo build --release -p gst-plugin-helio, then --plugin-path)"
        }
        _ => "unknown package",
    }
}

/// The elements of `names` that the registry does not have.
pub fn missing(names: &[&str]) -> Vec<String> {
    names
        .iter()
        .filter(|n| gst::ElementFactory::find(n).is_none())
        .map(|n| format!("{n} (Debian package: {})", debian_package(n)))
        .collect()
}
