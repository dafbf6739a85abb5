// SPDX-License-Identifier: MPL-2.0

use std::sync::LazyLock;
use std::sync::Mutex;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use crate::multispectral::{MS_CAPS_NAME, MsInfo};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "heliomssplit",
        gst::DebugColorFlags::empty(),
        Some("helio multispectral splitter"),
    )
});

/// One output band.
struct Band {
    wavelength: u32,
    pad: gst::Pad,
}

#[derive(Default)]
struct State {
    info: Option<MsInfo>,
    bands: Vec<Band>,
    /// The upstream stream-start, from which each band's stream id derives.
    stream_start: Option<gst::Event>,
    /// The last segment, for bands added mid-stream.
    segment: Option<gst::Event>,
}

pub struct HelioMsSplit {
    sinkpad: gst::Pad,
    state: Mutex<State>,
    flow_combiner: Mutex<gst_base::UniqueFlowCombiner>,
}

#[glib::object_subclass]
impl ObjectSubclass for HelioMsSplit {
    const NAME: &'static str = "GstHelioMsSplit";
    type Type = super::HelioMsSplit;
    type ParentType = gst::Element;

    fn with_class(klass: &Self::Class) -> Self {
        let templ = klass.pad_template("sink").unwrap();
        let sinkpad = gst::Pad::builder_from_template(&templ)
            .chain_function(|pad, parent, buffer| {
                HelioMsSplit::catch_panic_pad_function(parent, || Err(gst::FlowError::Error), |s| s.chain(pad, buffer))
            })
            .event_function(|pad, parent, event| {
                HelioMsSplit::catch_panic_pad_function(parent, || false, |s| s.sink_event(pad, event))
            })
            .build();
        Self {
            sinkpad,
            state: Mutex::new(State::default()),
            flow_combiner: Mutex::new(gst_base::UniqueFlowCombiner::new()),
        }
    }
}

impl ObjectImpl for HelioMsSplit {
    fn constructed(&self) {
        self.parent_constructed();
        self.obj().add_pad(&self.sinkpad).unwrap();
    }
}

impl GstObjectImpl for HelioMsSplit {}

impl ElementImpl for HelioMsSplit {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "helio multispectral splitter",
                "Filter/Video",
                "Splits video/x-multispectral frames into one GRAY video stream per wavelength (src_<wavelength>)",
                "helio developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let sink = gst::Caps::builder(MS_CAPS_NAME)
                .field("format", gst::List::new(["GRAY8", "GRAY16_LE"]))
                .build();
            let src = gst_video::VideoCapsBuilder::new()
                .format_list([gst_video::VideoFormat::Gray8, gst_video::VideoFormat::Gray16Le])
                .build();
            vec![
                gst::PadTemplate::new("sink", gst::PadDirection::Sink, gst::PadPresence::Always, &sink).unwrap(),
                gst::PadTemplate::new("src_%u", gst::PadDirection::Src, gst::PadPresence::Sometimes, &src).unwrap(),
            ]
        });
        TEMPLATES.as_ref()
    }

    fn change_state(&self, transition: gst::StateChange) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        let res = self.parent_change_state(transition)?;
        if transition == gst::StateChange::PausedToReady {
            let bands = std::mem::take(&mut *self.state.lock().unwrap()).bands;
            for b in bands {
                self.flow_combiner.lock().unwrap().remove_pad(&b.pad);
                let _ = self.obj().remove_pad(&b.pad);
            }
        }
        Ok(res)
    }
}

impl HelioMsSplit {
    fn chain(&self, _pad: &gst::Pad, buffer: gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        let (plane, pads) = {
            let state = self.state.lock().unwrap();
            let Some(info) = &state.info else {
                gst::element_imp_error!(self, gst::CoreError::Negotiation, ("Buffer before caps"));
                return Err(gst::FlowError::NotNegotiated);
            };
            if buffer.size() != info.buffer_size() {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Format,
                    (
                        "Buffer of {} bytes; {} planes of {}x{} {:?} take {}",
                        buffer.size(),
                        info.channels(),
                        info.width,
                        info.height,
                        info.format,
                        info.buffer_size()
                    )
                );
                return Err(gst::FlowError::Error);
            }
            (info.plane_size(), state.bands.iter().map(|b| b.pad.clone()).collect::<Vec<_>>())
        };
        let mut combined = Ok(gst::FlowSuccess::Ok);
        for (c, pad) in pads.iter().enumerate() {
            // A view of the plane's bytes, with the input's timestamps and flags.
            let mut sub = buffer
                .copy_region(gst::BufferCopyFlags::FLAGS | gst::BufferCopyFlags::MEMORY, c * plane..(c + 1) * plane)
                .map_err(|_| gst::FlowError::Error)?;
            // (copy_region copies timestamps only for a region at offset 0.)
            {
                let sub = sub.get_mut().expect("new sub-buffer");
                sub.set_pts(buffer.pts());
                sub.set_dts(buffer.dts());
                sub.set_duration(buffer.duration());
                sub.set_offset(buffer.offset());
                sub.set_offset_end(buffer.offset_end());
            }
            let res = pad.push(sub);
            combined = self.flow_combiner.lock().unwrap().update_pad_flow(pad, res);
        }
        combined
    }

    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::StreamStart(_) => {
                self.state.lock().unwrap().stream_start = Some(event.clone());
                // Each band gets its own stream-start (sent with its caps).
                let bands: Vec<(u32, gst::Pad)> =
                    self.state.lock().unwrap().bands.iter().map(|b| (b.wavelength, b.pad.clone())).collect();
                for (wl, p) in bands {
                    p.push_event(self.stream_start_for(&p, &event, wl));
                }
                true
            }
            gst::EventView::Caps(c) => match MsInfo::from_caps(c.caps()) {
                Ok(info) => self.set_info(info),
                Err(e) => {
                    gst::element_imp_error!(
                        self,
                        gst::CoreError::Negotiation,
                        ("Invalid multispectral caps: {}", e),
                        ["Caps: {}", c.caps()]
                    );
                    false
                }
            },
            _ => {
                if let gst::EventView::Segment(_) = event.view() {
                    self.state.lock().unwrap().segment = Some(event.clone());
                }
                if let gst::EventView::FlushStop(_) = event.view() {
                    self.flow_combiner.lock().unwrap().reset();
                }
                let pads: Vec<gst::Pad> = self.state.lock().unwrap().bands.iter().map(|b| b.pad.clone()).collect();
                if pads.is_empty() {
                    return gst::Pad::event_default(pad, Some(&*self.obj()), event);
                }
                // Serialized events reach every band; the result is true if any took it.
                let mut any = false;
                for p in &pads {
                    any |= p.push_event(event.clone());
                }
                any
            }
        }
    }

    fn stream_start_for(&self, pad: &gst::Pad, upstream: &gst::Event, wavelength: u32) -> gst::Event {
        // Derived from the upstream stream id (the sink pad's stream-start).
        let stream_id = pad.create_stream_id(&*self.obj(), Some(&wavelength.to_string()));
        let mut b = gst::event::StreamStart::builder(&stream_id);
        if let gst::EventView::StreamStart(s) = upstream.view()
            && let Some(g) = s.group_id()
        {
            b = b.group_id(g);
        }
        b.build()
    }

    /// New caps: one pad per wavelength (kept, added or removed), GRAY caps on each.
    fn set_info(&self, info: MsInfo) -> bool {
        let obj = self.obj();
        let band_caps = gst_video::VideoInfo::builder(info.format, info.width, info.height)
            .fps(info.fps)
            .par(info.par)
            .build()
            .ok()
            .and_then(|i| i.to_caps().ok());
        let Some(band_caps) = band_caps else { return false };
        let mut state = self.state.lock().unwrap();
        let (keep, gone): (Vec<Band>, Vec<Band>) =
            std::mem::take(&mut state.bands).into_iter().partition(|b| info.wavelengths.contains(&b.wavelength));
        let upstream_start = state.stream_start.clone();
        let segment = state.segment.clone();
        let templ = obj.pad_template("src_%u").unwrap();
        let mut added = Vec::new();
        let mut bands = Vec::new();
        for &wl in &info.wavelengths {
            match keep.iter().find(|b| b.wavelength == wl) {
                Some(b) => bands.push(Band { wavelength: wl, pad: b.pad.clone() }),
                None => {
                    let pad = gst::Pad::builder_from_template(&templ).name(format!("src_{wl}")).build();
                    bands.push(Band { wavelength: wl, pad: pad.clone() });
                    added.push((wl, pad));
                }
            }
        }
        state.bands = bands;
        state.info = Some(info.clone());
        let pads: Vec<gst::Pad> = state.bands.iter().map(|b| b.pad.clone()).collect();
        drop(state);

        for b in gone {
            gst::info!(CAT, imp = self, "Wavelength {} left the stream: removing {}", b.wavelength, b.pad.name());
            self.flow_combiner.lock().unwrap().remove_pad(&b.pad);
            let _ = obj.remove_pad(&b.pad);
        }
        for (wl, pad) in &added {
            pad.set_active(true).ok();
            if let Some(start) = &upstream_start {
                pad.push_event(self.stream_start_for(pad, start, *wl));
            }
            self.flow_combiner.lock().unwrap().add_pad(pad);
            obj.add_pad(pad).ok();
        }
        let mut ok = true;
        for pad in &pads {
            ok &= pad.push_event(gst::event::Caps::new(&band_caps));
        }
        for (_, pad) in &added {
            if let Some(seg) = &segment {
                pad.push_event(seg.clone());
            }
        }
        if !added.is_empty() {
            obj.no_more_pads();
        }
        gst::debug!(CAT, imp = self, "Bands {:?}, each {}", info.wavelengths, band_caps);
        ok
    }
}
