// SPDX-License-Identifier: MPL-2.0

use std::sync::LazyLock;
use std::sync::Mutex;

use gst::glib;
use gst::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use helio_core::bitstream::FrameType;
use helio_core::codec::Pixels;

use crate::common::{self, ExecutionProvider, PFrameDecision};
use crate::multispectral::{MS_CAPS_NAME, MsInfo};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "helioenc",
        gst::DebugColorFlags::empty(),
        Some("helio learned solar video encoder"),
    )
});

/// Default quality level. Quality levels come from the model package
/// (`model.json`, `qualities`), ordered from fewest bits (1) to best.
const DEFAULT_QUALITY: u32 = 5;
const MAX_QUALITY_PSPEC: u32 = u8::MAX as u32;
const DEFAULT_MODEL_DIR: &str = "";
const DEFAULT_EXECUTION_PROVIDER: ExecutionProvider = ExecutionProvider::Auto;
const DEFAULT_THREADS: u32 = 0;
const DEFAULT_KEYFRAME_INTERVAL: u32 = 30;
const DEFAULT_P_FRAME_DECISION: PFrameDecision = PFrameDecision::Rd;
const DEFAULT_BIT_DEPTH: u32 = 0;
/// SDO/AIA samples are 14-bit; the default depth for GRAY16_LE input.
const AIA_BIT_DEPTH: u8 = 14;

#[derive(Debug, Clone)]
struct Settings {
    quality: u32,
    model_dir: String,
    inter_model_dir: String,
    execution_provider: ExecutionProvider,
    threads: u32,
    keyframe_interval: u32,
    p_frame_decision: PFrameDecision,
    keyframe_quality_offset: u32,
    bit_depth: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            quality: DEFAULT_QUALITY,
            model_dir: DEFAULT_MODEL_DIR.to_string(),
            inter_model_dir: DEFAULT_MODEL_DIR.to_string(),
            execution_provider: DEFAULT_EXECUTION_PROVIDER,
            threads: DEFAULT_THREADS,
            keyframe_interval: DEFAULT_KEYFRAME_INTERVAL,
            p_frame_decision: DEFAULT_P_FRAME_DECISION,
            keyframe_quality_offset: helio_core::DEFAULT_KEYFRAME_QUALITY_OFFSET as u32,
            bit_depth: DEFAULT_BIT_DEPTH,
        }
    }
}

/// Tightly packed copy of the current input frame (reused between frames).
enum Scratch {
    U8(Vec<u8>),
    U16(Vec<u16>),
}

struct State {
    encoder: helio_core::Encoder,
    info: gst_video::VideoInfo,
    bit_depth: u8,
    scratch: Scratch,
    /// A warning about clamped samples was posted already.
    clamp_warned: bool,
}

#[derive(Default)]
pub struct HelioEnc {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    /// The multispectral caps of the input, when it is multispectral: the base
    /// class sees the same buffers as one GRAY frame of the planes stacked
    /// (docs/MULTISPECTRAL.md), so this keeps what the stacked caps lose.
    multispectral: Mutex<Option<MsInfo>>,
    /// A warning about refused caps was posted since the last start.
    caps_warned: Mutex<bool>,
}

#[glib::object_subclass]
impl ObjectSubclass for HelioEnc {
    const NAME: &'static str = "GstHelioEnc";
    type Type = super::HelioEnc;
    type ParentType = gst_video::VideoEncoder;
}

impl ObjectImpl for HelioEnc {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecUInt::builder("quality")
                    .nick("Quality")
                    .blurb(
                        "Quality level: 1 = fewest bits, higher = better quality. The number \
                         of levels comes from the model package (model.json 'qualities'); \
                         a level above it fails at start",
                    )
                    .minimum(1)
                    .maximum(MAX_QUALITY_PSPEC)
                    .default_value(DEFAULT_QUALITY)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("model-dir")
                    .nick("Model directory")
                    .blurb(
                        "Folder of a helio intra model package (model.json + g_a/h_a/h_s/g_s.onnx, \
                         plus cg*.onnx for a channel-groups/checkerboard package); empty = the \
                         default models embedded in the plugin (new streams use the \
                         channel-groups/checkerboard entropy model when it was built in)",
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
                glib::ParamSpecUInt::builder("keyframe-interval")
                    .nick("Keyframe interval")
                    .blurb(
                        "Distance between keyframes (I-frames with the sequence header), in \
                         frames; the frames between are P-frames predicted from the previous \
                         decoded frame. 1 = every frame an I-frame (the stream then decodes \
                         without the inter package). Force-key-unit events, flushes and (with \
                         p-frame-decision=rd) frames cheaper as I-frames start a new GoP early. Without an inter package every frame is an I-frame",
                    )
                    .minimum(1)
                    .default_value(DEFAULT_KEYFRAME_INTERVAL)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("keyframe-quality-offset")
                    .nick("Keyframe quality offset")
                    .blurb(
                        "Keyframes that start a GoP of P-frames are coded this many quality \
                         levels above quality (capped at the model's top level): a better \
                         reference for the P-frames that follow. 1 took 1.4-2.9 % off the bits \
                         at equal PSNR at GoP 30 on real AIA frames (0.5 % on synthetic ones); \
                         0 codes every frame at \
                         quality. No effect on all-intra streams (keyframe-interval=1 or no inter \
                         package) nor on I-frames chosen by p-frame-decision=rd",
                    )
                    .maximum(MAX_QUALITY_PSPEC)
                    .default_value(helio_core::DEFAULT_KEYFRAME_QUALITY_OFFSET as u32)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default(
                    "p-frame-decision",
                    DEFAULT_P_FRAME_DECISION,
                )
                .nick("P-frame decision")
                .blurb(
                    "How a frame the keyframe interval makes a P-frame is coded. rd: coded \
                     both as a P-frame and as an I-frame, and the one with the lower \
                     rate-distortion cost (lambda * 255^2 * MSE + bits per pixel, the loss \
                     the models were trained with) is kept; an I-frame kept this way is a \
                     keyframe (sequence header included, counted in its bits) and the GoP \
                     restarts from it. This catches scene cuts and frames the P model codes \
                     worse than the I model (no P-frame is kept that costs more than the \
                     I-frame it replaces), but it runs both the I and the P networks on \
                     those frames: about 1.4x the encode time (512x512 on 2 CPU cores: 0.74 s \
                     instead of 0.52 s per frame). always: every such frame is a P-frame, \
                     whatever it costs (faster encoding, keyframes at fixed positions). \
                     The decision and both costs are logged at debug level",
                )
                .mutable_ready()
                .build(),
                glib::ParamSpecUInt::builder("bit-depth")
                    .nick("Bit depth")
                    .blurb(
                        "Significant bits per input sample: 0 = auto (8 for GRAY8, 14 for \
                         GRAY16_LE as SDO/AIA); 9..16 select GRAY16_LE input. Samples above \
                         the depth are clamped (a warning is posted once)",
                    )
                    .maximum(16)
                    .default_value(DEFAULT_BIT_DEPTH)
                    .mutable_ready()
                    .build(),
            ]
        });

        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = self.settings.lock().unwrap();
        match pspec.name() {
            "quality" => {
                settings.quality = value.get().expect("type checked upstream");
            }
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
            "keyframe-interval" => {
                settings.keyframe_interval = value.get().expect("type checked upstream");
            }
            "keyframe-quality-offset" => {
                settings.keyframe_quality_offset = value.get().expect("type checked upstream");
            }
            "p-frame-decision" => {
                settings.p_frame_decision = value.get().expect("type checked upstream");
            }
            "bit-depth" => {
                let depth: u32 = value.get().expect("type checked upstream");
                if depth != 0 && depth < 8 {
                    gst::warning!(
                        CAT,
                        imp = self,
                        "bit-depth {depth} not supported (0, 8 or 9..16), keeping {}",
                        settings.bit_depth
                    );
                } else {
                    settings.bit_depth = depth;
                }
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
            "quality" => settings.quality.to_value(),
            "model-dir" => settings.model_dir.to_value(),
            "inter-model-dir" => settings.inter_model_dir.to_value(),
            "execution-provider" => settings.execution_provider.to_value(),
            "threads" => settings.threads.to_value(),
            "keyframe-interval" => settings.keyframe_interval.to_value(),
            "keyframe-quality-offset" => settings.keyframe_quality_offset.to_value(),
            "p-frame-decision" => settings.p_frame_decision.to_value(),
            "bit-depth" => settings.bit_depth.to_value(),
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for HelioEnc {}

impl ElementImpl for HelioEnc {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "helio encoder",
                "Codec/Encoder/Video",
                "Learned video encoder for single-channel solar imagery (SDO/AIA, up to 16 bit)",
                "helio developers",
            )
        });

        Some(&*ELEMENT_METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let sink_caps = sink_template_caps(None);
            let sink_pad_template = gst::PadTemplate::new(
                "sink",
                gst::PadDirection::Sink,
                gst::PadPresence::Always,
                &sink_caps,
            )
            .unwrap();

            let src_caps = gst::Caps::builder(common::HELIO_CAPS_NAME)
                .field(
                    "width",
                    gst::IntRange::new(common::MIN_DIMENSION, common::MAX_DIMENSION),
                )
                .field(
                    "height",
                    gst::IntRange::new(common::MIN_DIMENSION, common::MAX_DIMENSION),
                )
                .field("channels", gst::IntRange::new(1i32, 16))
                .field("bit-depth", gst::IntRange::new(8i32, 16))
                .field(
                    "framerate",
                    gst::FractionRange::new(
                        gst::Fraction::new(0, 1),
                        gst::Fraction::new(i32::MAX, 1),
                    ),
                )
                .build();
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

/// Raw caps the encoder takes, monochrome and multispectral; `formats`
/// restricts the format list (driven by the `bit-depth` property).
fn sink_template_caps(formats: Option<&[gst_video::VideoFormat]>) -> gst::Caps {
    let formats = formats.unwrap_or(&[
        gst_video::VideoFormat::Gray8,
        gst_video::VideoFormat::Gray16Le,
    ]);
    let dims = gst::IntRange::new(common::MIN_DIMENSION, common::MAX_DIMENSION);
    let rates = gst::FractionRange::new(gst::Fraction::new(0, 1), gst::Fraction::new(i32::MAX, 1));
    let mut caps = gst_video::VideoCapsBuilder::new()
        .format_list(formats.iter().copied())
        .width_range(common::MIN_DIMENSION..=common::MAX_DIMENSION)
        .height_range(common::MIN_DIMENSION..=common::MAX_DIMENSION)
        .framerate_range(gst::Fraction::new(0, 1)..=gst::Fraction::new(i32::MAX, 1))
        .build();
    let multispectral = gst::Caps::builder(MS_CAPS_NAME)
        .field("format", gst::List::new(formats.iter().map(|f| f.to_str())))
        .field("width", dims)
        .field("height", dims)
        .field("framerate", rates)
        .field("channels", gst::IntRange::new(1i32, helio_core::bitstream::MAX_CHANNELS as i32))
        .build();
    caps.merge(multispectral);
    caps
}

/// Resolves the `bit-depth` property for the negotiated format.
fn resolve_bit_depth(format: gst_video::VideoFormat, property: u32) -> Result<u8, String> {
    match (format, property) {
        (gst_video::VideoFormat::Gray8, 0 | 8) => Ok(8),
        (gst_video::VideoFormat::Gray8, d) => Err(format!(
            "bit-depth={d} needs GRAY16_LE input, but GRAY8 was negotiated (GRAY8 is always 8 bit)"
        )),
        (gst_video::VideoFormat::Gray16Le, 0) => Ok(AIA_BIT_DEPTH),
        (gst_video::VideoFormat::Gray16Le, d @ 9..=16) => Ok(d as u8),
        (gst_video::VideoFormat::Gray16Le, d) => Err(format!(
            "bit-depth={d} is not valid for GRAY16_LE input (use 0 = auto or 9..16)"
        )),
        (other, _) => Err(format!(
            "format {other:?} is not supported; helioenc takes {}",
            common::SUPPORTED_RAW
        )),
    }
}

impl VideoEncoderImpl for HelioEnc {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self.settings.lock().unwrap().clone();
        *self.caps_warned.lock().unwrap() = false;

        let source = common::checked_model_source(
            &settings.model_dir,
            &settings.inter_model_dir,
            "encoder",
        )?;

        // Load ONNX Runtime now, so that a missing library fails the state
        // change (naming the paths tried) instead of caps negotiation.
        let runtime = helio_core::runtime::init(None).map_err(|err| {
            gst::error_msg!(
                gst::LibraryError::Init,
                ("Cannot start helio encoder: {}", err)
            )
        })?;
        gst::info!(
            CAT,
            imp = self,
            "ONNX Runtime {} (found via {})",
            runtime.library().display(),
            runtime.found_via()
        );

        // Check the quality level against the model now, so that a wrong
        // level fails the state change instead of caps negotiation.
        let load_error = |err: helio_core::Error| {
            gst::error_msg!(
                gst::LibraryError::Init,
                ("Cannot start helio encoder: {}", err),
                [
                    "model-dir='{}', inter-model-dir='{}'",
                    settings.model_dir,
                    settings.inter_model_dir
                ]
            )
        };
        let model = helio_core::model::ModelPackage::load(&source).map_err(load_error)?;
        let inter = helio_core::model::InterPackage::load(&source).map_err(load_error)?;
        if let Some(inter) = &inter {
            inter.check_pairs_with(&model).map_err(load_error)?;
            if let Some(note) = inter.intra_model_note(&model) {
                gst::warning!(CAT, imp = self, "{}", note);
            }
        }
        let levels = model.spec.quality_levels() as u32;
        if settings.quality > levels {
            return Err(gst::error_msg!(
                gst::LibraryError::Settings,
                (
                    "quality={} is out of range: model package '{}' has {} quality levels (use 1..={})",
                    settings.quality,
                    model.origin,
                    levels,
                    levels
                )
            ));
        }
        gst::debug!(
            CAT,
            imp = self,
            "Model '{}' ({}) from {}, {} quality levels",
            model.spec.name,
            model.id,
            model.origin,
            levels
        );
        match &inter {
            Some(inter) => gst::info!(
                CAT,
                imp = self,
                "Inter package '{}' ({}) from {}: P-frames between keyframes (keyframe-interval {}, p-frame-decision {:?})",
                inter.spec.name,
                inter.id,
                inter.origin,
                settings.keyframe_interval,
                settings.p_frame_decision
            ),
            None => gst::info!(
                CAT,
                imp = self,
                "No inter package for {:?}: every frame is an I-frame",
                source
            ),
        }
        drop(model);

        // Low delay: no frame reordering and no lookahead.
        self.obj()
            .set_latency(gst::ClockTime::ZERO, Some(gst::ClockTime::ZERO));

        gst::debug!(CAT, imp = self, "Started with {:?}", settings);
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = None;
        gst::debug!(CAT, imp = self, "Stopped");
        Ok(())
    }

    fn caps(&self, filter: Option<&gst::Caps>) -> gst::Caps {
        // A fixed bit depth pins the input format: 8 -> GRAY8, 9..16 -> GRAY16_LE.
        let bit_depth = self.settings.lock().unwrap().bit_depth;
        let template = match bit_depth {
            8 => sink_template_caps(Some(&[gst_video::VideoFormat::Gray8])),
            9..=16 => sink_template_caps(Some(&[gst_video::VideoFormat::Gray16Le])),
            _ => sink_template_caps(None),
        };
        self.obj().proxy_getcaps(Some(&template), filter)
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        // Multispectral caps: the base class only understands video/x-raw, so
        // it gets the equivalent stacked GRAY caps (same buffers) instead.
        if let gst::EventView::Caps(c) = event.view() {
            let caps = c.caps();
            let is_ms = caps.structure(0).is_some_and(|s| s.name() == MS_CAPS_NAME);
            if !is_ms {
                *self.multispectral.lock().unwrap() = None;
                return self.parent_sink_event(event);
            }
            let ms = match MsInfo::from_caps(caps) {
                Ok(ms) => ms,
                Err(err) => {
                    gst::element_imp_error!(
                        self,
                        gst::CoreError::Negotiation,
                        ("Invalid multispectral caps: {}", err),
                        ["Caps: {}; helioenc takes {}", caps, common::SUPPORTED_RAW]
                    );
                    return false;
                }
            };
            let stacked = match ms.stacked_video_info().to_caps() {
                Ok(c) => c,
                Err(_) => return false,
            };
            gst::debug!(CAT, imp = self, "Multispectral input {:?}, coded as stacked {}", ms, stacked);
            *self.multispectral.lock().unwrap() = Some(ms);
            let event = gst::event::Caps::builder(&stacked).seqnum(event.seqnum()).build();
            return self.parent_sink_event(event);
        }
        self.parent_sink_event(event)
    }

    fn sink_query(&self, query: &mut gst::QueryRef) -> bool {
        let caps = match query.view() {
            gst::QueryView::AcceptCaps(q) => Some(q.caps_owned()),
            _ => None,
        };
        let res = self.parent_sink_query(query);
        if let (Some(caps), gst::QueryView::AcceptCaps(q)) = (caps, query.view()) {
            if !q.result() {
                self.refused_caps(&caps);
            }
        }
        res
    }

    fn set_format(
        &self,
        state: &gst_video::VideoCodecState<'static, gst_video::video_codec_state::Readable>,
    ) -> Result<(), gst::LoggableError> {
        let info = state.info().clone();
        let settings = self.settings.lock().unwrap().clone();
        gst::debug!(CAT, imp = self, "Setting format {:?}", info);

        let multispectral = self.multispectral.lock().unwrap().clone();
        // Per plane: a multispectral frame is its planes stacked vertically.
        let channels = multispectral.as_ref().map_or(1, |ms| ms.channels() as u32);
        let (width, height) = (info.width(), info.height() / channels);
        let wavelengths: Vec<u16> = multispectral
            .as_ref()
            .map(|ms| ms.wavelengths.iter().map(|&w| w as u16).collect())
            .unwrap_or_default();
        let dims = common::MIN_DIMENSION as u32..=common::MAX_DIMENSION as u32;
        if !dims.contains(&width) || !dims.contains(&height) {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("Unsupported frame size {}x{}", width, height),
                ["helioenc takes {}", common::SUPPORTED_RAW]
            );
            return Err(gst::loggable_error!(
                CAT,
                "Unsupported frame size {}x{}",
                width,
                height
            ));
        }

        let bit_depth = match resolve_bit_depth(info.format(), settings.bit_depth) {
            Ok(depth) => depth,
            Err(msg) => {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    ("{}", msg),
                    ["helioenc takes {}", common::SUPPORTED_RAW]
                );
                return Err(gst::loggable_error!(CAT, "{}", msg));
            }
        };

        if settings.quality > u8::MAX as u32 {
            // Cannot happen with the pspec range, but keep the cast below honest.
            return Err(gst::loggable_error!(CAT, "quality out of range"));
        }

        let cfg = helio_core::EncoderConfig {
            width,
            height,
            bit_depth,
            quality: settings.quality as u8,
            model: common::model_source(&settings.model_dir, &settings.inter_model_dir)
                .map_err(|msg| gst::loggable_error!(CAT, "{}", msg))?,
            execution_provider: settings.execution_provider.into(),
            threads: settings.threads as usize,
            keyframe_interval: settings.keyframe_interval,
            p_frame_decision: settings.p_frame_decision.into(),
            keyframe_quality_offset: settings.keyframe_quality_offset.min(u8::MAX as u32) as u8,
            wavelengths: wavelengths.clone(),
        };
        gst::debug!(CAT, imp = self, "Creating encoder with {:?}", cfg);

        // Drop a previous encoder first: its sessions may hold a lot of memory.
        *self.state.lock().unwrap() = None;

        let mut encoder = helio_core::Encoder::new(cfg).map_err(|err| {
            gst::element_imp_error!(
                self,
                gst::LibraryError::Init,
                ("Failed to create helio encoder: {}", err),
                [
                    "model-dir='{}', execution-provider={:?}, quality={}",
                    settings.model_dir,
                    settings.execution_provider,
                    settings.quality
                ]
            );
            gst::loggable_error!(CAT, "Failed to create helio encoder: {}", err)
        })?;

        gst::info!(
            CAT,
            imp = self,
            "Encoding {}x{} {}-bit {:?}{} at quality {} with execution provider {:?}; {} (model id {})",
            width,
            height,
            bit_depth,
            info.format(),
            if wavelengths.is_empty() {
                String::new()
            } else {
                format!(", {} wavelengths {:?} (X-frames across them)", wavelengths.len(), wavelengths)
            },
            settings.quality,
            encoder.execution_provider_in_use(),
            if encoder.inter_coding() {
                format!(
                    "GoP of {} frames (I + P-frames, p-frame-decision {:?})",
                    settings.keyframe_interval, settings.p_frame_decision
                )
            } else {
                "I-frames only".to_string()
            },
            encoder.model_id()
        );

        // Nothing here reads the reconstruction of an all-intra stream: skip the
        // synthesis transform (the coded bytes are the same).
        encoder.set_reconstruction(false);

        let header = encoder.sequence_header();
        let caps = gst::Caps::builder(common::HELIO_CAPS_NAME)
            .field("width", width as i32)
            .field("height", height as i32)
            .field("channels", channels as i32)
            .field("bit-depth", bit_depth as i32)
            .field("framerate", info.fps())
            .field("pixel-aspect-ratio", info.par());
        let caps = common::with_wavelengths(caps, &wavelengths)
            .field("parsed", true)
            .field("streamheader", common::streamheader_value(&header))
            .build();

        let samples = width as usize * height as usize * channels as usize;
        let scratch = if bit_depth > 8 {
            Scratch::U16(Vec::with_capacity(samples))
        } else {
            Scratch::U8(Vec::with_capacity(samples))
        };

        *self.state.lock().unwrap() = Some(State {
            encoder,
            info,
            bit_depth,
            scratch,
            clamp_warned: false,
        });

        let obj = self.obj();
        let mut output_state = obj
            .set_output_state(caps, Some(state))
            .map_err(|_| gst::loggable_error!(CAT, "Failed to set output state"))?;
        if channels > 1 {
            // The base class writes the output info's size into the caps: one
            // plane, not the stacked frame it was given.
            let plane = gst_video::VideoInfo::builder(state.info().format(), width, height)
                .fps(state.info().fps())
                .par(state.info().par())
                .build()
                .map_err(|_| gst::loggable_error!(CAT, "No video info for one plane"))?;
            output_state.set_info(plane);
        }
        obj.negotiate(output_state)
            .map_err(|_| gst::loggable_error!(CAT, "Failed to negotiate output caps"))?;

        self.parent_set_format(state)
    }

    fn flush(&self) -> bool {
        gst::debug!(CAT, imp = self, "Flushing: next frame will be a keyframe");
        if let Some(state) = self.state.lock().unwrap().as_mut() {
            // Downstream lost the reference with the flushed data: new GoP.
            state.encoder.reset();
        }
        true
    }

    fn handle_frame(
        &self,
        mut frame: gst_video::VideoCodecFrame,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut state_guard = self.state.lock().unwrap();
        let state = state_guard.as_mut().ok_or_else(|| {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("No caps set before the first frame")
            );
            gst::FlowError::NotNegotiated
        })?;

        let input = frame.input_buffer().ok_or_else(|| {
            gst::element_imp_error!(self, gst::CoreError::Failed, ("Frame without buffer"));
            gst::FlowError::Error
        })?;
        let in_frame = gst_video::VideoFrameRef::from_buffer_ref_readable(input, &state.info)
            .map_err(|_| {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Failed,
                    ("Failed to map input buffer readable")
                );
                gst::FlowError::Error
            })?;

        copy_frame(&in_frame, &mut state.scratch);
        drop(in_frame);

        // The base class sets FORCE_KEYFRAME for force-key-unit events (upstream
        // and downstream) that are due at this frame.
        let force_keyframe = frame
            .flags()
            .contains(gst_video::VideoCodecFrameFlags::FORCE_KEYFRAME);

        let pixels = match &state.scratch {
            Scratch::U8(v) => Pixels::U8(v),
            Scratch::U16(v) => Pixels::U16(v),
        };
        let encoded = state
            .encoder
            .encode(pixels, force_keyframe)
            .map_err(|err| {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Encode,
                    (
                        "Failed to encode frame {}: {}",
                        frame.system_frame_number(),
                        err
                    )
                );
                gst::FlowError::Error
            })?;
        let warn_clamped = encoded.clamped_samples > 0 && !state.clamp_warned;
        if warn_clamped {
            state.clamp_warned = true;
        }
        let bit_depth = state.bit_depth;
        drop(state_guard);

        if encoded.clamped_samples > 0 {
            gst::debug!(
                CAT,
                imp = self,
                "Frame {}: {} samples clamped to {} bits",
                frame.system_frame_number(),
                encoded.clamped_samples,
                bit_depth
            );
        }
        if warn_clamped {
            gst::element_imp_warning!(
                self,
                gst::StreamError::Format,
                (
                    "Input samples exceed the declared bit depth of {} bits and were clamped to {}",
                    bit_depth,
                    (1u32 << bit_depth) - 1
                ),
                [
                    "{} samples clamped in frame {} (warned once per stream; set the bit-depth \
                     property to the real depth)",
                    encoded.clamped_samples,
                    frame.system_frame_number()
                ]
            );
        }

        let keyframe = is_keyframe(encoded.frame_type);
        gst::debug!(
            CAT,
            imp = self,
            "Frame {} coded as {:?}-frame in {} bytes (forced keyframe: {}), RD cost {:.5} (NaN: not reconstructed)",
            frame.system_frame_number(),
            encoded.frame_type,
            encoded.data.len(),
            force_keyframe,
            encoded.rd.cost
        );
        if let Some(rejected) = encoded.rejected {
            let (i, p) = match encoded.frame_type {
                FrameType::P => (rejected, encoded.rd),
                _ => (encoded.rd, rejected),
            };
            gst::debug!(
                CAT,
                imp = self,
                "Frame {}: P/I decision {:?} (P: J {:.5}, {} bytes, MSE {:.3e}; I: J {:.5}, {} bytes, MSE {:.3e})",
                frame.system_frame_number(),
                encoded.frame_type,
                p.cost,
                p.bytes,
                p.mse,
                i.cost,
                i.bytes,
                i.mse
            );
        }

        if encoded.units.len() > 1 {
            gst::debug!(
                CAT,
                imp = self,
                "Frame {} per wavelength: {}",
                frame.system_frame_number(),
                encoded
                    .units
                    .iter()
                    .map(|u| match u.ref_channel {
                        Some(r) => format!("{:?} from {} ({} bytes)", u.frame_type, r, u.rd.bytes),
                        None => format!("{:?} ({} bytes)", u.frame_type, u.rd.bytes),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }

        // The base class sets/unsets DELTA_UNIT on the output buffer from this.
        if keyframe {
            frame.set_flags(gst_video::VideoCodecFrameFlags::SYNC_POINT);
        } else {
            frame.unset_flags(gst_video::VideoCodecFrameFlags::SYNC_POINT);
        }
        frame.set_output_buffer(gst::Buffer::from_mut_slice(encoded.data));
        self.obj().finish_frame(frame)
    }
}

fn is_keyframe(frame_type: FrameType) -> bool {
    frame_type == FrameType::I
}

impl HelioEnc {
    /// Upstream offered caps we cannot take: say what we can take, once.
    fn refused_caps(&self, caps: &gst::Caps) {
        gst::warning!(
            CAT,
            imp = self,
            "Refusing caps {}: helioenc takes {}",
            caps,
            common::SUPPORTED_RAW
        );
        let mut warned = self.caps_warned.lock().unwrap();
        if !*warned {
            *warned = true;
            gst::element_imp_warning!(
                self,
                gst::CoreError::Negotiation,
                (
                    "Unsupported input caps; helioenc takes {}",
                    common::SUPPORTED_RAW
                ),
                ["Refused caps: {}", caps]
            );
        }
    }
}

/// Copies plane 0 row by row into a tightly packed buffer, dropping stride
/// padding (codec-core clamps samples above the bit depth and counts them).
fn copy_frame(frame: &gst_video::VideoFrameRef<&gst::BufferRef>, scratch: &mut Scratch) {
    let width = frame.width() as usize;
    let height = frame.height() as usize;
    let stride = frame.plane_stride()[0] as usize;
    let data = frame.plane_data(0).expect("gray frames have one plane");

    match scratch {
        Scratch::U8(out) => {
            out.clear();
            for row in data.chunks(stride).take(height) {
                out.extend_from_slice(&row[..width]);
            }
        }
        Scratch::U16(out) => {
            out.clear();
            for row in data.chunks(stride).take(height) {
                out.extend(
                    row[..2 * width]
                        .chunks_exact(2)
                        .map(|b| u16::from_le_bytes([b[0], b[1]])),
                );
            }
        }
    }
}
