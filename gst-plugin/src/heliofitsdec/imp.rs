// SPDX-License-Identifier: MPL-2.0

use std::sync::LazyLock;
use std::sync::Mutex;

use gst::glib;
use gst::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use helio_fits::{Clipped, Extent, Pick};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "heliofitsdec",
        gst::DebugColorFlags::empty(),
        Some("FITS image decoder"),
    )
});

const DEFAULT_SCALE: f64 = 1.0;
const DEFAULT_OFFSET: f64 = 0.0;
const DEFAULT_HDU: i32 = -1;
const DEFAULT_FLIP: bool = true;
/// Base class `max-errors`: a bad file stops the pipeline unless the user raises it.
const DEFAULT_MAX_ERRORS: i32 = 0;

#[derive(Debug, Clone)]
struct Settings {
    scale: f64,
    offset: f64,
    hdu: i32,
    flip: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            scale: DEFAULT_SCALE,
            offset: DEFAULT_OFFSET,
            hdu: DEFAULT_HDU,
            flip: DEFAULT_FLIP,
        }
    }
}

#[derive(Default)]
struct State {
    input_state:
        Option<gst_video::VideoCodecState<'static, gst_video::video_codec_state::Readable>>,
    /// Output size currently negotiated.
    output: Option<(u32, u32)>,
    /// Bytes the adapter must hold before scanning again.
    need: usize,
    /// Clamped pixels so far; a warning is posted the first time any are seen.
    clipped: Clipped,
    warned_clipping: bool,
}

#[derive(Default)]
pub struct HelioFitsDec {
    settings: Mutex<Settings>,
    state: Mutex<State>,
}

#[glib::object_subclass]
impl ObjectSubclass for HelioFitsDec {
    const NAME: &'static str = "GstHelioFitsDec";
    type Type = super::HelioFitsDec;
    type ParentType = gst_video::VideoDecoder;
}

impl ObjectImpl for HelioFitsDec {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecDouble::builder("scale")
                    .nick("Scale")
                    .blurb(
                        "Output sample = round(physical * scale + offset), clamped to 0..65535, \
                         where physical = BZERO + BSCALE * stored (1 keeps integer DN as they are)",
                    )
                    .minimum(-1e12)
                    .maximum(1e12)
                    .default_value(DEFAULT_SCALE)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("offset")
                    .nick("Offset")
                    .blurb("Added after scale (e.g. to keep slightly negative dark-subtracted DN)")
                    .minimum(-1e12)
                    .maximum(1e12)
                    .default_value(DEFAULT_OFFSET)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecInt::builder("hdu")
                    .nick("HDU")
                    .blurb(
                        "Header-data unit holding the image (0 = primary, 1 = first extension); \
                         -1 = the first one with a 2-D image (AIA level 1: HDU 1, tile-compressed)",
                    )
                    .minimum(-1)
                    .maximum(9999)
                    .default_value(DEFAULT_HDU)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("flip")
                    .nick("Flip")
                    .blurb(
                        "Output the top row first (FITS stores the bottom row first; SunPy and ds9 \
                         draw it at the bottom): false keeps the file's row order",
                    )
                    .default_value(DEFAULT_FLIP)
                    .mutable_playing()
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
            "scale" => settings.scale = value.get().expect("type checked upstream"),
            "offset" => settings.offset = value.get().expect("type checked upstream"),
            "hdu" => settings.hdu = value.get().expect("type checked upstream"),
            "flip" => settings.flip = value.get().expect("type checked upstream"),
            _ => unimplemented!(),
        }
        gst::debug!(CAT, imp = self, "Property {} set, settings now {:?}", pspec.name(), *settings);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = self.settings.lock().unwrap();
        match pspec.name() {
            "scale" => settings.scale.to_value(),
            "offset" => settings.offset.to_value(),
            "hdu" => settings.hdu.to_value(),
            "flip" => settings.flip.to_value(),
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for HelioFitsDec {}

impl ElementImpl for HelioFitsDec {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "FITS image decoder",
                "Codec/Decoder/Image",
                "Decodes FITS images (plain, or tile-compressed RICE_1/GZIP as SDO/AIA level 1) \
                 into 16-bit grey frames",
                "helio developers",
            )
        });
        Some(&*ELEMENT_METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let sink = gst::PadTemplate::new(
                "sink",
                gst::PadDirection::Sink,
                gst::PadPresence::Always,
                &gst::Caps::builder(super::FITS_CAPS_NAME).build(),
            )
            .unwrap();
            let src = gst::PadTemplate::new(
                "src",
                gst::PadDirection::Src,
                gst::PadPresence::Always,
                &gst_video::VideoCapsBuilder::new()
                    .format(gst_video::VideoFormat::Gray16Le)
                    .build(),
            )
            .unwrap();
            vec![src, sink]
        });
        PAD_TEMPLATES.as_ref()
    }
}

impl VideoDecoderImpl for HelioFitsDec {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = State::default();
        let obj = self.obj();
        // Files arrive as byte streams (filesrc chunks, multifilesrc files): parse() splits them.
        obj.set_packetized(false);
        obj.set_latency(gst::ClockTime::ZERO, Some(gst::ClockTime::ZERO));
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = State::default();
        Ok(())
    }

    fn set_format(
        &self,
        input_state: &gst_video::VideoCodecState<'static, gst_video::video_codec_state::Readable>,
    ) -> Result<(), gst::LoggableError> {
        gst::debug!(CAT, imp = self, "Input caps {:?}", input_state.caps());
        let mut state = self.state.lock().unwrap();
        state.input_state = Some(input_state.clone());
        // Renegotiate with the new framerate at the next frame.
        state.output = None;
        Ok(())
    }

    fn parse(
        &self,
        _frame: &gst_video::VideoCodecFrame,
        adapter: &gst_base::Adapter,
        at_eos: bool,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let available = adapter.available();
        let need = self.state.lock().unwrap().need;
        if available == 0 || (available < need && !at_eos) {
            return Ok(gst_video::VIDEO_DECODER_FLOW_NEED_DATA);
        }
        let scan = {
            let buffer = adapter.buffer(available).map_err(|_| gst::FlowError::Error)?;
            let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
            helio_fits::extent(&map)
        };
        let obj = self.obj();
        let take = match scan {
            Ok(Extent::Ends(len)) => len,
            Ok(Extent::Whole(len)) if at_eos => len,
            Ok(Extent::Whole(len)) => {
                // More extensions may follow: wait for the next bytes (or EOS).
                self.state.lock().unwrap().need = len + 8;
                return Ok(gst_video::VIDEO_DECODER_FLOW_NEED_DATA);
            }
            Ok(Extent::Incomplete { need }) if !at_eos => {
                self.state.lock().unwrap().need = need;
                return Ok(gst_video::VIDEO_DECODER_FLOW_NEED_DATA);
            }
            // Cut short, or nothing more will come: hand the bytes to handle_frame,
            // whose decode names what is missing.
            Ok(Extent::Cut(len)) => len,
            Ok(Extent::Incomplete { .. }) => available,
            Err(err) => {
                // Not FITS at all: no boundary to find in these bytes. Decode all of it
                // to get the error out (or skip it if max-errors allows).
                gst::debug!(CAT, imp = self, "Scan failed: {}", err);
                available
            }
        };
        self.state.lock().unwrap().need = 0;
        gst::log!(CAT, imp = self, "FITS file of {} bytes", take);
        obj.add_to_frame(take as i32);
        obj.have_frame()
    }

    fn handle_frame(
        &self,
        frame: gst_video::VideoCodecFrame,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let obj = self.obj();
        let input = frame.input_buffer_owned().ok_or(gst::FlowError::Error)?;
        let map = input.map_readable().map_err(|_| gst::FlowError::Error)?;
        let settings = self.settings.lock().unwrap().clone();
        let pick = if settings.hdu < 0 { Pick::FirstImage } else { Pick::Hdu(settings.hdu as usize) };
        let mut image = match helio_fits::read_image(&map, pick) {
            Ok(image) => image,
            Err(err) => {
                drop(map);
                let number = frame.system_frame_number();
                let flow = gst_video::video_decoder_error!(
                    &*obj,
                    1,
                    gst::StreamError::Decode,
                    ("FITS file {} ({} bytes): {}", number, input.size(), err),
                    ["heliofitsdec reads plain and RICE_1/GZIP tile-compressed 2-D images"]
                );
                if flow.is_ok() {
                    gst::element_imp_warning!(
                        self,
                        gst::StreamError::Decode,
                        ("Skipped FITS file {}: {}", number, err)
                    );
                    obj.release_frame(frame);
                }
                return flow;
            }
        };
        drop(map);
        if settings.flip {
            image.flip_rows();
        }
        let (w, h) = (image.width as u32, image.height as u32);
        gst::debug!(
            CAT,
            imp = self,
            "{}x{} image from HDU {} (BITPIX {}): {} {} {}",
            w,
            h,
            image.hdu,
            image.header.int("ZBITPIX").or(image.header.int("BITPIX")).unwrap_or(0),
            image.header.str("TELESCOP").unwrap_or("?"),
            image.header.get("WAVELNTH").map_or("?".into(), |v| format!("{v:?}")),
            image.header.str("DATE-OBS").unwrap_or("?"),
        );
        let (dn, clipped) = image.to_u16(settings.scale, settings.offset);
        self.report_clipping(clipped, &settings);
        self.configure_output(w, h).map_err(|err| {
            err.log_with_imp(self);
            gst::FlowError::NotNegotiated
        })?;
        self.output_frame(frame, &dn, w as usize)
    }

    fn flush(&self) -> bool {
        self.state.lock().unwrap().need = 0;
        true
    }
}

impl HelioFitsDec {
    fn report_clipping(&self, clipped: Clipped, settings: &Settings) {
        let mut state = self.state.lock().unwrap();
        state.clipped.below += clipped.below;
        state.clipped.above += clipped.above;
        state.clipped.blank += clipped.blank;
        if clipped != Clipped::default() {
            gst::debug!(CAT, imp = self, "Clamped {:?} (stream so far {:?})", clipped, state.clipped);
        }
        if (clipped.below > 0 || clipped.above > 0) && !state.warned_clipping {
            state.warned_clipping = true;
            drop(state);
            gst::element_imp_warning!(
                self,
                gst::StreamError::Format,
                (
                    "{} pixels below 0 and {} above 65535 after scale {} offset {}: clamped",
                    clipped.below,
                    clipped.above,
                    settings.scale,
                    settings.offset
                ),
                ["Set the scale and offset properties to map the file's range into 0..65535 (reported once per stream)"]
            );
        }
    }

    fn configure_output(&self, width: u32, height: u32) -> Result<(), gst::LoggableError> {
        let input_state = {
            let state = self.state.lock().unwrap();
            if state.output == Some((width, height)) {
                return Ok(());
            }
            state.input_state.clone()
        };
        gst::info!(CAT, imp = self, "Output GRAY16_LE {}x{}", width, height);
        let obj = self.obj();
        let output_state = obj
            .set_output_state(gst_video::VideoFormat::Gray16Le, width, height, input_state.as_ref())
            .map_err(|_| gst::loggable_error!(CAT, "Failed to set output state"))?;
        obj.negotiate(output_state)
            .map_err(|_| gst::loggable_error!(CAT, "Failed to negotiate GRAY16_LE {}x{}", width, height))?;
        self.state.lock().unwrap().output = Some((width, height));
        Ok(())
    }

    fn output_frame(
        &self,
        mut frame: gst_video::VideoCodecFrame,
        dn: &[u16],
        width: usize,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let obj = self.obj();
        let info = obj.output_state().ok_or(gst::FlowError::NotNegotiated)?.info().clone();
        obj.allocate_output_frame(&mut frame, None)?;
        let buffer = frame.output_buffer_mut().ok_or(gst::FlowError::Error)?;
        let mut vframe = gst_video::VideoFrameRef::from_buffer_ref_writable(buffer, &info)
            .map_err(|_| gst::FlowError::Error)?;
        let stride = vframe.plane_stride()[0] as usize;
        let plane = vframe.plane_data_mut(0).map_err(|_| gst::FlowError::Error)?;
        crate::common::write_gray16_le(plane, stride, width, dn);
        drop(vframe);
        obj.finish_frame(frame)
    }
}
