// SPDX-License-Identifier: MPL-2.0

use std::sync::LazyLock;
use std::sync::Mutex;

use gst::glib;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;

use helio_core::bitstream::SequenceHeader;

use crate::common;
use crate::framing::{self, Scan};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "helioparse",
        gst::DebugColorFlags::empty(),
        Some("helio elementary stream parser"),
    )
});

const DEFAULT_FRAMERATE: gst::Fraction = gst::Fraction::from_integer(0);

#[derive(Debug, Clone, Copy)]
struct Settings {
    default_framerate: gst::Fraction,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            default_framerate: DEFAULT_FRAMERATE,
        }
    }
}

#[derive(Default)]
struct State {
    /// Last sequence header seen (in-band or from the sink caps) and its bytes.
    header: Option<(SequenceHeader, Vec<u8>)>,
    /// The src caps need to be (re)sent before the next frame.
    caps_dirty: bool,
    upstream_framerate: Option<gst::Fraction>,
    upstream_par: Option<gst::Fraction>,
    /// Bytes skipped since the last good access unit, and the first reason.
    skipped: usize,
    skip_reason: Option<String>,
    last_frame_number: Option<u32>,
    /// Access units dropped because no sequence header was seen yet.
    dropped_headerless: u64,
    units: u64,
}

#[derive(Default)]
pub struct HelioParse {
    settings: Mutex<Settings>,
    state: Mutex<State>,
}

#[glib::object_subclass]
impl ObjectSubclass for HelioParse {
    const NAME: &'static str = "GstHelioParse";
    type Type = super::HelioParse;
    type ParentType = gst_base::BaseParse;
}

impl ObjectImpl for HelioParse {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                gst::ParamSpecFraction::builder("default-framerate")
                    .nick("Default frame rate")
                    .blurb(
                        "Frame rate for caps and timestamps when the upstream caps carry none \
                         (plain files). 0/1 = unknown: buffers without upstream timestamps stay \
                         untimed. The SDO/AIA EUV cadence is 1/12",
                    )
                    .minimum(gst::Fraction::new(0, 1))
                    .maximum(gst::Fraction::new(i32::MAX, 1))
                    .default_value(DEFAULT_FRAMERATE)
                    .mutable_ready()
                    .build(),
            ]
        });

        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = self.settings.lock().unwrap();
        match pspec.name() {
            "default-framerate" => {
                settings.default_framerate = value.get().expect("type checked upstream");
                gst::debug!(
                    CAT,
                    imp = self,
                    "default-framerate set to {}",
                    settings.default_framerate
                );
            }
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = self.settings.lock().unwrap();
        match pspec.name() {
            "default-framerate" => settings.default_framerate.to_value(),
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for HelioParse {}

impl ElementImpl for HelioParse {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "helio parser",
                "Codec/Parser/Video",
                "Splits a helio byte stream into CRC-checked access units and sets caps from \
                 the sequence header",
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

            let src_caps = gst::Caps::builder(common::HELIO_CAPS_NAME)
                .field("parsed", true)
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

impl BaseParseImpl for HelioParse {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = State::default();
        let obj = self.obj();
        obj.set_min_frame_size(framing::MIN_UNIT_LEN as u32);
        let fps = self.settings.lock().unwrap().default_framerate;
        if fps.numer() > 0 {
            obj.set_frame_rate(fps, 0, 0);
        }
        gst::debug!(CAT, imp = self, "Started");
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        let state = std::mem::take(&mut *self.state.lock().unwrap());
        gst::debug!(
            CAT,
            imp = self,
            "Stopped after {} access units ({} dropped before the first sequence header)",
            state.units,
            state.dropped_headerless
        );
        Ok(())
    }

    fn set_sink_caps(&self, caps: &gst::Caps) -> Result<(), gst::LoggableError> {
        gst::debug!(CAT, imp = self, "Sink caps {}", caps);
        let s = caps
            .structure(0)
            .ok_or_else(|| gst::loggable_error!(CAT, "Empty sink caps"))?;

        let framerate = s
            .get::<gst::Fraction>("framerate")
            .ok()
            .filter(|f| f.numer() > 0 && f.denom() > 0);
        let par = s.get::<gst::Fraction>("pixel-aspect-ratio").ok();
        let header = common::streamheader_from_caps(s).and_then(|bytes| {
            framing::parse_sequence_header(&bytes).map(|h| {
                let n = h.encoded_len();
                (h, bytes[..n].to_vec())
            })
        });

        {
            let mut state = self.state.lock().unwrap();
            state.upstream_framerate = framerate;
            state.upstream_par = par;
            if let Some(header) = header {
                gst::debug!(CAT, imp = self, "Sequence header from caps: {:?}", header.0);
                state.header = Some(header);
            }
            state.caps_dirty = true;
        }

        if let Some(fps) = framerate {
            self.obj().set_frame_rate(fps, 0, 0);
        }
        Ok(())
    }

    fn handle_frame(
        &self,
        mut frame: gst_base::BaseParseFrame,
    ) -> Result<(gst::FlowSuccess, u32), gst::FlowError> {
        let obj = self.obj();

        let (scan, available) = {
            let buffer = frame.buffer().ok_or(gst::FlowError::Error)?;
            let map = buffer.map_readable().map_err(|_| {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Failed,
                    ("Failed to map input buffer readable")
                );
                gst::FlowError::Error
            })?;
            let state = self.state.lock().unwrap();
            let known = state.header.as_ref().map(|(h, _)| h);
            (framing::scan(map.as_slice(), known), map.len())
        };

        let unit = match scan {
            Scan::Skip { skip, reason } => {
                let mut state = self.state.lock().unwrap();
                if state.skipped == 0 {
                    gst::warning!(
                        CAT,
                        imp = self,
                        "Lost sync at offset {}: {}; searching for the next sync word",
                        frame.offset(),
                        reason
                    );
                    state.skip_reason = Some(reason);
                } else {
                    gst::log!(CAT, imp = self, "Skipping {} bytes: {}", skip, reason);
                }
                state.skipped += skip;
                return Ok((gst::FlowSuccess::Ok, skip as u32));
            }
            Scan::NeedMore(needed) => {
                if obj.is_draining() {
                    gst::warning!(
                        CAT,
                        imp = self,
                        "Discarding {} bytes at end of stream: incomplete access unit (needs {})",
                        available,
                        needed
                    );
                    let mut state = self.state.lock().unwrap();
                    if state.skipped == 0 {
                        state.skip_reason = Some("incomplete access unit at end of stream".into());
                    }
                    state.skipped += available;
                    drop(state);
                    self.report_skipped();
                    return Ok((gst::FlowSuccess::Ok, available as u32));
                }
                gst::trace!(CAT, imp = self, "Need {} bytes, have {}", needed, available);
                obj.set_min_frame_size(needed.min(u32::MAX as usize) as u32);
                return Ok((gst::FlowSuccess::Ok, 0));
            }
            Scan::Unit(unit) => unit,
        };
        obj.set_min_frame_size(framing::MIN_UNIT_LEN as u32);

        let resynced = self.report_skipped();

        let (caps, headerless, gap) = {
            let mut state = self.state.lock().unwrap();
            if let Some((header, bytes)) = unit.header {
                if state.header.as_ref().map(|(_, b)| b) != Some(&bytes) {
                    gst::info!(CAT, imp = self, "New sequence header: {:?}", header);
                    state.header = Some((header, bytes));
                    state.caps_dirty = true;
                }
            }
            let headerless = state.header.is_none();
            let gap = match state.last_frame_number {
                Some(last) if !headerless => unit.frame_number.wrapping_sub(last) != 1,
                _ => false,
            };
            if gap {
                gst::info!(
                    CAT,
                    imp = self,
                    "Frame number jumps from {} to {}: frames were lost",
                    state.last_frame_number.unwrap_or_default(),
                    unit.frame_number
                );
            }
            if headerless {
                state.dropped_headerless += 1;
            } else {
                state.last_frame_number = Some(unit.frame_number);
                state.units += 1;
            }
            let caps = if state.caps_dirty && !headerless {
                state.caps_dirty = false;
                Some(self.src_caps(&state))
            } else {
                None
            };
            (caps, headerless, gap)
        };

        if headerless {
            gst::debug!(
                CAT,
                imp = self,
                "Dropping {:?} access unit {} of {} bytes: no sequence header seen yet",
                unit.frame_type,
                unit.frame_number,
                unit.len
            );
            frame.set_flags(gst_base::BaseParseFrameFlags::DROP);
            obj.finish_frame(frame, unit.len as u32)?;
            return Ok((gst::FlowSuccess::Ok, 0));
        }

        if let Some(caps) = caps {
            gst::debug!(CAT, imp = self, "Setting src caps {}", caps);
            obj.src_pad().push_event(gst::event::Caps::new(&caps));
        }

        let buffer = frame.buffer_mut().ok_or(gst::FlowError::Error)?;
        if unit.keyframe {
            buffer.unset_flags(gst::BufferFlags::DELTA_UNIT);
        } else {
            buffer.set_flags(gst::BufferFlags::DELTA_UNIT);
        }
        if resynced || gap {
            buffer.set_flags(gst::BufferFlags::DISCONT);
        }
        gst::log!(
            CAT,
            imp = self,
            "Frame {} ({:?}, {} access unit(s)) of {} bytes at offset {}",
            unit.frame_number,
            unit.frame_type,
            unit.units,
            unit.len,
            frame.offset()
        );

        obj.finish_frame(frame, unit.len as u32)?;
        Ok((gst::FlowSuccess::Ok, 0))
    }
}

impl HelioParse {
    fn src_caps(&self, state: &State) -> gst::Caps {
        let (header, bytes) = state.header.as_ref().expect("header known");
        let framerate = state
            .upstream_framerate
            .unwrap_or(self.settings.lock().unwrap().default_framerate);
        let mut builder = gst::Caps::builder(common::HELIO_CAPS_NAME)
            .field("parsed", true)
            .field("width", header.width as i32)
            .field("height", header.height as i32)
            .field("channels", header.channels as i32)
            .field("bit-depth", header.bit_depth as i32)
            .field("framerate", framerate);
        builder = common::with_wavelengths(builder, &header.wavelengths);
        if let Some(par) = state.upstream_par {
            builder = builder.field("pixel-aspect-ratio", par);
        }
        builder
            .field("streamheader", common::streamheader_value(bytes))
            .build()
    }

    /// Posts one warning for a run of skipped bytes, once sync is regained
    /// (or the stream ends). Returns whether anything had been skipped.
    fn report_skipped(&self) -> bool {
        let (skipped, reason) = {
            let mut state = self.state.lock().unwrap();
            let skipped = std::mem::take(&mut state.skipped);
            (skipped, state.skip_reason.take())
        };
        if skipped == 0 {
            return false;
        }
        let reason = reason.unwrap_or_default();
        gst::warning!(
            CAT,
            imp = self,
            "Skipped {} bytes of damaged or unknown data ({})",
            skipped,
            reason
        );
        gst::element_imp_warning!(
            self,
            gst::StreamError::Decode,
            ("Skipped {} bytes of damaged or unknown data", skipped),
            ["First problem: {}", reason]
        );
        true
    }
}
