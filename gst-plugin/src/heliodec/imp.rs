// SPDX-License-Identifier: MPL-2.0

use std::collections::VecDeque;
use std::sync::LazyLock;
use std::sync::Mutex;

use gst::glib;
use gst::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use helio_core::codec::PixelBuf;
use helio_core::frame_threads::Ticket;

use crate::common::{self, ExecutionProvider};
use crate::framing::{self, Scan};
use crate::multispectral::{MS_CAPS_NAME, MsInfo};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "heliodec",
        gst::DebugColorFlags::empty(),
        Some("helio learned solar video decoder"),
    )
});

const DEFAULT_MODEL_DIR: &str = "";
const DEFAULT_EXECUTION_PROVIDER: ExecutionProvider = ExecutionProvider::Auto;
const DEFAULT_THREADS: u32 = 0;
/// 0 = automatic: [`AUTO_FRAME_THREADS`] when upstream is not live, else one
/// frame at a time (no added latency on live downlinks).
const DEFAULT_FRAME_THREADS: u32 = 0;
/// Frame threads chosen by `frame-threads=0` for a non-live stream of frames
/// of at most [`AUTO_MAX_PIXELS`] (at most one per core).
const AUTO_FRAME_THREADS: usize = 2;
/// Largest frame (2048x2048) that automatic frame threads take: each decoder's
/// memory grows with the frame, and big frames keep the cores busy alone.
const AUTO_MAX_PIXELS: u64 = 2048 * 2048;
/// Default for the base class `max-errors` property, which GstVideoDecoder
/// counts as *consecutive* errors (a decoded frame resets the count): a
/// damaged frame is dropped with a warning and decoding goes on, but this many
/// undecodable frames in a row mean the stream is not decodable at all.
/// (helioparse already drops units with bad CRCs, so those never count.)
const DEFAULT_MAX_ERRORS: i32 = 25;

#[derive(Debug, Clone)]
struct Settings {
    model_dir: String,
    inter_model_dir: String,
    execution_provider: ExecutionProvider,
    threads: u32,
    frame_threads: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            model_dir: DEFAULT_MODEL_DIR.to_string(),
            inter_model_dir: DEFAULT_MODEL_DIR.to_string(),
            execution_provider: DEFAULT_EXECUTION_PROVIDER,
            threads: DEFAULT_THREADS,
            frame_threads: DEFAULT_FRAME_THREADS,
        }
    }
}

/// A frame handed to the decoder threads, waiting for its turn to be output.
struct InFlight {
    /// The base class's `system_frame_number`.
    id: u32,
    keyframe: bool,
    bytes: usize,
}

struct State {
    decoder: helio_core::FrameThreadedDecoder,
    /// Submitted frames, oldest first (output in this order).
    in_flight: VecDeque<(InFlight, Ticket)>,
    input_state:
        Option<gst_video::VideoCodecState<'static, gst_video::video_codec_state::Readable>>,
    /// Sequence header from the caps `streamheader`, given to the decoder at
    /// caps time and again after every flush (reset forgets it).
    caps_header: Option<Vec<u8>>,
    /// Drop input until a keyframe decodes (at start, after errors and flushes).
    need_keyframe: bool,
    /// Why P-frames are being dropped, if that deserves a warning not posted
    /// yet (posted with the first dropped frame, so joining a stream at a
    /// keyframe warns nothing).
    skip_reason: Option<String>,
    /// Frames dropped while waiting for the current keyframe.
    dropped_waiting: u64,
    /// Output format currently configured (format, width, height, wavelengths
    /// of a multispectral stream).
    output: Option<(gst_video::VideoFormat, u32, u32, Vec<u16>)>,
    /// Byte count the unparsed-input path needs before scanning again.
    parse_need: usize,
    /// Last sequence header seen by the unparsed-input path.
    parse_header: Option<helio_core::bitstream::SequenceHeader>,
    /// Bytes the unparsed-input path skipped since the last good unit.
    parse_skipped: usize,
    parse_skip_reason: Option<String>,
    /// Channels of the multispectral stream lost in the last frame (a warning
    /// is posted when this set changes, not for every frame of an outage).
    lost_channels: Vec<u8>,
}

#[derive(Default)]
pub struct HelioDec {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

#[glib::object_subclass]
impl ObjectSubclass for HelioDec {
    const NAME: &'static str = "GstHelioDec";
    type Type = super::HelioDec;
    type ParentType = gst_video::VideoDecoder;
}

impl ObjectImpl for HelioDec {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("model-dir")
                    .nick("Model directory")
                    .blurb(
                        "Folder of a helio intra model package (model.json + g_a/h_a/h_s/g_s.onnx, \
                         plus cg*.onnx for a channel-groups/checkerboard package); empty = the \
                         models embedded in the plugin, which decode streams of both the embedded \
                         checkerboard and hyperprior packages (chosen by each sequence header's \
                         model id). A folder must hold the package the stream was encoded with",
                    )
                    .default_value(Some(DEFAULT_MODEL_DIR))
                    .mutable_ready()
                    .build(),
                common::inter_model_dir_pspec(),
                glib::ParamSpecEnum::builder_with_default(
                    "execution-provider",
                    DEFAULT_EXECUTION_PROVIDER,
                )
                .nick("Execution provider")
                .blurb("ONNX Runtime execution provider running the networks")
                .mutable_ready()
                .build(),
                glib::ParamSpecUInt::builder("threads")
                    .nick("Threads")
                    .blurb("ONNX Runtime intra-op threads (0 = one per CPU core)")
                    .maximum(1024)
                    .default_value(DEFAULT_THREADS)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("frame-threads")
                    .nick("Frame threads")
                    .blurb(
                        "Frames decoded at once, each by its own decoder on its own thread \
                         (`threads` is per decoder). Keyframes overlap; a P-frame waits for the \
                         frame before it. Output is the same bit for bit; each extra frame \
                         thread adds one frame of latency and one decoder's memory (42-45 MB \
                         at 512x512). On 2 cores, frame-threads=2 decodes all-intra streams \
                         1.0-1.7x faster (by quality and run) and GoP streams at about the same \
                         speed; with threads=1 as well, GoP streams are up to 30 % slower \
                         (pipelines/bench-speed.sh). 0 = automatic: 2 when upstream is not \
                         live (files: latency does not matter there) and frames are at most \
                         2048x2048 on 2 or more cores, else 1 (live downlinks: no added latency)",
                    )
                    .minimum(0)
                    .maximum(16)
                    .default_value(DEFAULT_FRAME_THREADS)
                    .mutable_ready()
                    .build(),
            ]
        });

        PROPERTIES.as_ref()
    }

    fn constructed(&self) {
        self.parent_constructed();
        self.obj().set_max_errors(DEFAULT_MAX_ERRORS);
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = self.settings.lock().unwrap();
        match pspec.name() {
            "model-dir" => {
                settings.model_dir = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .unwrap_or_default();
            }
            "inter-model-dir" => {
                settings.inter_model_dir = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .unwrap_or_default();
            }
            "execution-provider" => {
                settings.execution_provider = value.get().expect("type checked upstream");
            }
            "threads" => {
                settings.threads = value.get().expect("type checked upstream");
            }
            "frame-threads" => {
                settings.frame_threads = value.get().expect("type checked upstream");
            }
            _ => unimplemented!(),
        }
        gst::debug!(
            CAT,
            imp = self,
            "Property {} set, settings now {:?}",
            pspec.name(),
            *settings
        );
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = self.settings.lock().unwrap();
        match pspec.name() {
            "model-dir" => settings.model_dir.to_value(),
            "inter-model-dir" => settings.inter_model_dir.to_value(),
            "execution-provider" => settings.execution_provider.to_value(),
            "threads" => settings.threads.to_value(),
            "frame-threads" => settings.frame_threads.to_value(),
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for HelioDec {}

impl ElementImpl for HelioDec {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "helio decoder",
                "Codec/Decoder/Video",
                "Learned video decoder for single-channel solar imagery (SDO/AIA, up to 16 bit)",
                "helio developers",
            )
        });

        Some(&*ELEMENT_METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let sink_caps = gst::Caps::builder(common::HELIO_CAPS_NAME).build();
            let sink_pad_template = gst::PadTemplate::new(
                "sink",
                gst::PadDirection::Sink,
                gst::PadPresence::Always,
                &sink_caps,
            )
            .unwrap();

            let mut src_caps = gst_video::VideoCapsBuilder::new()
                .format_list([
                    gst_video::VideoFormat::Gray8,
                    gst_video::VideoFormat::Gray16Le,
                ])
                .build();
            src_caps.merge(
                gst::Caps::builder(MS_CAPS_NAME)
                    .field("format", gst::List::new(["GRAY8", "GRAY16_LE"]))
                    .build(),
            );
            let src_pad_template = gst::PadTemplate::new(
                "src",
                gst::PadDirection::Src,
                gst::PadPresence::Always,
                &src_caps,
            )
            .unwrap();

            vec![src_pad_template, sink_pad_template]
        });

        PAD_TEMPLATES.as_ref()
    }
}

impl VideoDecoderImpl for HelioDec {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self.settings.lock().unwrap().clone();

        let model = common::checked_model_source(
            &settings.model_dir,
            &settings.inter_model_dir,
            "decoder",
        )?;

        // Automatic starts with two (loading in parallel, so start-up takes no longer);
        // `set_format` stops one when upstream turns out live or frames big.
        let frames = match settings.frame_threads {
            0 => AUTO_FRAME_THREADS.min(std::thread::available_parallelism().map_or(1, |n| n.get())),
            n => n as usize,
        };
        // Per decoder, not divided among them: a P-frame chain runs on one
        // decoder and needs every core (spinning is off, so decoders that run
        // at once share the cores without busy-waiting).
        let threads = settings.threads as usize;
        let cfg = helio_core::DecoderConfig {
            model,
            execution_provider: settings.execution_provider.into(),
            threads,
        };
        gst::debug!(CAT, imp = self, "Creating {} decoder(s) with {:?}", frames, cfg);
        let decoder = helio_core::FrameThreadedDecoder::new(cfg, frames).map_err(|err| {
            gst::error_msg!(
                gst::LibraryError::Init,
                ("Failed to create helio decoder: {}", err),
                [
                    "model-dir='{}', inter-model-dir='{}', execution-provider={:?}",
                    settings.model_dir,
                    settings.inter_model_dir,
                    settings.execution_provider
                ]
            )
        })?;
        gst::info!(
            CAT,
            imp = self,
            "Decoding with execution provider {:?} (model-dir '{}', {} frame thread(s) of {} thread(s)); accepts model ids {:?}{}",
            decoder.info().execution_provider,
            settings.model_dir,
            frames,
            threads,
            decoder.info().accepted_model_ids,
            if decoder.info().inter_coding {
                ""
            } else {
                " (no inter package: I-frame-only streams)"
            }
        );

        *self.state.lock().unwrap() = Some(State {
            decoder,
            in_flight: VecDeque::new(),
            input_state: None,
            caps_header: None,
            need_keyframe: true,
            skip_reason: Some("the stream starts mid-GoP (with a P-frame)".into()),
            dropped_waiting: 0,
            output: None,
            parse_need: 0,
            parse_header: None,
            parse_skipped: 0,
            parse_skip_reason: None,
            lost_channels: Vec::new(),
        });

        let obj = self.obj();
        // Until caps say `parsed=true`, input is a byte stream we split ourselves.
        obj.set_packetized(false);
        // One access unit in, one frame out: no reordering, no lookahead (frame
        // threads add latency once the framerate is known, see `set_format`).
        obj.set_latency(gst::ClockTime::ZERO, Some(gst::ClockTime::ZERO));
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = None;
        gst::debug!(CAT, imp = self, "Stopped");
        Ok(())
    }

    fn set_format(
        &self,
        input_state: &gst_video::VideoCodecState<'static, gst_video::video_codec_state::Readable>,
    ) -> Result<(), gst::LoggableError> {
        let caps = input_state
            .caps()
            .ok_or_else(|| gst::loggable_error!(CAT, "Input state without caps"))?;
        let s = caps
            .structure(0)
            .ok_or_else(|| gst::loggable_error!(CAT, "Empty input caps"))?;
        gst::debug!(CAT, imp = self, "Input caps {}", caps);

        // helioenc and helioparse output exactly one access unit per buffer.
        let parsed = s.get::<bool>("parsed").unwrap_or(false);
        self.obj().set_packetized(parsed);
        let caps_header = common::streamheader_from_caps(s);
        gst::debug!(
            CAT,
            imp = self,
            "packetized: {}, streamheader: {:?} bytes",
            parsed,
            caps_header.as_ref().map(Vec::len)
        );

        let one_frame = self.automatic_one_frame(s);
        let mut guard = self.state.lock().unwrap();
        let state = guard
            .as_mut()
            .ok_or_else(|| gst::loggable_error!(CAT, "set_format before start"))?;
        if let Some(why) = one_frame
            && state.decoder.frames() > 1
            && state.decoder.shrink_before_first_frame(1)
        {
            gst::info!(CAT, imp = self, "frame-threads=0: one frame at a time ({})", why);
        }
        if let Some(header) = &caps_header {
            if let Err(err) = state.decoder.set_sequence_header(header) {
                drop(guard);
                // A stream from another model package cannot be decoded at all.
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Decode,
                    ("Cannot decode this stream: {}", err),
                    ["Sequence header from caps streamheader: {:02x?}", header]
                );
                return Err(gst::loggable_error!(CAT, "Bad caps streamheader: {}", err));
            }
        }
        state.caps_header = caps_header;
        state.input_state = Some(input_state.clone());
        // Frame threads hold back frames-1 decoded frames.
        let held = state.decoder.frames() as u64 - 1;
        if let Ok(fps) = s.get::<gst::Fraction>("framerate")
            && held > 0
            && fps.numer() > 0
            && fps.denom() > 0
        {
            let latency = gst::ClockTime::SECOND
                .mul_div_floor(held * fps.denom() as u64, fps.numer() as u64)
                .unwrap_or(gst::ClockTime::ZERO);
            self.obj().set_latency(latency, Some(latency));
        }

        // Configure the output early when the caps describe the frames; the
        // decoded frames have the last word (see `handle_frame`).
        let width = s.get::<i32>("width").ok();
        let height = s.get::<i32>("height").ok();
        let bit_depth = s.get::<i32>("bit-depth").ok();
        let wavelengths: Vec<u16> = s
            .get::<gst::Array>("wavelengths")
            .map(|a| a.iter().filter_map(|v| v.get::<i32>().ok()).map(|w| w as u16).collect())
            .unwrap_or_default();
        let channels = s.get::<i32>("channels").unwrap_or(1);
        let wavelengths = if channels > 1 && wavelengths.len() == channels as usize { wavelengths } else { Vec::new() };
        if let (Some(w), Some(h), Some(d)) = (width, height, bit_depth)
            && w > 0
            && h > 0
            && (1..=16).contains(&d)
            && (channels == 1 || !wavelengths.is_empty())
        {
            let format = output_format(d as u8);
            drop(guard);
            self.configure_output(format, w as u32, h as u32, wavelengths)?;
        }
        Ok(())
    }

    fn parse(
        &self,
        _frame: &gst_video::VideoCodecFrame,
        adapter: &gst_base::Adapter,
        at_eos: bool,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        // Unparsed byte stream (e.g. filesrc ! heliodec): split it into access
        // units here, resynchronising on the sync word.
        loop {
            let available = adapter.available();
            let (need, known) = self
                .state
                .lock()
                .unwrap()
                .as_ref()
                .map_or((0, None), |s| (s.parse_need, s.parse_header.clone()));
            if available == 0 || (available < need && !at_eos) {
                return Ok(gst_video::VIDEO_DECODER_FLOW_NEED_DATA);
            }

            let scan = {
                let buffer = adapter
                    .buffer(available)
                    .map_err(|_| gst::FlowError::Error)?;
                let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                framing::scan(&map, known.as_ref())
            };
            match scan {
                Scan::Skip { skip, reason } => {
                    gst::log!(CAT, imp = self, "Skipping {} bytes: {}", skip, reason);
                    adapter.flush(skip);
                    if let Some(state) = self.state.lock().unwrap().as_mut() {
                        state.parse_need = 0;
                        if state.parse_skipped == 0 {
                            gst::warning!(CAT, imp = self, "Lost sync: {}", reason);
                            state.parse_skip_reason = Some(reason);
                        }
                        state.parse_skipped += skip;
                    }
                }
                Scan::NeedMore(n) => {
                    if at_eos {
                        gst::warning!(
                            CAT,
                            imp = self,
                            "Discarding {} trailing bytes: incomplete access unit at end of stream",
                            available
                        );
                        adapter.flush(available);
                        if let Some(state) = self.state.lock().unwrap().as_mut() {
                            state.parse_need = 0;
                            if state.parse_skipped == 0 {
                                state.parse_skip_reason =
                                    Some("incomplete access unit at end of stream".into());
                            }
                            state.parse_skipped += available;
                        }
                        self.report_skipped();
                        return Ok(gst_video::VIDEO_DECODER_FLOW_NEED_DATA);
                    }
                    self.set_parse_need(n);
                    return Ok(gst_video::VIDEO_DECODER_FLOW_NEED_DATA);
                }
                Scan::Unit(unit) => {
                    self.set_parse_need(0);
                    self.report_skipped();
                    if let Some((header, _)) = unit.header {
                        if let Some(state) = self.state.lock().unwrap().as_mut() {
                            state.parse_header = Some(header);
                        }
                    }
                    gst::log!(
                        CAT,
                        imp = self,
                        "Access unit of {} bytes (keyframe: {})",
                        unit.len,
                        unit.keyframe
                    );
                    let obj = self.obj();
                    obj.add_to_frame(unit.len as i32);
                    return obj.have_frame();
                }
            }
        }
    }

    fn handle_frame(
        &self,
        frame: gst_video::VideoCodecFrame,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let input = frame.input_buffer_owned().ok_or_else(|| {
            gst::element_imp_error!(self, gst::CoreError::Failed, ("Frame without buffer"));
            gst::FlowError::Error
        })?;
        let map = input.map_readable().map_err(|_| {
            gst::element_imp_error!(
                self,
                gst::CoreError::Failed,
                ("Failed to map input buffer readable")
            );
            gst::FlowError::Error
        })?;
        let data = map.as_slice();
        let frame_number = frame.system_frame_number();
        let keyframe = framing::is_keyframe(data);

        let mut guard = self.state.lock().unwrap();
        let state = guard.as_mut().ok_or(gst::FlowError::Flushing)?;

        // A DISCONT before a P-frame is not by itself a lost reference: the
        // decoder checks that a P-frame's number follows its reference's (and,
        // in a multispectral stream, that its band was not lost), so a skipped
        // damaged band costs that band only, not the whole GoP.
        // Waiting for a keyframe with nothing in flight: drop right away. With
        // frames in flight an earlier one may still end the wait, so the frame
        // is decoded and the same check runs on its result (`finish_decoded`).
        if state.need_keyframe && !keyframe && state.in_flight.is_empty() {
            drop(guard);
            return self.drop_waiting(frame);
        }
        let ticket = state.decoder.submit(data.to_vec());
        let info = InFlight { id: frame_number, keyframe, bytes: input.size() };
        state.in_flight.push_back((info, ticket));
        // Up to frame-threads - 1 frames stay in flight behind this one.
        let keep = state.decoder.frames() - 1;
        drop(guard);
        drop(frame);
        self.output_decoded(keep)
    }

    fn drain(&self) -> Result<gst::FlowSuccess, gst::FlowError> {
        self.output_decoded(0)
    }

    fn finish(&self) -> Result<gst::FlowSuccess, gst::FlowError> {
        self.output_decoded(0)
    }

    fn flush(&self) -> bool {
        gst::debug!(CAT, imp = self, "Flushing: resetting decoder");
        if let Some(state) = self.state.lock().unwrap().as_mut() {
            // Frames in flight are the base class's to discard.
            state.in_flight.clear();
            state.decoder.reset();
            if let Some(header) = &state.caps_header {
                // Accepted at caps time, so this cannot fail.
                let _ = state.decoder.set_sequence_header(header);
            }
            state.need_keyframe = true;
            // A seek may land mid-GoP: dropping P-frames then is expected.
            state.skip_reason = None;
            state.dropped_waiting = 0;
            state.parse_need = 0;
        }
        true
    }
}

fn output_format(bit_depth: u8) -> gst_video::VideoFormat {
    if bit_depth <= 8 {
        gst_video::VideoFormat::Gray8
    } else {
        gst_video::VideoFormat::Gray16Le
    }
}

impl HelioDec {
    /// Why `frame-threads=0` should decode one frame at a time on a stream
    /// with caps `s` (upstream live or silent, frames big), if it should.
    fn automatic_one_frame(&self, s: &gst::StructureRef) -> Option<&'static str> {
        if self.settings.lock().unwrap().frame_threads != 0 {
            return None;
        }
        let mut query = gst::query::Latency::new();
        if !self.obj().sink_pad().peer_query(&mut query) {
            return Some("upstream does not answer the latency query");
        }
        if query.result().0 {
            return Some("upstream is live");
        }
        let pixels = s.get::<i32>("width").unwrap_or(0).max(0) as u64 * s.get::<i32>("height").unwrap_or(0).max(0) as u64;
        (pixels > AUTO_MAX_PIXELS).then_some("frames larger than 2048x2048")
    }

    /// Outputs decoded frames in order until at most `keep` are in flight,
    /// waiting for them as needed, then any that are already done.
    fn output_decoded(&self, keep: usize) -> Result<gst::FlowSuccess, gst::FlowError> {
        loop {
            let (info, result) = {
                let mut guard = self.state.lock().unwrap();
                let Some(state) = guard.as_mut() else { return Ok(gst::FlowSuccess::Ok) };
                let must_wait = state.in_flight.len() > keep;
                let Some((info, ticket)) = state.in_flight.pop_front() else { return Ok(gst::FlowSuccess::Ok) };
                if must_wait {
                    drop(guard);
                    (info, ticket.wait())
                } else {
                    match ticket.try_take() {
                        Ok(result) => (info, result),
                        Err(ticket) => {
                            state.in_flight.push_front((info, ticket));
                            return Ok(gst::FlowSuccess::Ok);
                        }
                    }
                }
            };
            self.finish_decoded(info, result)?;
        }
    }

    /// Drops a frame while waiting for a keyframe (warning once per wait when
    /// the reason deserves it).
    fn drop_waiting(&self, frame: gst_video::VideoCodecFrame) -> Result<gst::FlowSuccess, gst::FlowError> {
        let frame_number = frame.system_frame_number();
        let reason = match self.state.lock().unwrap().as_mut() {
            Some(state) => {
                state.dropped_waiting += 1;
                state.skip_reason.take()
            }
            None => None,
        };
        gst::debug!(CAT, imp = self, "Dropping frame {}: waiting for a keyframe", frame_number);
        if let Some(reason) = reason {
            self.warn_waiting(frame_number, &reason);
        }
        self.obj().drop_frame(frame)
    }

    /// Turns one decoder result into an output frame, a dropped frame or an
    /// error, exactly as if the frames before it had just been decoded.
    fn finish_decoded(
        &self,
        info: InFlight,
        result: helio_core::Result<helio_core::DecodedFrame>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let obj = self.obj();
        let InFlight { id: frame_number, keyframe, bytes } = info;
        let Some(frame) = obj.frame(frame_number as i32) else {
            gst::debug!(CAT, imp = self, "Frame {} was flushed while decoding", frame_number);
            return Ok(gst::FlowSuccess::Ok);
        };
        let mut guard = self.state.lock().unwrap();
        let state = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        if state.need_keyframe && !keyframe {
            drop(guard);
            return self.drop_waiting(frame);
        }
        let lost_changed;
        let decoded = match result {
            Ok(decoded) => {
                if state.need_keyframe && state.dropped_waiting > 0 {
                    gst::info!(
                        CAT,
                        imp = self,
                        "Resuming at keyframe {} after dropping {} frames",
                        frame_number,
                        state.dropped_waiting
                    );
                }
                state.need_keyframe = false;
                state.skip_reason = None;
                state.dropped_waiting = 0;
                let lost: Vec<u8> = decoded.lost.iter().map(|l| l.channel).collect();
                // Reported below, once the state lock is released.
                lost_changed = lost != state.lost_channels;
                state.lost_channels = lost;
                decoded
            }
            Err(helio_core::Error::NeedKeyframe) => {
                state.need_keyframe = true;
                state.dropped_waiting += 1;
                drop(guard);
                gst::debug!(
                    CAT,
                    imp = self,
                    "Dropping frame {}: no sequence header yet, waiting for a keyframe",
                    frame_number
                );
                return obj.drop_frame(frame);
            }
            Err(err @ helio_core::Error::NoReference { .. }) => {
                // A P-frame whose reference is gone (lost frames, joined mid-GoP):
                // not damage, but every frame until the next keyframe is lost.
                state.need_keyframe = true;
                state.skip_reason = None;
                state.dropped_waiting += 1;
                drop(guard);
                self.warn_waiting(frame_number, &err.to_string());
                return obj.drop_frame(frame);
            }
            Err(
                err @ (helio_core::Error::ModelMismatch { .. }
                | helio_core::Error::Unsupported(_)
                | helio_core::Error::Runtime(_)),
            ) => {
                // Not damage: no later frame of this stream will decode either.
                drop(guard);
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Decode,
                    ("Cannot decode frame {}: {}", frame_number, err)
                );
                let _ = obj.drop_frame(frame);
                return Err(gst::FlowError::Error);
            }
            Err(err) => {
                state.need_keyframe = true;
                drop(guard);
                let flow = gst_video::video_decoder_error!(
                    &*obj,
                    1,
                    gst::StreamError::Decode,
                    ("Dropping damaged frame {}: {}", frame_number, err),
                    [
                        "Waiting for the next keyframe ({} byte access unit)",
                        bytes
                    ]
                );
                if flow.is_ok() {
                    // The base class only logs tolerated errors: tell the application.
                    gst::element_imp_warning!(
                        self,
                        gst::StreamError::Decode,
                        ("Dropped damaged frame {}: {}", frame_number, err),
                        ["Decoding resumes at the next keyframe"]
                    );
                }
                obj.drop_frame(frame)?;
                return flow;
            }
        };
        drop(guard);
        if lost_changed {
            self.report_lost_channels(frame_number, &decoded.lost);
        }

        gst::log!(
            CAT,
            imp = self,
            "Decoded frame {}: {}x{} {}-bit {:?}",
            frame_number,
            decoded.width,
            decoded.height,
            decoded.bit_depth,
            decoded.frame_type
        );

        let format = output_format(decoded.bit_depth);
        let wavelengths = if decoded.channels > 1 { decoded.wavelengths.clone() } else { Vec::new() };
        self.configure_output(format, decoded.width, decoded.height, wavelengths)
            .map_err(|err| {
                err.log_with_imp(self);
                gst::FlowError::NotNegotiated
            })?;

        let stats = common::FrameStats {
            frame_number: decoded.frame_number,
            frame_type: match decoded.frame_type {
                helio_core::bitstream::FrameType::I => 'I',
                helio_core::bitstream::FrameType::P => 'P',
                helio_core::bitstream::FrameType::X => 'X',
            },
            quality: decoded.quality as u32,
            bytes: bytes as u64,
        };
        self.output_frame(frame, &decoded.pixels, decoded.bit_depth, !decoded.lost.is_empty(), stats)
    }

    /// Warns when bands of a multispectral stream are lost (their planes are
    /// zeros, the buffer is flagged CORRUPTED, the other bands are good), and
    /// tells when they are all back.
    fn report_lost_channels(&self, frame_number: u32, lost: &[helio_core::codec::LostChannel]) {
        if lost.is_empty() {
            gst::info!(CAT, imp = self, "Frame {}: every wavelength decodes again", frame_number);
            return;
        }
        let names: Vec<String> = lost
            .iter()
            .map(|l| match l.wavelength {
                Some(wl) => format!("{wl} A (channel {}): {}", l.channel, l.reason),
                None => format!("channel {}: {}", l.channel, l.reason),
            })
            .collect();
        gst::element_imp_warning!(
            self,
            gst::StreamError::Decode,
            ("Frame {}: lost {}", frame_number, names.join("; ")),
            [
                "Those planes are zeros and the buffers are flagged CORRUPTED until the band decodes again \
                 (at the latest at the next keyframe); the other wavelengths are decoded normally"
            ]
        );
    }

    /// Posts the warning that starts a run of frames dropped until the next keyframe.
    fn warn_waiting(&self, frame_number: u32, reason: &str) {
        gst::element_imp_warning!(
            self,
            gst::StreamError::Decode,
            ("Dropping frames until the next keyframe: {}", reason),
            ["First dropped frame: {}", frame_number]
        );
    }

    /// Posts one warning for a run of bytes the unparsed-input path skipped.
    fn report_skipped(&self) {
        let (skipped, reason) = match self.state.lock().unwrap().as_mut() {
            Some(state) => (
                std::mem::take(&mut state.parse_skipped),
                state.parse_skip_reason.take(),
            ),
            None => return,
        };
        if skipped > 0 {
            gst::element_imp_warning!(
                self,
                gst::StreamError::Decode,
                ("Skipped {} bytes of damaged or unknown data", skipped),
                ["First problem: {}", reason.unwrap_or_default()]
            );
        }
    }

    fn set_parse_need(&self, need: usize) {
        if let Some(state) = self.state.lock().unwrap().as_mut() {
            state.parse_need = need;
        }
    }

    /// Sets (and negotiates) the output state unless it already matches.
    /// Multispectral output (several `wavelengths`) is negotiated as
    /// video/x-multispectral; the base class allocates and maps it as the
    /// equivalent GRAY frame of the planes stacked (docs/MULTISPECTRAL.md).
    fn configure_output(
        &self,
        format: gst_video::VideoFormat,
        width: u32,
        height: u32,
        wavelengths: Vec<u16>,
    ) -> Result<(), gst::LoggableError> {
        let key = (format, width, height, wavelengths);
        let input_state = {
            let guard = self.state.lock().unwrap();
            let state = guard
                .as_ref()
                .ok_or_else(|| gst::loggable_error!(CAT, "Not started"))?;
            if state.output.as_ref() == Some(&key) {
                return Ok(());
            }
            state.input_state.clone()
        };

        let wavelengths = &key.3;
        gst::info!(
            CAT,
            imp = self,
            "Output format {:?} {}x{}{}",
            format,
            width,
            height,
            if wavelengths.is_empty() {
                String::new()
            } else {
                format!(", multispectral {:?}", wavelengths)
            }
        );
        let obj = self.obj();
        let channels = wavelengths.len().max(1) as u32;
        let mut output_state = obj
            .set_output_state(format, width, height * channels, input_state.as_ref())
            .map_err(|_| gst::loggable_error!(CAT, "Failed to set output state"))?;
        if !wavelengths.is_empty() {
            let stacked = output_state.info().to_caps().map_err(|_| gst::loggable_error!(CAT, "No stacked caps"))?;
            let ms = MsInfo {
                format,
                width,
                height,
                fps: output_state.info().fps(),
                par: output_state.info().par(),
                wavelengths: wavelengths.iter().map(|&w| w as u32).collect(),
            };
            output_state.set_caps(&ms.to_caps());
            // Buffers are allocated (and pools configured) as the stacked GRAY frame.
            output_state.set_allocation_caps(&stacked);
        }
        obj.negotiate(output_state)
            .map_err(|_| gst::loggable_error!(CAT, "Failed to negotiate output caps"))?;

        if let Some(state) = self.state.lock().unwrap().as_mut() {
            state.output = Some(key);
        }
        Ok(())
    }

    /// Copies the decoded samples into a downstream buffer, honouring its stride.
    /// `corrupted`: some band of a multispectral frame is a concealment (zeros).
    fn output_frame(
        &self,
        mut frame: gst_video::VideoCodecFrame,
        pixels: &PixelBuf,
        bit_depth: u8,
        corrupted: bool,
        stats: common::FrameStats,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let obj = self.obj();
        let output_state = obj.output_state().ok_or(gst::FlowError::NotNegotiated)?;
        let info = output_state.info().clone();
        drop(output_state);

        obj.allocate_output_frame(&mut frame, None)?;
        let buffer = frame.output_buffer_mut().ok_or(gst::FlowError::Error)?;
        if corrupted {
            buffer.set_flags(gst::BufferFlags::CORRUPTED);
        }
        stats.attach(buffer);
        let mut vframe = gst_video::VideoFrameRef::from_buffer_ref_writable(buffer, &info)
            .map_err(|_| {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Failed,
                    ("Failed to map output buffer writable")
                );
                gst::FlowError::Error
            })?;

        let width = info.width() as usize;
        let height = info.height() as usize;
        let stride = vframe.plane_stride()[0] as usize;
        let plane = vframe
            .plane_data_mut(0)
            .map_err(|_| gst::FlowError::Error)?;

        let expected = width * height;
        let len = match pixels {
            PixelBuf::U8(v) => v.len(),
            PixelBuf::U16(v) => v.len(),
        };
        if len != expected {
            gst::element_imp_error!(
                self,
                gst::StreamError::Decode,
                (
                    "Decoder returned {} samples for a {}x{} frame",
                    len,
                    width,
                    height
                )
            );
            return Err(gst::FlowError::Error);
        }

        match (info.format(), pixels) {
            (gst_video::VideoFormat::Gray8, PixelBuf::U8(src)) => {
                for (dst, src) in plane.chunks_mut(stride).zip(src.chunks_exact(width)) {
                    dst[..width].copy_from_slice(src);
                }
            }
            (gst_video::VideoFormat::Gray8, PixelBuf::U16(src)) => {
                // Depth <= 8 delivered in 16-bit containers: narrow.
                for (dst, src) in plane.chunks_mut(stride).zip(src.chunks_exact(width)) {
                    for (d, s) in dst[..width].iter_mut().zip(src) {
                        *d = (*s).min(u8::MAX as u16) as u8;
                    }
                }
            }
            (gst_video::VideoFormat::Gray16Le, PixelBuf::U16(src)) => {
                common::write_gray16_le(plane, stride, width, src);
            }
            (gst_video::VideoFormat::Gray16Le, PixelBuf::U8(src)) => {
                for (dst, src) in plane.chunks_mut(stride).zip(src.chunks_exact(width)) {
                    for (d, s) in dst[..2 * width].chunks_exact_mut(2).zip(src) {
                        d.copy_from_slice(&(*s as u16).to_le_bytes());
                    }
                }
            }
            (other, _) => {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    (
                        "Unexpected output format {:?} for {}-bit frames",
                        other,
                        bit_depth
                    )
                );
                return Err(gst::FlowError::NotNegotiated);
            }
        }
        drop(vframe);

        obj.finish_frame(frame)
    }
}
