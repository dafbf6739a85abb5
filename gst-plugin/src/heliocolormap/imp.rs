// SPDX-License-Identifier: MPL-2.0

use std::sync::LazyLock;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::VideoFormat;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use super::tables::{self, Stretch};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "heliocolormap",
        gst::DebugColorFlags::empty(),
        Some("helio SDO/AIA colour tables"),
    )
});

const DEFAULT_WAVELENGTH: u32 = 171;
const DEFAULT_MIN: u32 = 0;
const DEFAULT_MAX: u32 = 0;
const DEFAULT_BIT_DEPTH: u32 = 14;

/// Input formats, as caps and for messages.
const IN_FORMATS: [VideoFormat; 2] = [VideoFormat::Gray8, VideoFormat::Gray16Le];
/// Output formats, preferred first: pngenc takes RGB as is, textoverlay and
/// compositor take all three.
const OUT_FORMATS: [VideoFormat; 3] = [VideoFormat::Rgb, VideoFormat::Rgbx, VideoFormat::Bgrx];
const SUPPORTED_IN: &str = "video/x-raw, format=(string){ GRAY8, GRAY16_LE }";

/// How input values are spread over the colour table (`scaling` property).
#[derive(Debug, Eq, PartialEq, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstHelioColormapScaling")]
pub enum Scaling {
    #[enum_value(name = "Linear: x", nick = "linear")]
    Linear = 0,
    #[default]
    #[enum_value(name = "Square root: sqrt(x), for photon counts (DN)", nick = "sqrt")]
    Sqrt = 1,
    #[enum_value(name = "Logarithmic: log(1 + 1000 x) / log(1001)", nick = "log")]
    Log = 2,
}

impl From<Scaling> for Stretch {
    fn from(s: Scaling) -> Self {
        match s {
            Scaling::Linear => Stretch::Linear,
            Scaling::Sqrt => Stretch::Sqrt,
            Scaling::Log => Stretch::Log,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Settings {
    wavelength: u32,
    scaling: Scaling,
    min: u32,
    max: u32,
    bit_depth: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            wavelength: DEFAULT_WAVELENGTH,
            scaling: Scaling::default(),
            min: DEFAULT_MIN,
            max: DEFAULT_MAX,
            bit_depth: DEFAULT_BIT_DEPTH,
        }
    }
}

impl Settings {
    /// The input range mapped to the table ends, for `format` (`None`: not yet
    /// negotiated, `max` 0 is then left open).
    fn range(&self, format: Option<VideoFormat>) -> (u32, Option<u32>) {
        let auto = match format {
            Some(VideoFormat::Gray8) => Some(255),
            Some(_) => Some((1u32 << self.bit_depth) - 1),
            None => None,
        };
        (self.min, if self.max == 0 { auto } else { Some(self.max) })
    }

    /// Checks what can be checked for `format` (`None`: before negotiation).
    fn check(&self, format: Option<VideoFormat>) -> Result<(), String> {
        if tables::aia_table(self.wavelength).is_none() {
            return Err(format!(
                "wavelength {} has no colour table: valid ones are {}",
                self.wavelength,
                tables::valid_wavelengths()
            ));
        }
        match self.range(format) {
            (min, Some(max)) if min >= max => Err(format!(
                "min ({min}) must be below max ({max}{})",
                if self.max == 0 {
                    ", the auto maximum"
                } else {
                    ""
                }
            )),
            _ => Ok(()),
        }
    }

    /// The output pixel of every input value, in `out`'s byte order (RGB uses the
    /// first 3 of the 4 bytes; the x byte is 255).
    fn lut(&self, input: VideoFormat, out: VideoFormat) -> Result<Vec<[u8; 4]>, String> {
        self.check(Some(input))?;
        let table = tables::aia_table(self.wavelength).expect("checked");
        let (min, max) = self.range(Some(input));
        let top = if input == VideoFormat::Gray8 {
            255
        } else {
            65535
        };
        let index = tables::index_lut(top, min, max.expect("format known"), self.scaling.into());
        Ok(index
            .into_iter()
            .map(|i| {
                let [r, g, b] = table[i as usize];
                match out {
                    VideoFormat::Bgrx => [b, g, r, 255],
                    _ => [r, g, b, 255],
                }
            })
            .collect())
    }
}

/// Negotiated formats and the colouring built for them.
struct Negotiated {
    input: VideoFormat,
    output: VideoFormat,
    /// Bytes per output pixel (3 for RGB, 4 for RGBx / BGRx).
    bpp: usize,
    lut: Vec<[u8; 4]>,
}

#[derive(Default)]
pub struct HelioColormap {
    settings: Mutex<Settings>,
    state: Mutex<Option<Negotiated>>,
    /// Refused input caps were reported on the bus (once per start).
    caps_warned: AtomicBool,
}

#[glib::object_subclass]
impl ObjectSubclass for HelioColormap {
    const NAME: &'static str = "GstHelioColormap";
    type Type = super::HelioColormap;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for HelioColormap {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecUInt::builder("wavelength")
                    .nick("Wavelength")
                    .blurb(
                        "AIA colour table, by channel in Angstrom: 94, 131, 171, 193, 211, 304, \
                         335 (EUV), 1600, 1700 (UV), 4500 (visible), as SolarSoft aia_lct.pro \
                         and SunPy's sdoaiaNNN; 0 = plain grey. Any other value fails the \
                         start (or, while playing, is refused with a warning)",
                    )
                    .default_value(DEFAULT_WAVELENGTH)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("scaling", Scaling::default())
                    .nick("Scaling")
                    .blurb(
                        "How values in [min, max] are spread over the table: x = (v - min) / \
                         (max - min) becomes linear x, sqrt(x) (photon counts in DN) or \
                         log(1 + 1000 x) / log(1001); table index round(255 * result). GRAY8 \
                         frames from helio are already sqrt-scaled display data: use linear",
                    )
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("min")
                    .nick("Minimum")
                    .blurb(
                        "Input value mapped to the first (darkest) table entry; lower values \
                         clip to it. Must be below max",
                    )
                    .maximum(65535)
                    .default_value(DEFAULT_MIN)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("max")
                    .nick("Maximum")
                    .blurb(
                        "Input value mapped to the last (brightest) table entry; higher values \
                         clip to it. 0 = the whole input range: 255 for GRAY8, \
                         2^bit-depth - 1 for GRAY16_LE (a fixed range, not measured per frame, \
                         so frames and codecs compare)",
                    )
                    .maximum(65535)
                    .default_value(DEFAULT_MAX)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("bit-depth")
                    .nick("Bit depth")
                    .blurb(
                        "Bits used by GRAY16_LE samples (DN in [0, 2^bit-depth - 1]; 14 = \
                         SDO/AIA): sets the top of the range when max is 0. Ignored for GRAY8",
                    )
                    .minimum(8)
                    .maximum(16)
                    .default_value(DEFAULT_BIT_DEPTH)
                    .mutable_playing()
                    .build(),
            ]
        });

        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = self.settings.lock().unwrap();
        let mut new = *settings;
        match pspec.name() {
            "wavelength" => new.wavelength = value.get().expect("type checked upstream"),
            "scaling" => new.scaling = value.get().expect("type checked upstream"),
            "min" => new.min = value.get().expect("type checked upstream"),
            "max" => new.max = value.get().expect("type checked upstream"),
            "bit-depth" => new.bit_depth = value.get().expect("type checked upstream"),
            _ => unimplemented!(),
        }
        let mut state = self.state.lock().unwrap();
        let Some(neg) = state.as_mut() else {
            // Not negotiated: kept as set (reading it back shows it), checked at start.
            if let Err(msg) = new.check(None) {
                gst::warning!(CAT, imp = self, "{msg}; starting will fail");
            }
            *settings = new;
            gst::debug!(CAT, imp = self, "{} set to {:?}", pspec.name(), value);
            return;
        };
        match new.lut(neg.input, neg.output) {
            Ok(lut) => {
                neg.lut = lut;
                *settings = new;
                gst::debug!(
                    CAT,
                    imp = self,
                    "{} set to {:?} while running",
                    pspec.name(),
                    value
                );
            }
            Err(msg) => {
                drop(state);
                drop(settings);
                gst::warning!(CAT, imp = self, "{msg}: refused, colouring unchanged");
                gst::element_imp_warning!(
                    self,
                    gst::LibraryError::Settings,
                    ("{}: refused, colouring unchanged", msg)
                );
            }
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = self.settings.lock().unwrap();
        match pspec.name() {
            "wavelength" => settings.wavelength.to_value(),
            "scaling" => settings.scaling.to_value(),
            "min" => settings.min.to_value(),
            "max" => settings.max.to_value(),
            "bit-depth" => settings.bit_depth.to_value(),
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for HelioColormap {}

/// An always-present pad template taking raw video in `formats`, any size and rate.
fn template(name: &str, direction: gst::PadDirection, formats: &[VideoFormat]) -> gst::PadTemplate {
    let caps = gst_video::VideoCapsBuilder::new()
        .format_list(formats.iter().copied())
        .build();
    gst::PadTemplate::new(name, direction, gst::PadPresence::Always, &caps).unwrap()
}

impl ElementImpl for HelioColormap {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "helio SDO/AIA colour map",
                "Filter/Effect/Converter/Video",
                "Colours GRAY8 / GRAY16_LE solar frames with the standard SDO/AIA colour \
                 tables (aia_lct.pro, SunPy sdoaiaNNN), linear, sqrt or log scaled",
                "helio developers",
            )
        });

        Some(&*ELEMENT_METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            vec![
                template("src", gst::PadDirection::Src, &OUT_FORMATS),
                template("sink", gst::PadDirection::Sink, &IN_FORMATS),
            ]
        });

        PAD_TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for HelioColormap {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::NeverInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = *self.settings.lock().unwrap();
        self.caps_warned.store(false, Ordering::Relaxed);
        settings.check(None).map_err(|msg| {
            gst::error_msg!(gst::LibraryError::Settings, ("heliocolormap: {}", msg))
        })?;
        gst::debug!(CAT, imp = self, "Started with {:?}", settings);
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = None;
        Ok(())
    }

    fn transform_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        // Same size, frame rate and everything else; only the format changes
        // (and the colour description, which differs between grey and RGB).
        let formats: &[VideoFormat] = if direction == gst::PadDirection::Sink {
            &OUT_FORMATS
        } else {
            &IN_FORMATS
        };
        let names = gst::List::new(formats.iter().map(|f| f.to_str()));
        let mut other = caps.clone();
        for s in other.make_mut().iter_mut() {
            s.set("format", names.clone());
            s.remove_fields(["colorimetry", "chroma-site"]);
        }
        gst::trace!(CAT, imp = self, "{direction:?} {caps} -> {other}");
        Some(match filter {
            Some(f) => f.intersect_with_mode(&other, gst::CapsIntersectMode::First),
            None => other,
        })
    }

    fn accept_caps(&self, direction: gst::PadDirection, caps: &gst::Caps) -> bool {
        let ok = self.parent_accept_caps(direction, caps);
        if !ok && direction == gst::PadDirection::Sink {
            gst::warning!(
                CAT,
                imp = self,
                "Refusing caps {caps}: heliocolormap takes {SUPPORTED_IN}"
            );
            if !self.caps_warned.swap(true, Ordering::Relaxed) {
                gst::element_imp_warning!(
                    self,
                    gst::CoreError::Negotiation,
                    (
                        "Unsupported input caps; heliocolormap takes {}",
                        SUPPORTED_IN
                    ),
                    ["Refused caps: {}", caps]
                );
            }
        }
        ok
    }
}

impl VideoFilterImpl for HelioColormap {
    fn set_info(
        &self,
        _incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        _outcaps: &gst::Caps,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        let settings = *self.settings.lock().unwrap();
        let (input, output) = (in_info.format(), out_info.format());
        let bpp = match output {
            VideoFormat::Rgb => 3,
            VideoFormat::Rgbx | VideoFormat::Bgrx => 4,
            f => return Err(gst::loggable_error!(CAT, "Unexpected output format {f:?}")),
        };
        if !IN_FORMATS.contains(&input) {
            return Err(gst::loggable_error!(
                CAT,
                "Unexpected input format {input:?}"
            ));
        }
        let lut = settings.lut(input, output).map_err(|msg| {
            gst::element_imp_error!(
                self,
                gst::LibraryError::Settings,
                ("heliocolormap: {}", msg)
            );
            gst::loggable_error!(CAT, "{}", msg)
        })?;
        gst::debug!(
            CAT,
            imp = self,
            "{input:?} {}x{} -> {output:?}, wavelength {} {:?} range {:?}",
            in_info.width(),
            in_info.height(),
            settings.wavelength,
            settings.scaling,
            settings.range(Some(input))
        );
        *self.state.lock().unwrap() = Some(Negotiated {
            input,
            output,
            bpp,
            lut,
        });
        Ok(())
    }

    fn transform_frame(
        &self,
        inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
        outframe: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let state = self.state.lock().unwrap();
        let Some(neg) = state.as_ref() else {
            return Err(gst::FlowError::NotNegotiated);
        };
        let width = inframe.width() as usize;
        let height = inframe.height() as usize;
        let in_stride = inframe.plane_stride()[0] as usize;
        let out_stride = outframe.plane_stride()[0] as usize;
        let input = inframe.plane_data(0).map_err(|_| gst::FlowError::Error)?;
        let output = outframe
            .plane_data_mut(0)
            .map_err(|_| gst::FlowError::Error)?;
        let bpp = neg.bpp;
        let rows = input
            .chunks(in_stride)
            .zip(output.chunks_mut(out_stride))
            .take(height);
        for (src, dst) in rows {
            let dst = dst[..width * bpp].chunks_exact_mut(bpp);
            if neg.input == VideoFormat::Gray8 {
                for (px, &v) in dst.zip(&src[..width]) {
                    px.copy_from_slice(&neg.lut[v as usize][..bpp]);
                }
            } else {
                for (px, v) in dst.zip(src[..2 * width].chunks_exact(2)) {
                    let v = u16::from_le_bytes([v[0], v[1]]);
                    px.copy_from_slice(&neg.lut[v as usize][..bpp]);
                }
            }
        }
        Ok(gst::FlowSuccess::Ok)
    }
}
