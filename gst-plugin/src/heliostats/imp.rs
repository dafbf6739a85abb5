// SPDX-License-Identifier: MPL-2.0

use std::collections::VecDeque;
use std::sync::LazyLock;
use std::sync::{Arc, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;

use helio_core::intensity::{IntensityTransform, max_value};

use crate::common::FrameStats;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "heliostats",
        gst::DebugColorFlags::empty(),
        Some("helio per-frame statistics as text"),
    )
});

const DEFAULT_WINDOW: f64 = 10.0;
const DEFAULT_BIT_DEPTH: u32 = 14;

#[derive(Debug, Clone)]
struct Settings {
    window: f64,
    bit_depth: u32,
    prefix: String,
    multiline: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { window: DEFAULT_WINDOW, bit_depth: DEFAULT_BIT_DEPTH, prefix: String::new(), multiline: false }
    }
}

#[derive(Default)]
struct State {
    info: Option<gst_video::VideoInfo>,
    ref_info: Option<gst_video::VideoInfo>,
    /// Frames seen on each pad (the frame index when a buffer carries none).
    frames: u64,
    ref_frames: u64,
    /// (time, bits) of the frames inside the bitrate window.
    history: VecDeque<(gst::ClockTime, u64)>,
    segment_sent: bool,
    /// Display value of every 16-bit sample, for the PSNR (built for `bit-depth`).
    display: Option<(u32, Arc<Vec<u8>>)>,
}

#[derive(Default)]
pub struct HelioStats {
    settings: Mutex<Settings>,
    state: Mutex<State>,
}

#[glib::object_subclass]
impl ObjectSubclass for HelioStats {
    const NAME: &'static str = "GstHelioStats";
    type Type = super::HelioStats;
    type ParentType = gst_base::Aggregator;
}

impl ObjectImpl for HelioStats {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecDouble::builder("window")
                    .nick("Bitrate window")
                    .blurb("Seconds of stream time the running bitrate is averaged over")
                    .minimum(0.001)
                    .maximum(86400.0)
                    .default_value(DEFAULT_WINDOW)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("prefix")
                    .nick("Prefix")
                    .blurb("Label put before the text (such as the codec's name); with multiline, on a line of its own")
                    .default_value(Some(""))
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("multiline")
                    .nick("Multi-line")
                    .blurb("One item per line (for narrow pictures) instead of one line separated by |")
                    .default_value(false)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("bit-depth")
                    .nick("Bit depth")
                    .blurb(
                        "DN range of GRAY16_LE frames for the PSNR (14 = SDO/AIA): samples are mapped to \
                         the 8-bit display domain round(255 t) with helio's square-root transform",
                    )
                    .minimum(9)
                    .maximum(16)
                    .default_value(DEFAULT_BIT_DEPTH)
                    .mutable_playing()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn constructed(&self) {
        self.parent_constructed();
        // GstAggregator makes only the src pad: the always sink pad is ours to add.
        let obj = self.obj();
        let templ = obj.pad_template("sink").expect("sink template");
        let pad = gst::PadBuilder::<gst_base::AggregatorPad>::from_template(&templ).name("sink").build();
        obj.add_pad(&pad).expect("a new pad");
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = self.settings.lock().unwrap();
        match pspec.name() {
            "window" => settings.window = value.get().expect("type checked upstream"),
            "bit-depth" => settings.bit_depth = value.get().expect("type checked upstream"),
            "multiline" => settings.multiline = value.get().expect("type checked upstream"),
            "prefix" => {
                settings.prefix = value.get::<Option<String>>().expect("type checked upstream").unwrap_or_default()
            }
            _ => unimplemented!(),
        }
        gst::debug!(CAT, imp = self, "Property {} set, settings now {:?}", pspec.name(), *settings);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = self.settings.lock().unwrap();
        match pspec.name() {
            "window" => settings.window.to_value(),
            "bit-depth" => settings.bit_depth.to_value(),
            "prefix" => settings.prefix.to_value(),
            "multiline" => settings.multiline.to_value(),
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for HelioStats {}

impl ElementImpl for HelioStats {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "helio statistics",
                "Filter/Analyzer/Video",
                "Per decoded helio frame: frame number and type, bits per pixel, running bitrate and \
                 (with a reference on the ref pad) PSNR, as text for textoverlay and as messages",
                "helio developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let video = gst_video::VideoCapsBuilder::new()
                .format_list([gst_video::VideoFormat::Gray8, gst_video::VideoFormat::Gray16Le])
                .build();
            let text = gst::Caps::builder("text/x-raw").field("format", "utf8").build();
            let pad = |name, dir, presence, caps: &gst::Caps| {
                gst::PadTemplate::with_gtype(name, dir, presence, caps, gst_base::AggregatorPad::static_type())
                    .unwrap()
            };
            vec![
                pad("sink", gst::PadDirection::Sink, gst::PadPresence::Always, &video),
                pad("ref", gst::PadDirection::Sink, gst::PadPresence::Request, &video),
                pad("coded", gst::PadDirection::Sink, gst::PadPresence::Request, &gst::Caps::new_any()),
                pad("src", gst::PadDirection::Src, gst::PadPresence::Always, &text),
            ]
        });
        TEMPLATES.as_ref()
    }

    fn release_pad(&self, pad: &gst::Pad) {
        self.state.lock().unwrap().ref_info = None;
        self.parent_release_pad(pad);
    }
}

impl AggregatorImpl for HelioStats {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let mut state = self.state.lock().unwrap();
        // Caps stay on the pads across a restart; the counts start again.
        *state = State { info: state.info.take(), ref_info: state.ref_info.take(), ..State::default() };
        Ok(())
    }

    fn create_new_pad(
        &self,
        templ: &gst::PadTemplate,
        _req_name: Option<&str>,
        _caps: Option<&gst::Caps>,
    ) -> Option<gst_base::AggregatorPad> {
        // The base class would name it sink_<n>: the pads are "ref" and "coded", one each.
        let name = templ.name_template();
        if self.obj().static_pad(name).is_some() {
            gst::element_imp_warning!(self, gst::CoreError::Pad, ("heliostats has one {} pad, already requested", name));
            return None;
        }
        Some(gst::PadBuilder::<gst_base::AggregatorPad>::from_template(templ).name(name.to_string()).build())
    }

    fn sink_event(&self, pad: &gst_base::AggregatorPad, event: gst::Event) -> bool {
        if let gst::EventView::Caps(c) = event.view() {
            let Ok(info) = gst_video::VideoInfo::from_caps(c.caps()) else { return false };
            let mut state = self.state.lock().unwrap();
            if pad.name() == "ref" {
                state.ref_info = Some(info);
            } else {
                state.info = Some(info);
            }
        }
        self.parent_sink_event(pad, event)
    }

    fn update_src_caps(&self, _downstream: &gst::Caps) -> Result<gst::Caps, gst::FlowError> {
        Ok(gst::Caps::builder("text/x-raw").field("format", "utf8").build())
    }

    fn aggregate(&self, timeout: bool) -> Result<gst::FlowSuccess, gst::FlowError> {
        let obj = self.obj();
        let pad = |name| obj.static_pad(name).and_then(|p| p.downcast::<gst_base::AggregatorPad>().ok());
        let sink = pad("sink").ok_or(gst::FlowError::NotLinked)?;
        let Some(buffer) = sink.peek_buffer() else {
            return if sink.is_eos() { Err(gst::FlowError::Eos) } else { Ok(gst::FlowSuccess::Ok) };
        };
        let mut coded = FrameStats::from_buffer(&buffer);
        let index = coded.map_or(self.state.lock().unwrap().frames, |c| c.frame_number as u64);

        // Without heliodec's meta (x264, x265, ...), the coded frame of the same time on
        // the `coded` pad gives the size and type.
        if let (None, Some(coded_pad)) = (coded, pad("coded")) {
            loop {
                let Some(c) = coded_pad.peek_buffer() else {
                    if coded_pad.is_eos() || timeout {
                        break;
                    }
                    return Ok(gst::FlowSuccess::Ok); // wait for it
                };
                if c.pts().is_some() && c.pts() > buffer.pts() {
                    break; // no coded frame for this one
                }
                coded_pad.drop_buffer();
                if c.pts() == buffer.pts() {
                    let delta = c.flags().contains(gst::BufferFlags::DELTA_UNIT);
                    coded = Some(FrameStats {
                        frame_number: index as u32,
                        frame_type: if delta { 'P' } else { 'I' },
                        quality: 0,
                        bytes: c.size() as u64,
                    });
                    break;
                }
            }
        }

        // The reference frame of the same number, if a reference is linked.
        let mut reference = None;
        if let Some(ref_pad) = pad("ref") {
            loop {
                let Some(r) = ref_pad.peek_buffer() else {
                    if ref_pad.is_eos() || timeout {
                        break;
                    }
                    return Ok(gst::FlowSuccess::Ok); // wait for it
                };
                let mut state = self.state.lock().unwrap();
                // GST_BUFFER_OFFSET_NONE (u64::MAX): count the reference frames instead.
                let r_index = Some(r.offset()).filter(|o| *o != u64::MAX).unwrap_or(state.ref_frames);
                gst::trace!(CAT, imp = self, "Frame {}: reference {} waiting", index, r_index);
                if r_index > index {
                    break; // no reference for this frame
                }
                state.ref_frames = r_index + 1;
                drop(state);
                ref_pad.drop_buffer();
                if r_index == index {
                    reference = Some(r);
                    break;
                }
            }
        }
        let buffer = sink.pop_buffer().expect("peeked");
        self.send_segment(&sink);

        let settings = self.settings.lock().unwrap().clone();
        let psnr = match &reference {
            Some(r) => Some(self.psnr(&buffer, r, settings.bit_depth)?),
            None => None,
        };
        // Shown as running time: encoders may shift their timestamps (x264enc by 1000 h).
        let running = sink
            .segment()
            .downcast::<gst::ClockTime>()
            .ok()
            .and_then(|seg| seg.to_running_time(buffer.pts()));
        let (text, s) = self.describe(&buffer, coded, index, psnr, running, &settings);
        gst::log!(CAT, imp = self, "{}", text);
        let _ = obj.post_message(gst::message::Element::builder(s).src(&*obj).build());

        let mut out = gst::Buffer::from_mut_slice(text.into_bytes());
        {
            let out = out.get_mut().expect("new buffer");
            out.set_pts(buffer.pts());
            out.set_duration(buffer.duration());
        }
        self.finish_buffer(out)
    }

    fn next_time(&self) -> Option<gst::ClockTime> {
        self.obj().simple_get_next_time()
    }
}

impl HelioStats {
    fn send_segment(&self, sink: &gst_base::AggregatorPad) {
        let mut state = self.state.lock().unwrap();
        if !state.segment_sent {
            if let Ok(seg) = sink.segment().downcast::<gst::ClockTime>() {
                self.obj().update_segment(&seg);
            }
            state.segment_sent = true;
        }
    }

    /// The overlay line and the message structure of one frame.
    fn describe(
        &self,
        buffer: &gst::Buffer,
        coded: Option<FrameStats>,
        index: u64,
        psnr: Option<f64>,
        running: Option<gst::ClockTime>,
        settings: &Settings,
    ) -> (String, gst::Structure) {
        let mut state = self.state.lock().unwrap();
        state.frames = index + 1;
        let pixels = state.info.as_ref().map_or(0, |i| i.width() as u64 * i.height() as u64);
        let fps = state.info.as_ref().map(|i| i.fps()).filter(|f| f.numer() > 0);
        let bits = coded.map(|c| c.bytes * 8);
        let bpp = bits.filter(|_| pixels > 0).map(|b| b as f64 / pixels as f64);

        // Running bitrate: the bits of the frames within `window` seconds up to this
        // one, over the time they span (one frame's duration counted for the last).
        let duration = buffer.duration().or_else(|| {
            fps.and_then(|f| gst::ClockTime::SECOND.mul_div_floor(f.denom() as u64, f.numer() as u64))
        });
        let bitrate = match (buffer.pts(), bits, duration) {
            (Some(t), Some(b), Some(d)) if d > gst::ClockTime::ZERO => {
                let window = gst::ClockTime::from_nseconds((settings.window * 1e9) as u64);
                state.history.push_back((t, b));
                while state.history.front().is_some_and(|(t0, _)| *t0 + window <= t) {
                    state.history.pop_front();
                }
                let first = state.history.front().map_or(t, |(t0, _)| *t0);
                let span = (t - first + d).nseconds() as f64 / 1e9;
                Some(state.history.iter().map(|(_, b)| *b).sum::<u64>() as f64 / span)
            }
            _ => None,
        };
        drop(state);

        let time = running.map_or("-:--:--.-".to_string(), |t| {
            let ds = t.mseconds() / 100;
            format!("{}:{:02}:{:02}.{}", ds / 36000, ds / 600 % 60, ds / 10 % 60, ds % 10)
        });
        let kind = coded.map_or('?', |c| c.frame_type);
        // Multi-line: the prefix (a label) gets a line of its own.
        let mut items = Vec::new();
        let head = format!("#{index} {kind} {time}");
        match (settings.multiline, settings.prefix.is_empty()) {
            (true, false) => items.extend([settings.prefix.trim().to_string(), head]),
            _ => items.push(format!("{}{head}", settings.prefix)),
        }
        items.extend([
            bpp.map_or("? bpp".to_string(), |b| format!("{b:.4} bpp")),
            bitrate.map_or("? kbit/s".to_string(), |r| format!("{:.1} kbit/s", r / 1000.0)),
        ]);
        let mut s = gst::Structure::builder("helio-stats")
            .field("frame-number", index)
            .field("frame-type", kind.to_string());
        if let Some(c) = coded {
            s = s.field("bytes", c.bytes);
        }
        if let Some(b) = bpp {
            s = s.field("bpp", b);
        }
        if let Some(r) = bitrate {
            s = s.field("bitrate", r);
        }
        if let Some(p) = psnr {
            items.push(if p.is_finite() { format!("PSNR {p:.2} dB") } else { "PSNR inf".to_string() });
            s = s.field("psnr", p);
        }
        (items.join(if settings.multiline { "\n" } else { " | " }), s.build())
    }

    /// PSNR of `decoded` against `reference` in the 8-bit display domain.
    fn psnr(&self, decoded: &gst::Buffer, reference: &gst::Buffer, bit_depth: u32) -> Result<f64, gst::FlowError> {
        let mut state = self.state.lock().unwrap();
        let (Some(info), Some(ref_info)) = (state.info.clone(), state.ref_info.clone()) else {
            return Err(gst::FlowError::NotNegotiated);
        };
        let key = |i: &gst_video::VideoInfo| (i.format(), i.width(), i.height());
        if key(&info) != key(&ref_info) {
            drop(state);
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                (
                    "The reference is {}x{} {:?}, the decoded frames {}x{} {:?}: they must match",
                    ref_info.width(),
                    ref_info.height(),
                    ref_info.format(),
                    info.width(),
                    info.height(),
                    info.format()
                )
            );
            return Err(gst::FlowError::NotNegotiated);
        }
        let sixteen = info.format() == gst_video::VideoFormat::Gray16Le;
        if sixteen && state.display.as_ref().is_none_or(|(b, _)| *b != bit_depth) {
            let t = IntensityTransform::Sqrt;
            let max = max_value(bit_depth as u8) as u32;
            let lut = (0..=u16::MAX as u32)
                .map(|v| (255.0 * t.forward(v.min(max), bit_depth as u8) as f64).round() as u8)
                .collect();
            state.display = Some((bit_depth, Arc::new(lut)));
        }
        // Shared, not copied: 64 kB per frame otherwise.
        let display = state.display.as_ref().filter(|_| sixteen).map(|(_, l)| Arc::clone(l));
        drop(state);

        let a = gst_video::VideoFrameRef::from_buffer_ref_readable(decoded.as_ref(), &info)
            .map_err(|_| gst::FlowError::Error)?;
        let b = gst_video::VideoFrameRef::from_buffer_ref_readable(reference.as_ref(), &ref_info)
            .map_err(|_| gst::FlowError::Error)?;
        let (w, h) = (info.width() as usize, info.height() as usize);
        let row = |f: &gst_video::VideoFrameRef<&gst::BufferRef>, y: usize| -> Result<Vec<u8>, gst::FlowError> {
            let stride = f.plane_stride()[0] as usize;
            let data = f.plane_data(0).map_err(|_| gst::FlowError::Error)?;
            let r = &data[y * stride..];
            Ok(match &display {
                Some(lut) => r[..2 * w].chunks_exact(2).map(|s| lut[u16::from_le_bytes([s[0], s[1]]) as usize]).collect(),
                None => r[..w].to_vec(),
            })
        };
        let mut sse = 0u64;
        for y in 0..h {
            let (ra, rb) = (row(&a, y)?, row(&b, y)?);
            sse += ra.iter().zip(&rb).map(|(x, y)| (*x as i64 - *y as i64).pow(2) as u64).sum::<u64>();
        }
        let mse = sse as f64 / (w * h) as f64;
        Ok(if mse == 0.0 { f64::INFINITY } else { 10.0 * (255.0f64.powi(2) / mse).log10() })
    }
}
