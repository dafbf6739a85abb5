// SPDX-License-Identifier: MPL-2.0

use std::sync::LazyLock;
use std::sync::Mutex;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::base_src::CreateSuccess;
use gst_base::subclass::prelude::*;

use helio_core::intensity::IntensityTransform;
use helio_synth::{ConfigError, Sun, SunConfig, Wavelength};

use crate::multispectral::{MS_CAPS_NAME, MsInfo};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "heliotestsrc",
        gst::DebugColorFlags::empty(),
        Some("helio synthetic Sun test source"),
    )
});

const DEFAULT_SEED: u64 = 1;
const DEFAULT_WAVELENGTH: u32 = 171;
const DEFAULT_CADENCE: f64 = 12.0;
const MIN_CADENCE: f64 = 12.0;
const MAX_CADENCE: f64 = 3600.0;
/// Playback rate: 5 frames per second of output, i.e. one minute of solar
/// time per second at the AIA EUV cadence of 12 s. A 512x512 frame takes
/// about 0.2 s to generate on one core, so this is about what a live source
/// can sustain at the default size.
const DEFAULT_FPS: gst::Fraction = gst::Fraction::from_integer(5);
const DEFAULT_IS_LIVE: bool = false;
const DEFAULT_BIT_DEPTH: u32 = 14;
const DEFAULT_EXPOSURE_CHANGES: bool = false;
const DEFAULT_NOISE: bool = true;

/// Size picked when downstream leaves it open.
const DEFAULT_SIZE: i32 = 512;
const MIN_SIZE: i32 = 16;
const MAX_SIZE: i32 = 4096;

const NS_PER_S: u128 = 1_000_000_000;

#[derive(Debug, Clone, Copy)]
struct Settings {
    seed: u64,
    wavelength: u32,
    /// Multispectral output: bit k set = `Wavelength::ALL[k]` (ascending);
    /// 0 = one wavelength, `wavelength`.
    bands: u16,
    cadence: f64,
    fps: gst::Fraction,
    bit_depth: u32,
    exposure_changes: bool,
    noise: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            seed: DEFAULT_SEED,
            wavelength: DEFAULT_WAVELENGTH,
            bands: 0,
            cadence: DEFAULT_CADENCE,
            fps: DEFAULT_FPS,
            bit_depth: DEFAULT_BIT_DEPTH,
            exposure_changes: DEFAULT_EXPOSURE_CHANGES,
            noise: DEFAULT_NOISE,
        }
    }
}

impl Settings {
    /// The generator configuration for a `width` x `height` output, validated.
    fn sun_config(&self, width: u32, height: u32) -> Result<SunConfig, ConfigError> {
        let wavelengths = match self.bands {
            0 => vec![Wavelength::from_angstrom(self.wavelength)?],
            bands => bands_list(bands),
        };
        let cfg = SunConfig {
            width,
            height,
            wavelengths,
            cadence_s: self.cadence,
            seed: self.seed,
            bit_depth: self.bit_depth,
            exposure_changes: self.exposure_changes,
            noise: self.noise,
            ..SunConfig::default()
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

/// Frame index <-> timestamp mapping for the negotiated frame rate.
/// `pts(n) = base_pts + (n - base_frame) / fps`; the base moves when the
/// frame rate is renegotiated mid-stream so timestamps stay continuous.
#[derive(Debug, Clone, Copy)]
struct Timing {
    fps: gst::Fraction,
    base_frame: u64,
    base_pts: u64,
}

impl Timing {
    fn new(fps: gst::Fraction) -> Self {
        Timing {
            fps,
            base_frame: 0,
            base_pts: 0,
        }
    }

    fn pts(&self, n: u64) -> gst::ClockTime {
        let k = n.saturating_sub(self.base_frame) as u128;
        let ns = k * self.fps.denom() as u128 * NS_PER_S / self.fps.numer() as u128;
        gst::ClockTime::from_nseconds(
            self.base_pts
                .saturating_add(ns.min(u64::MAX as u128) as u64),
        )
    }

    /// The last frame whose timestamp is at or before `t`.
    fn frame_at(&self, t: gst::ClockTime) -> u64 {
        let t = t.nseconds();
        if t <= self.base_pts {
            return self.base_frame;
        }
        let dt = (t - self.base_pts) as u128;
        let k = dt * self.fps.numer() as u128 / (self.fps.denom() as u128 * NS_PER_S);
        let mut n = self
            .base_frame
            .saturating_add(k.min(u64::MAX as u128) as u64);
        // pts() rounds down: step over frames whose rounded pts is still <= t.
        while n < u64::MAX && self.pts(n + 1).nseconds() <= t {
            n += 1;
        }
        n
    }
}

/// Negotiated output and the generator built for it.
struct Output {
    info: gst_video::VideoInfo,
    sun: Sun,
    /// GRAY8 output: DN -> 8-bit sqrt display scaling, one entry per DN.
    lut8: Option<Vec<u8>>,
    /// Planes per frame (the Sun's wavelengths).
    channels: usize,
    /// The rendered planes, tightly packed, one after the other.
    scratch: Vec<u16>,
}

#[derive(Default)]
struct State {
    /// Settings captured (and validated) at start.
    settings: Option<Settings>,
    output: Option<Output>,
    timing: Option<Timing>,
    /// Next frame (solar time) index.
    next_frame: u64,
    /// Position of a seek that arrived before caps were known / to apply
    /// before the next frame.
    pending_seek: Option<gst::ClockTime>,
    /// Frames skipped by a live source that fell behind the clock.
    skipped: u64,
}

#[derive(Default)]
pub struct HelioTestSrc {
    settings: Mutex<Settings>,
    /// The `wavelengths` property as set; parsed into `Settings::bands` at start.
    wavelengths: Mutex<String>,
    state: Mutex<State>,
}

#[glib::object_subclass]
impl ObjectSubclass for HelioTestSrc {
    const NAME: &'static str = "GstHelioTestSrc";
    type Type = super::HelioTestSrc;
    type ParentType = gst_base::PushSrc;
}

/// video/x-raw caps of the one-band output.
fn mono_caps() -> gst::Caps {
    gst::Caps::builder("video/x-raw")
        .field("format", gst::List::new(["GRAY16_LE", "GRAY8"]))
        .field("width", gst::IntRange::new(MIN_SIZE, MAX_SIZE))
        .field("height", gst::IntRange::new(MIN_SIZE, MAX_SIZE))
        .field(
            "framerate",
            gst::FractionRange::new(
                gst::Fraction::new(1, i32::MAX),
                gst::Fraction::new(i32::MAX, 1),
            ),
        )
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
        .build()
}

/// video/x-multispectral caps the source can produce: any band set, or the
/// one of `bands` (a mask, see `Settings::bands`).
fn multispectral_caps(bands: Option<u16>) -> gst::Caps {
    let b = gst::Caps::builder(MS_CAPS_NAME)
        .field("format", gst::List::new(["GRAY16_LE", "GRAY8"]))
        .field("width", gst::IntRange::new(MIN_SIZE, MAX_SIZE))
        .field("height", gst::IntRange::new(MIN_SIZE, MAX_SIZE))
        .field(
            "framerate",
            gst::FractionRange::new(gst::Fraction::new(1, i32::MAX), gst::Fraction::new(i32::MAX, 1)),
        )
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1));
    match bands {
        None => b.field("channels", gst::IntRange::new(1, Wavelength::ALL.len() as i32)).build(),
        Some(bands) => {
            let list = bands_list(bands);
            b.field("channels", list.len() as i32)
                .field("wavelengths", gst::Array::new(list.iter().map(|w| w.angstrom() as i32)))
                .build()
        }
    }
}

/// The wavelengths of a band mask, ascending.
fn bands_list(bands: u16) -> Vec<Wavelength> {
    Wavelength::ALL.iter().enumerate().filter(|(k, _)| bands & (1 << k) != 0).map(|(_, &w)| w).collect()
}

/// `wavelengths` property text -> band mask ("" = 0, "all" = all nine).
fn parse_bands(text: &str) -> Result<u16, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    if text.eq_ignore_ascii_case("all") {
        return Ok((1 << Wavelength::ALL.len()) - 1);
    }
    let mut bands = 0u16;
    for item in text.split(',').map(str::trim) {
        let w: Wavelength = item.parse().map_err(|_| {
            format!("'{item}' in wavelengths '{text}' is not an AIA wavelength (valid: {})", valid_wavelengths())
        })?;
        let bit = 1 << Wavelength::ALL.iter().position(|&a| a == w).expect("one of ALL");
        if bands & bit != 0 {
            return Err(format!("wavelength {item} is listed twice in '{text}'"));
        }
        bands |= bit;
    }
    Ok(bands)
}

fn valid_wavelengths() -> String {
    Wavelength::ALL
        .iter()
        .map(|w| w.angstrom().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// 8-bit sqrt display scaling of every DN of `bit_depth`, via codec-core's
/// intensity transform (the same map helio uses before its networks).
fn sqrt_lut8(bit_depth: u8) -> Vec<u8> {
    let max = helio_core::intensity::max_value(bit_depth) as u32;
    (0..=max)
        .map(|v| {
            let t = IntensityTransform::Sqrt.forward(v, bit_depth);
            (t * 255.0).round().clamp(0.0, 255.0) as u8
        })
        .collect()
}

impl ObjectImpl for HelioTestSrc {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecUInt64::builder("seed")
                    .nick("Seed")
                    .blurb(
                        "Seed of the synthetic Sun: features, events and noise are pure \
                         functions of (seed, frame index), so the same seed gives the same bytes",
                    )
                    .default_value(DEFAULT_SEED)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("wavelength")
                    .nick("Wavelength")
                    .blurb(
                        "AIA channel to render, in Angstrom: one of 94, 131, 171, 193, 211, \
                         304, 335 (EUV), 1600, 1700 (UV). Any other value fails the start \
                         (READY->PAUSED) with an error naming it",
                    )
                    .default_value(DEFAULT_WAVELENGTH)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("wavelengths")
                    .nick("Wavelengths")
                    .blurb(
                        "Multispectral output: comma-separated AIA wavelengths (e.g. \"171,193,304\") \
                         or \"all\" for the nine; the frames are video/x-multispectral with these \
                         bands in ascending order, all rendered from the same plasma, seed and time. \
                         Empty (default) = one band, the `wavelength` property, as video/x-raw. An \
                         unknown or repeated entry fails the start with an error naming it",
                    )
                    .default_value(Some(""))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("cadence")
                    .nick("Cadence")
                    .blurb(
                        "Seconds of solar time between consecutive frames (AIA: 12 s EUV, \
                         24 s UV). Independent of the output frame rate (see fps)",
                    )
                    .minimum(MIN_CADENCE)
                    .maximum(MAX_CADENCE)
                    .default_value(DEFAULT_CADENCE)
                    .mutable_ready()
                    .build(),
                gst::ParamSpecFraction::builder("fps")
                    .nick("Playback frame rate")
                    .blurb(
                        "Output frame rate (playback speed) used when downstream caps leave \
                         the framerate open; a framerate in downstream caps wins. The Sun \
                         still advances by `cadence` per frame: at 5/1 and 12 s cadence one \
                         second of output shows one minute of solar time. Written N/D, e.g. 5/2",
                    )
                    .minimum(gst::Fraction::new(1, 3600))
                    .maximum(gst::Fraction::new(1000, 1))
                    .default_value(DEFAULT_FPS)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("is-live")
                    .nick("Is live")
                    .blurb(
                        "Act as a live source: frames are released when the pipeline clock \
                         reaches their timestamp, and a source that falls behind the clock \
                         (generation slower than fps) skips frames to catch up. Not live: as \
                         fast as possible, every frame, seekable",
                    )
                    .default_value(DEFAULT_IS_LIVE)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("bit-depth")
                    .nick("Bit depth")
                    .blurb(
                        "Camera bit depth: GRAY16_LE samples are DN in [0, 2^bit-depth - 1] \
                         (14 = AIA; the signal scales as 2^(bit-depth - 14)). GRAY8 output maps \
                         this range to 8 bits with the sqrt display scaling",
                    )
                    .minimum(8)
                    .maximum(16)
                    .default_value(DEFAULT_BIT_DEPTH)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("exposure-changes")
                    .nick("Exposure changes")
                    .blurb(
                        "Alternate short and long exposures on even/odd frames, as AIA does \
                         during flares (frame brightness jumps between frames)",
                    )
                    .default_value(DEFAULT_EXPOSURE_CHANGES)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("noise")
                    .nick("Noise")
                    .blurb(
                        "Add photon (Poisson, AIA gains) and read noise; off gives the \
                         expected DN",
                    )
                    .default_value(DEFAULT_NOISE)
                    .mutable_ready()
                    .build(),
            ]
        });

        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = self.settings.lock().unwrap();
        match pspec.name() {
            "seed" => settings.seed = value.get().expect("type checked upstream"),
            "wavelength" => {
                let w: u32 = value.get().expect("type checked upstream");
                if Wavelength::from_angstrom(w).is_err() {
                    // Kept (so that reading the property back shows it), refused at start.
                    gst::warning!(
                        CAT,
                        imp = self,
                        "wavelength {w} is not an AIA wavelength ({}); starting will fail",
                        valid_wavelengths()
                    );
                }
                settings.wavelength = w;
            }
            "wavelengths" => {
                let text: String = value.get::<Option<String>>().expect("type checked upstream").unwrap_or_default();
                if let Err(e) = parse_bands(&text) {
                    gst::warning!(CAT, imp = self, "{e}; starting will fail");
                }
                *self.wavelengths.lock().unwrap() = text;
            }
            "cadence" => settings.cadence = value.get().expect("type checked upstream"),
            "fps" => settings.fps = value.get().expect("type checked upstream"),
            "is-live" => {
                let live = value.get().expect("type checked upstream");
                drop(settings);
                self.obj().set_live(live);
                return;
            }
            "bit-depth" => settings.bit_depth = value.get().expect("type checked upstream"),
            "exposure-changes" => {
                settings.exposure_changes = value.get().expect("type checked upstream")
            }
            "noise" => settings.noise = value.get().expect("type checked upstream"),
            _ => unimplemented!(),
        }
        gst::debug!(CAT, imp = self, "{} set to {:?}", pspec.name(), value);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = self.settings.lock().unwrap();
        match pspec.name() {
            "seed" => settings.seed.to_value(),
            "wavelength" => settings.wavelength.to_value(),
            "wavelengths" => self.wavelengths.lock().unwrap().to_value(),
            "cadence" => settings.cadence.to_value(),
            "fps" => settings.fps.to_value(),
            "is-live" => {
                drop(settings);
                self.obj().is_live().to_value()
            }
            "bit-depth" => settings.bit_depth.to_value(),
            "exposure-changes" => settings.exposure_changes.to_value(),
            "noise" => settings.noise.to_value(),
            _ => unimplemented!(),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.set_live(DEFAULT_IS_LIVE);
        obj.set_format(gst::Format::Time);
    }
}

impl GstObjectImpl for HelioTestSrc {}

impl ElementImpl for HelioTestSrc {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "helio synthetic Sun test source",
                "Source/Video",
                "Emits a deterministic synthetic SDO/AIA-like solar image sequence \
                 (one wavelength, GRAY16_LE in DN or GRAY8 sqrt-scaled)",
                "helio developers",
            )
        });

        Some(&*ELEMENT_METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let mut caps = mono_caps();
            caps.merge(multispectral_caps(None));
            let src_pad_template = gst::PadTemplate::new(
                "src",
                gst::PadDirection::Src,
                gst::PadPresence::Always,
                &caps,
            )
            .unwrap();

            vec![src_pad_template]
        });

        PAD_TEMPLATES.as_ref()
    }
}

impl BaseSrcImpl for HelioTestSrc {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let bands = parse_bands(&self.wavelengths.lock().unwrap())
            .map_err(|e| gst::error_msg!(gst::LibraryError::Settings, ("{}", e)))?;
        let settings = Settings { bands, ..*self.settings.lock().unwrap() };
        // Size is not known before negotiation: validate everything else now
        // so that a bad wavelength fails the state change, not the stream.
        if let Err(e) = settings.sun_config(DEFAULT_SIZE as u32, DEFAULT_SIZE as u32) {
            let msg = match e {
                ConfigError::UnknownWavelength(_) => format!(
                    "wavelength {} is not an AIA wavelength: valid ones are {}",
                    settings.wavelength,
                    valid_wavelengths()
                ),
                e => e.to_string(),
            };
            return Err(gst::error_msg!(gst::LibraryError::Settings, ("{}", msg)));
        }
        *self.state.lock().unwrap() = State {
            settings: Some(settings),
            ..State::default()
        };
        gst::debug!(CAT, imp = self, "Started with {:?}", settings);
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        let state = std::mem::take(&mut *self.state.lock().unwrap());
        gst::debug!(
            CAT,
            imp = self,
            "Stopped at frame {} ({} skipped to keep up with the clock)",
            state.next_frame,
            state.skipped
        );
        Ok(())
    }

    fn caps(&self, filter: Option<&gst::Caps>) -> Option<gst::Caps> {
        // One kind of output per configuration: video/x-raw for one band,
        // video/x-multispectral with exactly the configured bands otherwise.
        let caps = match parse_bands(&self.wavelengths.lock().unwrap()) {
            Ok(0) | Err(_) => mono_caps(),
            Ok(bands) => multispectral_caps(Some(bands)),
        };
        Some(match filter {
            Some(f) => f.intersect_with_mode(&caps, gst::CapsIntersectMode::First),
            None => caps,
        })
    }

    fn fixate(&self, mut caps: gst::Caps) -> gst::Caps {
        let fps = self.settings.lock().unwrap().fps;
        caps.truncate();
        {
            let caps = caps.make_mut();
            if let Some(s) = caps.structure_mut(0) {
                s.fixate_field_str("format", "GRAY16_LE");
                s.fixate_field_nearest_int("width", DEFAULT_SIZE);
                s.fixate_field_nearest_int("height", DEFAULT_SIZE);
                s.fixate_field_nearest_fraction("framerate", fps);
            }
        }
        self.parent_fixate(caps)
    }

    fn set_caps(&self, caps: &gst::Caps) -> Result<(), gst::LoggableError> {
        // Multispectral frames are produced as the equivalent stacked GRAY frame.
        let (info, channels) = if caps.structure(0).is_some_and(|s| s.name() == MS_CAPS_NAME) {
            let ms = MsInfo::from_caps(caps).map_err(|e| gst::loggable_error!(CAT, "Invalid caps {}: {}", caps, e))?;
            (ms.stacked_video_info(), ms.channels())
        } else {
            let info = gst_video::VideoInfo::from_caps(caps)
                .map_err(|_| gst::loggable_error!(CAT, "Invalid caps {}", caps))?;
            (info, 1)
        };
        let fps = info.fps();
        if fps.numer() <= 0 || fps.denom() <= 0 {
            return Err(gst::loggable_error!(
                CAT,
                "Need a positive framerate, got {}",
                fps
            ));
        }

        let mut state = self.state.lock().unwrap();
        let settings = state
            .settings
            .unwrap_or_else(|| *self.settings.lock().unwrap());
        let cfg = match settings.sun_config(info.width(), info.height() / channels as u32) {
            Ok(cfg) => cfg,
            Err(e) => {
                gst::element_imp_error!(self, gst::LibraryError::Settings, ("{}", e));
                return Err(gst::loggable_error!(
                    CAT,
                    "Invalid generator settings: {}",
                    e
                ));
            }
        };

        let old = state.output.take();
        let sun = match old {
            Some(o) if *o.sun.config() == cfg => o.sun,
            _ => {
                let t0 = std::time::Instant::now();
                match Sun::new(cfg) {
                    Ok(sun) => {
                        gst::debug!(
                            CAT,
                            imp = self,
                            "Built {}x{} Sun in {:?}",
                            info.width(),
                            info.height(),
                            t0.elapsed()
                        );
                        sun
                    }
                    Err(e) => {
                        gst::element_imp_error!(
                            self,
                            gst::LibraryError::Init,
                            ("Could not set up the synthetic Sun: {}", e)
                        );
                        return Err(gst::loggable_error!(CAT, "Sun::new failed: {}", e));
                    }
                }
            }
        };

        let lut8 = match info.format() {
            gst_video::VideoFormat::Gray8 => Some(sqrt_lut8(settings.bit_depth as u8)),
            gst_video::VideoFormat::Gray16Le => None,
            f => return Err(gst::loggable_error!(CAT, "Unsupported format {:?}", f)),
        };

        // Keep timestamps continuous over a frame rate change mid-stream.
        let next_frame = state.next_frame;
        state.timing = Some(match state.timing {
            Some(t) if t.fps != fps => Timing {
                fps,
                base_frame: next_frame,
                base_pts: t.pts(next_frame).nseconds(),
            },
            Some(t) => t,
            None => Timing::new(fps),
        });
        let n = (info.width() * info.height()) as usize;
        state.output = Some(Output {
            info,
            sun,
            lut8,
            channels,
            scratch: vec![0u16; n],
        });
        gst::debug!(CAT, imp = self, "Caps set to {}", caps);
        Ok(())
    }

    fn is_seekable(&self) -> bool {
        !self.obj().is_live()
    }

    fn do_seek(&self, segment: &mut gst::Segment) -> bool {
        let Some(segment) = segment.downcast_mut::<gst::ClockTime>() else {
            gst::warning!(CAT, imp = self, "Can only seek in TIME format");
            return false;
        };
        if segment.rate() < 0.0 {
            gst::warning!(CAT, imp = self, "Reverse playback is not supported");
            return false;
        }
        segment.set_time(segment.start());
        let position = segment.position().unwrap_or(gst::ClockTime::ZERO);
        let mut state = self.state.lock().unwrap();
        state.pending_seek = Some(position);
        gst::debug!(CAT, imp = self, "Seek to {}", position);
        true
    }

    fn query(&self, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::Latency(q) = query.view_mut() {
            let state = self.state.lock().unwrap();
            if let Some(timing) = state.timing {
                // A live source has one frame of latency: frame n covers
                // [pts(n), pts(n+1)) and is pushed at pts(n).
                let latency = timing.pts(1) - timing.pts(0);
                q.set(self.obj().is_live(), latency, gst::ClockTime::NONE);
                return true;
            }
            return false;
        }
        BaseSrcImplExt::parent_query(self, query)
    }
}

impl PushSrcImpl for HelioTestSrc {
    fn create(&self, buffer: Option<&mut gst::BufferRef>) -> Result<CreateSuccess, gst::FlowError> {
        let obj = self.obj();
        let mut guard = self.state.lock().unwrap();
        let state = &mut *guard;
        let (Some(output), Some(timing)) = (state.output.as_mut(), state.timing.as_mut()) else {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("No caps negotiated before the first frame")
            );
            return Err(gst::FlowError::NotNegotiated);
        };

        if let Some(position) = state.pending_seek.take() {
            // Frames are random access: restart the timeline at the frame
            // covering the seek position.
            *timing = Timing::new(timing.fps);
            state.next_frame = timing.frame_at(position);
            gst::debug!(CAT, imp = self, "Seek: next frame {}", state.next_frame);
        }

        let live_now = if obj.is_live() {
            match (obj.clock(), obj.base_time()) {
                (Some(clock), Some(base_time)) => Some(clock.time().saturating_sub(base_time)),
                _ => None,
            }
        } else {
            None
        };
        if let Some(now) = live_now {
            if timing.pts(state.next_frame + 1) < now {
                // Fell behind (generation slower than fps): jump to the
                // frame due next instead of pushing a backlog of late ones.
                let target = timing.frame_at(now) + 1;
                gst::debug!(
                    CAT,
                    imp = self,
                    "Behind the clock at {}: skipping frames {}..{}",
                    now,
                    state.next_frame,
                    target
                );
                state.skipped += target - state.next_frame;
                state.next_frame = target;
            }
        }

        let n = state.next_frame;
        let pts = timing.pts(n);
        let end = timing.pts(n + 1);

        let stop = obj
            .segment()
            .downcast_ref::<gst::ClockTime>()
            .and_then(|segment| segment.stop());
        if let Some(stop) = stop.filter(|&stop| pts >= stop) {
            gst::debug!(CAT, imp = self, "Reached segment stop {}", stop);
            return Err(gst::FlowError::Eos);
        }

        let plane = output.scratch.len() / output.channels;
        for (c, out) in output.scratch.chunks_exact_mut(plane).enumerate() {
            if let Err(e) = output.sun.frame_into(out, c, n) {
                gst::element_imp_error!(
                    self,
                    gst::LibraryError::Failed,
                    ("Generating frame {} failed: {}", n, e)
                );
                return Err(gst::FlowError::Error);
            }
        }

        let size = output.info.size();
        let mut new_buffer = None;
        let buffer = match buffer {
            Some(buffer) => {
                if buffer.size() < size {
                    gst::element_imp_error!(
                        self,
                        gst::CoreError::Failed,
                        (
                            "Downstream buffer has {} bytes, a frame needs {}",
                            buffer.size(),
                            size
                        )
                    );
                    return Err(gst::FlowError::Error);
                }
                buffer
            }
            None => {
                let b = gst::Buffer::with_size(size).map_err(|_| {
                    gst::element_imp_error!(
                        self,
                        gst::ResourceError::Failed,
                        ("Could not allocate a {} byte buffer", size)
                    );
                    gst::FlowError::Error
                })?;
                new_buffer
                    .insert(b)
                    .get_mut()
                    .expect("new buffer is writable")
            }
        };

        self.fill(output, buffer)?;
        buffer.set_pts(pts);
        buffer.set_dts(pts);
        buffer.set_duration(end - pts);
        buffer.set_offset(n);
        buffer.set_offset_end(n + 1);
        state.next_frame = n + 1;
        gst::trace!(CAT, imp = self, "Frame {} pts {}", n, pts);
        drop(guard);

        Ok(match new_buffer {
            Some(b) => CreateSuccess::NewBuffer(b),
            None => CreateSuccess::FilledBuffer,
        })
    }
}

impl HelioTestSrc {
    /// Copies the rendered plane into `buffer`, row by row (strides are
    /// padded to 4 bytes for odd widths).
    fn fill(&self, output: &Output, buffer: &mut gst::BufferRef) -> Result<(), gst::FlowError> {
        let width = output.info.width() as usize;
        let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(buffer, &output.info)
            .map_err(|_| {
                gst::element_imp_error!(self, gst::CoreError::Failed, ("Could not map buffer"));
                gst::FlowError::Error
            })?;
        let stride = output.info.stride()[0] as usize;
        let data = frame.plane_data_mut(0).map_err(|_| gst::FlowError::Error)?;
        match &output.lut8 {
            Some(lut) => {
                for (src, dst) in output.scratch.chunks_exact(width).zip(data.chunks_mut(stride)) {
                    for (d, &v) in dst[..width].iter_mut().zip(src) {
                        *d = lut[(v as usize).min(lut.len() - 1)];
                    }
                }
            }
            None => crate::common::write_gray16_le(data, stride, width, &output.scratch),
        }
        Ok(())
    }
}
