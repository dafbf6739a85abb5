// SPDX-License-Identifier: MPL-2.0

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;
use std::sync::Mutex;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;

use crate::multispectral::{MAX_CHANNELS, MsInfo};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "heliomsjoin",
        gst::DebugColorFlags::empty(),
        Some("helio multispectral joiner"),
    )
});

/// AIA's bands, the wavelengths given to pads requested without one.
const AIA_WAVELENGTHS: [u32; 9] = [94, 131, 171, 193, 211, 304, 335, 1600, 1700];

#[derive(Default)]
struct State {
    /// Negotiated video info per band (wavelength -> info).
    infos: BTreeMap<u32, gst_video::VideoInfo>,
    /// Bands currently missing from the sets (warned once per outage).
    missing: HashSet<u32>,
    segment_sent: bool,
}

#[derive(Default)]
pub struct HelioMsJoin {
    state: Mutex<State>,
}

#[glib::object_subclass]
impl ObjectSubclass for HelioMsJoin {
    const NAME: &'static str = "GstHelioMsJoin";
    type Type = super::HelioMsJoin;
    type ParentType = gst_base::Aggregator;
}

impl ObjectImpl for HelioMsJoin {}
impl GstObjectImpl for HelioMsJoin {}

fn wavelength_of(pad: &gst::Pad) -> Option<u32> {
    pad.name().strip_prefix("sink_")?.parse().ok()
}

impl ElementImpl for HelioMsJoin {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "helio multispectral joiner",
                "Muxer/Video",
                "Joins GRAY streams, one per wavelength (sink_<wavelength>), into video/x-multispectral frames",
                "helio developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let sink = gst_video::VideoCapsBuilder::new()
                .format_list([gst_video::VideoFormat::Gray8, gst_video::VideoFormat::Gray16Le])
                .build();
            let src = gst::Caps::builder(crate::multispectral::MS_CAPS_NAME)
                .field("format", gst::List::new(["GRAY8", "GRAY16_LE"]))
                .build();
            vec![
                gst::PadTemplate::with_gtype(
                    "sink_%u",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Request,
                    &sink,
                    gst_base::AggregatorPad::static_type(),
                )
                .unwrap(),
                gst::PadTemplate::with_gtype(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &src,
                    gst_base::AggregatorPad::static_type(),
                )
                .unwrap(),
            ]
        });
        TEMPLATES.as_ref()
    }

    fn request_new_pad(
        &self,
        templ: &gst::PadTemplate,
        name: Option<&str>,
        caps: Option<&gst::Caps>,
    ) -> Option<gst::Pad> {
        let taken: Vec<u32> = self.obj().sink_pads().iter().filter_map(wavelength_of).collect();
        let wavelength = match name.and_then(|n| n.strip_prefix("sink_")).filter(|n| !n.contains('%')) {
            Some(n) => match n.parse::<u32>() {
                Ok(w) if (1..=65535).contains(&w) => w,
                _ => {
                    gst::element_imp_warning!(
                        self,
                        gst::CoreError::Pad,
                        ("Pad name {} must be sink_<wavelength in Angstrom, 1..65535>", name.unwrap_or(""))
                    );
                    return None;
                }
            },
            None => match AIA_WAVELENGTHS.iter().find(|w| !taken.contains(w)) {
                Some(&w) => w,
                None => {
                    gst::element_imp_warning!(
                        self,
                        gst::CoreError::Pad,
                        ("All AIA wavelengths are taken: request sink_<wavelength> by name")
                    );
                    return None;
                }
            },
        };
        if taken.contains(&wavelength) {
            gst::element_imp_warning!(self, gst::CoreError::Pad, ("Wavelength {} already has a pad", wavelength));
            return None;
        }
        if taken.len() >= MAX_CHANNELS {
            gst::element_imp_warning!(
                self,
                gst::CoreError::Pad,
                ("At most {} wavelengths per stream", MAX_CHANNELS)
            );
            return None;
        }
        let pad = self.parent_request_new_pad(templ, Some(&format!("sink_{wavelength}")), caps)?;
        gst::debug!(CAT, imp = self, "New band {} A on {}", wavelength, pad.name());
        Some(pad)
    }

    fn release_pad(&self, pad: &gst::Pad) {
        if let Some(w) = wavelength_of(pad) {
            let mut state = self.state.lock().unwrap();
            state.infos.remove(&w);
            state.missing.remove(&w);
        }
        self.parent_release_pad(pad);
    }
}

impl HelioMsJoin {
    /// The output frames: every band's plane in ascending wavelength order, once
    /// every band has caps.
    fn output_info(&self) -> Option<MsInfo> {
        let mut wavelengths: Vec<u32> = self.obj().sink_pads().iter().filter_map(wavelength_of).collect();
        wavelengths.sort_unstable();
        let state = self.state.lock().unwrap();
        if wavelengths.is_empty() || wavelengths.iter().any(|w| !state.infos.contains_key(w)) {
            return None;
        }
        let first = &state.infos[&wavelengths[0]];
        Some(MsInfo {
            format: first.format(),
            width: first.width(),
            height: first.height(),
            fps: first.fps(),
            par: first.par(),
            wavelengths,
        })
    }
}

impl AggregatorImpl for HelioMsJoin {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let infos = std::mem::take(&mut self.state.lock().unwrap().infos);
        // Caps survive a restart on the pads; the rest starts afresh.
        *self.state.lock().unwrap() = State { infos, ..State::default() };
        Ok(())
    }

    fn sink_event(&self, pad: &gst_base::AggregatorPad, event: gst::Event) -> bool {
        if let gst::EventView::Caps(c) = event.view() {
            let Some(wl) = wavelength_of(pad.upcast_ref()) else { return false };
            let info = match gst_video::VideoInfo::from_caps(c.caps()) {
                Ok(i) => i,
                Err(_) => return false,
            };
            let mut state = self.state.lock().unwrap();
            // Every band must match the others: one plane size per frame.
            let other = state.infos.iter().find(|(w, _)| **w != wl).map(|(w, o)| (*w, o.clone()));
            if let Some((other, o)) = other {
                let key = |i: &gst_video::VideoInfo| (i.format(), i.width(), i.height(), i.fps());
                if key(&o) != key(&info) {
                    drop(state);
                    gst::element_imp_error!(
                        self,
                        gst::CoreError::Negotiation,
                        (
                            "{} ({} A) is {}x{} {:?} at {} fps, {} ({} A) is {}x{} {:?} at {} fps; all wavelengths \
                             must share size, format and framerate (crop with videocrop, convert with videoconvert)",
                            pad.name(),
                            wl,
                            info.width(),
                            info.height(),
                            info.format(),
                            info.fps(),
                            format!("sink_{other}"),
                            other,
                            o.width(),
                            o.height(),
                            o.format(),
                            o.fps()
                        )
                    );
                    return false;
                }
            }
            state.infos.insert(wl, info);
            drop(state);
            // The src caps come from all bands (update_src_caps).
            self.obj().src_pad().mark_reconfigure();
        }
        self.parent_sink_event(pad, event)
    }

    fn update_src_caps(&self, _downstream: &gst::Caps) -> Result<gst::Caps, gst::FlowError> {
        match self.output_info() {
            Some(ms) => Ok(ms.to_caps()),
            // Not every band has caps yet.
            None => Err(gst_base::AGGREGATOR_FLOW_NEED_DATA),
        }
    }

    fn aggregate(&self, timeout: bool) -> Result<gst::FlowSuccess, gst::FlowError> {
        let obj = self.obj();
        let mut pads: Vec<(u32, gst_base::AggregatorPad)> = obj
            .sink_pads()
            .into_iter()
            .filter_map(|p| Some((wavelength_of(&p)?, p.downcast::<gst_base::AggregatorPad>().ok()?)))
            .collect();
        pads.sort_by_key(|(w, _)| *w);
        if pads.is_empty() {
            return Err(gst::FlowError::NotNegotiated);
        }
        let infos = self.state.lock().unwrap().infos.clone();
        let Some(ms) = self.output_info() else { return Err(gst_base::AGGREGATOR_FLOW_NEED_DATA) };
        // The set's time: the earliest head buffer.
        let heads: Vec<Option<gst::Buffer>> = pads.iter().map(|(_, p)| p.peek_buffer()).collect();
        let Some(t) = heads.iter().flatten().filter_map(|b| b.pts()).min() else {
            if pads.iter().all(|(_, p)| p.is_eos()) {
                return Err(gst::FlowError::Eos);
            }
            if timeout {
                gst::debug!(CAT, imp = self, "Timeout with no buffer on any band");
            }
            return Ok(gst::FlowSuccess::Ok);
        };
        let half_frame = if ms.fps.numer() > 0 {
            gst::ClockTime::SECOND.mul_div_floor(ms.fps.denom() as u64, 2 * ms.fps.numer() as u64).unwrap_or_default()
        } else {
            gst::ClockTime::MSECOND
        };
        {
            let mut state = self.state.lock().unwrap();
            if !state.segment_sent {
                if let Ok(seg) = pads[0].1.segment().downcast::<gst::ClockTime>() {
                    obj.update_segment(&seg);
                }
                state.segment_sent = true;
            }
        }

        let plane = ms.plane_size();
        let mut out = gst::Buffer::with_size(ms.buffer_size()).map_err(|_| gst::FlowError::Error)?;
        let mut duration = None;
        let mut corrupted = false;
        {
            let outb = out.get_mut().expect("new buffer");
            let mut map = outb.map_writable().map_err(|_| gst::FlowError::Error)?;
            for (c, (wl, pad)) in pads.iter().enumerate() {
                let dst = &mut map[c * plane..(c + 1) * plane];
                // Drop stale buffers (older than this set), then take the one of this set.
                let mut taken = None;
                while let Some(b) = pad.peek_buffer() {
                    match b.pts() {
                        Some(p) if p + half_frame <= t => {
                            gst::debug!(CAT, imp = self, "{}: dropping late buffer at {}", pad.name(), p);
                            pad.drop_buffer();
                        }
                        Some(p) if p < t + half_frame => {
                            taken = pad.pop_buffer();
                            break;
                        }
                        _ => break,
                    }
                }
                match taken {
                    Some(b) => {
                        duration = duration.or(b.duration());
                        copy_plane(&b, infos.get(wl), &ms, dst).map_err(|e| {
                            gst::element_imp_error!(self, gst::StreamError::Format, ("{}: {}", pad.name(), e));
                            gst::FlowError::Error
                        })?;
                        if self.state.lock().unwrap().missing.remove(wl) {
                            gst::info!(CAT, imp = self, "{} ({} A) is back at {}", pad.name(), wl, t);
                        }
                    }
                    None => {
                        dst.fill(0);
                        corrupted = true;
                        let first_miss = self.state.lock().unwrap().missing.insert(*wl);
                        gst::info!(CAT, imp = self, "{} ({} A): no buffer for the set at {}", pad.name(), wl, t);
                        if first_miss {
                            gst::element_imp_warning!(
                                self,
                                gst::StreamError::Demux,
                                (
                                    "No {} A frame from {} at {}{}: the other wavelengths go on, this plane is \
                                     zeroed and the frames flagged CORRUPTED until it is back",
                                    wl,
                                    pad.name(),
                                    t,
                                    if pad.is_eos() { " (its stream ended)" } else { "" }
                                )
                            );
                        }
                    }
                }
            }
        }
        {
            let outb = out.get_mut().expect("new buffer");
            outb.set_pts(t);
            outb.set_duration(duration);
            if corrupted {
                outb.set_flags(gst::BufferFlags::CORRUPTED);
            }
        }
        gst::log!(CAT, imp = self, "Set at {} ({} bands)", t, pads.len());
        self.finish_buffer(out)
    }

    fn next_time(&self) -> Option<gst::ClockTime> {
        self.obj().simple_get_next_time()
    }
}

/// Copies one band's frame into its plane of the output (default GRAY stride).
fn copy_plane(
    buffer: &gst::Buffer,
    info: Option<&gst_video::VideoInfo>,
    ms: &MsInfo,
    dst: &mut [u8],
) -> Result<(), String> {
    let info = info.ok_or("buffer before caps")?;
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), info)
        .map_err(|_| format!("buffer of {} bytes does not hold a {}x{} frame", buffer.size(), info.width(), info.height()))?;
    let src_stride = frame.plane_stride()[0] as usize;
    let data = frame.plane_data(0).map_err(|_| "unreadable plane")?;
    let (row, stride) = (info.width() as usize * if ms.format == gst_video::VideoFormat::Gray8 { 1 } else { 2 }, ms.plane_stride());
    for (d, s) in dst.chunks_mut(stride).zip(data.chunks(src_stride)).take(ms.height as usize) {
        d[..row].copy_from_slice(&s[..row]);
    }
    Ok(())
}
