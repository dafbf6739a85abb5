// SPDX-License-Identifier: MPL-2.0

/**
 * element-heliodec:
 *
 * Decodes a helio elementary stream into GRAY8 (bit depth <= 8) or GRAY16_LE
 * (bit depth 9..16) raw video. Takes parsed access units (from `helioenc` or
 * `helioparse`, caps `parsed=true`) or an unparsed byte stream, which it then
 * splits itself. Damaged frames are dropped with a warning and decoding
 * resumes at the next keyframe. In a multispectral stream a damaged band
 * costs that band only: the frame comes out with its plane zeroed, flagged
 * CORRUPTED, and a warning names the wavelength. `max-errors` (inherited, default 25 here)
 * consecutive undecodable frames are a fatal error. A stream coded with a
 * different model package than `model-dir` is a fatal error right away.
 *
 * ```shell
 * gst-launch-1.0 filesrc location=in.helio ! helioparse ! heliodec ! videoconvert ! autovideosink
 * ```
 */
use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct HelioDec(ObjectSubclass<imp::HelioDec>)
        @extends gst_video::VideoDecoder, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "heliodec",
        gst::Rank::PRIMARY,
        HelioDec::static_type(),
    )
}
