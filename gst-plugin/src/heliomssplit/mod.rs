// SPDX-License-Identifier: MPL-2.0

/**
 * element-heliomssplit:
 *
 * Splits `video/x-multispectral` frames (docs/MULTISPECTRAL.md) into one
 * GRAY8 / GRAY16_LE video stream per wavelength, on sometimes pads named by
 * wavelength (`src_171`, `src_193`, ...), so that ordinary elements (colour
 * maps, compositor, pngenc, x265enc) work on each band. Buffers are
 * sub-buffers of the input (no copy) with its timestamps and flags. Pads
 * appear when the caps arrive and follow a changed wavelength set; an
 * unlinked band does not stop the others. As after any demuxer, put a
 * `queue` on each band's branch: one thread pushes every band in turn.
 *
 * ```shell
 * gst-launch-1.0 filesrc location=sun3.helio ! helioparse ! heliodec ! heliomssplit name=s \
 *     s.src_171 ! queue ! heliocolormap wavelength=171 ! videoconvert ! autovideosink \
 *     s.src_304 ! queue ! heliocolormap wavelength=304 ! videoconvert ! autovideosink
 * ```
 */
use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct HelioMsSplit(ObjectSubclass<imp::HelioMsSplit>) @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "heliomssplit", gst::Rank::NONE, HelioMsSplit::static_type())
}
