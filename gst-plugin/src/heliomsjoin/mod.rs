// SPDX-License-Identifier: MPL-2.0

/**
 * element-heliomsjoin:
 *
 * Joins one GRAY8 / GRAY16_LE stream per wavelength into
 * `video/x-multispectral` frames (docs/MULTISPECTRAL.md), the input helioenc
 * codes jointly. Request pads are named by wavelength: `j.sink_171` is the
 * 171 A band; a pad requested without a number (`sink_%u`) takes the next
 * AIA wavelength not in use (94, 131, 171, 193, 211, 304, 335, 1600, 1700).
 * Planes come out in ascending wavelength order, whatever the request order.
 *
 * All bands must share format, size and framerate (the element errors
 * naming the pad that differs). Buffers are matched by timestamp: a frame
 * set is the earliest head buffer and every other band's buffer within half
 * a frame of it. A band with no buffer for a set (lost, or its stream ended
 * early) does not stop the others: the set goes out with that plane zeroed
 * and flagged CORRUPTED, and a warning names the pad and wavelength (once
 * per outage).
 *
 * ```shell
 * gst-launch-1.0 heliomsjoin name=j ! helioenc ! filesink location=aia3.helio \
 *   multifilesrc location=data/aia171/frame_%02d.png caps=image/png,framerate=1/36 ! pngdec ! \
 *     videoconvert ! videocrop right=1 bottom=1 ! video/x-raw,format=GRAY16_LE ! j.sink_171 \
 *   multifilesrc location=data/aia193/frame_%02d.png caps=image/png,framerate=1/36 ! pngdec ! \
 *     videoconvert ! video/x-raw,format=GRAY16_LE ! j.sink_193
 * ```
 */
use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct HelioMsJoin(ObjectSubclass<imp::HelioMsJoin>)
        @extends gst_base::Aggregator, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "heliomsjoin", gst::Rank::NONE, HelioMsJoin::static_type())
}
